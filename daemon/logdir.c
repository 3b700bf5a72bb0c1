/*
 * logdir: the log tree, walked one level at a time from fds the daemon
 * opened itself; see logdir.h. Runs as root on directories users write in,
 * so no call here takes a path with more than one component below a fd.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "logdir.h"
#include "util.h"

#define LOGS_MODE 0755
#define JOB_MODE 0711 /* users pass through to their attempt dirs */
#define ATTEMPT_MODE 0700
#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* name in at as a directory, never through a symlink; its stat in st */
static int
open_dir(int at, const char *name, struct stat *st)
{
	int fd;

	if ((fd = openat(at, name, DIR_FLAGS)) == -1)
		return -1;
	if (fstat(fd, st) == -1 || !S_ISDIR(st->st_mode)) {
		close(fd);
		errno = ENOTDIR;
		return -1;
	}
	return fd;
}

static int
make_dir(int at, const char *name, mode_t mode, struct stat *st)
{
	if (mkdirat(at, name, mode) == -1 && errno != EEXIST)
		return -1;
	return open_dir(at, name, st);
}

/* Give the directory we opened (fd, stat st) to uid:gid with mode. */
static int
own_dir(int fd, const struct stat *st, uid_t uid, gid_t gid, mode_t mode)
{
	if ((st->st_uid != uid || st->st_gid != gid) &&
	    fchown(fd, uid, gid) == -1 && !(errno == EPERM && uid == geteuid()))
		return -1; /* not root: our own dirs are good enough */
	if ((st->st_mode & 07777) != mode && fchmod(fd, mode) == -1)
		return -1;
	return 0;
}

/* Close the fds of a walk that were opened (-1: not). */
static void
close_walk(int sfd, int lfd, int jfd, int afd)
{
	int fds[] = { afd, jfd, lfd, sfd };
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] != -1)
			close(fds[i]);
}

static const char *
dir_error(void)
{
	if (errno == ELOOP || errno == ENOTDIR)
		return "not a directory (a symlink?), refused";
	return strerror(errno);
}

int
logdir_make(const char *state_dir, int64_t job_id, int attempt, uid_t uid,
    gid_t gid, char **cause)
{
	struct stat st;
	char job[32], att[16], stale[48];
	uid_t me = geteuid();
	gid_t mygid = getegid();
	int sfd, lfd = -1, jfd = -1, afd = -1, rc = -1;

	snprintf(job, sizeof(job), "%lld", (long long)job_id);
	snprintf(att, sizeof(att), "%d", attempt);
	if ((sfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		set_cause(cause, "%s: %s", state_dir, strerror(errno));
		return -1;
	}
	if ((lfd = make_dir(sfd, "logs", LOGS_MODE, &st)) == -1 ||
	    own_dir(lfd, &st, me, mygid, LOGS_MODE) == -1) {
		set_cause(cause, "%s/logs: %s", state_dir, dir_error());
		goto out;
	}
	/* an older llmctld gave the job dir to the user: take it back */
	if ((jfd = make_dir(lfd, job, JOB_MODE, &st)) == -1 ||
	    own_dir(jfd, &st, me, mygid, JOB_MODE) == -1) {
		set_cause(cause, "%s/logs/%s: %s", state_dir, job, dir_error());
		goto out;
	}
	/* a fence left by a job of this number in an older database */
	snprintf(stale, sizeof(stale), "%s.ended", att);
	(void)unlinkat(jfd, stale, 0);
	if ((afd = make_dir(jfd, att, ATTEMPT_MODE, &st)) == -1) {
		set_cause(cause, "log directory %s/logs/%s/%s: %s", state_dir,
		    job, att, dir_error());
		goto out;
	}
	/*
	 * Left from before: the user's own, or ours, is reused (a launch
	 * retried); another user's (a job of this number in an older
	 * database) is moved aside, in the dir that is ours.
	 */
	if (st.st_uid != uid && st.st_uid != me) {
		close(afd);
		afd = -1;
		snprintf(stale, sizeof(stale), "%s.stale-%lld", att,
		    (long long)time(NULL));
		if (renameat(jfd, att, jfd, stale) == -1 ||
		    (afd = make_dir(jfd, att, ATTEMPT_MODE, &st)) == -1 ||
		    (st.st_uid != uid && st.st_uid != me)) {
			set_cause(cause,
			    "log directory %s/logs/%s/%s belongs to uid "
			    "%lu, not the job's user, and cannot be moved "
			    "aside: refused",
			    state_dir, job, att, (unsigned long)st.st_uid);
			goto out;
		}
		log_warnx("%s/logs/%s/%s was another user's (an older "
		          "database?): moved aside to %s",
		    state_dir, job, att, stale);
	}
	if (own_dir(afd, &st, uid, gid, ATTEMPT_MODE) == -1) {
		set_cause(cause, "log directory %s/logs/%s/%s: %s", state_dir,
		    job, att, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	close_walk(sfd, lfd, jfd, afd);
	return rc;
}

int
logdir_open(const char *state_dir, int64_t job_id, int attempt, uid_t uid)
{
	struct stat st;
	char job[32], att[16];
	uid_t me = geteuid();
	int sfd, lfd = -1, jfd = -1, afd = -1;

	snprintf(job, sizeof(job), "%lld", (long long)job_id);
	snprintf(att, sizeof(att), "%d", attempt);
	if ((sfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if ((lfd = open_dir(sfd, "logs", &st)) == -1 || st.st_uid != me)
		goto out;
	/* the user's own job dir is an older llmctld's tree: still readable */
	if ((jfd = open_dir(lfd, job, &st)) == -1 ||
	    (st.st_uid != me && st.st_uid != uid))
		goto out;
	if ((afd = open_dir(jfd, att, &st)) == -1 ||
	    (st.st_uid != me && st.st_uid != uid)) {
		if (afd != -1)
			close(afd);
		afd = -1;
	}
out:
	close_walk(sfd, lfd, jfd, -1);
	return afd;
}

int
logdir_open_file(int dirfd, const char *name, uid_t uid)
{
	struct stat st;
	int fd;

	/* not even open() a FIFO or a device (opening one can act) */
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISREG(st.st_mode) || st.st_uid != uid)
		return -1;
	if ((fd = openat(dirfd, name,
	         O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) ==
	    -1)
		return -1;
	/* what was opened, not what was looked at: it may have been swapped */
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_uid != uid) {
		close(fd);
		return -1;
	}
	return fd;
}

int
logdir_fence(const char *state_dir, int64_t job_id, int attempt)
{
	struct stat st;
	char job[32], name[32];
	uid_t me = geteuid();
	int sfd, lfd = -1, jfd = -1, fd, rc = -1;

	snprintf(job, sizeof(job), "%lld", (long long)job_id);
	snprintf(name, sizeof(name), "%d.ended", attempt);
	if ((sfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	/* no tree: the attempt never launched, nothing can run */
	if ((lfd = open_dir(sfd, "logs", &st)) == -1 ||
	    (st.st_uid == me && (jfd = open_dir(lfd, job, &st)) == -1)) {
		rc = errno == ENOENT ? 0 : -1;
		goto out;
	}
	if (st.st_uid != me)
		goto out;
	fd = openat(jfd, name,
	    O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
	if (fd != -1) {
		close(fd);
		rc = 0;
	}
out:
	close_walk(sfd, lfd, jfd, -1);
	return rc;
}
