/*
 * check_checkpoint: which checkpoint entries count, why the others do not,
 * incremental rescans, the scan's deadline, pruning, that scans run as the
 * job's user, and the layouts of the training frameworks.
 *
 * As root the job's user is nobody (65534) and foreign files belong to uid
 * 1001; without root the job's user is the caller and the cases that need
 * chown(2) or a second user are skipped with a message.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "sha256.h"
#include "unit.h"

#define FOREIGN_UID 1001

static char base[PATH_MAX]; /* temp dir, removed after each test */
static char ckdir[PATH_MAX]; /* base/ckpts: checkpoint.dir */
static uid_t juid; /* the job's user */
static gid_t jgid;
static int as_root;

static void fmt(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* snprintf that fails the test instead of truncating. */
static void
fmt(char *buf, size_t size, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, size, f, ap);
	va_end(ap);
	ck_assert_msg(n >= 0 && (size_t)n < size, "path too long");
}

static void
setup(void)
{
	const char *tmp = getenv("TMPDIR");

	/* tmpfs when there is one: removing 10,000 dirs on disk takes long. */
	if (tmp == NULL)
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	fmt(base, sizeof(base), "%s/check_checkpoint.XXXXXX", tmp);
	ck_assert_ptr_nonnull(mkdtemp(base));
	ck_assert_int_eq(chmod(base, 0755), 0);
	as_root = geteuid() == 0;
	juid = as_root ? 65534 : getuid();
	jgid = as_root ? 65534 : getgid();
	fmt(ckdir, sizeof(ckdir), "%s/ckpts", base);
	ck_assert_int_eq(mkdir(ckdir, 0755), 0);
	if (as_root)
		ck_assert_int_eq(chown(ckdir, juid, jgid), 0);
}

static void
teardown(void)
{
	char cmd[PATH_MAX + 16];

	fmt(cmd, sizeof(cmd), "chmod -R u+rwx %s; rm -rf %s", base, base);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", base);
}

static const char *
at(const char *rel)
{
	static char p[4][PATH_MAX];
	static int i;

	i = (i + 1) % 4;
	fmt(p[i], sizeof(p[i]), "%s/%s", ckdir, rel);
	return p[i];
}

/* Give a path to uid (the job's user unless told otherwise). */
static void
own_as(const char *path, uid_t uid)
{
	if (as_root)
		ck_assert_msg(lchown(path, uid, jgid) == 0, "chown %s", path);
}

static void
mkd(const char *rel)
{
	ck_assert_msg(mkdir(at(rel), 0755) == 0, "mkdir %s", rel);
	own_as(at(rel), juid);
}

static void
mkf(const char *rel, const char *data)
{
	FILE *f = fopen(at(rel), "w");

	ck_assert_msg(f != NULL, "create %s", rel);
	fputs(data, f);
	fclose(f);
	own_as(at(rel), juid);
}

static void
mkl(const char *rel, const char *target)
{
	ck_assert_int_eq(symlink(target, at(rel)), 0);
	own_as(at(rel), juid);
}

/* The real sha256sum(1) writes the manifest, so its format is the one read. */
static void
sums(const char *entry, const char *files)
{
	char cmd[PATH_MAX * 2];
	char rel[PATH_MAX];

	fmt(cmd, sizeof(cmd), "cd %s && sha256sum %s > MANIFEST.sha256",
	    at(entry), files);
	ck_assert_int_eq(system(cmd), 0);
	fmt(rel, sizeof(rel), "%s/MANIFEST.sha256", entry);
	own_as(at(rel), juid);
}

static const char *
hexof(const char *data)
{
	static char hex[SHA256_HEXLEN + 1];
	uint8_t d[SHA256_LEN];

	sha256_buf(data, strlen(data), d);
	sha256_hex(d, hex);
	return hex;
}

static void
scan(struct ckpt **v, size_t *n, const struct ckpt *known, size_t nknown)
{
	char *cause = NULL;

	ck_assert_msg(checkpoint_scan(ckdir, "step_{step}", NULL, 0, juid, jgid,
	                  known, nknown, 0, v, n, &cause) == 0,
	    "scan: %s", cause);
}

static const struct ckpt *
find(const struct ckpt *v, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].path, at(name)) == 0)
			return &v[i];
	return NULL;
}

/* --- one entry per case -------------------------------------------------- */

static void
b_marker(void)
{
	mkd("step_10");
	mkf("step_10/model.pt", "weights");
	mkf("step_10/COMPLETE", "");
}

static void
b_manifest(void)
{
	mkd("step_20");
	mkd("step_20/opt");
	mkf("step_20/model.pt", "weights 20");
	mkf("step_20/opt/state.pt", "optimizer 20");
	sums("step_20", "model.pt opt/state.pt");
}

static void
b_corrupt(void)
{
	char m[256];

	mkd("step_30");
	mkf("step_30/model.pt", "weights 30, torn");
	mkf("step_30/COMPLETE", "");
	fmt(m, sizeof(m), "%s  model.pt\n", hexof("weights 30"));
	mkf("step_30/MANIFEST.sha256", m);
}

static void
b_partial(void)
{
	mkd("step_40");
	mkf("step_40/model.pt", "half");
}

static void
b_foreign(void)
{
	b_marker();
	rename(at("step_10"), at("step_50"));
	own_as(at("step_50"), FOREIGN_UID);
}

static void
b_link_out(void)
{
	char out[PATH_MAX];

	fmt(out, sizeof(out), "%s/elsewhere", base);
	ck_assert_int_eq(mkdir(out, 0755), 0);
	own_as(out, juid);
	fmt(out, sizeof(out), "%s/elsewhere/COMPLETE", base);
	ck_assert_int_eq(close(creat(out, 0644)), 0);
	own_as(out, juid);
	fmt(out, sizeof(out), "%s/elsewhere", base);
	mkl("step_60", out);
}

static void
b_link_in(void)
{
	mkd("archive");
	mkd("archive/s65");
	mkf("archive/s65/COMPLETE", "");
	mkl("step_65", "archive/s65");
}

static void
b_dotdot(void)
{
	char m[256];

	mkd("step_70");
	mkf("step_70/model.pt", "w");
	fmt(m, sizeof(m), "%s  model.pt\n%s  sub/../../secret\n", hexof("w"),
	    hexof("s"));
	mkf("step_70/MANIFEST.sha256", m);
	mkf("step_70/COMPLETE", "");
}

static void
b_absolute(void)
{
	char m[256];

	mkd("step_71");
	fmt(m, sizeof(m), "%s  /etc/hostname\n", hexof("x"));
	mkf("step_71/MANIFEST.sha256", m);
}

static void
b_missing(void)
{
	char m[256];

	mkd("step_72");
	mkf("step_72/model.pt", "w");
	fmt(m, sizeof(m), "%s  model.pt\n%s  gone.pt\n", hexof("w"),
	    hexof("g"));
	mkf("step_72/MANIFEST.sha256", m);
}

static void
b_garbage(void)
{
	mkd("step_73");
	mkf("step_73/MANIFEST.sha256", "model.pt: OK\n");
}

static void
b_empty(void)
{
	mkd("step_74");
	mkf("step_74/COMPLETE", "");
	mkf("step_74/MANIFEST.sha256", "\n");
}

static void
b_inner_link(void)
{
	char m[256];

	mkd("step_75");
	mkl("step_75/model.pt", "/etc/hostname");
	fmt(m, sizeof(m), "%s  model.pt\n", hexof("x"));
	mkf("step_75/MANIFEST.sha256", m);
}

/* Listing one file over and over must not multiply the hashing work. */
static void
b_repeat(void)
{
	char big[301], m[512];
	const char *h;

	memset(big, 'w', 300);
	big[300] = '\0';
	h = hexof(big);
	mkd("step_76");
	mkf("step_76/model.pt", big);
	fmt(m, sizeof(m), "%s  model.pt\n%s  model.pt\n%s  model.pt\n", h, h,
	    h);
	mkf("step_76/MANIFEST.sha256", m);
}

/* sha256sum's escaped form: a leading '\' and "\n" for a newline. */
static void
b_escaped(void)
{
	char m[256];

	mkd("step_77");
	mkf("step_77/we\nird", "odd");
	fmt(m, sizeof(m), "\\%s *we\\nird\n", hexof("odd"));
	mkf("step_77/MANIFEST.sha256", m);
}

/* Upper-case hex, CRLF, "./", blank lines: still sha256sum's format. */
static void
b_lenient(void)
{
	char m[256], up[SHA256_HEXLEN + 1];
	size_t i;

	mkd("step_79");
	mkf("step_79/model.pt", "w");
	for (i = 0; i <= SHA256_HEXLEN; i++)
		up[i] = (char)toupper((unsigned char)hexof("w")[i]);
	fmt(m, sizeof(m), "\r\n%s  ./model.pt\r\n\n", up);
	mkf("step_79/MANIFEST.sha256", m);
}

static void
b_file(void)
{
	mkf("step_78", "not a directory");
}

/* Readable by root, not by the job's user: proves the scan dropped root. */
static void
b_locked(void)
{
	mkd("step_80");
	mkf("step_80/COMPLETE", "");
	ck_assert_int_eq(mkdir(at("step_80/data"), 0700), 0);
}

static void
b_locked_file(void)
{
	char m[256];

	mkd("step_81");
	mkf("step_81/model.pt", "w");
	ck_assert_int_eq(chmod(at("step_81/model.pt"), 0), 0);
	fmt(m, sizeof(m), "%s  model.pt\n", hexof("w"));
	mkf("step_81/MANIFEST.sha256", m);
}

static const struct {
	const char *what;
	void (*build)(void);
	const char *entry;
	int complete;
	int verified;
	const char *problem; /* NULL: usable */
	int root; /* needs root to set up */
} cases[] = {
	{ .what = "COMPLETE marker",
	    .build = b_marker,
	    .entry = "step_10",
	    .complete = 1 },
	{ .what = "manifest from sha256sum",
	    .build = b_manifest,
	    .entry = "step_20",
	    .complete = 1,
	    .verified = 1 },
	{ .what = "bad manifest overrides COMPLETE",
	    .build = b_corrupt,
	    .entry = "step_30",
	    .problem = "MANIFEST.sha256: model.pt: checksum mismatch" },
	{ .what = "partial",
	    .build = b_partial,
	    .entry = "step_40",
	    .problem = "no COMPLETE marker or manifest" },
	{ .what = "foreign owner",
	    .build = b_foreign,
	    .entry = "step_50",
	    .problem = "owned by uid 1001, not the job's user",
	    .root = 1 },
	{ .what = "symlink outside",
	    .build = b_link_out,
	    .entry = "step_60",
	    .problem = "symlink pointing outside checkpoint.dir" },
	{ .what = "symlink inside",
	    .build = b_link_in,
	    .entry = "step_65",
	    .complete = 1 },
	{ .what = "manifest with ..",
	    .build = b_dotdot,
	    .entry = "step_70",
	    .problem = "MANIFEST.sha256: sub/../../secret: path outside the "
	               "checkpoint" },
	{ .what = "manifest with absolute path",
	    .build = b_absolute,
	    .entry = "step_71",
	    .problem = "MANIFEST.sha256: /etc/hostname: absolute path" },
	{ .what = "listed file missing",
	    .build = b_missing,
	    .entry = "step_72",
	    .problem = "MANIFEST.sha256: gone.pt: No such file or directory" },
	{ .what = "manifest not in sha256sum format",
	    .build = b_garbage,
	    .entry = "step_73",
	    .problem = "MANIFEST.sha256: line 1: not in sha256sum format" },
	{ .what = "empty manifest",
	    .build = b_empty,
	    .entry = "step_74",
	    .problem = "MANIFEST.sha256: lists no files" },
	{ .what = "listed file is a symlink",
	    .build = b_inner_link,
	    .entry = "step_75",
	    .problem = "MANIFEST.sha256: model.pt: symlink, not followed" },
	{ .what = "file listed twice",
	    .build = b_repeat,
	    .entry = "step_76",
	    .problem =
	        "MANIFEST.sha256: lists more data than the entry holds" },
	{ .what = "escaped name, binary mark",
	    .build = b_escaped,
	    .entry = "step_77",
	    .complete = 1,
	    .verified = 1 },
	{ .what = "CRLF, upper case, ./",
	    .build = b_lenient,
	    .entry = "step_79",
	    .complete = 1,
	    .verified = 1 },
	{ .what = "plain file",
	    .build = b_file,
	    .entry = "step_78",
	    .problem = "not a directory" },
	{ .what = "unreadable directory inside",
	    .build = b_locked,
	    .entry = "step_80",
	    .problem = "cannot read data: Permission denied",
	    .root = 1 },
	{ .what = "unreadable listed file",
	    .build = b_locked_file,
	    .entry = "step_81",
	    .problem = "MANIFEST.sha256: model.pt: Permission denied",
	    .root = 1 },
};

START_TEST(test_entry)
{
	struct ckpt *v;
	const struct ckpt *c;
	size_t n;

	if (cases[_i].root && geteuid() != 0) {
		fprintf(stderr, "skipped (needs root): %s\n", cases[_i].what);
		return;
	}
	cases[_i].build();
	scan(&v, &n, NULL, 0);
	c = find(v, n, cases[_i].entry);
	ck_assert_msg(
	    c != NULL, "%s: %s not listed", cases[_i].what, cases[_i].entry);
	ck_assert_msg(c->complete == cases[_i].complete &&
	        c->verified == cases[_i].verified,
	    "%s: complete %d verified %d", cases[_i].what, c->complete,
	    c->verified);
	if (cases[_i].problem == NULL)
		ck_assert_msg(
		    c->problem == NULL, "%s: %s", cases[_i].what, c->problem);
	else
		ck_assert_msg(c->problem != NULL &&
		        strcmp(c->problem, cases[_i].problem) == 0,
		    "%s: got \"%s\"", cases[_i].what, c->problem);
	ck_assert_int_eq(
	    checkpoint_newest(v, n) == c, cases[_i].problem == NULL);
	checkpoint_free(v, n);
}
END_TEST

/* Only names of the pattern's form count; {step} is plain decimal. */
START_TEST(test_names)
{
	static const char *ignored[] = {
		".step_6.tmp",
		"step_7.tmp",
		"step_-1",
		"step_+8",
		"step_",
		"xstep_9",
		"step_1234567890123456789",
		"step_12a",
		"step_ 3",
	};
	struct ckpt *v;
	size_t n, i;
	char *cause = NULL;

	b_marker();
	mkd("step_0012");
	mkf("step_0012/COMPLETE", "");
	for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		mkd(ignored[i]);
	scan(&v, &n, NULL, 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(v[0].step, 10);
	ck_assert_str_eq(v[0].path, at("step_10"));
	ck_assert_int_eq(v[1].step, 12);
	ck_assert_str_eq(v[1].path, at("step_0012"));
	ck_assert_uint_eq(v[0].bytes, strlen("weights"));
	ck_assert_int_gt(v[0].mtime, 0);
	checkpoint_free(v, n);

	mkd("iter_0000500.ckpt");
	ck_assert_int_eq(checkpoint_scan(ckdir, "iter_{step}.ckpt", NULL, 0,
	                     juid, jgid, NULL, 0, 0, &v, &n, &cause),
	    0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(v[0].step, 500);
	ck_assert_str_eq(v[0].problem, "no COMPLETE marker or manifest");
	checkpoint_free(v, n);
}
END_TEST

static const struct {
	const char *dir;
	const char *pattern;
	int uid; /* -1: the job's user */
	const char *cause; /* NULL: no error, no entries */
} errors[] = {
	{ .dir = "/nonexistent/ckpts", .pattern = "step_{step}", .uid = -1 },
	{ .dir = "relative",
	    .pattern = "step_{step}",
	    .uid = -1,
	    .cause = "checkpoint dir \"relative\" is not absolute" },
	{ .dir = "/tmp",
	    .pattern = "step",
	    .uid = -1,
	    .cause = "pattern \"step\" must contain {step} exactly once" },
	{ .dir = "/tmp",
	    .pattern = "{step}_{step}",
	    .uid = -1,
	    .cause = "pattern \"{step}_{step}\" must contain {step} exactly "
	             "once" },
	{ .dir = "/tmp",
	    .pattern = "a/{step}",
	    .uid = -1,
	    .cause = "pattern \"a/{step}\" must not contain '/'" },
	{ .dir = "/tmp",
	    .pattern = "step_{step}",
	    .uid = 0,
	    .cause = "refusing to access checkpoints as root" },
};

START_TEST(test_errors)
{
	struct ckpt *v = NULL;
	size_t n = 99;
	char *cause = NULL;
	int rc;

	rc = checkpoint_scan(errors[_i].dir, errors[_i].pattern, NULL, 0,
	    errors[_i].uid == -1 ? juid : (uid_t)errors[_i].uid, jgid, NULL, 0,
	    0, &v, &n, &cause);
	if (errors[_i].cause == NULL) {
		ck_assert_msg(rc == 0, "%s", cause);
		ck_assert_uint_eq(n, 0);
	} else {
		ck_assert_int_eq(rc, -1);
		ck_assert_str_eq(cause, errors[_i].cause);
		free(cause);
	}
	checkpoint_free(v, n);
}
END_TEST

/* The newest usable wins over newer corrupt and partial ones. */
START_TEST(test_newest)
{
	struct ckpt *v;
	const struct ckpt *c;
	size_t n;

	b_marker();
	b_manifest();
	b_corrupt();
	b_partial();
	scan(&v, &n, NULL, 0);
	ck_assert_uint_eq(n, 4);
	ck_assert(v[0].step < v[1].step && v[1].step < v[2].step &&
	    v[2].step < v[3].step);
	c = checkpoint_newest(v, n);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->path, at("step_20"));
	ck_assert_ptr_null(checkpoint_newest(v + 2, 2));
	ck_assert_ptr_null(checkpoint_newest(NULL, 0));
	checkpoint_free(v, n);
}
END_TEST

/* Unchanged entries are not hashed again, verified or not; changed ones are. */
START_TEST(test_incremental)
{
	struct ckpt *v1, *v2, *v3;
	size_t n1, n2, n3;
	uint64_t h0;
	struct timespec ts[2];

	b_manifest();
	b_corrupt();
	h0 = checkpoint_hashed_files();
	scan(&v1, &n1, NULL, 0);
	ck_assert_uint_eq(checkpoint_hashed_files() - h0, 3);
	ck_assert_int_eq(find(v1, n1, "step_20")->verified, 1);

	h0 = checkpoint_hashed_files();
	scan(&v2, &n2, v1, n1);
	/* neither is hashed: step_30's mismatch stands while it is unchanged */
	ck_assert_uint_eq(checkpoint_hashed_files() - h0, 0);
	ck_assert_int_eq(find(v2, n2, "step_20")->verified, 1);
	ck_assert_int_eq(find(v2, n2, "step_20")->complete, 1);
	ck_assert_int_eq(find(v2, n2, "step_20")->cached, 1);
	ck_assert_ptr_null(find(v2, n2, "step_20")->problem);
	ck_assert_int_eq(find(v2, n2, "step_30")->cached, 1);
	ck_assert_int_eq(find(v2, n2, "step_30")->complete, 0);
	ck_assert_str_eq(find(v2, n2, "step_30")->problem,
	    "MANIFEST.sha256: model.pt: checksum mismatch");

	/* Same size, other content and mtime: hashed, and found corrupt. */
	mkf("step_20/model.pt", "weights 2X");
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) + 100;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	ck_assert_int_eq(utimensat(AT_FDCWD, at("step_20/model.pt"), ts, 0), 0);
	h0 = checkpoint_hashed_files();
	scan(&v3, &n3, v2, n2);
	ck_assert_uint_eq(checkpoint_hashed_files() - h0, 1);
	ck_assert_str_eq(find(v3, n3, "step_20")->problem,
	    "MANIFEST.sha256: model.pt: checksum mismatch");
	ck_assert_int_eq(find(v3, n3, "step_20")->cached, 0);
	checkpoint_free(v1, n1);
	checkpoint_free(v2, n2);

	/* The torn file rewritten in full: hashed again, and now it counts. */
	mkf("step_30/model.pt", "weights 30");
	h0 = checkpoint_hashed_files();
	scan(&v1, &n1, v3, n3);
	ck_assert_uint_eq(checkpoint_hashed_files() - h0, 1);
	ck_assert_int_eq(find(v1, n1, "step_30")->verified, 1);
	ck_assert_int_eq(find(v1, n1, "step_30")->cached, 0);
	checkpoint_free(v1, n1);
	checkpoint_free(v3, n3);
}
END_TEST

#define DEADLINE_MS 500
#define BIG_BYTES (64ULL << 30) /* sparse: hashing takes minutes */

/* An entry whose manifest lists a huge sparse file: slow to hash. */
static void
b_big(void)
{
	char m[256];
	int fd;

	mkd("step_50");
	fd = open(at("step_50/big"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(ftruncate(fd, (off_t)BIG_BYTES), 0);
	close(fd);
	own_as(at("step_50/big"), juid);
	fmt(m, sizeof(m), "%s  big\n", hexof("not this"));
	mkf("step_50/MANIFEST.sha256", m);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
scan_within(struct ckpt **v, size_t *n, const struct ckpt *known, size_t nknown,
    int64_t *ms)
{
	char *cause = NULL;
	int64_t t0 = now_ms();
	int rc;

	rc = checkpoint_scan(ckdir, "step_{step}", NULL, 0, juid, jgid, known,
	    nknown, DEADLINE_MS, v, n, &cause);
	*ms = now_ms() - t0;
	ck_assert_msg(rc == 0, "scan: %s", cause);
	return rc;
}

/*
 * Past its deadline a scan is cut short: the entry it was hashing is
 * unusable with the reason, and stays so, unhashed, until it changes.
 */
START_TEST(test_deadline_slow)
{
	struct ckpt *v1, *v2, *v3;
	size_t n1, n2, n3;
	const struct ckpt *k;
	struct timespec ts[2];
	uint64_t h0;
	int64_t ms;

	/* on tmpfs, the newest is listed first: step_20 is never reached */
	b_manifest();
	b_big();
	scan_within(&v1, &n1, NULL, 0, &ms);
	ck_assert_msg(
	    ms < DEADLINE_MS + 1500, "first scan took %lld ms", (long long)ms);
	ck_assert_ptr_nonnull(k = find(v1, n1, "step_50"));
	ck_assert_str_eq(k->problem, "scan timed out after 500 ms");
	ck_assert_int_eq(k->complete, 0);
	ck_assert_uint_eq(
	    k->bytes, BIG_BYTES + SHA256_HEXLEN + strlen("  big\n"));

	/*
	 * unchanged: the verdict stands, the deadline is not hit, and only
	 * step_20 is hashed, if the first scan never got to it
	 */
	h0 = checkpoint_hashed_files();
	scan_within(&v2, &n2, v1, n1, &ms);
	ck_assert_msg(
	    ms < DEADLINE_MS, "second scan took %lld ms", (long long)ms);
	ck_assert_uint_eq(checkpoint_hashed_files() - h0,
	    find(v1, n1, "step_20") == NULL ? 2 : 0);
	ck_assert_ptr_nonnull(k = find(v2, n2, "step_50"));
	ck_assert_int_eq(k->cached, 1);
	ck_assert_str_eq(k->problem, "scan timed out after 500 ms");
	ck_assert_int_eq(find(v2, n2, "step_20")->verified, 1);

	/* changed: hashed again, up to the deadline */
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) + 100;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	ck_assert_int_eq(utimensat(AT_FDCWD, at("step_50/big"), ts, 0), 0);
	scan_within(&v3, &n3, v2, n2, &ms);
	ck_assert_msg(ms >= DEADLINE_MS, "changed entry not hashed (%lld ms)",
	    (long long)ms);
	ck_assert_int_eq(find(v3, n3, "step_50")->cached, 0);
	ck_assert_str_eq(
	    find(v3, n3, "step_50")->problem, "scan timed out after 500 ms");
	/* cut short, it still knows the verified one, reached or not */
	ck_assert_ptr_nonnull(k = find(v3, n3, "step_20"));
	ck_assert_int_eq(k->verified, 1);
	ck_assert_ptr_eq(checkpoint_newest(v3, n3), k);
	checkpoint_free(v1, n1);
	checkpoint_free(v2, n2);
	checkpoint_free(v3, n3);
}
END_TEST

static void
alarm_stop(int sig)
{
	(void)sig;
	checkpoint_stop();
}

/*
 * At shutdown a scan in progress ends at once, with no verdict: not the
 * deadline's "timed out" that would stick to the entry. Last in its own
 * process (CK_FORK): checkpoint_stop() cannot be undone.
 */
START_TEST(test_stop)
{
	struct ckpt *v;
	size_t n;
	char *cause = NULL;
	int64_t t0, ms;

	b_big();
	signal(SIGALRM, alarm_stop);
	alarm(1);
	t0 = now_ms();
	ck_assert_int_eq(checkpoint_scan(ckdir, "step_{step}", NULL, 0, juid,
	                     jgid, NULL, 0, 20000, &v, &n, &cause),
	    -1);
	ms = now_ms() - t0;
	ck_assert_msg(ms < 2500, "scan took %lld ms", (long long)ms);
	ck_assert_msg(
	    strstr(cause, "the daemon is stopping") != NULL, "%s", cause);
	free(cause);
}
END_TEST

/* SIGSTOP every child of parent (but ourselves) seen for 200 ms. */
static void __attribute__((noreturn)) stopper(pid_t parent)
{
	char path[64], buf[512], *p;
	struct dirent *de;
	long ppid, seen = 0;
	int64_t end = now_ms() + 20000;
	DIR *d;
	FILE *f;
	pid_t pid;

	while (now_ms() < end) {
		if ((d = opendir("/proc")) == NULL)
			_exit(1);
		while ((de = readdir(d)) != NULL) {
			if (!isdigit((unsigned char)de->d_name[0]))
				continue;
			pid = (pid_t)atol(de->d_name);
			if (pid == getpid())
				continue;
			snprintf(path, sizeof(path), "/proc/%d/stat", pid);
			if ((f = fopen(path, "r")) == NULL)
				continue;
			p = fgets(buf, sizeof(buf), f);
			fclose(f);
			/* "pid (comm) S ppid ...": comm may hold spaces */
			if (p == NULL || (p = strrchr(buf, ')')) == NULL ||
			    sscanf(p + 1, " %*c %ld", &ppid) != 1 ||
			    ppid != parent)
				continue;
			if (seen == 0)
				seen = now_ms();
			if (now_ms() - seen >= 200)
				kill(pid, SIGSTOP);
		}
		closedir(d);
		usleep(10000);
	}
	_exit(0);
}

/* A scan child stopped by its user is killed at the deadline. */
START_TEST(test_deadline_sigstop)
{
	struct ckpt *v;
	size_t n;
	int64_t ms;
	pid_t parent = getpid(), helper;
	int status;

	b_big();
	if ((helper = fork()) == 0)
		stopper(parent);
	ck_assert_int_ne(helper, -1);
	scan_within(&v, &n, NULL, 0, &ms);
	kill(helper, SIGKILL);
	waitpid(helper, &status, 0);
	ck_assert_msg(
	    ms < DEADLINE_MS + 1500, "scan took %lld ms", (long long)ms);
	ck_assert_str_eq(
	    find(v, n, "step_50")->problem, "scan timed out after 500 ms");
	checkpoint_free(v, n);
}
END_TEST

static void
mkstep(const char *name, int how) /* 0 marker, 1 manifest, 2 partial */
{
	char rel[PATH_MAX];

	mkd(name);
	fmt(rel, sizeof(rel), "%s/model.pt", name);
	mkf(rel, name);
	if (how == 0) {
		fmt(rel, sizeof(rel), "%s/COMPLETE", name);
		mkf(rel, "");
	} else if (how == 1)
		sums(name, "model.pt");
}

/* Keep the newest N usable; never touch incomplete, corrupt or symlinks. */
START_TEST(test_prune)
{
	static const char *left[] = {
		"step_0",
		"step_4",
		"step_5",
		"step_6",
		"step_7",
	};
	struct ckpt *v;
	size_t n, i;
	char *cause = NULL, out[PATH_MAX];
	struct stat st;

	fmt(out, sizeof(out), "%s/outside", base);
	ck_assert_int_eq(mkdir(out, 0755), 0);
	ck_assert_int_eq(close(creat(strcat(out, "/keep.me"), 0644)), 0);
	mkstep("step_0", 2);
	mkstep("step_1", 0);
	mkd("step_1/sub");
	mkl("step_1/sub/link", out);
	mkl("step_1/dirlink", base);
	mkstep("step_2", 1);
	mkstep("step_3", 0);
	mkstep("step_4", 1);
	mkstep("step_5", 0);
	mkstep("step_6", 2);
	mkstep("step_7", 0);
	mkf("step_7/MANIFEST.sha256",
	    "0000000000000000000000000000000000000"
	    "000000000000000000000000000  model.pt\n");
	scan(&v, &n, NULL, 0);
	ck_assert_uint_eq(n, 8);

	ck_assert_int_eq(
	    checkpoint_prune(ckdir, v, n, 0, juid, jgid, 0, &cause), 0);
	ck_assert_int_eq(
	    checkpoint_prune(ckdir, v, n, 2, juid, jgid, 0, &cause), 3);
	checkpoint_free(v, n);
	ck_assert_int_eq(stat(out, &st), 0);

	scan(&v, &n, NULL, 0);
	ck_assert_uint_eq(n, sizeof(left) / sizeof(left[0]));
	for (i = 0; i < n; i++)
		ck_assert_str_eq(v[i].path, at(left[i]));
	ck_assert_int_eq(
	    checkpoint_prune(ckdir, v, n, 2, juid, jgid, 0, &cause), 0);
	ck_assert_int_eq(
	    checkpoint_prune(ckdir, v, n, 1, juid, jgid, 0, &cause), 1);
	ck_assert_int_eq(access(at("step_4"), F_OK), -1);
	ck_assert_int_eq(access(at("step_5/COMPLETE"), F_OK), 0);
	checkpoint_free(v, n);
}
END_TEST

/* An older usable entry reached through a symlink is left alone. */
START_TEST(test_prune_symlink)
{
	struct ckpt *v;
	size_t n;
	char *cause = NULL;

	b_link_in(); /* step_65 -> archive/s65 */
	mkstep("step_66", 0);
	scan(&v, &n, NULL, 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(
	    checkpoint_prune(ckdir, v, n, 1, juid, jgid, 0, &cause), 0);
	ck_assert_int_eq(access(at("archive/s65/COMPLETE"), F_OK), 0);
	ck_assert_int_eq(access(at("step_65"), F_OK), 0);
	checkpoint_free(v, n);
}
END_TEST

/* Root could read and delete these; the job's user cannot. */
START_TEST(test_privileges)
{
	struct ckpt *v;
	size_t n;
	char *cause = NULL;

	if (geteuid() != 0) {
		fprintf(stderr, "skipped (needs root): privileges\n");
		return;
	}
	mkstep("step_1", 0);
	mkstep("step_2", 0);
	ck_assert_int_eq(mkdir(at("step_1/rootdir"), 0755), 0);
	ck_assert_int_eq(close(creat(at("step_1/rootdir/f"), 0644)), 0);
	scan(&v, &n, NULL, 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(
	    checkpoint_prune(ckdir, v, n, 1, juid, jgid, 0, &cause), -1);
	ck_assert_msg(
	    strstr(cause, "step_1: Permission denied") != NULL, "%s", cause);
	free(cause);
	ck_assert_int_eq(access(at("step_1/rootdir/f"), F_OK), 0);
	checkpoint_free(v, n);

	ck_assert_int_eq(chown(ckdir, 0, 0), 0);
	ck_assert_int_eq(chmod(ckdir, 0700), 0);
	ck_assert_int_eq(checkpoint_scan(ckdir, "step_{step}", NULL, 0, juid,
	                     jgid, NULL, 0, 0, &v, &n, &cause),
	    -1);
	ck_assert_msg(strstr(cause, "Permission denied") != NULL, "%s", cause);
	free(cause);
}
END_TEST

/* The bounds hold: many entries, an oversized manifest. */
START_TEST(test_limits)
{
	struct ckpt *v;
	size_t n, i;
	char name[32], *cause = NULL, *big;
	const struct ckpt *c;

	for (i = 0; i < CKPT_MAX_ENTRIES; i++) {
		fmt(name, sizeof(name), "step_%zu", i);
		mkd(name);
	}
	scan(&v, &n, NULL, 0);
	ck_assert_uint_eq(n, CKPT_MAX_ENTRIES);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(v[i].step, (int64_t)i);
	ck_assert_ptr_null(checkpoint_newest(v, n));
	checkpoint_free(v, n);

	mkd("step_99999");
	ck_assert_int_eq(checkpoint_scan(ckdir, "step_{step}", NULL, 0, juid,
	                     jgid, NULL, 0, 0, &v, &n, &cause),
	    -1);
	ck_assert_msg(strstr(cause, "more than 10000 entries match") != NULL,
	    "%s", cause);
	free(cause);

	/* A manifest one byte over the limit is refused unread. */
	ck_assert_int_eq(rmdir(at("step_5")), 0);
	mkd("step_5");
	big = malloc(CKPT_MANIFEST_MAX + 2);
	ck_assert_ptr_nonnull(big);
	memset(big, '\n', CKPT_MANIFEST_MAX + 1);
	big[CKPT_MANIFEST_MAX + 1] = '\0';
	mkf("step_5/MANIFEST.sha256", big);
	free(big);
	ck_assert_int_eq(rmdir(at("step_99999")), 0);
	scan(&v, &n, NULL, 0);
	c = find(v, n, "step_5");
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->problem, "MANIFEST.sha256: larger than 1 MiB");
	checkpoint_free(v, n);
}
END_TEST

/* --- the frameworks' layouts ---------------------------------------------
 *
 * PyTorch DCP, Megatron-LM, DeepSpeed, Hugging Face, Lightning and a single
 * file: which entry is complete, which a save in progress, its step, and
 * which one a restart resumes from. Entries are made with each framework's
 * file names in its write order; timestamps are set where a rule needs.
 */

static void
mkbuf(const char *rel, const void *data, size_t len)
{
	int fd = open(at(rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ck_assert_msg(fd != -1, "create %s", rel);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	own_as(at(rel), juid);
}

/* What torch.save writes: a zip archive, its end record last. */
static void
mkzip(const char *rel, int whole)
{
	char z[64 + 22];

	memset(z, 'x', sizeof(z));
	memcpy(z, "PK\3\4", 4);
	memset(z + 64, 0, 22);
	memcpy(z + 64, "PK\5\6", 4);
	mkbuf(rel, z, whole ? sizeof(z) : 40);
}

/* Set a file's mtime to now + off seconds (its ctime becomes now). */
static void
age(const char *rel, int off)
{
	struct timespec ts[2];

	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec += off;
	ts[1] = ts[0];
	ck_assert_int_eq(
	    utimensat(AT_FDCWD, at(rel), ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void
scan_as(const char *pattern, const char *file, int settle,
    const struct ckpt *known, size_t nknown, struct ckpt **v, size_t *n)
{
	char *cause = NULL;

	ck_assert_msg(checkpoint_scan(ckdir, pattern, file, settle, juid, jgid,
	                  known, nknown, 0, v, n, &cause) == 0,
	    "scan: %s", cause);
}

static void
lscan(struct ckpt **v, size_t *n)
{
	scan_as("step_{step}", NULL, 0, NULL, 0, v, n);
}

static const struct ckpt *
lfind(const struct ckpt *v, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].path, at(name)) == 0)
			return &v[i];
	ck_abort_msg("no entry %s", name);
	return NULL;
}

/* name is complete with step, or has a problem starting with want. */
static void
expect(const struct ckpt *v, size_t n, const char *name, int64_t step,
    const char *want)
{
	const struct ckpt *k = lfind(v, n, name);

	ck_assert_msg(k->step == step, "%s: step %lld, want %lld", name,
	    (long long)k->step, (long long)step);
	if (want == NULL) {
		ck_assert_msg(k->complete && k->problem == NULL,
		    "%s: not complete: %s", name,
		    k->problem != NULL ? k->problem : "(no problem)");
		return;
	}
	ck_assert_msg(!k->complete && k->problem != NULL &&
	        strncmp(k->problem, want, strlen(want)) == 0,
	    "%s: problem \"%s\", want \"%s...\"", name,
	    k->problem != NULL ? k->problem : "(none)", want);
}

static void
expect_newest(const struct ckpt *v, size_t n, const char *name)
{
	const struct ckpt *k = checkpoint_newest(v, n);

	ck_assert_msg(k != NULL, "no newest, want %s", name);
	ck_assert_str_eq(k->path, at(name));
}

/* torch.distributed.checkpoint: shards by every rank, then .metadata. */
static void
dcp(const char *dir, int shards_after_metadata, int with_metadata)
{
	char p[PATH_MAX];

	mkd(dir);
	fmt(p, sizeof(p), "%s/__0_0.distcp", dir);
	mkf(p, "rank 0 shard");
	age(p, -20);
	fmt(p, sizeof(p), "%s/__1_0.distcp", dir);
	mkf(p, "rank 1 shard");
	age(p, shards_after_metadata ? -1 : -20);
	if (!with_metadata)
		return;
	fmt(p, sizeof(p), "%s/.metadata", dir);
	mkf(p, "pickled Metadata");
	age(p, -10);
}

START_TEST(test_dcp)
{
	struct ckpt *v;
	size_t n;

	dcp("step-100", 0, 1);
	dcp("step-200", 0, 0); /* killed before the coordinator */
	dcp("step-300", 1, 1); /* saved into again */
	dcp("step_50", 0, 1); /* under the default pattern's name */
	mkd("step-400");
	mkf("step-400/.metadata", "no shards");
	lscan(&v, &n);
	ck_assert_uint_eq(n, 5);
	expect(v, n, "step-100", 100, NULL);
	expect(v, n, "step-200", 200, CKPT_IN_PROGRESS ": no .metadata");
	expect(v, n, "step-300", 300, CKPT_IN_PROGRESS ": a shard is newer");
	expect(v, n, "step_50", 50, NULL);
	expect(v, n, "step-400", 400, ".metadata but no .distcp shards");
	expect_newest(v, n, "step-100");
	ck_assert(checkpoint_in_progress(lfind(v, n, "step-200")->problem));
	ck_assert(!checkpoint_in_progress(lfind(v, n, "step-400")->problem));
	checkpoint_free(v, n);
}
END_TEST

/* Megatron-LM: iter_%07d dirs, the tracker written after all ranks saved. */
START_TEST(test_megatron)
{
	struct ckpt *v;
	size_t n;

	mkd("iter_0000500");
	mkd("iter_0000500/mp_rank_00");
	mkzip("iter_0000500/mp_rank_00/model_optim_rng.pt", 1);
	mkd("iter_0001000");
	mkd("iter_0001000/mp_rank_00");
	mkzip("iter_0001000/mp_rank_00/model_optim_rng.pt", 1);
	mkd("iter_0001000/mp_rank_01");
	mkzip("iter_0001000/mp_rank_01/model_optim_rng.pt", 1);
	mkf("latest_checkpointed_iteration.txt", "1000");
	mkd("iter_0001500"); /* the next save, cut short */
	mkd("iter_0001500/mp_rank_00");
	mkzip("iter_0001500/mp_rank_00/model_optim_rng.pt", 1);
	lscan(&v, &n);
	ck_assert_uint_eq(n, 3);
	expect(v, n, "iter_0000500", 500, NULL);
	expect(v, n, "iter_0001000", 1000, NULL);
	expect(v, n, "iter_0001500", 1500,
	    CKPT_IN_PROGRESS ": newer than "
	                     "latest_checkpointed_iteration.txt (1000)");
	expect_newest(v, n, "iter_0001000");
	checkpoint_free(v, n);

	/* a rank's file cut short spoils even an entry the tracker passed */
	mkzip("iter_0001000/mp_rank_01/model_optim_rng.pt", 0);
	lscan(&v, &n);
	expect(v, n, "iter_0001000", 1000,
	    CKPT_IN_PROGRESS ": "
	                     "mp_rank_01/model_optim_rng.pt is cut short");
	expect_newest(v, n, "iter_0000500");
	checkpoint_free(v, n);

	/* no tracker yet: the first save is still being written */
	ck_assert_int_eq(unlink(at("latest_checkpointed_iteration.txt")), 0);
	lscan(&v, &n);
	expect(v, n, "iter_0000500", 500, CKPT_IN_PROGRESS);
	ck_assert_ptr_null(checkpoint_newest(v, n));
	checkpoint_free(v, n);
}
END_TEST

/* DeepSpeed: global_stepN dirs, the tag in "latest" once saved. */
START_TEST(test_deepspeed)
{
	struct ckpt *v;
	size_t n;

	mkd("global_step10");
	mkzip("global_step10/mp_rank_00_model_states.pt", 1);
	mkd("global_step20");
	mkzip("global_step20/mp_rank_00_model_states.pt", 1);
	mkzip("global_step20/zero_pp_rank_0_mp_rank_00_optim_states.pt", 1);
	mkzip("global_step20/zero_pp_rank_1_mp_rank_00_optim_states.pt", 1);
	mkf("latest", "global_step20");
	mkd("global_step30");
	mkzip("global_step30/mp_rank_00_model_states.pt", 1);
	mkzip("global_step30/zero_pp_rank_0_mp_rank_00_optim_states.pt", 0);
	lscan(&v, &n);
	ck_assert_uint_eq(n, 3);
	expect(v, n, "global_step10", 10, NULL);
	expect(v, n, "global_step20", 20, NULL);
	expect(v, n, "global_step30", 30, CKPT_IN_PROGRESS);
	expect_newest(v, n, "global_step20");
	checkpoint_free(v, n);

	/* a tag of the user's own is not a step */
	mkf("latest", "best-model\n");
	lscan(&v, &n);
	expect(v, n, "global_step20", 20,
	    CKPT_IN_PROGRESS ": latest names "
	                     "no step");
	checkpoint_free(v, n);
}
END_TEST

/* Hugging Face Trainer: weights, optimizer, ..., trainer_state.json last. */
static void
hf(const char *dir, const char *state)
{
	char p[PATH_MAX];

	mkd(dir);
	fmt(p, sizeof(p), "%s/model.safetensors", dir);
	mkf(p, "safetensors");
	fmt(p, sizeof(p), "%s/optimizer.pt", dir);
	mkzip(p, 1);
	fmt(p, sizeof(p), "%s/scheduler.pt", dir);
	mkzip(p, 1);
	fmt(p, sizeof(p), "%s/rng_state.pth", dir);
	mkzip(p, 1);
	if (state == NULL)
		return;
	fmt(p, sizeof(p), "%s/trainer_state.json", dir);
	mkf(p, state);
}

START_TEST(test_hf)
{
	struct ckpt *v;
	size_t n;

	hf("checkpoint-500",
	    "{\n  \"best_metric\": null,\n  \"epoch\": 1.0,\n"
	    "  \"global_step\": 500,\n  \"log_history\": []\n}\n");
	hf("checkpoint-1000", NULL);
	hf("checkpoint-1500", "{\n  \"epoch\": 3.0,\n  \"global_step\": 15");
	hf("checkpoint-2000", "{ \"global_step\": 1999 }");
	hf("checkpoint-2500", "{ \"epoch\": 5 }");
	mkd("tmp-checkpoint-3000"); /* not a name the Trainer resumes */
	lscan(&v, &n);
	ck_assert_uint_eq(n, 5);
	expect(v, n, "checkpoint-500", 500, NULL);
	expect(v, n, "checkpoint-1000", 1000,
	    CKPT_IN_PROGRESS ": no "
	                     "trainer_state.json");
	expect(v, n, "checkpoint-1500", 1500,
	    CKPT_IN_PROGRESS ": "
	                     "trainer_state.json is cut short");
	expect(v, n, "checkpoint-2000", 2000,
	    "trainer_state.json: "
	    "global_step is not");
	expect(v, n, "checkpoint-2500", 2500,
	    "trainer_state.json: no "
	    "global_step");
	expect_newest(v, n, "checkpoint-500");
	checkpoint_free(v, n);
}
END_TEST

/* Lightning: epoch=E-step=S.ckpt files, and last.ckpt saved with them. */
START_TEST(test_lightning)
{
	struct ckpt *v;
	size_t n;

	mkzip("epoch=0-step=100.ckpt", 1);
	mkzip("epoch=1-step=200.ckpt", 1);
	mkzip("last.ckpt", 1);
	mkzip("epoch=2-step=300.ckpt", 0); /* killed mid-save */
	mkzip("notes.ckpt", 1); /* no step: not a save */
	lscan(&v, &n);
	ck_assert_uint_eq(n, 4);
	expect(v, n, "epoch=0-step=100.ckpt", 100, NULL);
	expect(v, n, "epoch=1-step=200.ckpt", 200, NULL);
	expect(v, n, "epoch=2-step=300.ckpt", 300,
	    CKPT_IN_PROGRESS ": cut "
	                     "short");
	expect(v, n, "last.ckpt", 200, NULL);
	checkpoint_free(v, n);

	/* save_last="link": a symlink is never followed */
	ck_assert_int_eq(unlink(at("last.ckpt")), 0);
	ck_assert_int_eq(symlink("epoch=1-step=200.ckpt", at("last.ckpt")), 0);
	own_as(at("last.ckpt"), juid);
	lscan(&v, &n);
	expect(v, n, "last.ckpt", 200, "symlink, not followed");
	expect_newest(v, n, "epoch=1-step=200.ckpt");
	checkpoint_free(v, n);
}
END_TEST

/* last.ckpt alone, and checkpoint.file: versions by size and time. */
START_TEST(test_single_file)
{
	struct ckpt *v, *w;
	size_t n, m;

	mkzip("snapshot.pt", 1);
	scan_as("step_{step}", "snapshot.pt", 3600, NULL, 0, &v, &n);
	ck_assert_uint_eq(n, 1);
	expect(v, n, "snapshot.pt", 1, NULL);
	expect_newest(v, n, "snapshot.pt");

	/* unchanged: the same version */
	scan_as("step_{step}", "snapshot.pt", 3600, v, n, &w, &m);
	expect(w, m, "snapshot.pt", 1, NULL);
	checkpoint_free(w, m);

	/* overwritten in place, cut short: a newer version, not usable */
	mkzip("snapshot.pt", 0);
	age("snapshot.pt", 5);
	scan_as("step_{step}", "snapshot.pt", 3600, v, n, &w, &m);
	expect(w, m, "snapshot.pt", 2, CKPT_IN_PROGRESS);
	checkpoint_free(v, n);

	/* a file that is not a zip counts once settled */
	mkf("snapshot.pt", "pickle, legacy format");
	age("snapshot.pt", 10);
	scan_as("step_{step}", "snapshot.pt", 3600, w, m, &v, &n);
	expect(v, n, "snapshot.pt", 3, CKPT_IN_PROGRESS ": changed within");
	checkpoint_free(w, m);
	age("snapshot.pt", -7200);
	scan_as("step_{step}", "snapshot.pt", 3600, v, n, &w, &m);
	expect(w, m, "snapshot.pt", 4, NULL);
	checkpoint_free(v, n);
	checkpoint_free(w, m);
}
END_TEST

/* torch.save(tmp); os.replace(tmp, name): whole at once, however new. */
START_TEST(test_renamed)
{
	struct timespec pause = { 0, 50 * 1000 * 1000 };
	struct ckpt *v;
	size_t n;

	mkf("model.pt.tmp", "legacy pickle, whole");
	nanosleep(&pause, NULL);
	ck_assert_int_eq(rename(at("model.pt.tmp"), at("model.pt")), 0);
	scan_as("step_{step}", "model.pt", 3600, NULL, 0, &v, &n);
	ck_assert_uint_eq(n, 1);
	expect(v, n, "model.pt", 1, NULL);
	checkpoint_free(v, n);

	/* last.ckpt with no step-named file beside it */
	mkzip("last.ckpt", 1);
	lscan(&v, &n);
	ck_assert_uint_eq(n, 1);
	expect(v, n, "last.ckpt", 1, NULL);
	checkpoint_free(v, n);
}
END_TEST

/* A pattern of the user's own turns the framework layouts off. */
START_TEST(test_own_pattern)
{
	struct ckpt *v;
	size_t n;
	char *cause = NULL;

	hf("checkpoint-5", "{\"global_step\": 5}");
	mkd("ckpt_7");
	mkf("ckpt_7/COMPLETE", "");
	scan_as("ckpt_{step}", NULL, 0, NULL, 0, &v, &n);
	ck_assert_uint_eq(n, 1);
	expect(v, n, "ckpt_7", 7, NULL);
	checkpoint_free(v, n);

	ck_assert_int_eq(checkpoint_scan(ckdir, "step_{step}", "../x", 0, juid,
	                     jgid, NULL, 0, 0, &v, &n, &cause),
	    -1);
	ck_assert_ptr_nonnull(strstr(cause, "must be a name"));
	free(cause);
}
END_TEST

/* Mixed layouts in one dir: the newest complete step wins. */
START_TEST(test_mixed)
{
	struct ckpt *v;
	size_t n;

	hf("checkpoint-40", "{\"global_step\": 40}");
	dcp("step-60", 0, 1);
	dcp("step-80", 0, 0);
	mkd("step_70");
	mkf("step_70/model.pt", "weights"); /* no marker */
	lscan(&v, &n);
	ck_assert_uint_eq(n, 4);
	expect(v, n, "step_70", 70, "no COMPLETE marker or manifest");
	expect_newest(v, n, "step-60");
	checkpoint_free(v, n);
}
END_TEST

/* What llmctl checkpoints -o json calls each entry. */
START_TEST(test_layout_names)
{
	static const struct {
		const char *path, *pattern, *file, *want;
	} c[] = {
		{ "/c/step_10", "step_{step}", NULL, "step" },
		{ "/c/step-10", "step_{step}", NULL, "dcp" },
		{ "/c/iter_0000010", "step_{step}", NULL, "megatron" },
		{ "/c/global_step10", "step_{step}", NULL, "deepspeed" },
		{ "/c/checkpoint-10", "step_{step}", NULL, "hf" },
		{ "/c/epoch=1-step=10.ckpt", "step_{step}", NULL, "lightning" },
		{ "/c/last.ckpt", "step_{step}", NULL, "lightning" },
		{ "/c/snapshot.pt", "step_{step}", "snapshot.pt", "file" },
		{ "/c/snapshot.pt", "step_{step}", NULL, "unknown" },
		{ "/c/checkpoint-10", "ckpt_{step}", NULL, "unknown" },
		{ "/c/ckpt_10", "ckpt_{step}", NULL, "step" },
	};
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		ck_assert_msg(strcmp(checkpoint_layout(
		                         c[i].path, c[i].pattern, c[i].file),
		                  c[i].want) == 0,
		    "%s: %s, want %s", c[i].path,
		    checkpoint_layout(c[i].path, c[i].pattern, c[i].file),
		    c[i].want);
}
END_TEST

/* Make entry i of a layout (a step of its own, i) in ckdir. */
static void
make_entry(int layout, int i)
{
	char p[PATH_MAX], q[PATH_MAX];

	switch (layout) {
	case 0:
		fmt(p, sizeof(p), "step_%d", i);
		mkd(p);
		fmt(p, sizeof(p), "step_%d/model.pt", i);
		mkzip(p, 1);
		fmt(p, sizeof(p), "step_%d/COMPLETE", i);
		mkf(p, "");
		break;
	case 1:
		fmt(p, sizeof(p), "step-%d", i);
		dcp(p, 0, 1);
		break;
	case 2:
		fmt(p, sizeof(p), "iter_%07d", i);
		mkd(p);
		fmt(p, sizeof(p), "iter_%07d/model_optim_rng.pt", i);
		mkzip(p, 1);
		break;
	case 3:
		fmt(p, sizeof(p), "global_step%d", i);
		mkd(p);
		fmt(p, sizeof(p), "global_step%d/mp_rank_00_model_states.pt",
		    i);
		mkzip(p, 1);
		break;
	case 4:
		fmt(p, sizeof(p), "checkpoint-%d", i);
		fmt(q, sizeof(q), "{\"global_step\": %d}", i);
		hf(p, q);
		break;
	default:
		fmt(p, sizeof(p), "epoch=%d-step=%d.ckpt", i, i);
		mkzip(p, 1);
		break;
	}
}

static void
trackers(void)
{
	mkf("latest_checkpointed_iteration.txt", "1000\n");
	mkf("latest", "global_step1000");
}

/*
 * 1,000 entries of each layout, one directory per layout, then all in one:
 * a scan stays far inside scan_timeout. Prints the times.
 */
START_TEST(test_thousand)
{
	static const char *const names[] = { "step", "dcp", "megatron",
		"deepspeed", "hf", "lightning" };
	char top[PATH_MAX];
	struct ckpt *v;
	size_t n;
	int64_t t0, ms;
	int l, i;

	memcpy(top, ckdir, sizeof(top));
	for (l = 0; l < 6; l++) {
		fmt(ckdir, sizeof(ckdir), "%s/%s", top, names[l]);
		ck_assert_int_eq(mkdir(ckdir, 0755), 0);
		own_as(ckdir, juid);
		for (i = 1; i <= 1000; i++)
			make_entry(l, i);
		trackers();
		t0 = now_ms();
		lscan(&v, &n);
		ms = now_ms() - t0;
		fprintf(stderr,
		    "check_checkpoint: 1,000 %s entries scanned "
		    "in %lld ms\n",
		    names[l], (long long)ms);
		ck_assert_uint_eq(n, 1000);
		ck_assert_int_eq(checkpoint_newest(v, n)->step, 1000);
		ck_assert_int_lt(ms, 10000);
		checkpoint_free(v, n);
	}
	memcpy(ckdir, top, sizeof(ckdir));
	for (l = 0; l < 6; l++)
		for (i = 1; i <= 1000; i++)
			make_entry(l, i);
	trackers();
	t0 = now_ms();
	lscan(&v, &n);
	fprintf(stderr,
	    "check_checkpoint: 6,000 entries (1,000 per layout) "
	    "in one dir scanned in %lld ms\n",
	    (long long)(now_ms() - t0));
	/* the six layout dirs are entries of nothing */
	ck_assert_uint_eq(n, 6000);
	ck_assert_int_eq(checkpoint_newest(v, n)->step, 1000);
	checkpoint_free(v, n);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("checkpoint");
	TCase *tc;

	tc = tcase_create("entries");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(
	    tc, test_entry, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_names);
	tcase_add_loop_test(
	    tc, test_errors, 0, sizeof(errors) / sizeof(errors[0]));
	tcase_add_test(tc, test_newest);
	suite_add_tcase(s, tc);

	tc = tcase_create("incremental");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_incremental);
	tcase_add_test(tc, test_deadline_slow);
	tcase_add_test(tc, test_deadline_sigstop);
	suite_add_tcase(s, tc);

	tc = tcase_create("prune");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_prune);
	tcase_add_test(tc, test_prune_symlink);
	tcase_add_test(tc, test_privileges);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_stop);
	suite_add_tcase(s, tc);

	tc = tcase_create("layouts");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_dcp);
	tcase_add_test(tc, test_megatron);
	tcase_add_test(tc, test_deepspeed);
	tcase_add_test(tc, test_hf);
	tcase_add_test(tc, test_lightning);
	tcase_add_test(tc, test_single_file);
	tcase_add_test(tc, test_renamed);
	tcase_add_test(tc, test_own_pattern);
	tcase_add_test(tc, test_mixed);
	tcase_add_test(tc, test_layout_names);
	tcase_add_test(tc, test_thousand);
	suite_add_tcase(s, tc);

	return unit_run(s);
}
