/*
 * checkpoint: the checkpoint registry's filesystem side. Scans a job's
 * checkpoint.dir for entries matching its pattern, decides which are usable
 * (docs/design.md section 8) and prunes old ones. Every filesystem access
 * happens in a forked child running as the job's uid and gid, never as
 * root.
 *
 * The caller owns the arrays checkpoint_scan() returns and frees them with
 * checkpoint_free(). Scans block while files are hashed: call them from a
 * pool thread, not the event loop.
 */
#ifndef LLMCTLD_CHECKPOINT_H
#define LLMCTLD_CHECKPOINT_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

/* Bounds, so a hostile checkpoint.dir cannot hang or bloat the daemon. */
#define CKPT_MAX_ENTRIES 10000 /* matching entries per dir */
#define CKPT_MAX_NAMES 1000000 /* names read from the dir */
#define CKPT_MAX_FILES 100000 /* files walked per entry */
#define CKPT_MAX_DEPTH 32 /* directories in an entry */
#define CKPT_MAX_DIGITS 18 /* {step}: fits int64_t */
#define CKPT_MANIFEST "MANIFEST.sha256"
#define CKPT_MANIFEST_MAX (1024 * 1024) /* bytes */
#define CKPT_MANIFEST_LINES 100000
#define CKPT_MARKER "COMPLETE"
#define CKPT_SCAN_TIMEOUT_S 30 /* default deadline per scan */
#define CKPT_SETTLE_S 30 /* checkpoint.settle default */
#define CKPT_IN_PROGRESS "save in progress" /* problem's start */
#define CKPT_TIMEDOUT "scan timed out" /* problem's start */

struct ckpt {
	int64_t step;
	char *path; /* absolute: dir "/" name */
	uint64_t bytes; /* regular files inside, not via symlinks */
	int complete; /* COMPLETE marker, or a verified manifest */
	int verified; /* MANIFEST.sha256 present, all files match */
	char *problem; /* NULL when usable, else why not */
	int64_t mtime; /* newest mtime or ctime in the entry (s) */
	int cached; /* this scan reused an earlier verdict (not
				   stored) */
};

/*
 * Scan dir (absolute) as uid/gid for the checkpoints of every layout llmctl
 * knows (docs/design.md section 8): entries matching pattern ("step_{step}",
 * the strict form), PyTorch DCP, Megatron-LM, DeepSpeed, Hugging Face and
 * Lightning ones, and file (a name in dir, or NULL), a single file
 * overwritten in place that counts once it has not changed for settle_s
 * seconds (<= 0: CKPT_SETTLE_S) or was renamed into place. An entry in known[] (an earlier scan's result) whose path, step,
 * bytes and mtime are unchanged keeps its verdict, verified or not, and is
 * not hashed again (cached is set). The scan takes at most ms milliseconds
 * (<= 0: CKPT_SCAN_TIMEOUT_S): past that the child is killed, the entry it
 * was on is reported with the problem "scan timed out after N s", and the
 * known entries it never reached are returned as they were. Returns 0 with
 * *out sorted by step ascending (a missing dir gives 0 entries), or -1 with
 * *cause (a scan out of time before its first entry included).
 */
int checkpoint_scan(const char *dir, const char *pattern, const char *file,
    int settle_s, uid_t uid, gid_t gid, const struct ckpt *known, size_t nknown,
    int ms, struct ckpt **out, size_t *n, char **cause);

/*
 * Whether problem says a save is still being written (or was cut short):
 * not news to the user, unlike a checkpoint that is wrong.
 */
int checkpoint_in_progress(const char *problem);

/*
 * The layout an entry's path has under pattern and file (as in
 * checkpoint_scan()): "step" (the pattern), "dcp", "megatron",
 * "deepspeed", "hf", "lightning", "file", or "unknown".
 */
const char *checkpoint_layout(
    const char *path, const char *pattern, const char *file);

/* The newest usable (complete, no problem) checkpoint, or NULL; borrowed. */
const struct ckpt *checkpoint_newest(const struct ckpt *, size_t);

/*
 * Delete usable checkpoints older than the newest keep usable ones, as
 * uid/gid; keep <= 0 keeps all. Incomplete, corrupt and symlinked entries are
 * never deleted, and nothing below an entry is followed through a symlink.
 * Returns the number deleted, or -1 with *cause when any deletion failed or
 * the child took longer than ms milliseconds (<= 0: the scan's default).
 */
int checkpoint_prune(const char *dir, const struct ckpt *, size_t, int keep,
    uid_t uid, gid_t gid, int ms, char **cause);

void checkpoint_free(struct ckpt *, size_t);

/*
 * At shutdown: scans and prunes in progress, and any started later, kill
 * their child and fail within a fraction of a second, so the daemon need
 * not wait out a user's stopped scan. Cannot be undone.
 */
void checkpoint_stop(void);

/* Files hashed by scans in this process so far; for tests. */
uint64_t checkpoint_hashed_files(void);

#endif
