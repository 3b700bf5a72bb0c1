/*
 * worker: one thread that makes the backend's blocking calls, so the event
 * loop never waits on slurmctld. The loop queues an op; when the call
 * returns, op->done runs back on the loop's thread. Ops run in order.
 */
#ifndef LLMCTLD_WORKER_H
#define LLMCTLD_WORKER_H

#include <sys/queue.h>

#include "backend.h"
#include "plan.h"

struct event_base;

enum op_kind {
	OP_SUBMIT,	/* find by tag first, submit only when absent */
	OP_FIND,	/* find by tag, never submit */
	OP_LIST,
	OP_CANCEL,
	OP_CLUSTER,	/* load the topology snapshot */
	OP_PLAN,	/* find by tag; if absent, load the cluster and plan */
};

struct op {
	enum op_kind		 kind;
	/* input */
	struct bjob_request	 req;	/* OP_SUBMIT, OP_FIND (tag) */
	int64_t			 id;	/* OP_CANCEL */
	struct plan_request	 preq;	/* OP_PLAN */
	const char *const	*avoid;	/* OP_PLAN: nodes to avoid if possible */
	size_t			 navoid;
	struct bfailure		*fail;	/* OP_CLUSTER, OP_PLAN; owned */
	size_t			 nfail;
	void			*owned;	/* freed with the op (req's data) */
	void		       (*owned_free)(void *);
	/* output */
	int			 rc;
	char			*cause;
	int			 transient;
	int64_t			 found_id;	/* OP_SUBMIT, OP_FIND; 0: none */
	int			 submitted;	/* OP_SUBMIT made a new job */
	struct bjob		*jobs;		/* OP_LIST */
	size_t			 njobs;
	struct bcluster		*cluster;	/* OP_CLUSTER, OP_PLAN */
	struct plan		*plan;		/* OP_PLAN */
	int			 never;		/* no plan even if all idle */

	void		       (*done)(struct op *, void *);
	void			*arg;
	TAILQ_ENTRY(op)		 entry;
};

struct worker;

struct worker *worker_create(struct event_base *, const struct backend *);
void worker_push(struct worker *, struct op *);
/* Ops queued or running. */
int worker_busy(const struct worker *);
/* Stop after the op in progress; pending ops are freed without done. */
void worker_free(struct worker *);
void op_free(struct op *);

#endif
