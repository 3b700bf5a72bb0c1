/*
 * worker: one thread that makes the backend's blocking calls, so the event
 * loop never waits on slurmctld. The loop builds an op with the one
 * constructor of its kind (worker_find() ... worker_plan()) and pushes it;
 * when the call returns, op->done runs back on the loop's thread and the
 * op is freed. Ops run in order.
 *
 * An op is a kind, what every kind returns (rc, cause, transient), and the
 * kind's own fields, in and out, in a union, as redis's bio jobs are. The
 * worker knows the backend and nothing else: what to do with a cluster
 * snapshot in OP_PLAN is the caller's place function (placement.h).
 *
 * Ownership: the worker owns a pushed op; done borrows the op and takes over
 * arg. An op whose done never runs (left at worker_free) is freed with
 * arg_free(arg), which may be NULL when arg is not the op's.
 */
#ifndef LLMCTLD_WORKER_H
#define LLMCTLD_WORKER_H

#include "backend.h"

struct event_base;
struct op;
struct worker;

enum op_kind {
	OP_FIND, /* find by tag, never submit */
	OP_SUBMIT, /* find by tag first, submit only when absent */
	OP_LIST,
	OP_CANCEL,
	OP_CLUSTER, /* load the topology snapshot */
	OP_PLAN, /* find by tag; if absent, load the cluster and place */
};

typedef void (*op_done_fn)(struct op *, void *arg);
/*
 * OP_PLAN's step on the snapshot, on the worker thread, with the op's arg:
 * 0 when the job is placed; else -1, *cause, and *transient 0 when it can
 * never fit.
 */
typedef int (*op_place_fn)(
    void *arg, const struct bcluster *, char **cause, int *transient);

struct op_find {
	const char *tag; /* borrowed */
	uid_t uid;
	int64_t found_id; /* out; 0: none */
};

struct op_submit {
	struct bjob_request req; /* found by tag, uid first */
	int64_t found_id; /* out: the job, found or new */
	int submitted; /* out: a new job */
};

struct op_list {
	struct bjob *jobs; /* out */
	size_t njobs;
};

struct op_cancel {
	int64_t id;
};

struct op_cluster {
	struct bfailure *fail; /* owned: nodes blamed before */
	size_t nfail;
	struct bcluster *cluster; /* out; done may take it */
};

struct op_plan {
	struct op_find find;
	struct op_cluster load; /* when find found nothing */
	op_place_fn place; /* then, on load.cluster */
	int unreachable; /* out: the backend failed, not
						   the placement */
};

struct op {
	enum op_kind kind;
	int rc; /* out, every kind */
	char *cause;
	int transient; /* worth retrying */
	op_done_fn done;
	void *arg;
	void (*arg_free)(void *);
	struct worker *worker; /* set by worker_push */
	union {
		struct op_find find;
		struct op_submit submit;
		struct op_list list;
		struct op_cancel cancel;
		struct op_cluster cluster;
		struct op_plan plan;
	} u;
};

/* One constructor per kind; the strings they borrow belong to arg. */
struct op *worker_find(
    const char *tag, uid_t, op_done_fn, void *arg, void (*arg_free)(void *));
struct op *worker_submit(const struct bjob_request *, op_done_fn, void *arg,
    void (*arg_free)(void *));
struct op *worker_list(op_done_fn, void *arg);
struct op *worker_cancel(int64_t id, op_done_fn, void *arg);
struct op *worker_cluster(struct bfailure *, size_t, op_done_fn, void *arg);
struct op *worker_plan(const char *tag, uid_t, struct bfailure *, size_t,
    op_place_fn, op_done_fn, void *arg, void (*arg_free)(void *));

struct worker *worker_create(struct event_base *, const struct backend *);
void worker_push(struct worker *, struct op *);
/* Ops queued or running. */
int worker_busy(const struct worker *);
/* Stop after the op in progress; pending ops are freed without done. */
void worker_free(struct worker *);

#endif
