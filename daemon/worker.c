/* worker: the backend thread and its two queues (pending, done). */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "util.h"
#include "worker.h"

TAILQ_HEAD(op_queue, op);

struct worker {
	const struct backend	*be;
	pthread_t		 thread;
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	struct op_queue		 pending;
	struct op_queue		 done;
	struct event		*done_ev;
	int			 stopping;
	int			 inflight;	/* loop thread only */
	int			 crash_after_submit;
};

static void *worker_main(void *);
static void worker_done_cb(evutil_socket_t, short, void *);

/* Find a job of ours by tag: how submission stays exactly-once. */
static void
op_find(const struct backend *be, struct op *op)
{
	struct bjob *jobs = NULL;
	size_t n = 0, i;

	op->found_id = 0;
	if ((op->rc = be->list(&jobs, &n, &op->cause)) != 0) {
		op->transient = 1;
		return;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(jobs[i].tag, op->req.tag) == 0 &&
		    jobs[i].uid == op->req.uid) {
			op->found_id = jobs[i].id;
			break;
		}
	}
	bjob_list_free(jobs, n);
}

/*
 * Plan on a fresh snapshot. A request that fails only because nodes are
 * busy waits; one that fails on an idle cluster never fits.
 */
static void
op_plan(const struct backend *be, struct op *op)
{
	struct plan *ideal;
	char *why = NULL;

	if ((op->rc = be->cluster(op->fail, op->nfail, &op->cluster,
	    &op->cause)) != 0) {
		op->transient = 1;
		return;
	}
	if (op->navoid > 0) {
		/* after a re-plan: other nodes than last time, if any fit */
		struct plan_request req = op->preq;
		const char **names;
		size_t i;

		names = xcalloc(op->preq.nexclude + op->navoid, sizeof(*names));
		for (i = 0; i < op->preq.nexclude; i++)
			names[i] = op->preq.exclude[i];
		for (i = 0; i < op->navoid; i++)
			names[op->preq.nexclude + i] = op->avoid[i];
		req.exclude = names;
		req.nexclude = op->preq.nexclude + op->navoid;
		op->plan = plan_make(op->cluster->live, &req, NULL);
		free(names);
		if (op->plan != NULL)
			return;
	}
	op->plan = plan_make(op->cluster->live, &op->preq, &op->cause);
	if (op->plan != NULL)
		return;
	op->rc = -1;
	op->transient = 1;
	ideal = plan_make(op->cluster->ideal, &op->preq, &why);
	if (ideal == NULL) {
		op->never = 1;
		op->transient = 0;
		free(op->cause);
		op->cause = why;
	} else {
		plan_free(ideal);
		free(why);
	}
}

static void
op_run(struct worker *w, struct op *op)
{
	const struct backend *be = w->be;

	switch (op->kind) {
	case OP_FIND:
		op_find(be, op);
		break;
	case OP_SUBMIT:
		op_find(be, op);
		if (op->rc != 0 || op->found_id != 0)
			break;
		op->rc = be->submit(&op->req, &op->found_id, &op->cause,
		    &op->transient);
		op->submitted = op->rc == 0;
		/*
		 * Fault injection for the exactly-once test: die after Slurm
		 * accepted the job and before the daemon could record it.
		 */
		if (op->submitted && w->crash_after_submit)
			_exit(99);
		break;
	case OP_LIST:
		if ((op->rc = be->list(&op->jobs, &op->njobs, &op->cause)) != 0)
			op->transient = 1;
		break;
	case OP_CANCEL:
		op->rc = be->cancel(op->id, &op->cause);
		break;
	case OP_CLUSTER:
		if ((op->rc = be->cluster(op->fail, op->nfail, &op->cluster,
		    &op->cause)) != 0)
			op->transient = 1;
		break;
	case OP_PLAN:
		op_find(be, op);
		if (op->rc != 0 || op->found_id != 0)
			break;
		op_plan(be, op);
		break;
	}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct op *op;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (TAILQ_EMPTY(&w->pending) && !w->stopping)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stopping)
			break;
		op = TAILQ_FIRST(&w->pending);
		TAILQ_REMOVE(&w->pending, op, entry);
		pthread_mutex_unlock(&w->lock);
		op_run(w, op);
		pthread_mutex_lock(&w->lock);
		TAILQ_INSERT_TAIL(&w->done, op, entry);
		event_active(w->done_ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void
worker_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct op_queue ready;
	struct op *op;

	(void)fd;
	(void)what;
	TAILQ_INIT(&ready);
	pthread_mutex_lock(&w->lock);
	TAILQ_CONCAT(&ready, &w->done, entry);
	pthread_mutex_unlock(&w->lock);
	while ((op = TAILQ_FIRST(&ready)) != NULL) {
		TAILQ_REMOVE(&ready, op, entry);
		w->inflight--;
		if (op->done != NULL)
			op->done(op, op->arg);
		op_free(op);
	}
}

struct worker *
worker_create(struct event_base *base, const struct backend *be)
{
	struct worker *w;

	w = xcalloc(1, sizeof(*w));
	w->be = be;
	w->crash_after_submit =
	    getenv("LLMCTLD_TEST_CRASH_AFTER_SUBMIT") != NULL;
	TAILQ_INIT(&w->pending);
	TAILQ_INIT(&w->done);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->done_ev = event_new(base, -1, 0, worker_done_cb, w);
	if (w->done_ev == NULL ||
	    pthread_create(&w->thread, NULL, worker_main, w) != 0)
		fatalx("worker: cannot start the backend thread");
	return w;
}

void
worker_push(struct worker *w, struct op *op)
{
	w->inflight++;
	pthread_mutex_lock(&w->lock);
	TAILQ_INSERT_TAIL(&w->pending, op, entry);
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

int
worker_busy(const struct worker *w)
{
	return w->inflight;
}

void
worker_free(struct worker *w)
{
	struct op *op;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = 1;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	while ((op = TAILQ_FIRST(&w->pending)) != NULL) {
		TAILQ_REMOVE(&w->pending, op, entry);
		op_free(op);
	}
	while ((op = TAILQ_FIRST(&w->done)) != NULL) {
		TAILQ_REMOVE(&w->done, op, entry);
		op_free(op);
	}
	event_free(w->done_ev);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

void
op_free(struct op *op)
{
	if (op == NULL)
		return;
	if (op->owned_free != NULL && op->owned != NULL)
		op->owned_free(op->owned);
	free(op->cause);
	bjob_list_free(op->jobs, op->njobs);
	bcluster_free(op->cluster);
	plan_free(op->plan);
	bfailure_list_free(op->fail, op->nfail);
	free(op);
}
