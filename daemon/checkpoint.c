/*
 * checkpoint: scan, verify and prune a job's checkpoints as the job's user.
 *
 * The filesystem work runs in a forked child (checkpoint-fs.c) that drops to
 * the job's uid and gid, so the kernel, not this code, decides what may be
 * read or deleted, and a scan never runs as root. The child reports struct
 * rec records over a pipe; this side turns them into struct ckpt. Forking
 * rather than exec'ing a helper keeps one binary; the price is that the
 * child may only do async-signal-safe work (see checkpoint-fs.c).
 */
#include "config.h"

#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "checkpoint-int.h"
#include "util.h"

/* Collected records, in the parent. */
struct collect {
	struct ckpt *v;
	size_t n;
	const char *dir;
	size_t size;
	int deleted;
	char *fail; /* first prune failure */
	int done; /* REC_DONE arrived */
	int timedout; /* the deadline passed first */
	struct ckpt cur; /* REC_BEGIN: the entry being scanned */
};

static pid_t child_start(int *, uid_t, gid_t, char **);
static int collect_one(
    struct collect *, const struct rec *, const char *, const char *, char **);
static int child_collect(int, pid_t, int, struct collect *, char **);
static int timeout_ms(int);
static void add_timedout(struct collect *, const struct ckpt *, size_t, int);
static void add_unreached(struct collect *, const struct ckpt *, size_t);
static void push(struct collect *, const struct ckpt *);
static int split_pattern(const char *, struct scan *, char **);
static int check_user(uid_t, char **);
static int check_file(const char *, char **);
static char *trim_dir(const char *, char **);
static char *join(const char *, const char *, size_t);
static int ckpt_cmp(const void *, const void *);
static int ckpt_pcmp(const void *, const void *);

static uint64_t hashed_files;
static int stopping; /* checkpoint_stop() was called */

#define STOP_CHECK_MS 200 /* how often a wait looks at stopping */

/* Fork a child that runs as uid/gid; *fd gets the pipe end of each side. */
static pid_t
child_start(int *fd, uid_t uid, gid_t gid, char **cause)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) == -1)
		return set_cause(cause, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid == -1) {
		set_cause(cause, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid > 0) {
		close(p[1]);
		*fd = p[0];
		return pid;
	}
	*fd = ckpt_child_setup(p[1], uid, gid);
	return 0;
}

/* One record; returns 1 when it ends the conversation. */
static int
collect_one(struct collect *c, const struct rec *r, const char *name,
    const char *text, char **cause)
{
	struct ckpt *k;

	switch (r->type) {
	case REC_BEGIN:
		free(c->cur.path);
		memset(&c->cur, 0, sizeof(c->cur));
		c->cur.step = r->step;
		c->cur.path = join(c->dir, name, strlen(name));
		c->cur.bytes = r->bytes;
		c->cur.mtime = r->mtime;
		return 0;
	case REC_ENTRY:
		free(c->cur.path);
		c->cur.path = NULL;
		push(c, NULL);
		k = &c->v[c->n - 1];
		k->step = r->step;
		k->path = join(c->dir, name, strlen(name));
		k->bytes = r->bytes;
		k->complete = r->complete;
		k->verified = r->verified;
		k->mtime = r->mtime;
		k->cached = r->cached;
		k->problem = *text != '\0' ? xstrdup(text) : NULL;
		return 0;
	case REC_DELETED:
		c->deleted++;
		return 0;
	case REC_FAIL:
		if (c->fail == NULL)
			c->fail = xasprintf("%s: %s", name, text);
		return 0;
	case REC_ERROR:
		set_cause(cause, "%s", text);
		return 1;
	case REC_DONE:
		__atomic_add_fetch(&hashed_files, r->hashed, __ATOMIC_RELAXED);
		c->done = 1;
		return 1;
	default:
		set_cause(cause, "bad record from the scan");
		return 1;
	}
}

/* Append a copy of k (or a zeroed entry) to the records collected. */
static void
push(struct collect *c, const struct ckpt *k)
{
	struct ckpt *to;

	if (c->n == c->size) {
		c->size = c->size == 0 ? 16 : c->size * 2;
		c->v = xreallocarray(c->v, c->size, sizeof(*c->v));
	}
	to = &c->v[c->n++];
	memset(to, 0, sizeof(*to));
	if (k == NULL)
		return;
	*to = *k;
	to->path = xstrdup(k->path);
	to->problem = k->problem != NULL ? xstrdup(k->problem) : NULL;
}

static int
timeout_ms(int ms)
{
	return ms > 0 ? ms : CKPT_SCAN_TIMEOUT_S * 1000;
}

/*
 * The entry the child was on when it ran out of time is unusable, with its
 * bytes and time as far as they were known, so that a later scan's cache
 * recognises it unchanged and does not spend the deadline on it again. One
 * walked and found unchanged keeps its known verdict instead: the child
 * would have reused it, so the time went elsewhere.
 */
static void
add_timedout(struct collect *c, const struct ckpt *known, size_t nknown, int ms)
{
	const struct ckpt *was;
	struct ckpt *k;
	size_t i;

	if (c->cur.path == NULL)
		return;
	for (i = 0; i < nknown; i++) {
		was = &known[i];
		if (c->cur.mtime != 0 && was->path != NULL &&
		    strcmp(was->path, c->cur.path) == 0 &&
		    was->step == c->cur.step && was->mtime == c->cur.mtime &&
		    was->bytes == c->cur.bytes) {
			push(c, was);
			c->v[c->n - 1].cached = 1;
			return;
		}
	}
	push(c, NULL);
	k = &c->v[c->n - 1];
	*k = c->cur;
	c->cur.path = NULL;
	if (ms % 1000 == 0)
		k->problem = xasprintf(CKPT_TIMEDOUT " after %d s", ms / 1000);
	else
		k->problem = xasprintf(CKPT_TIMEDOUT " after %d ms", ms);
}

/*
 * Entries an earlier scan found that this one never reached keep their
 * earlier verdict: a scan cut short must not forget a verified checkpoint.
 */
static void
add_unreached(struct collect *c, const struct ckpt *known, size_t nknown)
{
	size_t i, k, have = c->n;

	for (i = 0; i < nknown; i++) {
		if (known[i].path == NULL)
			continue;
		for (k = 0; k < have; k++)
			if (strcmp(c->v[k].path, known[i].path) == 0)
				break;
		if (k == have) {
			push(c, &known[i]);
			c->v[c->n - 1].cached = 1;
		}
	}
}

/*
 * Read records until the child says it is done, then reap it. The child
 * runs as the user, who can stop it or feed it a file that takes hours to
 * hash; after ms milliseconds it is killed (SIGKILL works from root on a
 * stopped process) and c->timedout set, with the records read so far kept.
 */
static int
child_collect(int fd, pid_t pid, int ms, struct collect *c, char **cause)
{
	struct pollfd pfd;
	struct rec r;
	char *buf = NULL, *name, *text, *t;
	size_t len = 0, size = 0, off, need;
	ssize_t got;
	int64_t deadline, left;
	int status = 0, done = 0, rc;
	pid_t w;

	*cause = NULL;
	deadline = mono_ms() + ms;
	while (!done) {
		if (size - len < 65536) {
			size = size == 0 ? 65536 : size * 2;
			buf = xreallocarray(buf, size, 1);
		}
		if ((left = deadline - mono_ms()) <= 0) {
			c->timedout = 1;
			kill(pid, SIGKILL);
			break;
		}
		if (__atomic_load_n(&stopping, __ATOMIC_RELAXED)) {
			/* not the entry's fault: no verdict to record */
			set_cause(cause, "the daemon is stopping");
			kill(pid, SIGKILL);
			break;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		rc = poll(
		    &pfd, 1, left > STOP_CHECK_MS ? STOP_CHECK_MS : (int)left);
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc == -1) {
			set_cause(
			    cause, "waiting for the scan: %s", strerror(errno));
			kill(pid, SIGKILL);
			break;
		}
		if (rc == 0)
			continue;
		got = read(fd, buf + len, size - len);
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1)
			set_cause(cause, "reading from the scan: %s",
			    strerror(errno));
		if (got <= 0)
			break;
		len += (size_t)got;
		for (off = 0; !done && len - off >= sizeof(r); off += need) {
			memcpy(&r, buf + off, sizeof(r));
			if (r.namelen > REC_MAXSTR || r.textlen > REC_MAXSTR) {
				set_cause(cause, "bad record from the scan");
				done = 1;
				break;
			}
			need = sizeof(r) + r.namelen + r.textlen;
			if (len - off < need)
				break;
			name = xstrndup(buf + off + sizeof(r), r.namelen);
			text = xstrndup(
			    buf + off + sizeof(r) + r.namelen, r.textlen);
			if (r.err != 0) {
				t = xasprintf("%s%s%s", text,
				    *text != '\0' ? ": " : "", strerror(r.err));
				free(text);
				text = t;
			}
			done = collect_one(c, &r, name, text, cause);
			free(name);
			free(text);
		}
		if (!done) {
			memmove(buf, buf + off, len - off);
			len -= off;
		}
	}
	free(buf);
	close(fd);
	rc = c->done ? 0 : -1;
	if (c->timedout && *cause == NULL) {
		if (ms % 1000 == 0)
			set_cause(cause, "timed out after %d s", ms / 1000);
		else
			set_cause(cause, "timed out after %d ms", ms);
	}

	/* Someone else reaping it (ECHILD) leaves the records to judge by. */
	while ((w = waitpid(pid, &status, 0)) == -1 && errno == EINTR)
		;
	if (w == pid && rc == 0 &&
	    (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
		rc = -1;
	if (rc == -1 && *cause == NULL) {
		if (w == pid && WIFSIGNALED(status))
			set_cause(
			    cause, "killed by signal %d", WTERMSIG(status));
		else if (w == pid && WIFEXITED(status))
			set_cause(cause,
			    "exited with status %d without an "
			    "answer",
			    WEXITSTATUS(status));
		else
			set_cause(cause, "ended without an answer");
	}
	return rc;
}

static int
split_pattern(const char *pattern, struct scan *s, char **cause)
{
	const char *at;

	at = strstr(pattern, "{step}");
	if (at == NULL || strstr(at + 6, "{step}") != NULL)
		return set_cause(cause,
		    "pattern \"%s\" must contain {step} "
		    "exactly once",
		    pattern);
	if (strchr(pattern, '/') != NULL)
		return set_cause(
		    cause, "pattern \"%s\" must not contain '/'", pattern);
	s->prefix = pattern;
	s->plen = (size_t)(at - pattern);
	s->suffix = at + 6;
	s->slen = strlen(s->suffix);
	return 0;
}

/* Never as root; without root, only as ourselves. */
static int
check_user(uid_t uid, char **cause)
{
	if (uid == 0)
		return set_cause(cause,
		    "refusing to access checkpoints as "
		    "root");
	if (geteuid() != 0 && uid != geteuid())
		return set_cause(cause, "cannot act as uid %lu without root",
		    (unsigned long)uid);
	return 0;
}

static char *
trim_dir(const char *dir, char **cause)
{
	size_t len = strlen(dir);

	if (dir[0] != '/') {
		set_cause(cause, "checkpoint dir \"%s\" is not absolute", dir);
		return NULL;
	}
	while (len > 1 && dir[len - 1] == '/')
		len--;
	return xstrndup(dir, len);
}

static char *
join(const char *dir, const char *name, size_t namelen)
{
	return xasprintf("%s%s%.*s", dir, strcmp(dir, "/") == 0 ? "" : "/",
	    (int)namelen, name);
}

/* checkpoint.file: one name inside the directory. */
static int
check_file(const char *file, char **cause)
{
	if (file == NULL)
		return 0;
	if (*file == '\0' || strchr(file, '/') != NULL ||
	    strcmp(file, ".") == 0 || strcmp(file, "..") == 0)
		return set_cause(cause,
		    "checkpoint file \"%s\" must be a name "
		    "in checkpoint.dir",
		    file);
	return 0;
}

int
checkpoint_scan(const char *dir, const char *pattern, const char *file,
    int settle_s, uid_t uid, gid_t gid, const struct ckpt *known, size_t nknown,
    int ms, struct ckpt **out, size_t *n, char **cause)
{
	struct scan s;
	struct collect c = { 0 };
	char *d, *why = NULL;
	int fd;
	pid_t pid;

	*out = NULL;
	*n = 0;
	memset(&s, 0, sizeof(s));
	if (split_pattern(pattern, &s, cause) != 0 ||
	    check_file(file, cause) != 0 || check_user(uid, cause) != 0 ||
	    (d = trim_dir(dir, cause)) == NULL)
		return -1;
	s.dir = d;
	s.file = file;
	s.settle_s = settle_s > 0 ? settle_s : CKPT_SETTLE_S;
	/* a pattern of the user's own says what the checkpoints are */
	s.layouts = strcmp(pattern, "step_{step}") == 0;
	s.uid = uid;
	s.known = known;
	s.nknown = nknown;

	pid = child_start(&fd, uid, gid, cause);
	if (pid == 0) {
		s.out = fd;
		ckpt_scan_child(&s);
	}
	if (pid == -1) {
		free(d);
		return -1;
	}
	c.dir = d;
	ms = timeout_ms(ms);
	if (child_collect(fd, pid, ms, &c, &why) != 0 &&
	    (!c.timedout || c.cur.path == NULL)) {
		/* nothing to blame: the caller keeps what it knew */
		set_cause(cause, "scanning %s as uid %lu: %s", d,
		    (unsigned long)uid, why);
		free(why);
		free(c.cur.path);
		checkpoint_free(c.v, c.n);
		free(d);
		return -1;
	}
	free(why);
	if (c.timedout) {
		add_timedout(&c, known, nknown, ms);
		add_unreached(&c, known, nknown);
	}
	free(c.cur.path);
	free(d);
	if (c.n > 0)
		qsort(c.v, c.n, sizeof(*c.v), ckpt_cmp);
	*out = c.v;
	*n = c.n;
	return 0;
}

int
checkpoint_prune(const char *dir, const struct ckpt *ck, size_t n, int keep,
    uid_t uid, gid_t gid, int ms, char **cause)
{
	struct collect c = { 0 };
	const struct ckpt **usable;
	char **names, *d, *why = NULL;
	size_t i, nu = 0, nn = 0, dlen;
	int fd, rc;
	pid_t pid;

	if (keep <= 0 || n == 0)
		return 0;
	if (check_user(uid, cause) != 0 || (d = trim_dir(dir, cause)) == NULL)
		return -1;
	dlen = strcmp(d, "/") == 0 ? 0 : strlen(d);
	usable = xreallocarray(NULL, n, sizeof(*usable));
	for (i = 0; i < n; i++)
		if (ck[i].complete && ck[i].problem == NULL)
			usable[nu++] = &ck[i];
	qsort(usable, nu, sizeof(*usable), ckpt_pcmp);
	names = xreallocarray(NULL, n, sizeof(*names));
	rc = 0;
	for (i = 0; nu > (size_t)keep && i < nu - (size_t)keep; i++) {
		if (strncmp(usable[i]->path, d, dlen) != 0 ||
		    usable[i]->path[dlen] != '/' ||
		    usable[i]->path[dlen + 1] == '\0' ||
		    strchr(usable[i]->path + dlen + 1, '/') != NULL) {
			rc = set_cause(
			    cause, "%s is not in %s", usable[i]->path, d);
			break;
		}
		names[nn++] = usable[i]->path + dlen + 1;
	}
	if (rc == 0 && nn > 0) {
		if ((pid = child_start(&fd, uid, gid, cause)) == 0)
			ckpt_prune_child(fd, d, names, nn, uid);
		if (pid == -1)
			rc = -1;
		else if (child_collect(fd, pid, timeout_ms(ms), &c, &why) != 0)
			rc = set_cause(cause, "pruning %s as uid %lu: %s", d,
			    (unsigned long)uid, why);
		else if (c.fail != NULL)
			rc = set_cause(cause, "pruning %s: %s", d, c.fail);
		else
			rc = c.deleted;
	}
	free(why);
	free(c.cur.path);
	free(c.fail);
	free(names);
	free(usable);
	free(d);
	return rc;
}

const char *
checkpoint_layout(const char *path, const char *pattern, const char *file)
{
	static const char *const names[] = {
		[L_NONE] = "unknown",
		[L_STEP] = "step",
		[L_DCP] = "dcp",
		[L_MEGATRON] = "megatron",
		[L_DEEPSPEED] = "deepspeed",
		[L_HF] = "hf",
		[L_LIGHTNING] = "lightning",
		[L_LAST] = "lightning",
		[L_FILE] = "file",
	};
	struct scan s;
	const char *name = strrchr(path, '/');
	int64_t step;

	memset(&s, 0, sizeof(s));
	if (pattern == NULL || split_pattern(pattern, &s, NULL) != 0)
		return names[L_NONE];
	s.file = file;
	s.layouts = strcmp(pattern, "step_{step}") == 0;
	return names[ckpt_classify(&s, name != NULL ? name + 1 : path, &step)];
}

int
checkpoint_in_progress(const char *problem)
{
	return problem != NULL &&
	    (strncmp(problem, "no " CKPT_MARKER, strlen("no " CKPT_MARKER)) ==
	            0 ||
	        strncmp(problem, CKPT_IN_PROGRESS, strlen(CKPT_IN_PROGRESS)) ==
	            0);
}

const struct ckpt *
checkpoint_newest(const struct ckpt *ck, size_t n)
{
	const struct ckpt *best = NULL;
	size_t i;

	for (i = 0; i < n; i++)
		if (ck[i].complete && ck[i].problem == NULL &&
		    (best == NULL || ck[i].step >= best->step))
			best = &ck[i];
	return best;
}

void
checkpoint_free(struct ckpt *ck, size_t n)
{
	size_t i;

	if (ck == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(ck[i].path);
		free(ck[i].problem);
	}
	free(ck);
}

void
checkpoint_stop(void)
{
	__atomic_store_n(&stopping, 1, __ATOMIC_RELAXED);
}

uint64_t
checkpoint_hashed_files(void)
{
	return __atomic_load_n(&hashed_files, __ATOMIC_RELAXED);
}

/* By step, then path; used for both struct ckpt and pointers to them. */
static int
ckpt_cmp(const void *a, const void *b)
{
	const struct ckpt *x = a, *y = b;

	if (x->step != y->step)
		return x->step < y->step ? -1 : 1;
	return strcmp(x->path, y->path);
}

static int
ckpt_pcmp(const void *a, const void *b)
{
	return ckpt_cmp(
	    *(const struct ckpt *const *)a, *(const struct ckpt *const *)b);
}
