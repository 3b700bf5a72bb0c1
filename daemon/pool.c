/* pool: worker threads with per-key turns; see pool.h. */
#include "config.h"

#include <sys/queue.h>

#include <pthread.h>
#include <stdlib.h>

#include <event2/event.h>

#include "log.h"
#include "pool.h"
#include "util.h"

#define POOL_MAX_THREADS 16

struct task {
	uint64_t key;
	pool_run_fn run;
	pool_done_fn done;
	void *arg;
	TAILQ_ENTRY(task) entry;
};
TAILQ_HEAD(task_queue, task);

struct pool {
	const char *name;
	pthread_t threads[POOL_MAX_THREADS];
	int nthreads;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct task_queue pending;
	struct task_queue done;
	uint64_t running[POOL_MAX_THREADS]; /* keys */
	int nrunning;
	struct event *done_ev;
	int stopping;
	int inflight; /* loop thread only */
};

static int
key_running(const struct pool *p, uint64_t key)
{
	int i;

	for (i = 0; i < p->nrunning; i++)
		if (p->running[i] == key)
			return 1;
	return 0;
}

static void
key_finished(struct pool *p, uint64_t key)
{
	int i;

	for (i = 0; i < p->nrunning; i++) {
		if (p->running[i] == key) {
			p->running[i] = p->running[--p->nrunning];
			return;
		}
	}
}

/*
 * The first pending task whose key is idle; the key's other tasks move to
 * the back of the queue, behind every other key's. Called locked.
 */
static struct task *
take_next(struct pool *p)
{
	struct task_queue same;
	struct task *t, *next, *picked = NULL;

	TAILQ_FOREACH(t, &p->pending, entry)
	{
		if (!key_running(p, t->key)) {
			picked = t;
			break;
		}
	}
	if (picked == NULL)
		return NULL;
	TAILQ_REMOVE(&p->pending, picked, entry);
	TAILQ_INIT(&same);
	for (t = TAILQ_FIRST(&p->pending); t != NULL; t = next) {
		next = TAILQ_NEXT(t, entry);
		if (t->key == picked->key) {
			TAILQ_REMOVE(&p->pending, t, entry);
			TAILQ_INSERT_TAIL(&same, t, entry);
		}
	}
	TAILQ_CONCAT(&p->pending, &same, entry);
	p->running[p->nrunning++] = picked->key;
	return picked;
}

static void *
pool_main(void *arg)
{
	struct pool *p = arg;
	struct task *t;

	/* top -H and /proc/PID/task/TID/comm tell the pools apart */
	(void)pthread_setname_np(pthread_self(), p->name);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		t = NULL;
		while (!p->stopping && (t = take_next(p)) == NULL)
			pthread_cond_wait(&p->cond, &p->lock);
		if (t == NULL)
			break; /* stopping; a task taken still runs, then done */
		pthread_mutex_unlock(&p->lock);
		t->run(t->arg);
		pthread_mutex_lock(&p->lock);
		key_finished(p, t->key);
		TAILQ_INSERT_TAIL(&p->done, t, entry);
		event_active(p->done_ev, EV_READ, 0);
		/*
		 * No wake-up: the one task this makes runnable (the key's
		 * next) is this thread's own next take_next(), and tasks of
		 * other keys were signalled when pushed. A broadcast here woke
		 * every idle thread after every task, for nothing (the
		 * backend pool's 4 threads: 8 context switches a submit).
		 */
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void
pool_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool *p = arg;
	struct task_queue ready;
	struct task *t;

	(void)fd;
	(void)what;
	TAILQ_INIT(&ready);
	pthread_mutex_lock(&p->lock);
	TAILQ_CONCAT(&ready, &p->done, entry);
	pthread_mutex_unlock(&p->lock);
	while ((t = TAILQ_FIRST(&ready)) != NULL) {
		TAILQ_REMOVE(&ready, t, entry);
		p->inflight--;
		t->done(t->arg, 0);
		free(t);
	}
}

struct pool *
pool_create(struct event_base *base, const char *name, int nthreads)
{
	struct pool *p;
	int i;

	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > POOL_MAX_THREADS)
		nthreads = POOL_MAX_THREADS;
	p = xcalloc(1, sizeof(*p));
	p->name = name;
	TAILQ_INIT(&p->pending);
	TAILQ_INIT(&p->done);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	if ((p->done_ev = event_new(base, -1, 0, pool_done_cb, p)) == NULL)
		fatalx("pool %s: cannot create its event", name);
	for (i = 0; i < nthreads; i++) {
		if (pthread_create(&p->threads[i], NULL, pool_main, p) != 0)
			fatalx("pool %s: cannot start a thread", name);
		p->nthreads++;
	}
	return p;
}

void
pool_push(
    struct pool *p, uint64_t key, pool_run_fn run, pool_done_fn done, void *arg)
{
	struct task *t;

	t = xcalloc(1, sizeof(*t));
	t->key = key;
	t->run = run;
	t->done = done;
	t->arg = arg;
	p->inflight++;
	pthread_mutex_lock(&p->lock);
	TAILQ_INSERT_TAIL(&p->pending, t, entry);
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

int
pool_busy(const struct pool *p)
{
	return p->inflight;
}

/* Waits for the tasks running now; the others are cancelled. */
void
pool_free(struct pool *p)
{
	struct task *t;
	int i;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	while ((t = TAILQ_FIRST(&p->done)) != NULL) {
		TAILQ_REMOVE(&p->done, t, entry);
		t->done(t->arg, 0);
		free(t);
	}
	while ((t = TAILQ_FIRST(&p->pending)) != NULL) {
		TAILQ_REMOVE(&p->pending, t, entry);
		t->done(t->arg, 1);
		free(t);
	}
	event_free(p->done_ev);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
