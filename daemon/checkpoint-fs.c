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
#include <unistd.h>

#include "checkpoint.h"
#include "checkpoint-int.h"
#include "sha256.h"

#define SB_SIZE		1024
#define HASHBUF_SIZE	(256 * 1024)
#define MAX_PARENTS	4096		/* ".." steps when resolving symlinks */
#define STR(x)		#x
#define XSTR(x)		STR(x)

/* A message built in the child without stdio. */
struct sbuf {
	char	s[SB_SIZE];
	size_t	len;
};

/* One entry being scanned, in the child. */
struct entry {
	const char	*name;
	int64_t		 step;
	uint64_t	 bytes;
	int64_t		 mtime;
	int		 complete;
	int		 verified;
	int		 cached;	/* the known result, not hashed again */
	int		 bad;		/* problem is set */
	int		 err;
	struct sbuf	 problem;
};

static void	sb_add(struct sbuf *, const char *);
static void	sb_addn(struct sbuf *, const char *, size_t);
static void	sb_num(struct sbuf *, uint64_t);
static int	write_all(int, const void *, size_t);
static void	emit(int, const struct rec *, const char *, size_t,
		    const char *, size_t);
static int64_t	match(const struct scan *, const char *);
static void	scan_entry(struct scan *, const char *, int64_t);
static void	problem(struct entry *, int, const char *, const char *);
static int	beneath(const struct scan *, int);
static void	newer(struct entry *, const struct stat *);
static void	rel_push(struct scan *, const char *);
static int	walk(struct scan *, struct entry *, int, int);
static void	begin(const struct scan *, const struct entry *);
static const struct ckpt *known_result(const struct scan *,
		    const struct entry *);
static int	hexval(int);
static size_t	parse_manifest(struct entry *, char *, size_t);
static int	open_beneath(int, const char *);
static void	verify_manifest(struct scan *, struct entry *, int, int);
static int	rm_tree(int, int, uint64_t *);

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
	if (uid == 0 || getuid() != uid || geteuid() != uid ||
	    setuid(0) != -1)
		ckpt_child_fail(fd, "could not drop privileges", 0);
	return fd;
}

/* The step a name stands for, or -1 when it does not match. */
static int64_t
match(const struct scan *s, const char *name)
{
	size_t len = strlen(name), nd, i;
	int64_t step = 0;

	if (len < s->plen + s->slen + 1 ||
	    memcmp(name, s->prefix, s->plen) != 0 ||
	    memcmp(name + len - s->slen, s->suffix, s->slen) != 0)
		return -1;
	nd = len - s->plen - s->slen;
	if (nd > CKPT_MAX_DIGITS)
		return -1;
	for (i = 0; i < nd; i++) {
		if (name[s->plen + i] < '0' || name[s->plen + i] > '9')
			return -1;
		step = step * 10 + (name[s->plen + i] - '0');
	}
	return step;
}

/* Report every entry of s->dir matching the pattern, then REC_DONE. */
void
ckpt_scan_child(struct scan *s)
{
	struct rec done = { .type = REC_DONE };
	struct dirent64 *de;
	char dbuf[8192] __attribute__((aligned(8)));
	ssize_t got, off;
	size_t names = 0, entries = 0;
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
				ckpt_child_fail(s->out, "more than "
				    XSTR(CKPT_MAX_NAMES) " names", 0);
			if ((step = match(s, de->d_name)) == -1)
				continue;
			if (++entries > CKPT_MAX_ENTRIES)
				ckpt_child_fail(s->out, "more than "
				    XSTR(CKPT_MAX_ENTRIES) " entries match", 0);
			scan_entry(s, de->d_name, step);
		}
	}
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
scan_entry(struct scan *s, const char *name, int64_t step)
{
	struct entry e;
	struct stat lst, st;
	struct rec r = { .type = REC_ENTRY };
	const struct ckpt *k;
	int fd = -1, mfd;

	memset(&e, 0, sizeof(e));
	e.name = name;
	e.step = step;
	begin(s, &e);
	if (fstatat(s->dirfd, name, &lst, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			return;		/* removed since listed */
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
			problem(&e, 0, "symlink pointing outside "
			    "checkpoint.dir", NULL);
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
		walk(s, &e, fd, 0);
	}
	if (!e.bad) {
		begin(s, &e);
		mfd = openat(fd, CKPT_MANIFEST,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (mfd != -1) {
			if ((k = known_result(s, &e)) != NULL) {
				e.cached = 1;
				if (k->verified)
					e.verified = 1;
				else
					problem(&e, 0, k->problem, NULL);
			} else
				verify_manifest(s, &e, fd, mfd);
			e.complete = e.verified;
			close(mfd);
		} else if (errno == ENOENT) {
			e.complete = fstatat(fd, CKPT_MARKER, &st,
			    AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
			if (!e.complete)
				problem(&e, 0, "no " CKPT_MARKER " marker or "
				    "manifest", NULL);
		} else
			problem(&e, errno == ELOOP ? 0 : errno, CKPT_MANIFEST,
			    errno == ELOOP ? ": symlink, not followed" : NULL);
	}
	if (fd != -1)
		close(fd);
	if (e.bad)
		e.complete = e.verified = 0;
	r.step = e.step;
	r.mtime = e.mtime;
	r.bytes = e.bytes;
	r.complete = e.complete;
	r.verified = e.verified;
	r.cached = e.cached;
	r.err = e.err;
	emit(s->out, &r, name, strlen(name), e.problem.s, e.problem.len);
}

/* Whether fd is a directory strictly below checkpoint.dir, by walking "..". */
static int
beneath(const struct scan *s, int fd)
{
	struct stat st, up;
	int cur, next, i, inside = 0;

	if (fstat(fd, &st) == -1 || (st.st_dev == s->dirst.st_dev &&
	    st.st_ino == s->dirst.st_ino))
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
			break;		/* "/" is its own parent */
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
				problem(e, 0, "more than " XSTR(CKPT_MAX_FILES)
				    " files", NULL);
				return -1;
			}
			if (fstatat(fd, de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == -1)
				continue;	/* removed since listed */
			newer(e, &st);
			if (S_ISREG(st.st_mode))
				e->bytes += (uint64_t)st.st_size;
			if (!S_ISDIR(st.st_mode))
				continue;
			rel_push(s, de->d_name);
			if (depth + 1 >= CKPT_MAX_DEPTH) {
				problem(e, 0, "directories nested too deep: ",
				    s->rel);
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
	const struct ckpt *k;
	size_t i, dlen = strlen(s->dir);
	const char *name;

	for (i = 0; i < s->nknown; i++) {
		k = &s->known[i];
		if (k->step != e->step || k->path == NULL ||
		    k->mtime != e->mtime || k->bytes != e->bytes ||
		    (k->verified ? k->problem != NULL : k->problem == NULL) ||
		    strncmp(k->path, s->dir, dlen) != 0)
			continue;
		name = k->path + dlen;
		if (*name == '/')
			name++;
		if (strcmp(name, e->name) == 0)
			return k;
	}
	return NULL;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
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
			problem(e, 0, CKPT_MANIFEST ": more than "
			    XSTR(CKPT_MANIFEST_LINES) " lines",
			    NULL);
			return 0;
		}
		q = eol;
		if (q > p && q[-1] == '\r')
			q--;
		if (q == p)
			continue;	/* blank line */
		escaped = *p == '\\';
		if (escaped)
			p++;
		if (q - p < SHA256_HEXLEN + 3 || p[SHA256_HEXLEN] != ' ' ||
		    (p[SHA256_HEXLEN + 1] != ' ' &&
		    p[SHA256_HEXLEN + 1] != '*'))
			goto bad;
		for (i = 0; i < SHA256_LEN; i++) {
			if ((hi = hexval(p[2 * i])) == -1 ||
			    (lo = hexval(p[2 * i + 1])) == -1)
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
				sb_add(&e->problem, ": path outside the "
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

	for (p = s->mbuf; p < s->mbuf + used; p += SHA256_LEN + strlen(
	    p + SHA256_LEN) + 1) {
		if ((f = open_beneath(fd, p + SHA256_LEN)) == -1) {
			problem(e, errno == ELOOP ? 0 : errno, CKPT_MANIFEST
			    ": ", p + SHA256_LEN);
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
			problem(e, 0, CKPT_MANIFEST ": lists more data than "
			    "the entry holds", NULL);
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
ckpt_prune_child(int out, const char *dir, char **names, size_t n,
    uid_t uid)
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
		if (fd == -1 && (errno == ENOENT || errno == ELOOP ||
		    errno == ENOTDIR))
			continue;	/* gone, or not ours to follow */
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
