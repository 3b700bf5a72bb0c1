/*
 * llmctld: start-up and shutdown. Reads the config, opens the store,
 * starts the backend thread, the HTTP server and the monitor, then runs one
 * libevent loop until SIGTERM or SIGINT. SIGHUP re-reads the config.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "backend.h"
#include "api.h"
#include "conf.h"
#include "feed.h"
#include "health.h"
#include "llmctld.h"
#include "log.h"
#include "monitor.h"
#include "notify.h"
#include "sdnotify.h"
#include "pool.h"
#include "users.h"
#include "server.h"
#include "spec-cache.h"
#include "store.h"
#include "timer.h"
#include "util.h"
#include "worker.h"

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr, "usage: llmctld [-dn] [-f file]\n");
	exit(2);
}

/* libevent's own warnings, which come in floods when accept() fails. */
static struct log_limit event_log_limit;

static void
libevent_log_cb(int severity, const char *msg)
{
	enum log_level level;

	switch (severity) {
	case EVENT_LOG_DEBUG:
		level = LOG_LEVEL_DEBUG;
		break;
	case EVENT_LOG_MSG:
		level = LOG_LEVEL_INFO;
		break;
	default:
		level = LOG_LEVEL_WARN;
		break;
	}
	log_limited(&event_log_limit, level, "libevent: %s", msg);
}

static void
reload_report(const char *key, int applied, void *arg)
{
	int *changed = arg;

	(*changed)++;
	if (applied)
		log_info("reload: %s changed, applied", key);
	else
		log_warnx(
		    "reload: %s changed, needs a restart to take effect", key);
}

/*
 * SIGHUP: read the file again; apply what is safe to change while running
 * (conf.c marks it), say what needs a restart. A file with errors changes
 * nothing.
 */
static void
reload(struct llmctld *d)
{
	struct conf *new;
	char *cause = NULL, *line, *next;
	int changed = 0;

	log_reopen();
	if ((new = conf_load(d->conf->path, &cause)) == NULL) {
		for (line = cause; line != NULL; line = next) {
			if ((next = strchr(line, '\n')) != NULL)
				*next++ = '\0';
			log_warnx("reload: %s", line);
		}
		log_warnx("reload: keeping the running configuration");
		free(cause);
		conf_free(new);
		return;
	}
	conf_reload(d->conf, new, reload_report, &changed);
	if (changed == 0)
		log_info("reload: %s: nothing changed", d->conf->path);
	log_set_level(d->conf->level);
	conf_free(new);
}

static void
sighup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct llmctld *d = arg;

	(void)sig;
	(void)what;
	log_info("SIGHUP: reloading the configuration");
	sdnotify_reloading(d->sdnotify);
	reload(d);
	sdnotify_ready(d->sdnotify);
}

/* Connection limits, not the default 1024, bound how many fds we use. */
/*
 * What ranks POST heartbeats to when heartbeat_url is not set: the listen
 * address, except a wildcard (0.0.0.0, [::]), which on a compute node
 * would mean that node itself; then this host's name, which the nodes
 * resolve to the head node on any real cluster.
 */
static char *
heartbeat_default_url(const char *listen)
{
	static const char *const any[] = { "", "*", "0.0.0.0", "::", "[::]" };
	const char *colon = strrchr(listen, ':');
	char host[256], *url;
	size_t i, n;

	if (colon == NULL)
		return xasprintf("http://%s/v1/heartbeat", listen);
	n = (size_t)(colon - listen);
	for (i = 0; i < sizeof(any) / sizeof(any[0]); i++) {
		if (strlen(any[i]) == n && strncmp(listen, any[i], n) == 0)
			break;
	}
	if (i == sizeof(any) / sizeof(any[0]) ||
	    gethostname(host, sizeof(host)) != 0)
		return xasprintf("http://%s/v1/heartbeat", listen);
	host[sizeof(host) - 1] = '\0';
	url = xasprintf("http://%s%s/v1/heartbeat", host, colon);
	log_info(
	    "heartbeat_listen %s is every interface: ranks are told %s "
	    "(set heartbeat_url if the nodes know this host by another name)",
	    listen, url);
	return url;
}

static void
raise_nofile(const struct conf *conf)
{
	struct rlimit rl;
	int64_t need;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit RLIMIT_NOFILE");
	}
	log_info("open files limit %llu", (unsigned long long)rl.rlim_cur);
	/* both listeners, and room for the database, Slurm and job files */
	need = conf->max_connections + 256 +
	    (conf->heartbeat_listen != NULL ? conf->heartbeat_max_connections
	                                    : 0);
	if (rl.rlim_cur < (rlim_t)need)
		log_warnx("open files limit %llu is too low for "
		          "max_connections %lld and heartbeat_max_connections "
		          "%lld: raise LimitNOFILE= or lower them",
		    (unsigned long long)rl.rlim_cur,
		    (long long)conf->max_connections,
		    (long long)conf->heartbeat_max_connections);
}

/* The store's quiet-time upkeep: see store_maintain(). */
static void
store_timer_cb(void *arg)
{
	struct llmctld *d = arg;

	timer_schedule(d->store_timer,
	    store_maintain(d->store) == 0 ? STORE_MAINTAIN_MS : STORE_RETRY_MS);
}

/* The loop turn's recoverable writes, in one commit (store_set_flush). */
static void
store_flush_cb(void *arg)
{
	struct llmctld *d = arg;

	(void)store_flush(d->store);
}

static void
store_kick(void *arg)
{
	struct llmctld *d = arg;

	timer_schedule(d->flush_timer, 0);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct llmctld *d = arg;

	(void)what;
	log_info("signal %d: shutting down", (int)sig);
	sdnotify_stopping(d->sdnotify);
	event_base_loopbreak(d->base);
}

/* mkdir -p for the daemon's own directories. */
static void
make_dirs(const char *path, mode_t mode)
{
	char *copy = xstrdup(path), *p;

	for (p = copy + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0755) == -1 && errno != EEXIST)
			fatal("mkdir %s", copy);
		*p = '/';
	}
	if (mkdir(copy, mode) == -1 && errno != EEXIST)
		fatal("mkdir %s", copy);
	free(copy);
}

/*
 * The event loop. With epoll's change list a connection's read and write
 * interest, which evhttp turns off and on around each request (the Unix
 * socket), costs one epoll_ctl a loop pass, not one a change.
 */
static struct event_base *
loop_new(void)
{
	struct event_config *cfg;
	struct event_base *base;

	if ((cfg = event_config_new()) == NULL)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

int
main(int argc, char **argv)
{
	struct llmctld d = { 0 };
	struct event *sigterm, *sigint, *sighup;
	const char *path = SYSCONFDIR "/llmctl/llmctld.conf";
	char *cause = NULL, *dir;
	int ch, foreground = 0, check_only = 0;

	while ((ch = getopt(argc, argv, "df:n")) != -1) {
		switch (ch) {
		case 'd':
			foreground = 1;
			break;
		case 'f':
			path = optarg;
			break;
		case 'n':
			check_only = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init(1, LOG_LEVEL_INFO);
	if ((d.conf = conf_load(path, &cause)) == NULL) {
		fprintf(stderr, "%s\n", cause);
		return 1;
	}
	d.backend = d.conf->backend_ops;
	if (check_only) {
		printf("%s: ok\n", path);
		conf_free(d.conf);
		return 0;
	}
	log_init(foreground, d.conf->level);
	event_set_log_callback(libevent_log_cb);
	raise_nofile(d.conf);
	signal(SIGPIPE, SIG_IGN);
	umask(022);

	make_dirs(d.conf->state_dir, 0755);
	dir = xstrdup(d.conf->socket);
	make_dirs(dirname(dir), 0755);
	free(dir);
	dir = xstrdup(d.conf->database);
	make_dirs(dirname(dir), 0700);
	free(dir);
	if ((d.store = store_open(d.conf->database, &cause)) == NULL)
		fatalx("%s", cause);
	if (d.backend->init(d.conf->slurm_conf, &cause) != 0)
		fatalx("backend %s: %s", d.backend->name, cause);

	if (evthread_use_pthreads() != 0 || (d.base = loop_new()) == NULL)
		fatalx("cannot create the event loop");
	d.worker = worker_create(d.base, d.backend);
	/* users' log files are read here, never on the loop (pool.h) */
	d.fspool = pool_create(d.base, "fs", 2);
	if ((d.server = server_create(&d, d.conf->socket, &cause)) == NULL)
		fatalx("%s", cause);
	d.health = health_create();
	if (d.conf->heartbeat_listen != NULL) {
		if ((d.tcp = server_tcp_create(&d, &cause)) == NULL)
			fatalx("%s", cause);
		d.heartbeat_url = d.conf->heartbeat_url != NULL
		    ? xstrdup(d.conf->heartbeat_url)
		    : heartbeat_default_url(d.conf->heartbeat_listen);
	}
	d.specs = spec_cache_create();
	d.users = users_create();
	d.monitor = monitor_create(&d);
	/* the feed starts where the notifier left off (notify.h) */
	d.notify = notify_create(&d);
	d.feed = feed_create(&d, notify_cursor(d.notify));
	feed_subscribe(d.feed, notify_feed_cb, d.notify);
	d.store_timer = timer_new(d.base, store_timer_cb, &d);
	timer_schedule(d.store_timer, STORE_RETRY_MS);
	d.flush_timer = timer_new(d.base, store_flush_cb, &d);
	store_set_flush(d.store, store_kick, &d);
	sigterm = evsignal_new(d.base, SIGTERM, signal_cb, &d);
	sigint = evsignal_new(d.base, SIGINT, signal_cb, &d);
	sighup = evsignal_new(d.base, SIGHUP, sighup_cb, &d);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	evsignal_add(sighup, NULL);
	log_info("llmctld %s listening on %s, database %s, backend %s",
	    PACKAGE_VERSION, d.conf->socket, d.conf->database, d.backend->name);
	/* the socket listens and the store is open: a client gets answers */
	d.sdnotify = sdnotify_create(&d);
	sdnotify_ready(d.sdnotify);

	event_base_dispatch(d.base);

	sdnotify_free(d.sdnotify);
	/* the submits queued for their commit: stored and answered */
	api_jobs_flush(&d);
	/* first: its done callbacks answer requests the servers still hold */
	pool_free(d.fspool);
	api_events_close_all();
	feed_free(d.feed);
	notify_free(d.notify);
	server_free(d.server);
	server_tcp_free(d.tcp);
	worker_free(d.worker);
	monitor_free(d.monitor);
	spec_cache_free(d.specs);
	users_free(d.users);
	timer_free(d.store_timer);
	store_set_flush(d.store, NULL, NULL); /* the timer goes: flushed */
	timer_free(d.flush_timer);
	bcluster_free(d.cluster);
	health_free(d.health);
	free(d.heartbeat_url);
	event_free(sigterm);
	event_free(sigint);
	event_free(sighup);
	event_base_free(d.base);
	store_close(d.store);
	d.backend->fini();
	conf_free(d.conf);
	log_info("stopped");
	return 0;
}
