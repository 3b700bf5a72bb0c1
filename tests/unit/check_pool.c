/*
 * pool: done() runs on the loop after run(), tasks of one key never run
 * at once, and a key with many tasks does not starve another key.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "pool.h"
#include "unit.h"

#define NTASKS 40

struct rec {
	pthread_mutex_t lock;
	int order[NTASKS + 1]; /* task ids, in run order */
	int nrun;
	int ndone;
	int running_a; /* key 1 tasks running now */
	int overlap; /* key 1 ever ran twice at once */
	pthread_t loop;
	int done_off_loop;
	struct event_base *base;
};

struct item {
	struct rec *r;
	int id;
	uint64_t key;
	int cancelled;
};

static void
item_run(void *arg)
{
	struct item *it = arg;
	struct rec *r = it->r;

	pthread_mutex_lock(&r->lock);
	if (it->key == 1 && r->running_a++ > 0)
		r->overlap = 1;
	r->order[r->nrun++] = it->id;
	pthread_mutex_unlock(&r->lock);
	usleep(2000);
	pthread_mutex_lock(&r->lock);
	if (it->key == 1)
		r->running_a--;
	pthread_mutex_unlock(&r->lock);
}

static void
item_done(void *arg, int cancelled)
{
	struct item *it = arg;
	struct rec *r = it->r;

	if (!pthread_equal(pthread_self(), r->loop))
		r->done_off_loop = 1;
	it->cancelled = cancelled;
	if (++r->ndone == NTASKS + 1)
		event_base_loopbreak(r->base);
}

static void
give_up_cb(evutil_socket_t fd, short what, void *base)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(base);
}

START_TEST(test_pool_turns)
{
	static struct item items[NTASKS + 1];
	struct rec r = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct timeval tv = { .tv_sec = 10 };
	struct event *alive;
	struct pool *p;
	int i, pos_b = -1;

	ck_assert_int_eq(evthread_use_pthreads(), 0);
	r.base = event_base_new();
	/* the loop needs an added event to wait; fail after 10 s */
	alive = evtimer_new(r.base, give_up_cb, r.base);
	evtimer_add(alive, &tv);
	r.loop = pthread_self();
	p = pool_create(r.base, "test", 3);
	/* key 1 floods the queue first, then key 2 asks for one task */
	for (i = 0; i < NTASKS; i++) {
		items[i] = (struct item){ .r = &r, .id = i, .key = 1 };
		pool_push(p, 1, item_run, item_done, &items[i]);
	}
	items[NTASKS] = (struct item){ .r = &r, .id = NTASKS, .key = 2 };
	pool_push(p, 2, item_run, item_done, &items[NTASKS]);
	ck_assert_int_eq(pool_busy(p), NTASKS + 1);
	event_base_dispatch(r.base);
	ck_assert_int_eq(r.ndone, NTASKS + 1);
	ck_assert_int_eq(pool_busy(p), 0);
	ck_assert_int_eq(r.overlap, 0);
	ck_assert_int_eq(r.done_off_loop, 0);
	for (i = 0; i < r.nrun; i++)
		if (r.order[i] == NTASKS)
			pos_b = i;
	/* key 2 waited for at most the one key 1 task ahead of it */
	ck_assert_int_ge(pos_b, 0);
	ck_assert_int_le(pos_b, 2);
	pool_free(p);
	event_free(alive);
	event_base_free(r.base);
}
END_TEST

static void
slow_run(void *arg)
{
	(void)arg;
	usleep(50000);
}

START_TEST(test_pool_free_cancels)
{
	static struct item items[4];
	struct rec r = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct pool *p;
	int i, cancelled = 0;

	r.base = event_base_new();
	r.loop = pthread_self();
	p = pool_create(r.base, "test", 1);
	for (i = 0; i < 4; i++) {
		items[i] = (struct item){ .r = &r, .id = i, .key = 7 };
		pool_push(p, 7, slow_run, item_done, &items[i]);
	}
	usleep(10000); /* the first is running */
	pool_free(p);
	ck_assert_int_eq(r.ndone, 4);
	for (i = 0; i < 4; i++)
		cancelled += items[i].cancelled;
	ck_assert_int_eq(items[0].cancelled, 0);
	ck_assert_int_eq(cancelled, 3);
	event_base_free(r.base);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("pool");

	tcase_add_test(tc, test_pool_turns);
	tcase_add_test(tc, test_pool_free_cancels);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
