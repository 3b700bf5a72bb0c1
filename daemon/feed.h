/*
 * feed: the committed events, as they are committed, for whoever follows
 * them (event streams of the API, the notifier). Every event is a row of
 * the store's events table with an increasing id, written by whatever
 * changed the job; the feed keeps a cursor (the last id it handed out)
 * and, every FEED_TICK_MS on the loop, reads what came after it with one
 * range scan of the primary key, at most FEED_BATCH rows (the next tick
 * comes at once when there were more), and hands them to each subscriber.
 * So no code that changes a job knows who listens, and a subscriber sees
 * only what is durable.
 *
 * Subscribers are called every tick, with no rows too (a stream checks
 * that its reader is still there). A subscriber may unsubscribe itself, or
 * any other, from its callback. Owned by struct llmctld, loop thread only.
 */
#ifndef LLMCTLD_FEED_H
#define LLMCTLD_FEED_H

#include <stddef.h>
#include <stdint.h>

#define FEED_TICK_MS 250
#define FEED_BATCH 500

struct event_row;
struct feed;
struct feed_sub;
struct llmctld;

typedef void (*feed_fn)(void *arg, const struct event_row *, size_t n);

/* Start after event id start (rows above it are handed out first). */
struct feed *feed_create(struct llmctld *, int64_t start);
struct feed_sub *feed_subscribe(struct feed *, feed_fn, void *arg);
void feed_unsubscribe(struct feed *, struct feed_sub *);
/* The last event id handed out. */
int64_t feed_cursor(const struct feed *);
void feed_free(struct feed *);

#endif
