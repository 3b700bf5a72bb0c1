/*
 * logdir: the per-attempt log tree, state_dir/logs/<job>/<attempt>, and
 * every access llmctld (root) makes to it. The daemon owns logs/ and each
 * <job>/ (0711: users pass through, cannot create or list); the job's user
 * owns only the leaf <attempt>/ (0700) and what the ranks write there.
 *
 * Nothing here follows a symlink: each level is opened with O_NOFOLLOW
 * relative to the fd of the level above, ownership and type are checked
 * with fstat on that fd, and fchown/fchmod act on the fd that was checked.
 * A path is never resolved twice, so a user cannot swap a level in between.
 */
#ifndef LLMCTLD_LOGDIR_H
#define LLMCTLD_LOGDIR_H

#include <stdint.h>
#include <sys/types.h>

/*
 * Create (or repair) the attempt's directory for uid:gid. A job directory
 * an older llmctld left to the user is taken back; an attempt entry that is
 * not a real directory owned by the user or root is refused.
 */
int logdir_make(const char *state_dir, int64_t job_id, int attempt, uid_t uid,
    gid_t gid, char **cause);
/*
 * The attempt's directory, opened for reading if it is a real directory
 * owned by uid (or root); -1 otherwise. The caller closes it.
 */
int logdir_open(const char *state_dir, int64_t job_id, int attempt, uid_t uid);
/*
 * A file in dirfd, opened for reading if it is a regular file owned by uid
 * (not a symlink, FIFO, device or another user's hard link); -1 otherwise.
 */
int logdir_open_file(int dirfd, const char *name, uid_t uid);
/*
 * The attempt's fence: logs/<job>/<attempt>.ended, root's. Its ranks poll
 * for it and stop (launch.c), so a rank cut off from Slurm (its node's link
 * down) does not train on beside the next attempt; logdir_make clears it.
 * 0 if made, or if the attempt never had a log tree.
 */
int logdir_fence(const char *state_dir, int64_t job_id, int attempt);

#endif
