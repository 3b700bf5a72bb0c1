/*
 * api-feed: events as they happen, for scripts and `llmctl events -f`.
 *
 * GET /v1/events[?job=ID][&since=ID][&follow=1] and
 * GET /v1/jobs/{ID}/events?follow=1. Who sees what is decided as for the
 * events route: a job's events for its owner or an admin (the same
 * api_job_for_caller()), without a job the caller's own jobs, an admin's
 * all. A stream starts with what came before (a job's events from the
 * first, or after since; without a job the last FOLLOW_RECENT), read in
 * batches, then takes each committed event from the feed (feed.h), so
 * nothing falls between a listing and the follow. A job's stream ends
 * with an {"end": true, "state": ...} line once the job is final and its
 * attempts have ended; the caller's stream goes on until the reader goes.
 * An empty line every FOLLOW_KEEPALIVE_MS keeps idle connections honest.
 */
#include "config.h"

#include <sys/queue.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "feed.h"
#include "llmctld.h"
#include "log.h"
#include "store.h"
#include "util.h"

#define FOLLOW_RECENT 100 /* events a caller's stream starts with */
#define FOLLOW_LIST_MAX 1000 /* events one plain reply carries */
#define FOLLOW_KEEPALIVE_MS 15000
#define FOLLOW_END_CHECK 8 /* ticks between checks that a job is over */
/*
 * A reader with this much unsent is behind: its stream takes no more rows
 * (it reads them from the store once it has caught up), so what waits for
 * it stays about this size plus one batch. Behind for FOLLOW_STALL_MS on
 * end, it is closed.
 */
#define FOLLOW_BEHIND (256 * 1024)
#define FOLLOW_STALL_MS 10000

struct follower {
	TAILQ_ENTRY(follower) entry;
	struct llmctld *d;
	struct api_stream *stream;
	struct feed_sub *sub;
	struct event_filter flt; /* after: the last id considered */
	int lag; /* reading its own batches */
	unsigned ticks;
	int64_t sent_ms;
	int64_t behind_ms; /* since when, 0: not */
};

static TAILQ_HEAD(, follower) followers = TAILQ_HEAD_INITIALIZER(followers);

static void follow_cb(void *, const struct event_row *, size_t);

static json_t *
event_json(const struct event_row *ev)
{
	return json_pack("{s:I, s:I, s:I, s:s, s:s, s:s}", "id",
	    (json_int_t)ev->id, "at", (json_int_t)ev->at, "job_id",
	    (json_int_t)ev->job_id, "job", ev->job != NULL ? ev->job : "",
	    "kind", ev->kind, "message", ev->message);
}

static int
follow_send(struct follower *f, json_t *line)
{
	char *text;
	int rc = 0;

	if (line == NULL)
		return 0; /* not UTF-8: cannot be JSON; skip it */
	if ((text = json_dumps(line, JSON_COMPACT)) != NULL) {
		rc = api_stream_send(f->stream, text, strlen(text));
		rc |= api_stream_send(f->stream, "\n", 1);
		free(text);
	}
	json_decref(line);
	f->sent_ms = mono_ms();
	return rc;
}

static void
follow_end(struct follower *f)
{
	TAILQ_REMOVE(&followers, f, entry);
	feed_unsubscribe(f->d->feed, f->sub);
	api_stream_end(f->stream);
	free(f);
}

/* The job is final and no attempt of it is still going: say so, end. */
static int
follow_job_over(struct follower *f)
{
	struct attempt **as;
	struct job *job;
	size_t n, i;
	int over;

	if ((job = store_job_get(f->d->store, f->flt.job_id)) == NULL)
		return 1;
	over = job_state_final(job->state);
	if (over) {
		as = store_attempts_of(f->d->store, job->id, &n);
		for (i = 0; i < n; i++)
			if (as[i]->ended_at == 0)
				over = 0;
		attempt_list_free(as, n);
	}
	if (over)
		follow_send(f,
		    json_pack("{s:b, s:I, s:s}", "end", 1, "job_id",
		        (json_int_t)job->id, "state",
		        job_state_name(job->state)));
	job_free(job);
	return over;
}

static int
visible(const struct follower *f, const struct event_row *ev)
{
	return (f->flt.all_users || ev->uid == f->flt.uid) &&
	    (f->flt.job_id == 0 || ev->job_id == f->flt.job_id);
}

/* Each feed tick: the new rows (or its own batch while behind). */
static void
follow_cb(void *arg, const struct event_row *rows, size_t n)
{
	struct follower *f = arg;
	struct event_row *ev = NULL;
	int64_t head = feed_cursor(f->d->feed);
	size_t got = 0, i;
	int rc = 0, mine = 0;

	if (!api_stream_alive(f->stream)) {
		follow_end(f);
		return;
	}
	if (api_stream_unsent(f->stream) > FOLLOW_BEHIND) {
		if (!f->lag)
			f->flt.upto = f->flt.after; /* resume from here */
		f->lag = 1;
		if (f->behind_ms == 0)
			f->behind_ms = mono_ms();
		else if (mono_ms() - f->behind_ms > FOLLOW_STALL_MS) {
			api_stream_close(f->stream,
			    "the reader stayed behind "
			    "for 10 s");
			follow_end(f);
		}
		return;
	}
	f->behind_ms = 0;
	if (f->lag) {
		f->flt.upto = head;
		f->flt.limit = FEED_BATCH;
		ev = store_events_match(f->d->store, &f->flt, &got);
		for (i = 0; i < got && rc == 0; i++)
			rc = follow_send(f, event_json(&ev[i]));
		mine = got > 0;
		if (got == FEED_BATCH)
			f->flt.after = ev[got - 1].id;
		else {
			f->flt.after = head;
			f->lag = 0;
		}
		event_list_free(ev, got);
	} else {
		for (i = 0; i < n && rc == 0; i++) {
			if (rows[i].id <= f->flt.after || !visible(f, &rows[i]))
				continue;
			rc = follow_send(f, event_json(&rows[i]));
			mine = 1;
		}
		f->flt.after = head;
	}
	if (rc == 0 && mine == 0 &&
	    mono_ms() - f->sent_ms >= FOLLOW_KEEPALIVE_MS)
		rc = api_stream_send(f->stream, "\n", 1);
	if (rc == 0 && f->flt.job_id != 0 && !f->lag &&
	    (mine || f->ticks++ % FOLLOW_END_CHECK == 0) && follow_job_over(f))
		rc = 1;
	if (rc != 0)
		follow_end(f);
}

static int
query_id(const struct api_request *req, const char *key, int64_t *out,
    struct api_response *resp)
{
	const char *v = api_query(req, key);
	char *end;
	long long n;

	if (v == NULL)
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0' || end == v || n < 0) {
		api_error(resp, 400, "bad_request",
		    "%s: expected a "
		    "non-negative integer",
		    key);
		return -1;
	}
	*out = n;
	return 0;
}

/* Where a stream without since= starts: FOLLOW_RECENT events back. */
static int64_t
recent_start(struct llmctld *d, const struct event_filter *base)
{
	struct event_filter flt = *base;
	struct event_row *ev;
	int64_t at = 0;
	size_t n;

	flt.newest = 1;
	flt.limit = FOLLOW_RECENT;
	ev = store_events_match(d->store, &flt, &n);
	if (n == FOLLOW_RECENT)
		at = ev[n - 1].id - 1;
	event_list_free(ev, n);
	return at;
}

static void
events_list(
    struct llmctld *d, struct event_filter *flt, struct api_response *resp)
{
	struct event_row *ev;
	json_t *arr = json_array(), *o;
	size_t n, i;

	flt->upto = INT64_MAX;
	flt->limit = FOLLOW_LIST_MAX;
	ev = store_events_match(d->store, flt, &n);
	for (i = 0; i < n; i++)
		if ((o = event_json(&ev[i])) != NULL)
			json_array_append_new(arr, o);
	event_list_free(ev, n);
	resp->status = 200;
	resp->body = json_pack("{s:o}", "events", arr);
}

void
api_events(struct llmctld *d, const struct api_request *req,
    struct api_response *resp, int64_t job_id)
{
	struct event_filter flt = { .uid = req->uid, .all_users = req->admin };
	struct follower *f;
	struct job *job;
	int64_t since = -1;

	if (job_id == 0 && query_id(req, "job", &job_id, resp) != 0)
		return;
	if (query_id(req, "since", &since, resp) != 0)
		return;
	if (job_id != 0) {
		if ((job = api_job_for_caller(d, req, resp, job_id)) == NULL)
			return;
		job_free(job);
		flt.job_id = job_id;
		flt.all_users = 1; /* the job's owner or an admin */
	}
	if (since < 0)
		since = job_id != 0 ? 0 : -1;
	if (api_query(req, "follow") == NULL ||
	    strcmp(api_query(req, "follow"), "0") == 0) {
		flt.after = since < 0 ? 0 : since;
		if (since < 0) {
			flt.upto = INT64_MAX;
			flt.after = recent_start(d, &flt);
		}
		events_list(d, &flt, resp);
		return;
	}
	if (d->feed == NULL) {
		api_error(resp, 503, "unavailable", "no event feed");
		return;
	}
	flt.upto = feed_cursor(d->feed);
	flt.after = since >= 0 ? since : recent_start(d, &flt);
	f = xcalloc(1, sizeof(*f));
	if ((f->stream = api_stream_start(req, resp)) == NULL) {
		free(f);
		api_error(resp, 400, "bad_request",
		    "follow needs a "
		    "connection to stream on");
		return;
	}
	f->d = d;
	f->flt = flt;
	f->lag = 1;
	f->sent_ms = mono_ms();
	TAILQ_INSERT_TAIL(&followers, f, entry);
	f->sub = feed_subscribe(d->feed, follow_cb, f);
	log_debug("uid %lu follows events of %s", (unsigned long)req->uid,
	    job_id != 0      ? "one job"
	        : req->admin ? "all jobs"
	                     : "its jobs");
	follow_cb(f, NULL, 0); /* what came before, now */
}

void
api_events_close_all(void)
{
	struct follower *f;

	while ((f = TAILQ_FIRST(&followers)) != NULL)
		follow_end(f);
}
