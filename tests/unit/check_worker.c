/*
 * check_worker: each op kind makes its backend calls on a worker thread
 * and comes back with its results, in the order pushed, on the loop's
 * thread, but for submits in a row, side by side; a submit is one backend call (the monitor decides whether Slurm
 * has the tag); ops left when the worker stops get arg_free and never done.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "unit.h"
#include "util.h"
#include "worker.h"

#define MAXOPS 16

/* What the test backend saw, on the worker thread. */
static struct {
	pthread_mutex_t lock;
	int nsubmit;
	int ncluster;
	int nlist;
	int slow; /* submit sleeps 20 ms */
	int running, max_running; /* submits in the backend at once */
	int list_running, list_nsubmit; /* when the last list was called */
	char node[64]; /* the last OP_NODE: "n3 drain why", "n3 resume" */
} be_seen = { .lock = PTHREAD_MUTEX_INITIALIZER };

/*
 * Slurm knows one job of ours: tag "t1", uid 1000, id 42, in the table
 * stamped 5.
 */
static int
test_list(int64_t *stamp, struct bjob **jobs, size_t *n, char **cause)
{
	(void)cause;
	pthread_mutex_lock(&be_seen.lock);
	be_seen.nlist++;
	be_seen.list_running = be_seen.running;
	be_seen.list_nsubmit = be_seen.nsubmit;
	pthread_mutex_unlock(&be_seen.lock);
	if (*stamp == 5)
		return 1;
	*stamp = 5;
	*jobs = xcalloc(1, sizeof(**jobs));
	(*jobs)[0] =
	    (struct bjob){ .id = 42, .tag = xstrdup("t1"), .uid = 1000 };
	*n = 1;
	return 0;
}

static int
test_submit(
    const struct bjob_request *req, int64_t *id, char **cause, int *transient)
{
	(void)req;
	(void)cause;
	(void)transient;
	pthread_mutex_lock(&be_seen.lock);
	if (++be_seen.running > be_seen.max_running)
		be_seen.max_running = be_seen.running;
	pthread_mutex_unlock(&be_seen.lock);
	if (be_seen.slow)
		usleep(20000);
	pthread_mutex_lock(&be_seen.lock);
	be_seen.running--;
	be_seen.nsubmit++;
	pthread_mutex_unlock(&be_seen.lock);
	*id = 77;
	return 0;
}

static int
test_cancel(int64_t id, char **cause)
{
	if (id != 13)
		return 0;
	*cause = xstrdup("refused");
	return -1;
}

static int
test_cluster(int64_t *stamp, const struct bfailure *fail, size_t nfail,
    struct bcluster **cl, char **cause)
{
	(void)fail;
	(void)cause;
	pthread_mutex_lock(&be_seen.lock);
	be_seen.ncluster++;
	pthread_mutex_unlock(&be_seen.lock);
	if (*stamp == 8)
		return 1;
	*stamp = 8;
	*cl = xcalloc(1, sizeof(**cl));
	(*cl)->loaded_at = (int64_t)nfail; /* the failures reached it */
	return 0;
}

/* Drains are taken, a resume of n9 refused. */
static int
test_node(const char *name, const char *reason, char **cause)
{
	pthread_mutex_lock(&be_seen.lock);
	snprintf(be_seen.node, sizeof(be_seen.node), "%s %s%s", name,
	    reason != NULL ? "drain " : "resume", reason != NULL ? reason : "");
	pthread_mutex_unlock(&be_seen.lock);
	if (reason == NULL && strcmp(name, "n9") == 0) {
		*cause = xstrdup("Invalid node name specified");
		return -1;
	}
	return 0;
}

static const struct backend test_backend = {
	.name = "test",
	.submit = test_submit,
	.list = test_list,
	.cancel = test_cancel,
	.cluster = test_cluster,
	.node = test_node,
};

/* What came back, on the loop. */
struct rec {
	struct event_base *base;
	pthread_t loop;
	int off_loop;
	int order[MAXOPS];
	int ndone;
	int want;
	int nfreed;
	struct {
		int rc;
		int64_t found;
		size_t njobs;
		int cluster_nfail;
		int64_t stamp;
		int unchanged;
		char cause[32];
	} got[MAXOPS];
};

struct arg {
	struct rec *r;
	int id;
};

static struct arg args[MAXOPS];

static void
arg_free_cb(void *p)
{
	((struct arg *)p)->r->nfreed++;
}

static void
done_cb(struct op *op, void *p)
{
	struct arg *a = p;
	struct rec *r = a->r;

	if (!pthread_equal(pthread_self(), r->loop))
		r->off_loop = 1;
	r->order[r->ndone++] = a->id;
	r->got[a->id].rc = op->rc;
	if (op->cause != NULL)
		snprintf(r->got[a->id].cause, sizeof(r->got[0].cause), "%s",
		    op->cause);
	switch (op->kind) {
	case OP_SUBMIT:
		r->got[a->id].found = op->u.submit.id;
		break;
	case OP_LIST:
		r->got[a->id].njobs = op->u.list.njobs;
		r->got[a->id].stamp = op->u.list.stamp;
		r->got[a->id].unchanged = op->u.list.unchanged;
		break;
	case OP_CLUSTER:
		r->got[a->id].stamp = op->u.cluster.stamp;
		r->got[a->id].unchanged = op->u.cluster.unchanged;
		if (op->u.cluster.cluster != NULL)
			r->got[a->id].cluster_nfail =
			    (int)op->u.cluster.cluster->loaded_at;
		break;
	case OP_CANCEL:
	case OP_NODE:
		break;
	}
	if (r->ndone == r->want)
		event_base_loopbreak(r->base);
}

static struct arg *
arg_of(struct rec *r, int id)
{
	args[id] = (struct arg){ .r = r, .id = id };
	return &args[id];
}

static void
give_up_cb(evutil_socket_t fd, short what, void *base)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(base);
}

/* r's loop on this thread, given up on after 10 s; free the event after */
static struct event *
rec_start(struct rec *r)
{
	struct timeval tv = { .tv_sec = 10 };
	struct event *alive;

	ck_assert_int_eq(evthread_use_pthreads(), 0);
	r->base = event_base_new();
	r->loop = pthread_self();
	alive = evtimer_new(r->base, give_up_cb, r->base);
	evtimer_add(alive, &tv);
	return alive;
}

START_TEST(test_worker_kinds)
{
	struct rec r = { 0 };
	struct bjob_request req = { .tag = "t9", .uid = 1000 };
	struct event *alive;
	struct worker *w;
	int i;

	alive = rec_start(&r);
	w = worker_create(r.base, &test_backend);
	worker_push(w, worker_submit(&req, done_cb, arg_of(&r, 0), NULL));
	worker_push(w, worker_list(0, done_cb, arg_of(&r, 1)));
	worker_push(w, worker_cancel(5, done_cb, arg_of(&r, 2)));
	worker_push(w, worker_cancel(13, done_cb, arg_of(&r, 3)));
	worker_push(w,
	    worker_cluster(0, xcalloc(3, sizeof(struct bfailure)), 3, done_cb,
	        arg_of(&r, 4)));
	/* the kept tables' stamps: "no change", nothing returned */
	worker_push(w, worker_list(5, done_cb, arg_of(&r, 5)));
	worker_push(w, worker_cluster(8, NULL, 0, done_cb, arg_of(&r, 6)));
	worker_push(w, worker_node("n9", NULL, done_cb, arg_of(&r, 7)));
	worker_push(w, worker_node("n3", "bad GPU", done_cb, arg_of(&r, 8)));
	r.want = 9;
	ck_assert_int_eq(worker_busy(w), 9);
	event_base_dispatch(r.base);
	ck_assert_int_eq(r.ndone, 9);
	ck_assert_int_eq(worker_busy(w), 0);
	ck_assert_int_eq(r.off_loop, 0);
	ck_assert_int_eq(r.got[7].rc, -1);
	ck_assert_str_eq(r.got[7].cause, "Invalid node name specified");
	ck_assert_int_eq(r.got[8].rc, 0);
	ck_assert_str_eq(be_seen.node, "n3 drain bad GPU");
	for (i = 0; i < 9; i++)
		ck_assert_int_eq(r.order[i], i);
	/* submit: the one call, no look-up of its own */
	ck_assert_int_eq(r.got[0].found, 77);
	ck_assert_int_eq(be_seen.nsubmit, 1);
	ck_assert_int_eq(be_seen.nlist, 2); /* OP_LIST's */
	ck_assert_int_eq(r.got[1].njobs, 1);
	ck_assert_int_eq(r.got[1].stamp, 5);
	ck_assert_int_eq(r.got[1].unchanged, 0);
	ck_assert_int_eq(r.got[5].rc, 0);
	ck_assert_int_eq(r.got[5].unchanged, 1);
	ck_assert_int_eq(r.got[5].njobs, 0);
	ck_assert_int_eq(r.got[6].rc, 0);
	ck_assert_int_eq(r.got[6].unchanged, 1);
	ck_assert_int_eq(r.got[4].stamp, 8);
	ck_assert_int_eq(r.got[4].unchanged, 0);
	ck_assert_int_eq(r.got[2].rc, 0);
	ck_assert_int_eq(r.got[3].rc, -1);
	ck_assert_str_eq(r.got[3].cause, "refused");
	ck_assert_int_eq(r.got[4].cluster_nfail, 3);
	ck_assert_int_eq(be_seen.ncluster, 2);
	ck_assert_int_eq(r.nfreed, 0);
	worker_free(w);
	event_free(alive);
	event_base_free(r.base);
}
END_TEST

/*
 * Submits in a row run side by side, four at most; a poll waits for every
 * submit pushed before it and starts before any pushed after it.
 */
START_TEST(test_worker_submits_side_by_side)
{
	struct bjob_request req = { .tag = "t9", .uid = 1000 };
	struct rec r = { 0 };
	struct event *alive;
	struct worker *w;
	int i;

	alive = rec_start(&r);
	be_seen.slow = 1;
	be_seen.nsubmit = be_seen.max_running = 0;
	w = worker_create(r.base, &test_backend);
	for (i = 0; i < 6; i++)
		worker_push(
		    w, worker_submit(&req, done_cb, arg_of(&r, i), NULL));
	worker_push(w, worker_list(0, done_cb, arg_of(&r, 6)));
	for (i = 7; i < 9; i++)
		worker_push(
		    w, worker_submit(&req, done_cb, arg_of(&r, i), NULL));
	r.want = 9;
	event_base_dispatch(r.base);
	be_seen.slow = 0;
	ck_assert_int_eq(r.ndone, 9);
	ck_assert_int_eq(be_seen.max_running, 4);
	ck_assert_int_eq(be_seen.list_running, 0);
	ck_assert_int_eq(be_seen.list_nsubmit, 6);
	ck_assert_int_eq(r.order[6], 6);
	ck_assert_int_eq(be_seen.nsubmit, 8);
	worker_free(w);
	event_free(alive);
	event_base_free(r.base);
}
END_TEST

START_TEST(test_worker_free_no_done)
{
	struct bjob_request req = { .tag = "t9", .uid = 1000 };
	struct rec r = { 0 };
	struct worker *w;
	int i;

	ck_assert_int_eq(evthread_use_pthreads(), 0);
	r.base = event_base_new();
	r.loop = pthread_self();
	be_seen.slow = 1;
	w = worker_create(r.base, &test_backend);
	for (i = 0; i < 5; i++)
		worker_push(w,
		    worker_submit(&req, done_cb, arg_of(&r, i), arg_free_cb));
	usleep(30000); /* four run, one waits */
	worker_free(w);
	be_seen.slow = 0;
	ck_assert_int_eq(r.ndone, 0);
	ck_assert_int_eq(r.nfreed, 5);
	event_base_free(r.base);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("worker");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_worker_kinds);
	tcase_add_test(tc, test_worker_submits_side_by_side);
	tcase_add_test(tc, test_worker_free_no_done);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
