/* timer: thin wrapper so that only loop files include libevent. */
#include "config.h"

#include <stdlib.h>

#include <event2/event.h>

#include "log.h"
#include "timer.h"
#include "util.h"

struct timer {
	struct event *ev;
	void (*cb)(void *);
	void *arg;
};

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timer *t = arg;

	(void)fd;
	(void)what;
	t->cb(t->arg);
}

struct timer *
timer_new(struct event_base *base, void (*cb)(void *), void *arg)
{
	struct timer *t;

	t = xcalloc(1, sizeof(*t));
	t->cb = cb;
	t->arg = arg;
	if ((t->ev = evtimer_new(base, timer_cb, t)) == NULL)
		fatalx("timer: evtimer_new failed");
	return t;
}

void
timer_schedule(struct timer *t, int64_t ms)
{
	struct timeval tv = { .tv_sec = ms / 1000,
		.tv_usec = (ms % 1000) * 1000 };

	evtimer_add(t->ev, &tv);
}

void
timer_free(struct timer *t)
{
	if (t == NULL)
		return;
	event_free(t->ev);
	free(t);
}
