/*
 * llmctld: the daemon's context, passed explicitly to every module. The
 * event loop's thread owns all of it; the worker thread only sees ops.
 */
#ifndef LLMCTLD_H
#define LLMCTLD_H

#include <sys/types.h>

struct event_base;
struct conf;
struct store;
struct timer;
struct backend;
struct worker;
struct server;
struct server_tcp;
struct monitor;
struct spec_cache;
struct bcluster;
struct health;
struct pool;
struct feed;
struct notify;
struct users;

struct llmctld {
	struct conf *conf;
	struct event_base *base;
	struct store *store;
	struct timer *store_timer; /* store_maintain() */
	struct timer *flush_timer; /* store_flush() */
	const struct backend *backend;
	struct worker *worker;
	struct server *server;
	struct monitor *monitor;
	struct bcluster *cluster; /* newest snapshot, or NULL */
	struct health *health; /* heartbeats in memory */
	struct server_tcp *tcp; /* heartbeat/metrics listener */
	char *heartbeat_url; /* NULL: no listener */
	struct pool *fspool; /* reads of users' files */
	struct feed *feed; /* committed events, live */
	struct notify *notify; /* webhooks */
	struct sdnotify *sdnotify; /* systemd's sd_notify */
	struct spec_cache *specs; /* the jobs' parsed specs (spec-cache.h) */
	struct users *users; /* passwd entries, kept a while (users.h) */
	struct submit_queue
	    *submits; /* waiting for their commit (api-submit) */
};

#endif
