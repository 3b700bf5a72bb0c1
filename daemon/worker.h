/*
 * worker: the threads that make the backend's blocking calls, so the event
 * loop never waits on slurmctld. The loop builds an op with the one
 * constructor of its kind (worker_submit() ... worker_cluster()) and pushes
 * it; when the call returns, op->done runs back on the loop's thread and
 * the op is freed.
 *
 * Order: ops start in the order pushed, and each op but a submit runs
 * alone, after every op before it has returned and before any after it
 * starts; only submits in a row run side by side (WORKER_SUBMITS at most).
 * So a poll pushed after a submit still sees its job, and a cancel or a
 * poll never overlaps a submit. A submit's time is mostly waiting on
 * munged and slurmctld: side by side they keep both busy.
 *
 * An op is a kind, what every kind returns (rc, cause, transient), and the
 * kind's own fields, in and out, in a union, as redis's bio jobs are. The
 * worker knows the backend and nothing else: planning and the exactly-once
 * rule (is the attempt in Slurm already?) are the monitor's, on the loop.
 *
 * Ownership: the worker owns a pushed op; done borrows the op and takes over
 * arg. An op whose done never runs (left at worker_free) is freed with
 * arg_free(arg), which may be NULL when arg is not the op's.
 */
#ifndef LLMCTLD_WORKER_H
#define LLMCTLD_WORKER_H

#include <sys/queue.h>

#include "backend.h"

struct event_base;
struct op;
struct worker;

enum op_kind {
	OP_SUBMIT, /* one RPC; the caller knows the tag is not in Slurm */
	OP_LIST,
	OP_CANCEL,
	OP_CLUSTER, /* load the topology snapshot */
	OP_NODE, /* drain or resume a node (nodehealth.h) */
};

typedef void (*op_done_fn)(struct op *, void *arg);

struct op_submit {
	struct bjob_request req;
	int64_t id; /* out: the new job */
	/* in: its log directory failed (cause set): not submitted */
	int no_logdir;
};

struct op_list {
	int64_t stamp; /* in: the kept table's (0: none); out: the new one's */
	int unchanged; /* out: no newer table, no jobs: keep the old ones */
	struct bjob *jobs; /* out */
	size_t njobs;
};

struct op_cancel {
	int64_t id;
};

struct op_cluster {
	struct bfailure *fail; /* owned: nodes blamed before */
	size_t nfail;
	int64_t stamp; /* as in op_list */
	int unchanged; /* out: the nodes are as in the kept snapshot */
	struct bcluster *cluster; /* out; done may take it */
};

struct op_node {
	char *name; /* owned */
	char *reason; /* owned; NULL: resume */
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
	TAILQ_ENTRY(op) entry; /* the worker's queue */
	union {
		struct op_submit submit;
		struct op_list list;
		struct op_cancel cancel;
		struct op_cluster cluster;
		struct op_node node;
	} u;
};

/* One constructor per kind; the strings they borrow belong to arg. */
struct op *worker_submit(const struct bjob_request *, op_done_fn, void *arg,
    void (*arg_free)(void *));
struct op *worker_list(int64_t stamp, op_done_fn, void *arg);
struct op *worker_cancel(int64_t id, op_done_fn, void *arg);
struct op *worker_cluster(
    int64_t stamp, struct bfailure *, size_t, op_done_fn, void *arg);
/* Drain the node with reason, or resume it (reason NULL); copies both. */
struct op *worker_node(
    const char *name, const char *reason, op_done_fn, void *arg);

struct worker *worker_create(struct event_base *, const struct backend *);
void worker_push(struct worker *, struct op *);
/* Free an op that was built and never pushed. */
void worker_drop(struct op *);
/* Ops queued or running. */
int worker_busy(const struct worker *);
/* Stop after the op in progress; pending ops are freed without done. */
void worker_free(struct worker *);

#endif
