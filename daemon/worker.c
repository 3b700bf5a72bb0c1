/*
 * worker: the backend thread, a one-thread pool (pool.h) whose tasks all
 * share one key, so they run one at a time in the order pushed; and the
 * ops' constructors.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"
#include "pool.h"
#include "util.h"
#include "worker.h"

struct worker {
	const struct backend *be;
	struct pool *pool;
	int stopping; /* no done from now on */
	int crash_after_submit;
};

static struct op *op_new(enum op_kind, op_done_fn, void *, void (*)(void *));
static void op_free(struct op *);
static void worker_run_cb(void *);
static void worker_done_cb(void *, int);

/* Find a job of ours by tag: how submission stays exactly-once. */
static int64_t
op_find_tag(const struct backend *be, struct op *op, const char *tag, uid_t uid)
{
	struct bjob *jobs = NULL;
	size_t n = 0, i;
	int64_t found = 0;

	if ((op->rc = be->list(&jobs, &n, &op->cause)) != 0) {
		op->transient = 1;
		return 0;
	}
	for (i = 0; i < n && found == 0; i++)
		if (strcmp(jobs[i].tag, tag) == 0 && jobs[i].uid == uid)
			found = jobs[i].id;
	bjob_list_free(jobs, n);
	return found;
}

static void
op_load(const struct backend *be, struct op *op, struct op_cluster *c)
{
	if ((op->rc = be->cluster(
	         c->fail, c->nfail, &c->cluster, &op->cause)) != 0)
		op->transient = 1;
}

static void
op_submit(struct worker *w, struct op *op, struct op_submit *s)
{
	s->found_id = op_find_tag(w->be, op, s->req.tag, s->req.uid);
	if (op->rc != 0 || s->found_id != 0)
		return;
	op->rc =
	    w->be->submit(&s->req, &s->found_id, &op->cause, &op->transient);
	s->submitted = op->rc == 0;
	/*
	 * Fault injection for the exactly-once test: die after Slurm
	 * accepted the job and before the daemon could record it.
	 */
	if (s->submitted && w->crash_after_submit)
		_exit(99);
}

static void
op_plan(const struct backend *be, struct op *op, struct op_plan *p)
{
	p->find.found_id = op_find_tag(be, op, p->find.tag, p->find.uid);
	if (op->rc == 0 && p->find.found_id == 0)
		op_load(be, op, &p->load);
	if (op->rc != 0)
		p->unreachable = 1;
	if (op->rc != 0 || p->find.found_id != 0)
		return;
	op->transient = 0;
	op->rc = p->place(op->arg, p->load.cluster, &op->cause, &op->transient);
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
	case OP_FIND:
		op->u.find.found_id =
		    op_find_tag(be, op, op->u.find.tag, op->u.find.uid);
		break;
	case OP_SUBMIT:
		op_submit(w, op, &op->u.submit);
		break;
	case OP_LIST:
		if ((op->rc = be->list(
		         &op->u.list.jobs, &op->u.list.njobs, &op->cause)) != 0)
			op->transient = 1;
		break;
	case OP_CANCEL:
		op->rc = be->cancel(op->u.cancel.id, &op->cause);
		break;
	case OP_CLUSTER:
		op_load(be, op, &op->u.cluster);
		break;
	case OP_PLAN:
		op_plan(be, op, &op->u.plan);
		break;
	}
	metrics_backend_op((int)op->kind, metrics_now() - t0, op->rc != 0);
}

/* On the loop's thread; also from pool_free() for ops left over. */
static void
worker_done_cb(void *arg, int cancelled)
{
	struct op *op = arg;

	if (cancelled || op->worker->stopping || op->done == NULL) {
		if (op->arg_free != NULL)
			op->arg_free(op->arg);
	} else
		op->done(op, op->arg);
	op_free(op);
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
worker_find(const char *tag, uid_t uid, op_done_fn done, void *arg,
    void (*arg_free)(void *))
{
	struct op *op = op_new(OP_FIND, done, arg, arg_free);

	op->u.find.tag = tag;
	op->u.find.uid = uid;
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
worker_list(op_done_fn done, void *arg)
{
	return op_new(OP_LIST, done, arg, NULL);
}

struct op *
worker_cancel(int64_t id, op_done_fn done, void *arg)
{
	struct op *op = op_new(OP_CANCEL, done, arg, NULL);

	op->u.cancel.id = id;
	return op;
}

struct op *
worker_cluster(struct bfailure *fail, size_t nfail, op_done_fn done, void *arg)
{
	struct op *op = op_new(OP_CLUSTER, done, arg, NULL);

	op->u.cluster.fail = fail;
	op->u.cluster.nfail = nfail;
	return op;
}

struct op *
worker_plan(const char *tag, uid_t uid, struct bfailure *fail, size_t nfail,
    op_place_fn place, op_done_fn done, void *arg, void (*arg_free)(void *))
{
	struct op *op = op_new(OP_PLAN, done, arg, arg_free);

	op->u.plan.find.tag = tag;
	op->u.plan.find.uid = uid;
	op->u.plan.load.fail = fail;
	op->u.plan.load.nfail = nfail;
	op->u.plan.place = place;
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
	case OP_PLAN:
		op_cluster_clear(&op->u.plan.load);
		break;
	case OP_FIND:
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
	w->pool = pool_create(base, "backend", 1);
	return w;
}

void
worker_push(struct worker *w, struct op *op)
{
	op->worker = w;
	/* one key for all: one op at a time, in order */
	pool_push(w->pool, 0, worker_run_cb, worker_done_cb, op);
}

int
worker_busy(const struct worker *w)
{
	return pool_busy(w->pool);
}

void
worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	w->stopping = 1;
	pool_free(w->pool);
	free(w);
}
