/*
 * worker: the backend threads, a pool (pool.h) fed from a queue here on
 * the loop's thread by the order rule of worker.h; and the ops'
 * constructors.
 */
#include "config.h"

#include <stdlib.h>
#include <unistd.h>

#include "metrics.h"
#include "pool.h"
#include "util.h"
#include "worker.h"

/*
 * Submits in flight at once. Here a submit took 2.2 ms on the worker, of
 * which 0.35 ms CPU (libslurm, the credential): one at a time capped the
 * daemon at ~450 jobs/s while clients could hand it more.
 */
#define WORKER_SUBMITS 4

TAILQ_HEAD(op_queue, op);

struct worker {
	const struct backend *be;
	struct pool *pool;
	struct op_queue queue; /* pushed, not on the pool yet */
	int submits; /* OP_SUBMITs on the pool */
	int alone; /* another op on the pool */
	uint64_t key; /* the pool's: a new one per op, the order is ours */
	int stopping; /* no done from now on */
	int crash_after_submit;
};

static struct op *op_new(enum op_kind, op_done_fn, void *, void (*)(void *));
static void op_free(struct op *);
static void worker_run_cb(void *);
static void worker_done_cb(void *, int);

static void
op_load(const struct backend *be, struct op *op, struct op_cluster *c)
{
	op->rc =
	    be->cluster(&c->stamp, c->fail, c->nfail, &c->cluster, &op->cause);
	c->unchanged = op->rc == 1;
	if (op->rc == 1)
		op->rc = 0;
	else if (op->rc != 0)
		op->transient = 1;
}

static void
op_list(const struct backend *be, struct op *op, struct op_list *l)
{
	op->rc = be->list(&l->stamp, &l->jobs, &l->njobs, &op->cause);
	l->unchanged = op->rc == 1;
	if (op->rc == 1)
		op->rc = 0;
	else if (op->rc != 0)
		op->transient = 1;
}

/*
 * Submit only: the monitor sends an attempt here only when it knows Slurm
 * does not have its tag (monitor-plan.c), so this is the job's one RPC.
 */
static void
op_submit(struct worker *w, struct op *op, struct op_submit *s)
{
	if (s->no_logdir) {
		op->rc = -1; /* its cause is set */
		return;
	}
	op->rc = w->be->submit(&s->req, &s->id, &op->cause, &op->transient);
	/*
	 * Fault injection for the exactly-once test: die after Slurm
	 * accepted the job and before the daemon could record it.
	 */
	if (op->rc == 0 && w->crash_after_submit)
		_exit(99);
}

/* On the worker thread. */
static void
worker_run_cb(void *arg)
{
	struct op *op = arg;
	struct worker *w = op->worker;
	const struct backend *be = w->be;
	double t0 = metrics_now();

	switch (op->kind) {
	case OP_SUBMIT:
		op_submit(w, op, &op->u.submit);
		break;
	case OP_LIST:
		op_list(be, op, &op->u.list);
		break;
	case OP_CANCEL:
		op->rc = be->cancel(op->u.cancel.id, &op->cause);
		break;
	case OP_CLUSTER:
		op_load(be, op, &op->u.cluster);
		break;
	case OP_NODE:
		op->rc = be->node != NULL
		    ? be->node(op->u.node.name, op->u.node.reason, &op->cause)
		    : set_cause(&op->cause, "the backend cannot drain nodes");
		break;
	}
	metrics_backend_op((int)op->kind, metrics_now() - t0, op->rc != 0);
}

/* Hand the pool what worker.h's order lets start now. */
static void
worker_dispatch(struct worker *w)
{
	struct op *op;

	while (!w->alone && (op = TAILQ_FIRST(&w->queue)) != NULL) {
		if (op->kind == OP_SUBMIT ? w->submits >= WORKER_SUBMITS
		                          : w->submits > 0)
			break;
		TAILQ_REMOVE(&w->queue, op, entry);
		if (op->kind == OP_SUBMIT)
			w->submits++;
		else
			w->alone = 1;
		pool_push(w->pool, w->key++, worker_run_cb, worker_done_cb, op);
	}
}

/* On the loop's thread; also from pool_free() for ops left over. */
static void
worker_done_cb(void *arg, int cancelled)
{
	struct op *op = arg;
	struct worker *w = op->worker;

	if (op->kind == OP_SUBMIT)
		w->submits--;
	else
		w->alone = 0;
	if (cancelled || w->stopping || op->done == NULL) {
		if (op->arg_free != NULL)
			op->arg_free(op->arg);
	} else
		op->done(op, op->arg);
	op_free(op);
	if (!w->stopping)
		worker_dispatch(w);
}

static struct op *
op_new(enum op_kind kind, op_done_fn done, void *arg, void (*arg_free)(void *))
{
	struct op *op;

	op = xcalloc(1, sizeof(*op));
	op->kind = kind;
	op->done = done;
	op->arg = arg;
	op->arg_free = arg_free;
	return op;
}

struct op *
worker_submit(const struct bjob_request *req, op_done_fn done, void *arg,
    void (*arg_free)(void *))
{
	struct op *op = op_new(OP_SUBMIT, done, arg, arg_free);

	op->u.submit.req = *req;
	return op;
}

struct op *
worker_list(int64_t stamp, op_done_fn done, void *arg)
{
	struct op *op = op_new(OP_LIST, done, arg, NULL);

	op->u.list.stamp = stamp;
	return op;
}

struct op *
worker_cancel(int64_t id, op_done_fn done, void *arg)
{
	struct op *op = op_new(OP_CANCEL, done, arg, NULL);

	op->u.cancel.id = id;
	return op;
}

struct op *
worker_cluster(int64_t stamp, struct bfailure *fail, size_t nfail,
    op_done_fn done, void *arg)
{
	struct op *op = op_new(OP_CLUSTER, done, arg, NULL);

	op->u.cluster.stamp = stamp;
	op->u.cluster.fail = fail;
	op->u.cluster.nfail = nfail;
	return op;
}

struct op *
worker_node(const char *name, const char *reason, op_done_fn done, void *arg)
{
	struct op *op = op_new(OP_NODE, done, arg, NULL);

	op->u.node.name = xstrdup(name);
	op->u.node.reason = reason != NULL ? xstrdup(reason) : NULL;
	return op;
}

static void
op_cluster_clear(struct op_cluster *c)
{
	bfailure_list_free(c->fail, c->nfail);
	bcluster_free(c->cluster);
}

static void
op_free(struct op *op)
{
	switch (op->kind) {
	case OP_LIST:
		bjob_list_free(op->u.list.jobs, op->u.list.njobs);
		break;
	case OP_CLUSTER:
		op_cluster_clear(&op->u.cluster);
		break;
	case OP_NODE:
		free(op->u.node.name);
		free(op->u.node.reason);
		break;
	case OP_SUBMIT:
	case OP_CANCEL:
		break;
	}
	free(op->cause);
	free(op);
}

struct worker *
worker_create(struct event_base *base, const struct backend *be)
{
	struct worker *w;

	w = xcalloc(1, sizeof(*w));
	w->be = be;
	w->crash_after_submit =
	    getenv("LLMCTLD_TEST_CRASH_AFTER_SUBMIT") != NULL;
	TAILQ_INIT(&w->queue);
	w->pool = pool_create(base, "backend", WORKER_SUBMITS);
	return w;
}

void
worker_push(struct worker *w, struct op *op)
{
	op->worker = w;
	TAILQ_INSERT_TAIL(&w->queue, op, entry);
	worker_dispatch(w);
}

/* An op never pushed: its arg freed without done, as at shutdown. */
void
worker_drop(struct op *op)
{
	if (op->arg_free != NULL)
		op->arg_free(op->arg);
	op_free(op);
}

int
worker_busy(const struct worker *w)
{
	const struct op *op;
	int n = pool_busy(w->pool);

	TAILQ_FOREACH(op, &w->queue, entry)
	n++;
	return n;
}

void
worker_free(struct worker *w)
{
	struct op *op;

	if (w == NULL)
		return;
	w->stopping = 1;
	pool_free(w->pool);
	while ((op = TAILQ_FIRST(&w->queue)) != NULL) {
		TAILQ_REMOVE(&w->queue, op, entry);
		worker_drop(op);
	}
	free(w);
}
