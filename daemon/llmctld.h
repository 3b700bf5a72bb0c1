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
struct backend;
struct worker;
struct server;
struct monitor;
struct bcluster;
struct health;
struct pool;

struct llmctld {
	struct conf		*conf;
	struct event_base	*base;
	struct store		*store;
	const struct backend	*backend;
	struct worker		*worker;
	struct server		*server;
	struct monitor		*monitor;
	gid_t			 admin_gid;	/* (gid_t)-1: none */
	struct bcluster		*cluster;	/* newest snapshot, or NULL */
	struct health		*health;	/* heartbeats in memory */
	struct server		*tcp;		/* heartbeat/metrics listener */
	char			*heartbeat_url;	/* NULL: no listener */
	struct pool		*fspool;	/* reads of users' files */
	struct sdnotify		*sdnotify;	/* systemd's sd_notify */
};

#endif
