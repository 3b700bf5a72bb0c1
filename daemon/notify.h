/*
 * notify: webhooks for the events a user acts on (a job failed, restarted
 * with a cause, completed, hung), per job (the spec's notify.webhook) and
 * per daemon (llmctld.conf webhook_url). It reads committed events from the
 * feed (feed.h), so no code that changes a job knows about it.
 *
 * Deliveries are HTTP POSTs of Slack-compatible JSON made with libcurl on a
 * pool of threads, at most one at a time per destination, each within
 * webhook_timeout, retried webhook_retries times with a doubling backoff.
 * They wait in one queue of at most webhook_queue entries; when it is full
 * the oldest waiting one is dropped, counted and logged. A dead or hanging
 * receiver holds one thread and its own deliveries, never the loop.
 *
 * llmctld runs as root, so a URL from a user may only name a destination
 * the admin allows (webhook_allow: URL prefixes); no redirect is followed,
 * only http and https are spoken.
 *
 * Owned by struct llmctld, on the loop's thread.
 */
#ifndef LLMCTLD_NOTIFY_H
#define LLMCTLD_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct event_row;
struct job;
struct llmctld;
struct notify;

/* A plain http(s) URL as llmctld accepts one; -1 and *why if not. */
int notify_url_check(const char *url, char **why);
/* webhook_allow's value: prefixes separated by spaces or commas. */
int notify_allow_check(const char *list, char **why);
/* url falls under one of allow's prefixes; -1 and *why naming the key. */
int notify_url_allowed(const char *allow, const char *url, char **why);

/* The notification an event is (enum spec_notify), or -1: none. */
int notify_type(const char *kind, const char *message);
/* The JSON posted for event ev of job (type from notify_type()). */
json_t *notify_payload(
    int type, const struct event_row *ev, const struct job *job);

struct notify *notify_create(struct llmctld *);
/* Where the notifier got to in the events table: the feed starts here. */
int64_t notify_cursor(const struct notify *);
/* The feed's callback: events after the cursor, oldest first. */
void notify_feed_cb(void *notify, const struct event_row *, size_t n);
void notify_free(struct notify *);

struct notify_stats {
	size_t queued; /* waiting or being delivered */
	uint64_t delivered;
	uint64_t dropped; /* queue full */
	uint64_t failed; /* out of retries */
};
void notify_get_stats(const struct notify *, struct notify_stats *);
/* Queue one delivery (also for tests); drops the oldest when full. */
void notify_enqueue(
    struct notify *, const char *url, json_t *body, int64_t event_id);

#endif
