/*
 * server-limit: connection caps, request deadlines and accept back-off for
 * evhttp on the Unix socket (server-tcp.c does its own at accept()).
 *
 * libevent 2.1 gives no hook between accept() and evhttp adopting the
 * descriptor, so the caps are applied one step later: evhttp asks our
 * bevcb for each new connection's bufferevent, we note it as pending and
 * activate check_ev, which runs before the connection can be read. By then
 * the bufferevent holds the descriptor (for SO_PEERCRED) and its
 * callback argument is the evhttp connection, which we can close.
 */
#include "config.h"

#include <sys/param.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "conf.h"
#include "llmctld.h"
#include "log.h"
#include "server-limit.h"
#include "util.h"

#define LIMIT_BACKOFF_MIN_MS 10
#define LIMIT_BACKOFF_MAX_MS 1000
#define LIMIT_DRAIN_MAX 256 /* connections refused per accept error */
/*
 * Connections accepted before limit_check_cb sees them. Without a bound
 * one burst of accept() takes every descriptor left, and requests being
 * served then fail to open files (getpwnam: "no such user").
 */
#define LIMIT_BATCH 32

#define LIMIT_PEER_BUCKETS 256 /* the users of the head node */

/* One peer's open connections: "uid 1001". */
struct limit_peer {
	LIST_ENTRY(limit_peer) entry; /* in its hash bucket */
	char key[32];
	unsigned n;
};

struct limit_conn {
	TAILQ_ENTRY(limit_conn) entry;
	struct server_limit *lim;
	struct bufferevent *bev;
	struct evhttp_connection *evcon; /* NULL while pending */
	struct limit_peer *peer;
	struct event *deadline;
	int fd;
};

struct server_limit {
	struct llmctld *d;
	struct evconnlistener *listener; /* evhttp's */
	char *name; /* for the log */
	TAILQ_HEAD(, limit_conn) pending; /* accepted, not checked */
	unsigned npending;
	/* The open connections by descriptor: a request finds its own in O(1). */
	struct limit_conn **byfd;
	size_t nbyfd;
	LIST_HEAD(, limit_peer) peers[LIMIT_PEER_BUCKETS];
	unsigned nconns;
	struct event *check_ev;
	struct event *resume_ev;
	int backoff_ms;
	struct log_limit refuse_log;
	struct log_limit timeout_log;
	struct log_limit accept_log;
	TAILQ_ENTRY(server_limit) entry;
};

/*
 * The accept error callback is called with evhttp's argument, not ours, so
 * the live limits are found by their listener. The reserved descriptor is
 * the process's: EMFILE is about the whole process.
 */
static TAILQ_HEAD(, server_limit) limits = TAILQ_HEAD_INITIALIZER(limits);
static int reserve_fd = -1;

static struct bufferevent *limit_bev_cb(struct event_base *, void *);
static void limit_check_cb(evutil_socket_t, short, void *);
static void limit_close_cb(struct evhttp_connection *, void *);
static void limit_deadline_cb(evutil_socket_t, short, void *);
static void limit_done_cb(struct evhttp_request *, void *);
static void limit_error_cb(struct evconnlistener *, void *);
static void limit_resume_cb(evutil_socket_t, short, void *);
static void limit_listen(struct server_limit *);

static void
ms_to_tv(int64_t ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

void
server_limit_reserve(void)
{
	if (reserve_fd == -1)
		reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

int
server_limit_drain(int fd)
{
	int cfd, n = 0;

	if (reserve_fd == -1)
		return 0;
	close(reserve_fd);
	while (n < LIMIT_DRAIN_MAX && (cfd = accept(fd, NULL, NULL)) != -1) {
		close(cfd);
		n++;
	}
	reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return n;
}

struct server_limit *
server_limit_create(struct llmctld *d, struct evhttp *http,
    struct evconnlistener *listener, const char *name)
{
	struct server_limit *lim;

	server_limit_reserve();
	lim = xcalloc(1, sizeof(*lim));
	lim->d = d;
	lim->listener = listener;
	lim->name = xstrdup(name);
	TAILQ_INIT(&lim->pending);
	lim->check_ev = event_new(d->base, -1, 0, limit_check_cb, lim);
	lim->resume_ev = evtimer_new(d->base, limit_resume_cb, lim);
	evhttp_set_bevcb(http, limit_bev_cb, lim);
	evconnlistener_set_error_cb(listener, limit_error_cb);
	TAILQ_INSERT_TAIL(&limits, lim, entry);
	return lim;
}

/* evhttp accepted a connection: give it a bufferevent, check it soon. */
static struct bufferevent *
limit_bev_cb(struct event_base *base, void *arg)
{
	struct server_limit *lim = arg;
	struct limit_conn *conn;

	conn = xcalloc(1, sizeof(*conn));
	conn->lim = lim;
	/* as evhttp's own: it closes the descriptor itself */
	if ((conn->bev = bufferevent_socket_new(base, -1, 0)) == NULL) {
		free(conn);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&lim->pending, conn, entry);
	event_active(lim->check_ev, 0, 0);
	lim->backoff_ms = 0;
	/* ends libevent's accept loop; limit_check_cb listens again */
	if (++lim->npending >= LIMIT_BATCH)
		evconnlistener_disable(lim->listener);
	return conn->bev;
}

static struct limit_peer *
limit_peer_get(struct server_limit *lim, const char *key)
{
	struct limit_peer *peer;
	size_t h = str_hash(key) % LIMIT_PEER_BUCKETS;

	LIST_FOREACH(peer, &lim->peers[h], entry)
	if (strcmp(peer->key, key) == 0)
		return peer;
	peer = xcalloc(1, sizeof(*peer));
	snprintf(peer->key, sizeof(peer->key), "%s", key);
	LIST_INSERT_HEAD(&lim->peers[h], peer, entry);
	return peer;
}

/* Index conn by its descriptor, growing the table as descriptors do. */
static void
limit_conn_index(struct server_limit *lim, struct limit_conn *conn)
{
	size_t n = lim->nbyfd;

	if ((size_t)conn->fd >= n) {
		while ((size_t)conn->fd >= n)
			n = n == 0 ? 256 : n * 2;
		lim->byfd = xreallocarray(lim->byfd, n, sizeof(*lim->byfd));
		memset(lim->byfd + lim->nbyfd, 0,
		    (n - lim->nbyfd) * sizeof(*lim->byfd));
		lim->nbyfd = n;
	}
	lim->byfd[conn->fd] = conn;
}

/* Who is at the other end: the uid, "unknown" if it cannot be read. */
static void
limit_peer_key(evutil_socket_t fd, char *key, size_t len)
{
	struct ucred cred;
	socklen_t slen = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &slen) == 0)
		snprintf(key, len, "uid %lu", (unsigned long)cred.uid);
	else
		snprintf(key, len, "unknown");
}

/* Count and admit (or close) the connections accepted since last time. */
static void
limit_check_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server_limit *lim = arg;
	const struct conf *conf = lim->d->conf;
	struct limit_conn *conn;
	struct timeval tv;
	char key[sizeof(conn->peer->key)];
	void *cbarg = NULL;
	evutil_socket_t cfd;
	int64_t max = conf->max_connections;

	(void)fd;
	(void)what;
	while ((conn = TAILQ_FIRST(&lim->pending)) != NULL) {
		TAILQ_REMOVE(&lim->pending, conn, entry);
		cfd = bufferevent_getfd(conn->bev);
		bufferevent_getcb(conn->bev, NULL, NULL, NULL, &cbarg);
		conn->evcon = cbarg;
		if (cfd < 0 || conn->evcon == NULL ||
		    evhttp_connection_get_bufferevent(conn->evcon) !=
		        conn->bev) {
			/*
			 * evhttp could not set the connection up (only an
			 * allocation failure does that) and freed it: forget
			 * it. libevent finalizes a bufferevent on a later
			 * callback than this one.
			 */
			free(conn);
			continue;
		}
		limit_peer_key(cfd, key, sizeof(key));
		conn->peer = limit_peer_get(lim, key);
		conn->peer->n++;
		lim->nconns++;
		conn->fd = cfd;
		limit_conn_index(lim, conn);
		evhttp_connection_set_closecb(
		    conn->evcon, limit_close_cb, conn);
		if (conn->peer->n > (unsigned)conf->max_connections_per_user ||
		    lim->nconns > (unsigned)max) {
			log_limited(&lim->refuse_log, LOG_LEVEL_WARN,
			    "%s: %s has %u connections open, %u in all "
			    "(limits %lld and %lld): closing the newest",
			    lim->name, key, conn->peer->n - 1, lim->nconns - 1,
			    (long long)conf->max_connections_per_user,
			    (long long)max);
			evhttp_connection_free(conn->evcon);
			continue;
		}
		conn->deadline =
		    evtimer_new(lim->d->base, limit_deadline_cb, conn);
		ms_to_tv(conf->request_timeout_ms, &tv);
		evtimer_add(conn->deadline, &tv);
	}
	lim->npending = 0;
	limit_listen(lim);
}

/* Accept again unless backing off or a batch is waiting to be checked. */
static void
limit_listen(struct server_limit *lim)
{
	if (lim->npending < LIMIT_BATCH &&
	    !evtimer_pending(lim->resume_ev, NULL))
		evconnlistener_enable(lim->listener);
}

/* evhttp is closing the connection, for whatever reason. */
static void
limit_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct limit_conn *conn = arg;
	struct server_limit *lim = conn->lim;

	evhttp_connection_set_closecb(evcon, NULL, NULL);
	lim->byfd[conn->fd] = NULL;
	lim->nconns--;
	if (--conn->peer->n == 0) {
		LIST_REMOVE(conn->peer, entry);
		free(conn->peer);
	}
	if (conn->deadline != NULL)
		event_free(conn->deadline);
	free(conn);
}

/*
 * No whole request within request_timeout of the connection opening or of
 * the last reply. evhttp's own timeout restarts with every byte read, so a
 * client sending one header line every few seconds would never meet it.
 */
static void
limit_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct limit_conn *conn = arg;
	struct server_limit *lim = conn->lim;

	(void)fd;
	(void)what;
	log_limited(&lim->timeout_log, LOG_LEVEL_INFO,
	    "%s: %s sent no whole request within %lld ms: closing", lim->name,
	    conn->peer->key, (long long)lim->d->conf->request_timeout_ms);
	evhttp_connection_free(conn->evcon);
}

/* The connection whose request this is, or NULL. */
static struct limit_conn *
limit_conn_find(struct server_limit *lim, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev;
	struct limit_conn *conn;
	evutil_socket_t fd;

	if (evcon == NULL ||
	    (bev = evhttp_connection_get_bufferevent(evcon)) == NULL ||
	    (fd = bufferevent_getfd(bev)) < 0 || (size_t)fd >= lim->nbyfd ||
	    (conn = lim->byfd[fd]) == NULL || conn->evcon != evcon)
		return NULL;
	return conn;
}

void
server_limit_request(struct server_limit *lim, struct evhttp_request *req)
{
	struct limit_conn *conn;

	/* freeing the connection now would free a request being answered */
	if ((conn = limit_conn_find(lim, req)) == NULL ||
	    conn->deadline == NULL)
		return;
	evtimer_del(conn->deadline);
	evhttp_request_set_on_complete_cb(req, limit_done_cb, conn);
}

/* Reply sent: a kept-alive connection has the same time for the next. */
static void
limit_done_cb(struct evhttp_request *req, void *arg)
{
	struct limit_conn *conn = arg;
	struct timeval tv;

	(void)req;
	ms_to_tv(conn->lim->d->conf->request_timeout_ms, &tv);
	evtimer_add(conn->deadline, &tv);
}

/*
 * accept() failed with something other than EAGAIN: stop listening for a
 * while (10 ms, doubling to 1 s) instead of being woken for it at once,
 * so the loop serves the connections it has. Out of descriptors with no
 * new connection of ours to refuse (limit_check_cb frees those next), the
 * waiting ones would wait in vain: give up the reserved descriptor to
 * accept and close them.
 */
static void
limit_error_cb(struct evconnlistener *listener, void *arg)
{
	struct server_limit *lim;
	struct timeval tv;
	int err = errno, n = 0;

	(void)arg;
	TAILQ_FOREACH(lim, &limits, entry)
	if (lim->listener == listener)
		break;
	if (lim == NULL)
		return;
	if ((err == EMFILE || err == ENFILE) && TAILQ_EMPTY(&lim->pending))
		n = server_limit_drain(evconnlistener_get_fd(listener));
	lim->backoff_ms = lim->backoff_ms == 0
	    ? LIMIT_BACKOFF_MIN_MS
	    : MIN(lim->backoff_ms * 2, LIMIT_BACKOFF_MAX_MS);
	log_limited(&lim->accept_log, LOG_LEVEL_WARN,
	    "%s: accept: %s: closed %d waiting connections, not accepting "
	    "for %d ms",
	    lim->name, strerror(err), n, lim->backoff_ms);
	evconnlistener_disable(listener);
	ms_to_tv(lim->backoff_ms, &tv);
	evtimer_add(lim->resume_ev, &tv);
}

static void
limit_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server_limit *lim = arg;

	(void)fd;
	(void)what;
	limit_listen(lim);
}

/* After evhttp_free, which closed every connection through the closecb. */
void
server_limit_free(struct server_limit *lim)
{
	struct limit_conn *conn;
	struct limit_peer *peer;
	size_t i;

	if (lim == NULL)
		return;
	TAILQ_REMOVE(&limits, lim, entry);
	while ((conn = TAILQ_FIRST(&lim->pending)) != NULL) {
		TAILQ_REMOVE(&lim->pending, conn, entry);
		free(conn);
	}
	for (i = 0; i < LIMIT_PEER_BUCKETS; i++)
		while ((peer = LIST_FIRST(&lim->peers[i])) != NULL) {
			LIST_REMOVE(peer, entry);
			free(peer);
		}
	free(lim->byfd);
	event_free(lim->check_ev);
	event_free(lim->resume_ev);
	free(lim->name);
	free(lim);
}
