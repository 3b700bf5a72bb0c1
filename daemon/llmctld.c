/*
 * llmctld: start-up and shutdown. Reads the config, opens the store,
 * starts the backend thread, the HTTP server and the monitor, then runs one
 * libevent loop until SIGTERM or SIGINT.
 */
#include "config.h"

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
#include "conf.h"
#include "health.h"
#include "llmctld.h"
#include "log.h"
#include "monitor.h"
#include "pool.h"
#include "server.h"
#include "store.h"
#include "util.h"
#include "worker.h"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: llmctld [-dn] [-f file]\n");
	exit(2);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct llmctld *d = arg;

	(void)what;
	log_info("signal %d: shutting down", (int)sig);
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

int
main(int argc, char **argv)
{
	struct llmctld d = { .admin_gid = (gid_t)-1 };
	struct event *sigterm, *sigint;
	const char *path = SYSCONFDIR "/llmctl/llmctld.conf";
	enum log_level level;
	struct group *gr;
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
	if (log_level_parse(d.conf->log_level, &level) != 0) {
		fprintf(stderr, "%s: log_level: expected error, warn, info or "
		    "debug\n", path);
		return 1;
	}
	if ((d.backend = backend_find(d.conf->backend)) == NULL) {
		fprintf(stderr, "%s: backend: unknown backend \"%s\"\n", path,
		    d.conf->backend);
		return 1;
	}
	if (d.conf->admin_group != NULL) {
		if ((gr = getgrnam(d.conf->admin_group)) == NULL) {
			fprintf(stderr, "%s: admin_group: no such group \"%s\""
			    "\n", path, d.conf->admin_group);
			return 1;
		}
		d.admin_gid = gr->gr_gid;
	}
	if (check_only) {
		printf("%s: ok\n", path);
		conf_free(d.conf);
		return 0;
	}
	log_init(foreground, level);
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

	if (evthread_use_pthreads() != 0 || (d.base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	d.worker = worker_create(d.base, d.backend);
	/* users' log files are read here, never on the loop (pool.h) */
	d.fspool = pool_create(d.base, "fs", 2);
	if ((d.server = server_create(&d, d.conf->socket, &cause)) == NULL)
		fatalx("%s", cause);
	d.health = health_create();
	if (d.conf->heartbeat_listen != NULL) {
		if ((d.tcp = server_create_tcp(&d, d.conf->heartbeat_listen,
		    &cause)) == NULL)
			fatalx("%s", cause);
		d.heartbeat_url = d.conf->heartbeat_url != NULL ?
		    xstrdup(d.conf->heartbeat_url) :
		    xasprintf("http://%s/v1/heartbeat",
		    d.conf->heartbeat_listen);
	}
	d.monitor = monitor_create(&d);
	sigterm = evsignal_new(d.base, SIGTERM, signal_cb, &d);
	sigint = evsignal_new(d.base, SIGINT, signal_cb, &d);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	log_info("llmctld %s listening on %s, database %s, backend %s",
	    PACKAGE_VERSION, d.conf->socket, d.conf->database,
	    d.backend->name);

	event_base_dispatch(d.base);

	/* first: its done callbacks answer requests the servers still hold */
	pool_free(d.fspool);
	server_free(d.server);
	server_free(d.tcp);
	worker_free(d.worker);
	monitor_free(d.monitor);
	bcluster_free(d.cluster);
	health_free(d.health);
	free(d.heartbeat_url);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(d.base);
	store_close(d.store);
	d.backend->fini();
	conf_free(d.conf);
	log_info("stopped");
	return 0;
}
