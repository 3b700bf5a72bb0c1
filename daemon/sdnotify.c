/* sdnotify: READY, RELOADING, STOPPING, STATUS and WATCHDOG for systemd. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "backend.h"
#include "conf.h"
#include "llmctld.h"
#include "log.h"
#include "sdnotify.h"
#include "store.h"
#include "timer.h"
#include "util.h"

#define STATUS_MS 5000 /* how often STATUS= is refreshed */
/* slurmctld counts as unreachable after this many polls without a snapshot */
#define STALE_POLLS 3

struct sdnotify {
	struct llmctld *d;
	struct timer *status;
	struct timer *watchdog;
	int64_t watchdog_ms; /* 0: no watchdog */
	char *last; /* the last STATUS= sent */
};

static void
notify_send(const char *msg)
{
#ifdef HAVE_LIBSYSTEMD
	int rc;

	if ((rc = sd_notify(0, msg)) < 0)
		log_warnx("sd_notify: %s", strerror(-rc));
#else
	(void)msg;
#endif
}

/* "2 jobs running, 1 queued; slurmctld reachable", or why not. */
static char *
notify_summary(struct sdnotify *n)
{
	struct llmctld *d = n->d;
	int64_t counts[JOB_CANCELLED + 1], stale;
	const char *slurm;

	stale = STALE_POLLS * d->conf->poll_interval_ms / 1000 + 10;
	if (d->cluster == NULL)
		slurm = "slurmctld not reached yet";
	else if (wall_s() - d->cluster->loaded_at > stale)
		slurm = "slurmctld unreachable";
	else
		slurm = "slurmctld reachable";
	if (store_job_counts(d->store, counts) != 0)
		return xasprintf("store unreadable; %s", slurm);
	return xasprintf("%" PRId64 " jobs running, %" PRId64 " queued; %s",
	    counts[JOB_RUNNING] + counts[JOB_RESTARTING],
	    counts[JOB_QUEUED] + counts[JOB_SUBMITTED], slurm);
}

static void
notify_status_cb(void *arg)
{
	struct sdnotify *n = arg;
	char *s, *msg;

	s = notify_summary(n);
	if (n->last == NULL || strcmp(s, n->last) != 0) {
		msg = xasprintf("STATUS=%s", s);
		notify_send(msg);
		free(msg);
		free(n->last);
		n->last = s;
	} else
		free(s);
	timer_schedule(n->status, STATUS_MS);
}

static void
notify_watchdog_cb(void *arg)
{
	struct sdnotify *n = arg;

	notify_send("WATCHDOG=1");
	timer_schedule(n->watchdog, n->watchdog_ms);
}

struct sdnotify *
sdnotify_create(struct llmctld *d)
{
	struct sdnotify *n = xcalloc(1, sizeof(*n));
#ifdef HAVE_LIBSYSTEMD
	uint64_t usec;

	/* > 0 only if WATCHDOG_USEC is set and WATCHDOG_PID is us */
	if (sd_watchdog_enabled(0, &usec) > 0 && usec >= 2000)
		n->watchdog_ms = (int64_t)(usec / 2000);
#endif
	n->d = d;
	n->status = timer_new(d->base, notify_status_cb, n);
	if (n->watchdog_ms > 0) {
		n->watchdog = timer_new(d->base, notify_watchdog_cb, n);
		timer_schedule(n->watchdog, n->watchdog_ms);
		log_info("systemd watchdog: a ping every %lld ms",
		    (long long)n->watchdog_ms);
	}
	return n;
}

/* The socket listens and the store is open: clients can be answered. */
void
sdnotify_ready(struct sdnotify *n)
{
	free(n->last);
	n->last = NULL;
	notify_send("READY=1");
	notify_status_cb(n);
}

void
sdnotify_reloading(struct sdnotify *n)
{
	struct timespec ts;
	char *msg;

	(void)n;
	/* MONOTONIC_USEC lets systemd (Type=notify-reload) match the reply. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	msg = xasprintf("RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	        (unsigned long long)ts.tv_nsec / 1000);
	notify_send(msg);
	free(msg);
}

void
sdnotify_stopping(struct sdnotify *n)
{
	(void)n;
	notify_send("STOPPING=1\nSTATUS=stopping");
}

void
sdnotify_free(struct sdnotify *n)
{
	if (n == NULL)
		return;
	timer_free(n->status);
	timer_free(n->watchdog);
	free(n->last);
	free(n);
}
