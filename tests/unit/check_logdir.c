/*
 * check_logdir: llmctld, as root, neither follows nor re-owns what a user
 * plants in the log tree. Needs root (it chowns to a made-up user); the
 * suite is skipped otherwise.
 */
#include "config.h"

#include <sys/stat.h>

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logdir.h"
#include "util.h"
#include "unit.h"

#define USER_UID 54321 /* nobody's: the job's user */
#define USER_GID 54321
#define OTHER_UID 54322

static char dir[64];
static char *target; /* a root-owned 0600 file a user would like */

static void
setup(void)
{
	int fd;

	strcpy(dir, "/tmp/check_logdir.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	target = xasprintf("%s/secret", dir);
	fd = open(target, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "root\n", 5), 5);
	close(fd);
}

static void
teardown(void)
{
	char *cmd = xasprintf("rm -rf %s", dir);

	(void)!system(cmd);
	free(cmd);
	free(target);
}

static void
assert_dir(const char *rel, uid_t uid, mode_t mode)
{
	struct stat st;
	char *p = xasprintf("%s/%s", dir, rel);

	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_uid, uid);
	ck_assert_uint_eq(st.st_mode & 07777, mode);
	free(p);
}

static void
assert_target_untouched(void)
{
	struct stat st;

	ck_assert_int_eq(stat(target, &st), 0);
	ck_assert_uint_eq(st.st_uid, 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_size, 5);
}

/* Run cmd with "D" in it replaced by the test's directory. */
static void
sh(const char *cmd)
{
	char *full = xasprintf("D=%s; %s", dir, cmd);

	ck_assert_int_eq(system(full), 0);
	free(full);
}

START_TEST(test_tree)
{
	char *cause = NULL;

	ck_assert_int_eq(logdir_make(dir, 7, 1, USER_UID, USER_GID, &cause), 0);
	assert_dir("logs", 0, 0755);
	assert_dir("logs/7", 0, 0711);
	assert_dir("logs/7/1", USER_UID, 0700);
	/* again, as for a retried submit: same result */
	ck_assert_int_eq(logdir_make(dir, 7, 1, USER_UID, USER_GID, &cause), 0);
	assert_dir("logs/7/1", USER_UID, 0700);
}
END_TEST

START_TEST(test_symlink_attempt)
{
	char *cause = NULL, *link;

	ck_assert_int_eq(logdir_make(dir, 7, 1, USER_UID, USER_GID, &cause), 0);
	/* what the attack did, here as root since users no longer can */
	link = xasprintf("%s/logs/7/2", dir);
	ck_assert_int_eq(symlink(target, link), 0);
	ck_assert_int_eq(
	    logdir_make(dir, 7, 2, USER_UID, USER_GID, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "symlink"));
	free(cause);
	assert_target_untouched();
	/* a symlink to a directory is no better */
	unlink(link);
	ck_assert_int_eq(symlink("/etc", link), 0);
	cause = NULL;
	ck_assert_int_eq(
	    logdir_make(dir, 7, 2, USER_UID, USER_GID, &cause), -1);
	free(cause);
	ck_assert_int_eq(logdir_open(dir, 7, 2, 0), -1);
	free(link);
}
END_TEST

START_TEST(test_old_tree)
{
	char *cause = NULL, *job;

	/* an older llmctld's tree: the job dir belongs to the user */
	sh("mkdir -p $D/logs/7/1");
	job = xasprintf("%s/logs/7", dir);
	ck_assert_int_eq(chown(job, USER_UID, USER_GID), 0);
	ck_assert_int_eq(chmod(job, 0700), 0);
	ck_assert_int_eq(logdir_make(dir, 7, 2, USER_UID, USER_GID, &cause), 0);
	assert_dir("logs/7", 0, 0711);
	assert_dir("logs/7/2", USER_UID, 0700);
	/*
	 * An attempt dir someone else owns (a job of this number in an
	 * older database) is not handed over: it is moved aside, as it was.
	 */
	sh("mkdir $D/logs/7/3 && echo theirs > $D/logs/7/3/rank-0.out");
	free(job);
	job = xasprintf("%s/logs/7/3", dir);
	ck_assert_int_eq(chown(job, OTHER_UID, OTHER_UID), 0);
	ck_assert_int_eq(logdir_make(dir, 7, 3, USER_UID, USER_GID, &cause), 0);
	assert_dir("logs/7/3", USER_UID, 0700);
	sh("[ ! -e $D/logs/7/3/rank-0.out ]");
	sh("d=$(echo $D/logs/7/3.stale-*) && [ \"$(stat -c %u $d)\" = 54322 ] "
	   "&& grep -qx theirs $d/rank-0.out");
	free(job);
}
END_TEST

START_TEST(test_fence)
{
	char *cause = NULL, *link;
	struct stat st;
	char *f = xasprintf("%s/logs/7/1.ended", dir);

	/* no tree: the attempt never ran, nothing to fence */
	ck_assert_int_eq(logdir_fence(dir, 7, 1), 0);
	ck_assert_int_eq(stat(f, &st), -1);
	ck_assert_int_eq(logdir_make(dir, 7, 1, USER_UID, USER_GID, &cause), 0);
	ck_assert_int_eq(logdir_fence(dir, 7, 1), 0);
	ck_assert_int_eq(lstat(f, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_uint_eq(st.st_uid, 0);
	ck_assert_int_eq(logdir_fence(dir, 7, 1), 0); /* again: no harm */
	/* a new launch of that number (a new database) clears it */
	ck_assert_int_eq(logdir_make(dir, 7, 1, USER_UID, USER_GID, &cause), 0);
	ck_assert_int_eq(lstat(f, &st), -1);
	/* a symlink in its place is not followed */
	link = xasprintf("%s/logs/7/2.ended", dir);
	ck_assert_int_eq(symlink(target, link), 0);
	ck_assert_int_eq(logdir_fence(dir, 7, 2), -1);
	assert_target_untouched();
	free(link);
	free(f);
}
END_TEST

START_TEST(test_open_file)
{
	char *cause = NULL, *p;
	int dfd, fd;

	ck_assert_int_eq(logdir_make(dir, 7, 1, USER_UID, USER_GID, &cause), 0);
	sh("cd $D/logs/7/1 && echo hi > rank-0.out && "
	   "ln -s ../../../secret rank-1.out && mkfifo rank-2.out && "
	   "ln ../../../secret rank-3.out && chown 54321 rank-0.out rank-2.out");
	ck_assert_int_eq(logdir_open(dir, 7, 1, OTHER_UID), -1);
	dfd = logdir_open(dir, 7, 1, USER_UID);
	ck_assert_int_ge(dfd, 0);
	fd = logdir_open_file(dfd, "rank-0.out", USER_UID);
	ck_assert_int_ge(fd, 0);
	close(fd);
	/* symlink, FIFO, a hard link to root's file, nothing */
	ck_assert_int_eq(logdir_open_file(dfd, "rank-1.out", USER_UID), -1);
	ck_assert_int_eq(logdir_open_file(dfd, "rank-2.out", USER_UID), -1);
	ck_assert_int_eq(logdir_open_file(dfd, "rank-3.out", USER_UID), -1);
	ck_assert_int_eq(logdir_open_file(dfd, "rank-4.out", USER_UID), -1);
	close(dfd);
	/* a symlinked attempt dir is not followed either */
	p = xasprintf("%s/logs/7/2", dir);
	ck_assert_int_eq(symlink("1", p), 0);
	ck_assert_int_eq(logdir_open(dir, 7, 2, USER_UID), -1);
	free(p);
	assert_target_untouched();
}
END_TEST

int
main(void)
{
	Suite *s;
	TCase *tc;

	if (geteuid() != 0) {
		fprintf(stderr, "check_logdir: needs root, skipped\n");
		return 77;
	}
	s = suite_create("logdir");
	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_tree);
	tcase_add_test(tc, test_symlink_attempt);
	tcase_add_test(tc, test_old_tree);
	tcase_add_test(tc, test_fence);
	tcase_add_test(tc, test_open_file);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
