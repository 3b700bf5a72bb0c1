/*
 * pool: done() runs on the loop after run(), tasks of one key never run
 * at once, and a key with many tasks does not starve another key; tasks
 * of different keys run side by side, the threads carry the pool's name,
 * and a task that ends wakes no idle thread.
 */
#include "config.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* A loop for done(), with an event so that it waits; it gives up at 10 s. */
static struct event_base *
loop_new(struct event **alive)
{
	struct timeval tv = { .tv_sec = 10 };
	struct event_base *base;

	ck_assert_int_eq(evthread_use_pthreads(), 0);
	base = event_base_new();
	*alive = evtimer_new(base, give_up_cb, base);
	evtimer_add(*alive, &tv);
	return base;
}

static void
loop_free(struct event_base *base, struct event *alive)
{
	event_free(alive);
	event_base_free(base);
}

START_TEST(test_pool_turns)
{
	static struct item items[NTASKS + 1];
	struct rec r = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct event *alive;
	struct pool *p;
	int i, pos_b = -1;

	r.base = loop_new(&alive);
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
	loop_free(r.base, alive);
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

/* This process's threads named name: how many, and how often they waited. */
static int
named_threads(const char *name, long *switches)
{
	char path[300], line[128];
	struct dirent *de;
	DIR *d;
	FILE *f;
	int n = 0;
	long v;

	*switches = 0;
	ck_assert_ptr_nonnull(d = opendir("/proc/self/task"));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(
		    path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(line, sizeof(line), f) == NULL)
			line[0] = '\0';
		fclose(f);
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, name) != 0)
			continue;
		n++;
		snprintf(path, sizeof(path), "/proc/self/task/%s/status",
		    de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) ==
			    1)
				*switches +=
				    v; /* waits; preemptions left out */
		fclose(f);
	}
	closedir(d);
	return n;
}

static void
one_done(void *arg, int cancelled)
{
	(void)cancelled;
	event_base_loopbreak(arg);
}

static void
nothing_run(void *arg)
{
	(void)arg;
}

#define HERD_TASKS 200

/*
 * One task at a time on 4 threads: the thread a push wakes runs it and
 * waits again, 1.5 waits a task (with one on the lock now and then).
 * Waking every idle thread when a task ends (a broadcast) made it 4.
 */
START_TEST(test_pool_no_herd)
{
	struct event_base *base;
	struct event *alive;
	struct pool *p;
	long before, after;
	int i;

	base = loop_new(&alive);
	p = pool_create(base, "herd", 4);
	for (i = 0; i < 200 && named_threads("herd", &before) < 4; i++)
		usleep(5000);
	ck_assert_int_eq(named_threads("herd", &before), 4);
	usleep(20000); /* all four wait */
	named_threads("herd", &before);
	for (i = 0; i < HERD_TASKS; i++) {
		pool_push(p, (uint64_t)i, nothing_run, one_done, base);
		event_base_dispatch(base);
		ck_assert_int_eq(pool_busy(p), 0);
	}
	named_threads("herd", &after);
	ck_assert_msg(after - before < 5 * HERD_TASKS / 2,
	    "%ld waits for %d tasks", after - before, HERD_TASKS);
	pool_free(p);
	loop_free(base, alive);
}
END_TEST

struct side {
	pthread_mutex_t lock;
	int now, most, ndone;
	struct event_base *base;
};

static void
side_run(void *arg)
{
	struct side *sd = arg;

	pthread_mutex_lock(&sd->lock);
	if (++sd->now > sd->most)
		sd->most = sd->now;
	pthread_mutex_unlock(&sd->lock);
	usleep(50000);
	pthread_mutex_lock(&sd->lock);
	sd->now--;
	pthread_mutex_unlock(&sd->lock);
}

static void
side_done(void *arg, int cancelled)
{
	struct side *sd = arg;

	(void)cancelled;
	if (++sd->ndone == 12)
		event_base_loopbreak(sd->base);
}

/* 12 slow tasks of 12 keys on 4 threads: 4 at once, all the way through */
START_TEST(test_pool_side_by_side)
{
	struct side sd = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct event *alive;
	struct pool *p;
	int i;

	sd.base = loop_new(&alive);
	p = pool_create(sd.base, "side", 4);
	for (i = 0; i < 12; i++)
		pool_push(p, (uint64_t)i, side_run, side_done, &sd);
	event_base_dispatch(sd.base);
	ck_assert_int_eq(sd.ndone, 12);
	ck_assert_int_eq(sd.most, 4);
	pool_free(p);
	loop_free(sd.base, alive);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("pool");

	tcase_add_test(tc, test_pool_turns);
	tcase_add_test(tc, test_pool_free_cancels);
	tcase_add_test(tc, test_pool_no_herd);
	tcase_add_test(tc, test_pool_side_by_side);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
