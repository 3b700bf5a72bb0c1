/*
 * checkpoint-int: what checkpoint.c (the parent) and checkpoint-fs.c (the
 * child, as the job's user) share: the records on the pipe between them and
 * the child's entry points. Nothing outside the checkpoint module uses it.
 */
#ifndef LLMCTLD_CHECKPOINT_INT_H
#define LLMCTLD_CHECKPOINT_INT_H

#include <sys/stat.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

struct ckpt;

/* Child -> parent records: a struct rec, then namelen + textlen bytes. */
enum {
	REC_BEGIN = 'B', /* scanning name now (again once walked) */
	REC_ENTRY = 'E', /* a scanned entry; text is its problem */
	REC_DELETED = 'D', /* prune removed name */
	REC_FAIL = 'F', /* prune could not remove name: text, err */
	REC_ERROR = 'X', /* the whole operation failed: text, err */
	REC_DONE = 'Z', /* finished; hashed counts files hashed */
};

struct rec {
	int type;
	int err; /* errno appended to text; 0: none */
	int64_t step;
	int64_t mtime;
	uint64_t bytes;
	uint64_t hashed;
	int complete;
	int verified;
	int cached; /* REC_ENTRY: known result reused */
	uint32_t namelen;
	uint32_t textlen;
};

#define REC_MAXSTR 4096 /* name or text, parent-side bound */

/* The layouts an entry of checkpoint.dir can have (checkpoint-layout.c). */
enum ckpt_layout {
	L_NONE,
	L_STEP, /* matches checkpoint.pattern: COMPLETE or manifest */
	L_DCP, /* step-N/: PyTorch DCP, .metadata written last */
	L_MEGATRON, /* iter_N/ + latest_checkpointed_iteration.txt */
	L_DEEPSPEED, /* global_stepN/ + latest */
	L_HF, /* checkpoint-N/ + trainer_state.json */
	L_LIGHTNING, /* *step=N*.ckpt */
	L_LAST, /* Lightning's last.ckpt: judged after the others */
	L_FILE, /* checkpoint.file, overwritten in place */
};

#define MEGATRON_TRACKER "latest_checkpointed_iteration.txt"
#define DEEPSPEED_TRACKER "latest"
#define DCP_METADATA ".metadata"
#define HF_STATE "trainer_state.json"

/* One scan: the parent fills the first block, the child the rest. */
struct scan {
	const char *dir; /* without trailing '/' */
	const char *prefix; /* pattern before {step} */
	size_t plen;
	const char *suffix; /* pattern after {step} */
	size_t slen;
	const char *file; /* checkpoint.file or NULL */
	int64_t settle_s;
	int layouts; /* the default pattern: all */
	uid_t uid;
	const struct ckpt *known;
	size_t nknown;
	/* the child's own */
	int64_t now_s;
	int64_t mg_iter; /* Megatron tracker, -1: none */
	int64_t ds_step; /* DeepSpeed tag's step, -1 */
	int64_t pl_step; /* newest Lightning step, -1 */
	int last_seen; /* last.ckpt is in the dir */
	/* the entry being walked */
	uint64_t ndistcp; /* DCP shards in it */
	struct timespec distcp_mtime; /* the newest shard's */
	int torn; /* a torch.save file cut short */
	char torn_name[256];
	int out;
	int dirfd;
	struct stat dirst;
	char *mbuf; /* the manifest, read */
	char *hbuf; /* hashing scratch */
	uint64_t hashed; /* files hashed, all entries */
	uint64_t nfiles; /* files walked, this entry */
	char rel[4096]; /* path walked, for messages */
	size_t rellen;
};

/* checkpoint-layout.c, in the child: which layout a name has, its step. */
enum ckpt_layout ckpt_classify(const struct scan *, const char *, int64_t *);
int64_t ckpt_number(const char *, size_t);
int ckpt_torch_file(const char *);
int ckpt_zip_torn(int, off_t, char *, size_t);
int64_t ckpt_read_tracker(
    int, const char *, uid_t, char *, size_t, const char *);

/* In the child: drop to uid/gid and keep only the pipe; returns its fd. */
int ckpt_child_setup(int, uid_t, gid_t);
/* In the child: report a fatal error and exit. */
void ckpt_child_fail(int, const char *, int) __attribute__((noreturn));
void ckpt_scan_child(struct scan *) __attribute__((noreturn));
void ckpt_prune_child(int, const char *, char **, size_t, uid_t)
    __attribute__((noreturn));

#endif
