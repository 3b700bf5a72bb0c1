/* feed: committed events to subscribers, on a timer; see feed.h. */
#include "config.h"

#include <sys/queue.h>

#include <stdint.h>
#include <stdlib.h>

#include "feed.h"
#include "llmctld.h"
#include "store.h"
#include "timer.h"
#include "util.h"

struct feed_sub {
	TAILQ_ENTRY(feed_sub) entry;
	feed_fn fn;
	void *arg;
	int dead; /* unsubscribed while dispatching */
};

struct feed {
	struct llmctld *d;
	struct timer *timer;
	int64_t cursor;
	int dispatching;
	TAILQ_HEAD(, feed_sub) subs;
};

static void feed_tick_cb(void *);

struct feed *
feed_create(struct llmctld *d, int64_t start)
{
	struct feed *f;

	f = xcalloc(1, sizeof(*f));
	f->d = d;
	f->cursor = start;
	TAILQ_INIT(&f->subs);
	f->timer = timer_new(d->base, feed_tick_cb, f);
	timer_schedule(f->timer, 0);
	return f;
}

struct feed_sub *
feed_subscribe(struct feed *f, feed_fn fn, void *arg)
{
	struct feed_sub *s;

	s = xcalloc(1, sizeof(*s));
	s->fn = fn;
	s->arg = arg;
	TAILQ_INSERT_TAIL(&f->subs, s, entry);
	return s;
}

void
feed_unsubscribe(struct feed *f, struct feed_sub *s)
{
	if (s == NULL)
		return;
	if (f->dispatching) {
		s->dead = 1; /* feed_tick_cb frees it */
		return;
	}
	TAILQ_REMOVE(&f->subs, s, entry);
	free(s);
}

int64_t
feed_cursor(const struct feed *f)
{
	return f->cursor;
}

static void
feed_tick_cb(void *arg)
{
	struct feed *f = arg;
	struct feed_sub *s, *next;
	struct event_filter flt = { .after = f->cursor,
		.upto = INT64_MAX,
		.all_users = 1,
		.limit = FEED_BATCH };
	struct event_row *ev = NULL;
	size_t n = 0;

	/*
	 * Everything runs on the loop and transactions end in the callback
	 * that began them, so none is open here but the loop turn's
	 * recoverable writes (store_set_flush), committed first; were one
	 * open, its rows could still be rolled back: wait.
	 */
	(void)store_flush(f->d->store);
	if (!store_in_tx(f->d->store))
		ev = store_events_match(f->d->store, &flt, &n);
	if (n > 0)
		f->cursor = ev[n - 1].id;
	f->dispatching = 1;
	TAILQ_FOREACH(s, &f->subs, entry)
	if (!s->dead)
		s->fn(s->arg, ev, n);
	f->dispatching = 0;
	for (s = TAILQ_FIRST(&f->subs); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->dead) {
			TAILQ_REMOVE(&f->subs, s, entry);
			free(s);
		}
	}
	event_list_free(ev, n);
	timer_schedule(f->timer, n == FEED_BATCH ? 0 : FEED_TICK_MS);
}

void
feed_free(struct feed *f)
{
	struct feed_sub *s;

	if (f == NULL)
		return;
	while ((s = TAILQ_FIRST(&f->subs)) != NULL) {
		TAILQ_REMOVE(&f->subs, s, entry);
		free(s);
	}
	timer_free(f->timer);
	free(f);
}
