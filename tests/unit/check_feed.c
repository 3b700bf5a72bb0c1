/*
 * check_feed: the feed hands out every committed event once, in id order,
 * in batches of at most FEED_BATCH, to each subscriber, and a subscriber
 * that unsubscribes (itself or another) during a tick gets nothing more;
 * store_events_match, which decides what a stream shows, keeps to its
 * user, its job and its id range.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "feed.h"
#include "llmctld.h"
#include "store.h"
#include "util.h"
#include "unit.h"

#define NEVENTS 1200

static char dbpath[64];

struct sink {
	struct llmctld *d;
	struct feed_sub *self;
	struct sink *other; /* unsubscribed by this one's first rows */
	int64_t last;
	size_t got, max_batch, ticks_after;
	int gone;
};

static void
sink_cb(void *arg, const struct event_row *ev, size_t n)
{
	struct sink *s = arg;
	size_t i;

	ck_assert(!s->gone);
	if (n > s->max_batch)
		s->max_batch = n;
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(ev[i].id, s->last + 1); /* no gap, once */
		s->last = ev[i].id;
	}
	s->got += n;
	if (n > 0 && s->other != NULL && !s->other->gone) {
		feed_unsubscribe(s->d->feed, s->other->self);
		s->other->gone = 1;
	}
	if (s->got >= NEVENTS && s->ticks_after++ > 2)
		event_base_loopbreak(s->d->base);
}

static void
add_jobs(struct store *st, int64_t *a, int64_t *b)
{
	struct job j = { .name = (char *)"a",
		.uid = 1000,
		.gid = 1000,
		.user = (char *)"alice",
		.spec = (char *)"{}",
		.nodes = 1,
		.world_size = 1 };
	int i;

	ck_assert_int_eq(store_job_insert(st, &j), 0);
	*a = j.id;
	j.name = (char *)"b";
	j.uid = 1001;
	j.user = (char *)"bob";
	ck_assert_int_eq(store_job_insert(st, &j), 0);
	*b = j.id;
	ck_assert_int_eq(store_begin(st), 0);
	for (i = 0; i < NEVENTS; i++)
		ck_assert_int_eq(store_event_add(st, i % 3 == 0 ? *b : *a,
		                     "test", "event %d", i),
		    0);
	ck_assert_int_eq(store_commit(st), 0);
}

START_TEST(test_feed)
{
	struct llmctld d = { 0 };
	struct sink one = { .d = &d }, two = { .d = &d };
	int64_t a, b;
	int fd;

	snprintf(dbpath, sizeof(dbpath), "/tmp/check_feed.XXXXXX");
	fd = mkstemp(dbpath);
	ck_assert_int_ne(fd, -1);
	close(fd);
	unit_rm_db(dbpath);
	d.store = store_open(dbpath, NULL);
	ck_assert_ptr_nonnull(d.store);
	add_jobs(d.store, &a, &b);
	d.base = event_base_new();
	d.feed = feed_create(&d, 0);
	two.self = feed_subscribe(d.feed, sink_cb, &two);
	one.self = feed_subscribe(d.feed, sink_cb, &one);
	/* one's first rows come after two's first: then two goes */
	two.other = NULL;
	one.other = &two;
	event_base_dispatch(d.base);
	ck_assert_uint_eq(one.got, NEVENTS);
	ck_assert_uint_le(one.max_batch, FEED_BATCH);
	ck_assert_uint_eq(one.max_batch, FEED_BATCH);
	ck_assert_uint_eq(two.got, FEED_BATCH); /* only the first tick */
	ck_assert_int_eq(feed_cursor(d.feed), one.last);
	feed_free(d.feed);
	event_base_free(d.base);
	store_close(d.store);
	unit_rm_db(dbpath);
}
END_TEST

START_TEST(test_match)
{
	struct store *st;
	struct event_filter f = { .upto = INT64_MAX, .limit = 10000 };
	struct event_row *ev;
	int64_t a, b, last;
	size_t n, i;
	int fd;

	snprintf(dbpath, sizeof(dbpath), "/tmp/check_feed.XXXXXX");
	fd = mkstemp(dbpath);
	ck_assert_int_ne(fd, -1);
	close(fd);
	unit_rm_db(dbpath);
	st = store_open(dbpath, NULL);
	add_jobs(st, &a, &b);
	last = store_events_last(st);
	ck_assert_int_eq(last, NEVENTS);
	/* alice sees only her job's, bob only his */
	f.uid = 1000;
	ev = store_events_match(st, &f, &n);
	ck_assert_uint_eq(n, NEVENTS - NEVENTS / 3);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(ev[i].job_id, a);
		ck_assert_int_eq(ev[i].uid, 1000);
		ck_assert_str_eq(ev[i].job, "a");
	}
	event_list_free(ev, n);
	f.uid = 1001;
	ev = store_events_match(st, &f, &n);
	ck_assert_uint_eq(n, NEVENTS / 3);
	event_list_free(ev, n);
	/* a job, whoever asks (the API checked the caller), in a range */
	f.all_users = 1;
	f.job_id = b;
	f.after = 300;
	f.upto = 600;
	ev = store_events_match(st, &f, &n);
	ck_assert_uint_eq(n, 100);
	ck_assert_int_gt(ev[0].id, 300);
	ck_assert_int_le(ev[n - 1].id, 600);
	event_list_free(ev, n);
	/* the newest first, limited */
	f.job_id = 0;
	f.after = 0;
	f.upto = INT64_MAX;
	f.newest = 1;
	f.limit = 5;
	ev = store_events_match(st, &f, &n);
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(ev[0].id, last);
	ck_assert_int_eq(ev[4].id, last - 4);
	event_list_free(ev, n);
	/* the saved place of a reader */
	ck_assert_int_eq(store_cursor_get(st, "x"), -1);
	ck_assert_int_eq(store_cursor_set(st, "x", 42), 0);
	ck_assert_int_eq(store_cursor_set(st, "x", 43), 0);
	ck_assert_int_eq(store_cursor_get(st, "x"), 43);
	store_close(st);
	unit_rm_db(dbpath);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("feed");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_feed);
	tcase_add_test(tc, test_match);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
