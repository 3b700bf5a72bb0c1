/*
 * checkpoint-fs: the half of checkpoint.c that runs in the forked child, as
 * the job's user: privilege drop, the directory walk, manifest verification
 * and deletion.
 *
 * Only async-signal-safe work happens here, because the child was forked
 * from a threaded daemon and another thread may have held a lock (malloc,
 * stdio, NSS) at the fork: system calls (getdents64(2) rather than
 * opendir(3), an mmap(2)ed manifest buffer), string functions that do not
 * allocate, lib/sha256.c, and messages built by hand. Results go back to the
 * parent as struct rec over the pipe, errno as a number; the parent formats
 * and allocates.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "checkpoint-int.h"
#include "sha256.h"
#include "util.h"

#define SB_SIZE 1024
#define HASHBUF_SIZE (256 * 1024)
#define MAX_PARENTS 4096 /* ".." steps when resolving symlinks */
#define STR(x) #x
#define XSTR(x) STR(x)

/* A message built in the child without stdio. */
struct sbuf {
	char s[SB_SIZE];
	size_t len;
};

/* One entry being scanned, in the child. */
struct entry {
	const char *name;
	int64_t step;
	uint64_t bytes;
	int64_t mtime;
	enum ckpt_layout layout;
	int complete;
	int verified;
	int cached; /* the known result, not hashed again */
	int bad; /* problem is set */
	int err;
	struct sbuf problem;
};

static void sb_add(struct sbuf *, const char *);
static void sb_addn(struct sbuf *, const char *, size_t);
static void sb_num(struct sbuf *, uint64_t);
static int write_all(int, const void *, size_t);
static void emit(
    int, const struct rec *, const char *, size_t, const char *, size_t);
static void scan_entry(struct scan *, const char *, enum ckpt_layout, int64_t);
static void scan_file(struct scan *, struct entry *);
static void judge(struct scan *, struct entry *, int);
static void judge_marker(struct scan *, struct entry *, int);
static void judge_dcp(struct entry *, int, const struct scan *);
static void judge_tracked(struct entry *, int64_t, const char *);
static void judge_hf(struct scan *, struct entry *, int);
static void judge_settled(
    const struct scan *, struct entry *, const struct stat *);
static int64_t file_version(const struct scan *, const struct entry *);
static void emit_entry(const struct scan *, struct entry *);
static int ends_with_distcp(const char *);
static void check_torn(struct scan *, int, const char *, const struct stat *);
static void problem(struct entry *, int, const char *, const char *);
static int beneath(const struct scan *, int);
static void newer(struct entry *, const struct stat *);
static void rel_push(struct scan *, const char *);
static int walk(struct scan *, struct entry *, int, int);
static void begin(const struct scan *, const struct entry *);
static const struct ckpt *known_result(
    const struct scan *, const struct entry *);
static const struct ckpt *known_named(const struct scan *, const char *);
static size_t parse_manifest(struct entry *, char *, size_t);
static int open_beneath(int, const char *);
static void verify_manifest(struct scan *, struct entry *, int, int);
static int rm_tree(int, int, uint64_t *);

static void
sb_addn(struct sbuf *sb, const char *s, size_t n)
{
	if (n > sizeof(sb->s) - 1 - sb->len)
		n = sizeof(sb->s) - 1 - sb->len;
	memcpy(sb->s + sb->len, s, n);
	sb->len += n;
	sb->s[sb->len] = '\0';
}

static void
sb_add(struct sbuf *sb, const char *s)
{
	sb_addn(sb, s, strlen(s));
}

static void
sb_num(struct sbuf *sb, uint64_t v)
{
	char d[24];
	size_t i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	sb_addn(sb, d + i, sizeof(d) - i);
}

static int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t w;

	while (len > 0) {
		w = write(fd, p, len);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* The parent gone means nobody wants the answer: stop. */
static void
emit(int fd, const struct rec *r, const char *name, size_t namelen,
    const char *text, size_t textlen)
{
	struct rec h = *r;

	h.namelen = (uint32_t)namelen;
	h.textlen = (uint32_t)textlen;
	if (write_all(fd, &h, sizeof(h)) != 0 ||
	    write_all(fd, name, namelen) != 0 ||
	    write_all(fd, text, textlen) != 0)
		_exit(1);
}

void
ckpt_child_fail(int fd, const char *text, int err)
{
	struct rec r = { .type = REC_ERROR, .err = err };

	emit(fd, &r, "", 0, text, strlen(text));
	_exit(1);
}

/*
 * In the child: keep only the pipe (as fd 3), restore default signal
 * dispositions (the daemon's handlers would write to its event loop), and
 * become uid/gid for good. Returns the pipe's fd.
 */
int
ckpt_child_setup(int pfd, uid_t uid, gid_t gid)
{
	struct sigaction sa;
	sigset_t all;
	int fd = 3, sig;

	if (pfd != 3 && dup2(pfd, 3) == -1)
		_exit(1);
	close_range(4, ~0U, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);

	if (geteuid() == 0) {
		if (setgroups(1, &gid) == -1)
			ckpt_child_fail(fd, "setgroups", errno);
		if (setresgid(gid, gid, gid) == -1)
			ckpt_child_fail(fd, "setresgid", errno);
		if (setresuid(uid, uid, uid) == -1)
			ckpt_child_fail(fd, "setresuid", errno);
	}
	if (uid == 0 || getuid() != uid || geteuid() != uid || setuid(0) != -1)
		ckpt_child_fail(fd, "could not drop privileges", 0);
	return fd;
}

/* Report every entry of s->dir matching the pattern, then REC_DONE. */
void
ckpt_scan_child(struct scan *s)
{
	struct rec done = { .type = REC_DONE };
	struct dirent64 *de;
	struct timespec now;
	char dbuf[8192] __attribute__((aligned(8)));
	ssize_t got, off;
	size_t names = 0, entries = 0;
	enum ckpt_layout layout;
	int64_t step;
	void *m;

	m = mmap(NULL, CKPT_MANIFEST_MAX + 1 + HASHBUF_SIZE,
	    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		ckpt_child_fail(s->out, "mmap", errno);
	s->mbuf = m;
	s->hbuf = s->mbuf + CKPT_MANIFEST_MAX + 1;

	s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd == -1 && errno == ENOENT) {
		emit(s->out, &done, "", 0, "", 0);
		_exit(0);
	}
	if (s->dirfd == -1 || fstat(s->dirfd, &s->dirst) == -1)
		ckpt_child_fail(s->out, "", errno);
	clock_gettime(CLOCK_REALTIME, &now);
	s->now_s = now.tv_sec;
	/* the trackers first: they decide which entries are complete */
	s->mg_iter = ckpt_read_tracker(
	    s->dirfd, MEGATRON_TRACKER, s->uid, s->hbuf, 64, "");
	s->ds_step = ckpt_read_tracker(
	    s->dirfd, DEEPSPEED_TRACKER, s->uid, s->hbuf, 64, "global_step");
	s->pl_step = -1;

	for (;;) {
		got = getdents64(s->dirfd, dbuf, sizeof(dbuf));
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1)
			ckpt_child_fail(s->out, "", errno);
		if (got == 0)
			break;
		for (off = 0; off < got; off += de->d_reclen) {
			de = (struct dirent64 *)(dbuf + off);
			if (++names > CKPT_MAX_NAMES)
				ckpt_child_fail(s->out,
				    "more than " XSTR(CKPT_MAX_NAMES) " names",
				    0);
			layout = ckpt_classify(s, de->d_name, &step);
			if (layout == L_NONE)
				continue;
			if (++entries > CKPT_MAX_ENTRIES)
				ckpt_child_fail(s->out,
				    "more than " XSTR(
				        CKPT_MAX_ENTRIES) " entries match",
				    0);
			if (layout == L_LAST)
				s->last_seen = 1; /* after the others */
			else
				scan_entry(s, de->d_name, layout, step);
		}
	}
	if (s->last_seen)
		scan_entry(s, "last.ckpt", L_LAST, 0);
	done.hashed = s->hashed;
	emit(s->out, &done, "", 0, "", 0);
	_exit(0);
}

/* Record why an entry is unusable; the first reason wins. */
static void
problem(struct entry *e, int err, const char *a, const char *b)
{
	if (e->bad)
		return;
	e->bad = 1;
	e->err = err;
	if (a != NULL)
		sb_add(&e->problem, a);
	if (b != NULL)
		sb_add(&e->problem, b);
}

static void
scan_entry(
    struct scan *s, const char *name, enum ckpt_layout layout, int64_t step)
{
	struct entry e;
	struct stat lst, st;
	int fd = -1;

	memset(&e, 0, sizeof(e));
	e.name = name;
	e.step = step;
	e.layout = layout;
	if (layout == L_LIGHTNING || layout == L_LAST || layout == L_FILE) {
		scan_file(s, &e);
		return;
	}
	begin(s, &e);
	if (fstatat(s->dirfd, name, &lst, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			return; /* removed since listed */
		problem(&e, errno, "cannot stat the entry", NULL);
	} else if (S_ISLNK(lst.st_mode)) {
		newer(&e, &lst);
		if (lst.st_uid != s->uid) {
			problem(&e, 0, "owned by uid ", NULL);
			sb_num(&e.problem, lst.st_uid);
			sb_add(&e.problem, ", not the job's user");
		}
		fd = openat(s->dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd == -1 && errno == ENOENT)
			problem(&e, 0, "dangling symlink", NULL);
		else if (fd == -1)
			problem(&e, errno, "symlink", NULL);
		else if (!beneath(s, fd))
			problem(&e, 0,
			    "symlink pointing outside "
			    "checkpoint.dir",
			    NULL);
	} else if (S_ISDIR(lst.st_mode)) {
		fd = openat(s->dirfd, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd == -1)
			problem(&e, errno, "cannot open the entry", NULL);
	} else
		problem(&e, 0, "not a directory", NULL);

	if (!e.bad && fstat(fd, &st) == -1)
		problem(&e, errno, "cannot stat the entry", NULL);
	if (!e.bad && st.st_uid != s->uid) {
		problem(&e, 0, "owned by uid ", NULL);
		sb_num(&e.problem, st.st_uid);
		sb_add(&e.problem, ", not the job's user");
	}
	if (!e.bad) {
		newer(&e, &st);
		s->nfiles = 0;
		s->rellen = 0;
		s->rel[0] = '\0';
		s->ndistcp = 0;
		s->distcp_mtime.tv_sec = s->distcp_mtime.tv_nsec = 0;
		s->torn = 0;
		walk(s, &e, fd, 0);
	}
	if (!e.bad)
		judge(s, &e, fd);
	if (fd != -1)
		close(fd);
	emit_entry(s, &e);
}

static void
emit_entry(const struct scan *s, struct entry *e)
{
	struct rec r = { .type = REC_ENTRY };

	if (e->bad)
		e->complete = e->verified = 0;
	r.step = e->step;
	r.mtime = e->mtime;
	r.bytes = e->bytes;
	r.complete = e->complete;
	r.verified = e->verified;
	r.cached = e->cached;
	r.err = e->err;
	emit(
	    s->out, &r, e->name, strlen(e->name), e->problem.s, e->problem.len);
}

/*
 * A walked directory entry: complete by its layout's rule. A torch.save
 * file cut short in it makes any layout a save in progress, whatever the
 * framework's own marker says.
 */
static void
judge(struct scan *s, struct entry *e, int fd)
{
	if (s->torn && e->layout != L_STEP) {
		problem(e, 0, CKPT_IN_PROGRESS ": ", s->torn_name);
		sb_add(&e->problem,
		    " is cut short (a torch.save zip without "
		    "its end record)");
		return;
	}
	switch (e->layout) {
	case L_STEP:
		judge_marker(s, e, fd);
		break;
	case L_DCP:
		judge_dcp(e, fd, s);
		break;
	case L_MEGATRON:
		judge_tracked(e, s->mg_iter, MEGATRON_TRACKER);
		break;
	case L_DEEPSPEED:
		judge_tracked(e, s->ds_step, DEEPSPEED_TRACKER);
		break;
	case L_HF:
		judge_hf(s, e, fd);
		break;
	default:
		problem(e, 0, "not a directory layout", NULL);
		break;
	}
}

/*
 * The strict form: a verified MANIFEST.sha256 or a COMPLETE marker; a DCP
 * save under the pattern's name (step_N/ with .metadata) by DCP's rule.
 */
static void
judge_marker(struct scan *s, struct entry *e, int fd)
{
	const struct ckpt *k;
	struct stat st;
	int mfd;

	begin(s, e);
	mfd = openat(
	    fd, CKPT_MANIFEST, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (mfd != -1) {
		if ((k = known_result(s, e)) != NULL) {
			e->cached = 1;
			if (k->verified)
				e->verified = 1;
			else
				problem(e, 0, k->problem, NULL);
		} else
			verify_manifest(s, e, fd, mfd);
		e->complete = e->verified;
		close(mfd);
	} else if (errno == ENOENT) {
		e->complete =
		    fstatat(fd, CKPT_MARKER, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode);
		if (!e->complete &&
		    fstatat(fd, DCP_METADATA, &st, AT_SYMLINK_NOFOLLOW) == 0)
			judge_dcp(e, fd, s);
		else if (!e->complete && s->torn) {
			problem(e, 0, CKPT_IN_PROGRESS ": ", s->torn_name);
			sb_add(&e->problem, " is cut short");
		} else if (!e->complete)
			problem(e, 0,
			    "no " CKPT_MARKER " marker or "
			    "manifest",
			    NULL);
	} else
		problem(e, errno == ELOOP ? 0 : errno, CKPT_MANIFEST,
		    errno == ELOOP ? ": symlink, not followed" : NULL);
}

static int
ts_after(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec != b->tv_sec ? a->tv_sec > b->tv_sec
	                              : a->tv_nsec > b->tv_nsec;
}

/*
 * PyTorch DCP: every rank writes its __<rank>_<n>.distcp shards, then the
 * coordinator writes .metadata once all have reported. No .metadata, or a
 * shard newer than it (a save into the same directory again), is a save in
 * progress.
 */
static void
judge_dcp(struct entry *e, int fd, const struct scan *s)
{
	struct stat st;

	if (fstatat(fd, DCP_METADATA, &st, AT_SYMLINK_NOFOLLOW) == -1)
		problem(
		    e, 0, CKPT_IN_PROGRESS ": no " DCP_METADATA " yet", NULL);
	else if (!S_ISREG(st.st_mode))
		problem(e, 0, DCP_METADATA ": not a regular file", NULL);
	else if (st.st_size == 0)
		problem(
		    e, 0, CKPT_IN_PROGRESS ": " DCP_METADATA " is empty", NULL);
	else if (s->ndistcp == 0)
		problem(e, 0, DCP_METADATA " but no .distcp shards", NULL);
	else if (ts_after(&s->distcp_mtime, &st.st_mtim))
		problem(e, 0,
		    CKPT_IN_PROGRESS ": a shard is newer than " DCP_METADATA,
		    NULL);
	else
		e->complete = 1;
}

/*
 * Megatron-LM and DeepSpeed write their tracker (the iteration, or the tag
 * global_stepN) once a save is done: an entry up to the tracker's step is
 * complete, a newer one is being written or was cut short.
 */
static void
judge_tracked(struct entry *e, int64_t upto, const char *tracker)
{
	if (upto < 0)
		problem(e, 0, CKPT_IN_PROGRESS ": ", tracker);
	else if (e->step > upto)
		problem(e, 0, CKPT_IN_PROGRESS ": newer than ", tracker);
	else {
		e->complete = 1;
		return;
	}
	if (upto < 0)
		sb_add(&e->problem, " names no step yet");
	else {
		sb_add(&e->problem, " (");
		sb_num(&e->problem, (uint64_t)upto);
		sb_add(&e->problem, ")");
	}
}

/*
 * Hugging Face Trainer: model, optimizer, scheduler and RNG state first,
 * trainer_state.json last, with the step as "global_step". The JSON is
 * whole when it ends in '}'; its step must be the directory's.
 */
static void
judge_hf(struct scan *s, struct entry *e, int fd)
{
	const char key[] = "\"global_step\"";
	struct stat st;
	ssize_t got;
	size_t len = 0, n;
	char *p, *end;
	int f;

	f = openat(
	    fd, HF_STATE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (f == -1 && errno == ENOENT) {
		problem(e, 0, CKPT_IN_PROGRESS ": no " HF_STATE " yet", NULL);
		return;
	}
	if (f == -1 || fstat(f, &st) == -1 || !S_ISREG(st.st_mode)) {
		problem(e, f == -1 ? errno : 0,
		    HF_STATE ": not a readable "
		             "regular file",
		    NULL);
		if (f != -1)
			close(f);
		return;
	}
	while (len < CKPT_MANIFEST_MAX) {
		got = read(f, s->mbuf + len, CKPT_MANIFEST_MAX - len);
		if (got == -1 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	close(f);
	s->mbuf[len] = '\0';
	end = s->mbuf + len;
	while (end > s->mbuf &&
	    (end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\r' ||
	        end[-1] == '\t'))
		end--;
	if (len < CKPT_MANIFEST_MAX && (end == s->mbuf || end[-1] != '}')) {
		problem(
		    e, 0, CKPT_IN_PROGRESS ": " HF_STATE " is cut short", NULL);
		return;
	}
	if ((p = strstr(s->mbuf, key)) == NULL) {
		problem(e, 0, HF_STATE ": no global_step", NULL);
		return;
	}
	p += sizeof(key) - 1;
	p += strspn(p, " \t\r\n:");
	n = strspn(p, "0123456789");
	if (ckpt_number(p, n) != e->step) {
		problem(e, 0,
		    HF_STATE ": global_step is not the directory's "
		             "step",
		    NULL);
		return;
	}
	e->complete = 1;
}

/*
 * A version of a file overwritten in place counts once nothing changed it
 * for checkpoint.settle, or once it was renamed into place: the rename
 * changes its ctime, not its mtime, so a ctime past the mtime says the
 * writer was done before it.
 */
static void
judge_settled(const struct scan *s, struct entry *e, const struct stat *st)
{
	if (ts_after(&st->st_ctim, &st->st_mtim) ||
	    s->now_s - e->mtime >= s->settle_s)
		e->complete = 1;
	else
		problem(e, 0,
		    CKPT_IN_PROGRESS ": changed within "
		                     "checkpoint.settle",
		    NULL);
}

/*
 * A file without a step of its own (checkpoint.file, last.ckpt alone)
 * counts versions: the step an earlier scan gave it while its size and
 * time stay, one more once either changed, 1 the first time.
 */
static int64_t
file_version(const struct scan *s, const struct entry *e)
{
	const struct ckpt *k = known_named(s, e->name);

	if (k == NULL)
		return 1;
	if (k->mtime == e->mtime && k->bytes == e->bytes)
		return k->step;
	return k->step + 1;
}

/*
 * A file entry: a Lightning .ckpt, its last.ckpt, or checkpoint.file. A
 * torch.save zip is complete once its end record is written; any other
 * file by the settle rule. Symlinks are not followed: Lightning's
 * save_last="link" points last.ckpt at a file that is listed itself.
 */
static void
scan_file(struct scan *s, struct entry *e)
{
	struct stat lst, st;
	int fd, torn;

	begin(s, e);
	if (fstatat(s->dirfd, e->name, &lst, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			return; /* removed since listed */
		problem(e, errno, "cannot stat the entry", NULL);
		emit_entry(s, e);
		return;
	}
	newer(e, &lst);
	if (S_ISLNK(lst.st_mode))
		problem(e, 0, "symlink, not followed", NULL);
	else if (!S_ISREG(lst.st_mode))
		problem(e, 0, "not a regular file", NULL);
	else if (lst.st_uid != s->uid) {
		problem(e, 0, "owned by uid ", NULL);
		sb_num(&e->problem, lst.st_uid);
		sb_add(&e->problem, ", not the job's user");
	}
	fd = e->bad ? -1
	            : openat(s->dirfd, e->name,
	                  O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (!e->bad && (fd == -1 || fstat(fd, &st) == -1))
		problem(e, errno, "cannot open the entry", NULL);
	else if (!e->bad && !S_ISREG(st.st_mode))
		problem(e, 0, "not a regular file", NULL); /* swapped */
	if (!e->bad) {
		e->bytes = (uint64_t)st.st_size;
		newer(e, &st);
		torn = ckpt_zip_torn(fd, st.st_size, s->hbuf, HASHBUF_SIZE);
		if (torn)
			problem(e, 0,
			    CKPT_IN_PROGRESS
			    ": cut short (empty, or "
			    "a torch.save zip without its end record)",
			    NULL);
		else if (st.st_size >= 4 && pread(fd, s->hbuf, 4, 0) == 4 &&
		    memcmp(s->hbuf, "PK\3\4", 4) == 0)
			e->complete = 1;
		else
			judge_settled(s, e, &st);
	}
	if (fd != -1)
		close(fd);
	if (e->layout == L_LIGHTNING && e->complete && e->step > s->pl_step)
		s->pl_step = e->step;
	/* last.ckpt is saved with the newest step-named file, or alone */
	if (e->layout == L_LAST && s->pl_step >= 0)
		e->step = s->pl_step;
	else if (e->layout == L_LAST || e->layout == L_FILE)
		e->step = file_version(s, e);
	emit_entry(s, e);
}

static int
ends_with_distcp(const char *name)
{
	size_t n = strlen(name);

	return n > 7 && strcmp(name + n - 7, ".distcp") == 0;
}

/* Note a torch.save file of the entry that was cut short, and DCP shards. */
static void
check_torn(struct scan *s, int fd, const char *name, const struct stat *st)
{
	size_t n;
	int f;

	if (ends_with_distcp(name)) {
		s->ndistcp++;
		if (ts_after(&st->st_mtim, &s->distcp_mtime))
			s->distcp_mtime = st->st_mtim;
		return;
	}
	if (s->torn || !ckpt_torch_file(name))
		return;
	f = openat(fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (f == -1)
		return;
	if (ckpt_zip_torn(f, st->st_size, s->hbuf, HASHBUF_SIZE)) {
		s->torn = 1;
		n = s->rellen;
		if (n > sizeof(s->torn_name) - 2)
			n = sizeof(s->torn_name) - 2;
		memcpy(s->torn_name, s->rel, n);
		if (n > 0)
			s->torn_name[n++] = '/';
		s->torn_name[n] = '\0';
		n = strlen(name);
		if (n > sizeof(s->torn_name) - 1 - strlen(s->torn_name))
			n = sizeof(s->torn_name) - 1 - strlen(s->torn_name);
		strncat(s->torn_name, name, n);
	}
	close(f);
}

/* Whether fd is a directory strictly below checkpoint.dir, by walking "..". */
static int
beneath(const struct scan *s, int fd)
{
	struct stat st, up;
	int cur, next, i, inside = 0;

	if (fstat(fd, &st) == -1 ||
	    (st.st_dev == s->dirst.st_dev && st.st_ino == s->dirst.st_ino))
		return 0;
	if ((cur = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1)
		return 0;
	for (i = 0; i < MAX_PARENTS; i++) {
		if (fstat(cur, &up) == -1)
			break;
		if (up.st_dev == s->dirst.st_dev &&
		    up.st_ino == s->dirst.st_ino) {
			inside = 1;
			break;
		}
		if (up.st_dev == st.st_dev && up.st_ino == st.st_ino)
			break; /* "/" is its own parent */
		st = up;
		next = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		close(cur);
		if ((cur = next) == -1)
			return 0;
	}
	close(cur);
	return inside;
}

/*
 * The entry's time is the newest mtime or ctime inside it. ctime cannot be
 * set back by the user, so any rewrite changes it; what escapes is only a
 * same-size rewrite within the second of the last change, after a scan
 * verified it, which no checkpoint writer does.
 */
static void
newer(struct entry *e, const struct stat *st)
{
	if (st->st_mtime > e->mtime)
		e->mtime = st->st_mtime;
	if (st->st_ctime > e->mtime)
		e->mtime = st->st_ctime;
}

/* Append "/name" to the path being walked, for messages; bounded. */
static void
rel_push(struct scan *s, const char *name)
{
	size_t n = strlen(name);

	if (s->rellen > 0 && s->rellen < sizeof(s->rel) - 1)
		s->rel[s->rellen++] = '/';
	if (n > sizeof(s->rel) - 1 - s->rellen)
		n = sizeof(s->rel) - 1 - s->rellen;
	memcpy(s->rel + s->rellen, name, n);
	s->rellen += n;
	s->rel[s->rellen] = '\0';
}

/* Sum regular files and find the newest mtime; symlinks are not followed. */
static int
walk(struct scan *s, struct entry *e, int fd, int depth)
{
	char dbuf[4096] __attribute__((aligned(8)));
	struct dirent64 *de;
	struct stat st;
	ssize_t got, off;
	size_t save = s->rellen;
	int sub, rc = 0;

	for (;;) {
		got = getdents64(fd, dbuf, sizeof(dbuf));
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1) {
			problem(e, errno, "cannot read ",
			    depth == 0 ? "the entry" : s->rel);
			return -1;
		}
		if (got == 0)
			return 0;
		for (off = 0; off < got; off += de->d_reclen) {
			de = (struct dirent64 *)(dbuf + off);
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			if (++s->nfiles > CKPT_MAX_FILES) {
				problem(e, 0,
				    "more than " XSTR(CKPT_MAX_FILES) " files",
				    NULL);
				return -1;
			}
			if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
			    -1)
				continue; /* removed since listed */
			newer(e, &st);
			if (S_ISREG(st.st_mode)) {
				e->bytes += (uint64_t)st.st_size;
				check_torn(s, fd, de->d_name, &st);
			}
			if (!S_ISDIR(st.st_mode))
				continue;
			rel_push(s, de->d_name);
			if (depth + 1 >= CKPT_MAX_DEPTH) {
				problem(e, 0,
				    "directories nested too deep: ", s->rel);
				return -1;
			}
			sub = openat(fd, de->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub == -1) {
				problem(e, errno, "cannot read ", s->rel);
				return -1;
			}
			rc = walk(s, e, sub, depth + 1);
			close(sub);
			if (rc != 0)
				return -1;
			s->rellen = save;
			s->rel[save] = '\0';
		}
	}
}

/*
 * Tell the parent which entry is being scanned, so that if the scan runs
 * out of time it knows which one to blame; sent again once the entry is
 * walked, with the bytes and time that a later scan's cache compares.
 */
static void
begin(const struct scan *s, const struct entry *e)
{
	struct rec r = { .type = REC_BEGIN };

	r.step = e->step;
	r.bytes = e->bytes;
	r.mtime = e->mtime;
	emit(s->out, &r, e->name, strlen(e->name), "", 0);
}

/*
 * What an earlier scan found for this entry when nothing in it has changed
 * since (same name, step, bytes and newest mtime or ctime): its verdict
 * stands, so an entry that verified, failed to verify or ran out of time is
 * not hashed again every few seconds. A changed entry is hashed afresh.
 */
static const struct ckpt *
known_result(const struct scan *s, const struct entry *e)
{
	const struct ckpt *k = known_named(s, e->name);

	if (k == NULL || k->step != e->step || k->mtime != e->mtime ||
	    k->bytes != e->bytes ||
	    (k->verified ? k->problem != NULL : k->problem == NULL))
		return NULL;
	return k;
}

/* The earlier scan's entry of this name in s->dir (paths are unique). */
static const struct ckpt *
known_named(const struct scan *s, const char *name)
{
	const struct ckpt *k;
	size_t i, dlen = strlen(s->dir);
	const char *kn;

	for (i = 0; i < s->nknown; i++) {
		k = &s->known[i];
		if (k->path == NULL || strncmp(k->path, s->dir, dlen) != 0)
			continue;
		kn = k->path + dlen;
		if (*kn == '/')
			kn++;
		if (strcmp(kn, name) == 0)
			return k;
	}
	return NULL;
}

/*
 * Check every line of a manifest in sha256sum format and rewrite it in place
 * as 32 digest bytes and a NUL-terminated path (never longer than the line).
 * Returns the bytes of rewritten records, or 0 with the problem set.
 */
static size_t
parse_manifest(struct entry *e, char *buf, size_t len)
{
	char *p = buf, *end = buf + len, *eol, *q, *path, *w = buf, *c;
	size_t line = 0, records = 0, n;
	int escaped, hi, lo, i;

	for (; p < end; p = eol + 1) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		line++;
		if (line > CKPT_MANIFEST_LINES) {
			problem(e, 0,
			    CKPT_MANIFEST
			    ": more than " XSTR(CKPT_MANIFEST_LINES) " lines",
			    NULL);
			return 0;
		}
		q = eol;
		if (q > p && q[-1] == '\r')
			q--;
		if (q == p)
			continue; /* blank line */
		escaped = *p == '\\';
		if (escaped)
			p++;
		if (q - p < SHA256_HEXLEN + 3 || p[SHA256_HEXLEN] != ' ' ||
		    (p[SHA256_HEXLEN + 1] != ' ' &&
		        p[SHA256_HEXLEN + 1] != '*'))
			goto bad;
		for (i = 0; i < SHA256_LEN; i++) {
			if ((hi = hex_digit(p[2 * i])) == -1 ||
			    (lo = hex_digit(p[2 * i + 1])) == -1)
				goto bad;
			w[i] = (char)(hi << 4 | lo);
		}
		path = w + SHA256_LEN;
		for (c = p + SHA256_HEXLEN + 2; c < q; c++) {
			if (*c == '\0')
				goto bad;
			if (*c == '\\' && escaped) {
				if (++c == q)
					goto bad;
				if (*c == 'n')
					*path++ = '\n';
				else if (*c == 'r')
					*path++ = '\r';
				else if (*c == '\\')
					*path++ = '\\';
				else
					goto bad;
			} else
				*path++ = *c;
		}
		*path = '\0';
		path = w + SHA256_LEN;
		if (*path == '/') {
			problem(e, 0, CKPT_MANIFEST ": ", path);
			sb_add(&e->problem, ": absolute path");
			return 0;
		}
		for (c = path;; c += n + 1) {
			n = strcspn(c, "/");
			if (n == 2 && c[0] == '.' && c[1] == '.') {
				problem(e, 0, CKPT_MANIFEST ": ", path);
				sb_add(&e->problem,
				    ": path outside the "
				    "checkpoint");
				return 0;
			}
			if (c[n] == '\0')
				break;
		}
		w = path + strlen(path) + 1;
		records++;
		continue;
	bad:
		problem(e, 0, CKPT_MANIFEST ": line ", NULL);
		sb_num(&e->problem, line);
		sb_add(&e->problem, ": not in sha256sum format");
		return 0;
	}
	if (records == 0) {
		problem(e, 0, CKPT_MANIFEST ": lists no files", NULL);
		return 0;
	}
	return (size_t)(w - buf);
}

/* Open path below fd without following any symlink or leaving fd. */
static int
open_beneath(int fd, const char *path)
{
	char comp[256];
	const char *c = path;
	size_t n;
	int cur = fd, next;

	for (;;) {
		n = strcspn(c, "/");
		if (n >= sizeof(comp)) {
			errno = ENAMETOOLONG;
			next = -1;
		} else if (c[n] == '\0') {
			memcpy(comp, c, n + 1);
			next = openat(cur, comp,
			    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		} else if (n == 0 || (n == 1 && c[0] == '.')) {
			c += n + 1;
			continue;
		} else {
			memcpy(comp, c, n);
			comp[n] = '\0';
			next = openat(cur, comp,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (cur != fd)
			close(cur);
		if (next == -1 || c[n] == '\0')
			return next;
		cur = next;
		c += n + 1;
	}
}

/* Hash every file the manifest lists; e->verified when all match. */
static void
verify_manifest(struct scan *s, struct entry *e, int fd, int mfd)
{
	uint8_t digest[SHA256_LEN];
	struct stat st;
	uint64_t listed = 0;
	size_t len = 0, used;
	ssize_t got;
	char *p;
	int f;

	if (fstat(mfd, &st) == -1 || !S_ISREG(st.st_mode)) {
		problem(e, 0, CKPT_MANIFEST ": not a regular file", NULL);
		return;
	}
	while (len <= CKPT_MANIFEST_MAX) {
		got = read(mfd, s->mbuf + len, CKPT_MANIFEST_MAX + 1 - len);
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1) {
			problem(e, errno, CKPT_MANIFEST, NULL);
			return;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	if (len > CKPT_MANIFEST_MAX) {
		problem(e, 0, CKPT_MANIFEST ": larger than 1 MiB", NULL);
		return;
	}
	if ((used = parse_manifest(e, s->mbuf, len)) == 0)
		return;

	for (p = s->mbuf; p < s->mbuf + used;
	     p += SHA256_LEN + strlen(p + SHA256_LEN) + 1) {
		if ((f = open_beneath(fd, p + SHA256_LEN)) == -1) {
			problem(e, errno == ELOOP ? 0 : errno,
			    CKPT_MANIFEST ": ", p + SHA256_LEN);
			if (errno == ELOOP)
				sb_add(&e->problem, ": symlink, not followed");
			return;
		}
		if (fstat(f, &st) == -1 || !S_ISREG(st.st_mode)) {
			close(f);
			problem(e, 0, CKPT_MANIFEST ": ", p + SHA256_LEN);
			sb_add(&e->problem, ": not a regular file");
			return;
		}
		/* Hashing work stays below the entry's size: no repeats. */
		listed += (uint64_t)st.st_size;
		if (listed > e->bytes) {
			close(f);
			problem(e, 0,
			    CKPT_MANIFEST ": lists more data than "
			                  "the entry holds",
			    NULL);
			return;
		}
		if (sha256_fd(f, s->hbuf, HASHBUF_SIZE, digest, NULL) == -1) {
			problem(e, errno, CKPT_MANIFEST ": ", p + SHA256_LEN);
			close(f);
			return;
		}
		close(f);
		s->hashed++;
		if (memcmp(digest, p, SHA256_LEN) != 0) {
			problem(e, 0, CKPT_MANIFEST ": ", p + SHA256_LEN);
			sb_add(&e->problem, ": checksum mismatch");
			return;
		}
	}
	e->verified = 1;
}

/*
 * Empty and remove the directory fd refers to, never following a symlink.
 * Deleting while reading shifts offsets, so reread from the start until a
 * pass removes nothing.
 */
static int
rm_tree(int fd, int depth, uint64_t *budget)
{
	char dbuf[4096] __attribute__((aligned(8)));
	struct dirent64 *de;
	ssize_t got, off;
	int sub, removed, rc;

	for (;;) {
		if (lseek(fd, 0, SEEK_SET) == -1)
			return -1;
		got = getdents64(fd, dbuf, sizeof(dbuf));
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1)
			return -1;
		removed = 0;
		for (off = 0; off < got; off += de->d_reclen) {
			de = (struct dirent64 *)(dbuf + off);
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			if ((*budget)-- == 0) {
				errno = EMLINK;
				return -1;
			}
			if (unlinkat(fd, de->d_name, 0) == 0) {
				removed++;
				continue;
			}
			if (errno == ENOENT)
				continue;
			if (errno != EISDIR || depth + 1 >= CKPT_MAX_DEPTH)
				return -1;
			sub = openat(fd, de->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub == -1)
				return -1;
			rc = rm_tree(sub, depth + 1, budget);
			close(sub);
			if (rc == -1 ||
			    unlinkat(fd, de->d_name, AT_REMOVEDIR) == -1)
				return -1;
			removed++;
		}
		if (removed == 0)
			return 0;
	}
}

/* Remove each named entry of dir that is a real directory owned by uid. */
void
ckpt_prune_child(int out, const char *dir, char **names, size_t n, uid_t uid)
{
	struct rec r = { .type = REC_DONE };
	struct stat st;
	uint64_t budget = 10 * (uint64_t)CKPT_MAX_FILES;
	size_t i;
	int dfd, fd, rc;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		ckpt_child_fail(out, "", errno);
	for (i = 0; i < n; i++) {
		fd = openat(dfd, names[i],
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd == -1 &&
		    (errno == ENOENT || errno == ELOOP || errno == ENOTDIR))
			continue; /* gone, or not ours to follow */
		rc = fd == -1 || fstat(fd, &st) == -1 ? -1 : 0;
		if (rc == 0 && st.st_uid != uid) {
			errno = EPERM;
			rc = -1;
		}
		if (rc == 0)
			rc = rm_tree(fd, 0, &budget);
		if (rc == 0)
			rc = unlinkat(dfd, names[i], AT_REMOVEDIR);
		r.type = rc == 0 ? REC_DELETED : REC_FAIL;
		r.err = rc == 0 ? 0 : errno;
		if (fd != -1)
			close(fd);
		emit(out, &r, names[i], strlen(names[i]), "", 0);
	}
	r.type = REC_DONE;
	r.err = 0;
	emit(out, &r, "", 0, "", 0);
	_exit(0);
}
