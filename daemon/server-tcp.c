/*
 * server-tcp: the heartbeat listener, a small HTTP/1.1 server on raw
 * libevent events.
 *
 * 16k ranks beating once a second over kept-alive connections are 16,000
 * requests a second, and evhttp spent more on each (a request object,
 * header lists, evbuffers, bufferevent callbacks, EV_WRITE turned on and
 * off) than the heartbeat itself costs. Here a connection is a descriptor,
 * one read buffer and one event: a readable event is one recv(), the
 * requests in the buffer are parsed in place and each is answered with one
 * sendmsg(); only a short send keeps the rest and waits for EV_WRITE, and
 * nothing more is read until it has gone.
 *
 * Three routes are served there (api.c), with no identity, so it takes
 * only what they need (http-parse.c): GET and POST, HTTP/1.0 and 1.1,
 * heads up to HTTP_HEAD_MAX, bodies up to HTTP_BODY_MAX with a
 * Content-Length (no chunked), keep-alive, pipelining, Expect:
 * 100-continue. A request it cannot frame is answered with an error and
 * the connection closed.
 *
 * What server-limit.c does for evhttp on the Unix socket is done here at
 * accept(): the caps (heartbeat_max_connections in all,
 * max_connections_per_user per address), the request deadline and the
 * accept back-off. Every connection's deadline is request_timeout after
 * its last start (opening, a reply sent), so the connections are kept in
 * one list in that order and one timer serves them all.
 */
#include "config.h"

#include <sys/param.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "api.h"
#include "conf.h"
#include "http-parse.h"
#include "llmctld.h"
#include "log.h"
#include "server-limit.h"
#include "server.h"
#include "util.h"

#define TCP_BUF_MIN 1024 /* a heartbeat is about 250 bytes */
#define TCP_BUF_MAX (HTTP_HEAD_MAX + HTTP_BODY_MAX)
/* accept()s per readable event, so one burst does not take every fd */
#define TCP_ACCEPT_BATCH 32
#define TCP_BACKOFF_MIN_MS 10
#define TCP_BACKOFF_MAX_MS 1000
#define TCP_PEER_BUCKETS 4096 /* a big cluster's nodes */
#define TCP_MEMO_MAX 256 /* a reply kept whole, head and body */

/* One remote address's open connections. */
struct tcp_peer {
	LIST_ENTRY(tcp_peer) entry; /* in its hash bucket */
	char addr[INET6_ADDRSTRLEN];
	unsigned n;
};

enum tcp_state {
	TCP_READING, /* waiting for a request, or the rest of one */
	TCP_WRITING, /* a reply partly sent: waiting for EV_WRITE */
	TCP_LINGERING, /* replied, shut down: until the client closes */
	TCP_DEAD, /* freed when its callback returns */
};

struct tcp_conn {
	TAILQ_ENTRY(tcp_conn) entry; /* in deadline order */
	struct server_tcp *srv;
	struct tcp_peer *peer;
	int fd;
	enum tcp_state state;
	struct event *ev; /* EV_READ, or EV_WRITE while TCP_WRITING */
	int64_t since; /* mono_ms() of the last start: the deadline's */
	char *in; /* read buffer: in[0..len), one spare byte for a NUL */
	size_t off, len, size; /* off: the request being read */
	struct http_head head; /* len 0 until it is whole */
	size_t scan; /* where to look on for the head's end */
	char *out; /* what a short send left */
	size_t outoff, outlen;
	int close_after; /* close once out has gone */
};

struct server_tcp {
	struct llmctld *d;
	char *name; /* heartbeat_listen, for the log */
	int fd;
	struct event *listen_ev;
	struct event *resume_ev; /* accept back-off */
	struct event *deadline_ev; /* the first connection's deadline */
	int backoff_ms;
	TAILQ_HEAD(, tcp_conn) conns; /* oldest start first */
	unsigned nconns;
	LIST_HEAD(, tcp_peer) peers[TCP_PEER_BUCKETS];
	/*
	 * The last small 200 JSON reply, whole: 16,000 heartbeats a second
	 * are answered {"ok": true}, and json_equal() costs less than
	 * json_dumps() and formatting a head. (Equal objects with their keys
	 * in another order would get the memo's order: the same JSON.)
	 */
	json_t *memo_body;
	char memo[TCP_MEMO_MAX];
	size_t memo_len;
	struct log_limit refuse_log;
	struct log_limit timeout_log;
	struct log_limit accept_log;
};

static void tcp_accept_cb(evutil_socket_t, short, void *);
static void tcp_conn_cb(evutil_socket_t, short, void *);
static void tcp_deadline_cb(evutil_socket_t, short, void *);
static void tcp_resume_cb(evutil_socket_t, short, void *);
static void tcp_process(struct tcp_conn *);

/* --- connections --------------------------------------------------------- */

/* Read or write, whichever the state waits for. */
static void
tcp_want(struct tcp_conn *conn, short what)
{
	if (event_get_events(conn->ev) == (what | EV_PERSIST))
		return;
	event_del(conn->ev);
	event_assign(conn->ev, conn->srv->d->base, conn->fd, what | EV_PERSIST,
	    tcp_conn_cb, conn);
	event_add(conn->ev, NULL);
}

/* Arm the timer for the first deadline, unless it is armed. */
static void
tcp_arm(struct server_tcp *srv)
{
	struct tcp_conn *conn;
	struct timeval tv;
	int64_t ms;

	if ((conn = TAILQ_FIRST(&srv->conns)) == NULL ||
	    evtimer_pending(srv->deadline_ev, NULL))
		return;
	ms = conn->since + srv->d->conf->request_timeout_ms - mono_ms();
	ms = MAX(ms, 0);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(srv->deadline_ev, &tv);
}

/* A new start (opened, replied): the deadline is request_timeout on. */
static void
tcp_touch(struct tcp_conn *conn)
{
	struct server_tcp *srv = conn->srv;

	conn->since = mono_ms();
	TAILQ_REMOVE(&srv->conns, conn, entry);
	TAILQ_INSERT_TAIL(&srv->conns, conn, entry);
	tcp_arm(srv);
}

static void
tcp_free(struct tcp_conn *conn)
{
	struct server_tcp *srv = conn->srv;

	TAILQ_REMOVE(&srv->conns, conn, entry);
	srv->nconns--;
	if (--conn->peer->n == 0) {
		LIST_REMOVE(conn->peer, entry);
		free(conn->peer);
	}
	event_free(conn->ev);
	close(conn->fd);
	free(conn->in);
	free(conn->out);
	free(conn);
}

/*
 * Replied and closing: send our FIN but read (and drop) what the client
 * still sends until it closes, or until the deadline. Closing with unread
 * bytes would send a reset, which can destroy the reply before the client
 * reads it (a 413 sent while the body still arrives).
 */
static void
tcp_linger(struct tcp_conn *conn)
{
	shutdown(conn->fd, SHUT_WR);
	conn->state = TCP_LINGERING;
	tcp_want(conn, EV_READ);
	tcp_touch(conn);
}

/* Send iov at once; keep what the socket did not take for EV_WRITE. */
static void
tcp_send(struct tcp_conn *conn, struct iovec *iov, int n)
{
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = n };
	ssize_t sent = 0;
	size_t len;
	int i;

	if (conn->state == TCP_DEAD)
		return;
	if (conn->state != TCP_WRITING) {
		do
			sent = sendmsg(conn->fd, &msg, MSG_NOSIGNAL);
		while (sent == -1 && errno == EINTR);
		if (sent == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
			conn->state = TCP_DEAD; /* the client went away */
			return;
		}
		sent = MAX(sent, 0);
	}
	for (i = 0; i < n; i++) {
		if ((size_t)sent >= iov[i].iov_len) {
			sent -= iov[i].iov_len;
			continue;
		}
		len = iov[i].iov_len - sent;
		conn->out = xreallocarray(conn->out, conn->outlen + len, 1);
		memcpy(conn->out + conn->outlen, (char *)iov[i].iov_base + sent,
		    len);
		conn->outlen += len;
		sent = 0;
	}
	if (conn->outlen > conn->outoff && conn->state != TCP_WRITING) {
		/* the reader gets request_timeout to take it */
		conn->state = TCP_WRITING;
		tcp_want(conn, EV_WRITE);
		tcp_touch(conn);
	}
}

/* Keep a small 200 JSON reply sent on a kept-alive HTTP/1.1 connection. */
static void
tcp_memo_keep(struct server_tcp *srv, json_t *body, struct iovec *iov)
{
	size_t len = iov[0].iov_len + iov[1].iov_len + iov[2].iov_len;

	if (len > sizeof(srv->memo))
		return;
	json_decref(srv->memo_body);
	srv->memo_body = json_incref(body);
	memcpy(srv->memo, iov[0].iov_base, iov[0].iov_len);
	memcpy(srv->memo + iov[0].iov_len, iov[1].iov_base, iov[1].iov_len);
	memcpy(srv->memo + iov[0].iov_len + iov[1].iov_len, iov[2].iov_base,
	    iov[2].iov_len);
	srv->memo_len = len;
}

/*
 * Answer as server_reply() does: JSON with a newline, or resp->text as
 * Prometheus text. Frees what resp holds.
 */
static void
tcp_reply(struct tcp_conn *conn, struct api_response *resp, int close_after,
    const char *extra)
{
	static char nl[] = "\n";
	struct server_tcp *srv = conn->srv;
	struct iovec iov[3];
	char head[256], *text = NULL;
	const char *type = "application/json", *conn_hdr = "";
	int n, plain;

	/* the headers of the memo: no Connection, no extra */
	plain = !close_after && !conn->head.http10 && *extra == '\0' &&
	    resp->status == 200 && resp->text == NULL && resp->body != NULL;
	if (plain && srv->memo_body != NULL &&
	    json_equal(resp->body, srv->memo_body)) {
		iov[0].iov_base = srv->memo;
		iov[0].iov_len = srv->memo_len;
		tcp_send(conn, iov, 1);
		json_decref(resp->body);
		if (conn->state == TCP_READING)
			tcp_touch(conn);
		return;
	}
	if (close_after)
		conn_hdr = "Connection: close\r\n";
	else if (conn->head.http10)
		conn_hdr = "Connection: keep-alive\r\n";
	if (resp->text != NULL) {
		type = "text/plain; version=0.0.4";
		iov[1].iov_base = resp->text;
		iov[1].iov_len = strlen(resp->text);
	} else {
		text = resp->body == NULL
		    ? NULL
		    : json_dumps(
		          resp->body, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		iov[1].iov_base = text;
		iov[1].iov_len = text != NULL ? strlen(text) : 0;
	}
	iov[2].iov_base = nl;
	iov[2].iov_len = text != NULL;
	n = snprintf(head, sizeof(head),
	    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "%s%s\r\n",
	    resp->status, http_reason(resp->status), type,
	    iov[1].iov_len + iov[2].iov_len, extra, conn_hdr);
	iov[0].iov_base = head;
	iov[0].iov_len = (size_t)n;
	tcp_send(conn, iov, 3);
	if (plain && text != NULL)
		tcp_memo_keep(srv, resp->body, iov);
	free(text);
	free(resp->text);
	json_decref(resp->body);
	if (close_after) {
		conn->close_after = 1;
		if (conn->state == TCP_READING)
			tcp_linger(conn);
	} else if (conn->state == TCP_READING)
		tcp_touch(conn);
}

/* The whole request at req: to api_dispatch(), as server.c hands one. */
static void
tcp_dispatch(struct tcp_conn *conn, char *req)
{
	struct http_head *h = &conn->head;
	struct api_request areq = { .tcp = 1 };
	struct api_response resp = { 0 };
	char *body = req + h->len, saved;

	if (h->method == API_OTHER) {
		api_error(&resp, 405, "bad_request", "only GET and POST");
		tcp_reply(conn, &resp, !h->keep_alive, "Allow: GET, POST\r\n");
		return;
	}
	if (http_parse_target(req + h->target, &areq) != 0) {
		free(areq.query);
		api_error(&resp, 400, "bad_request", "malformed request URI");
		tcp_reply(conn, &resp, !h->keep_alive, "");
		return;
	}
	areq.method = h->method;
	areq.authorization = h->auth != 0 ? req + h->auth : NULL;
	/* the next request's first byte, or the buffer's spare one */
	saved = body[h->body_len];
	body[h->body_len] = '\0';
	areq.body = body;
	areq.body_len = h->body_len;
	api_dispatch(conn->srv->d, &areq, &resp);
	body[h->body_len] = saved;
	free(areq.query);
	tcp_reply(conn, &resp, !h->keep_alive, "");
}

/* Refuse what cannot be framed: the reply, then the connection closes. */
static void
tcp_refuse(struct tcp_conn *conn, struct api_response *resp)
{
	tcp_reply(conn, resp, 1, "");
}

/* Handle the next request in the buffer; 0 when it is not all here. */
static int
tcp_next(struct tcp_conn *conn)
{
	static char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	struct iovec iov = { .iov_base = cont, .iov_len = sizeof(cont) - 1 };
	struct http_head *h = &conn->head;
	struct api_response resp = { 0 };
	char *req;
	size_t avail;

	/* empty lines before a request are to be ignored (RFC 9112 2.2) */
	while (h->len == 0 && conn->off < conn->len &&
	    (conn->in[conn->off] == '\r' || conn->in[conn->off] == '\n'))
		conn->off++;
	req = conn->in + conn->off;
	avail = conn->len - conn->off;
	if (h->len == 0) {
		if ((h->len = http_head_end(req, avail, conn->scan)) == 0) {
			if (avail > HTTP_HEAD_MAX) {
				api_error(&resp, 431, "bad_request",
				    "request head over 16 KiB");
				tcp_refuse(conn, &resp);
			}
			/* the last two bytes may start the empty line */
			conn->scan = avail < 2 ? 0 : avail - 2;
			return 0;
		}
		if (h->len > HTTP_HEAD_MAX) {
			api_error(&resp, 431, "bad_request",
			    "request head over 16 KiB");
			tcp_refuse(conn, &resp);
			return 0;
		}
		if (http_parse_head(req, h->len, h, &resp) != 0) {
			tcp_refuse(conn, &resp);
			return 0;
		}
	}
	if (avail - h->len < h->body_len) {
		if (h->expect) {
			h->expect = 0;
			tcp_send(conn, &iov, 1);
		}
		return 0;
	}
	tcp_dispatch(conn, req);
	conn->off += h->len + h->body_len;
	memset(h, 0, sizeof(*h));
	conn->scan = 0;
	return 1;
}

/* Answer the whole requests in the buffer, in order, while replies go. */
static void
tcp_process(struct tcp_conn *conn)
{
	while (conn->state == TCP_READING && tcp_next(conn))
		continue;
	if (conn->in == NULL || conn->off == 0)
		return;
	memmove(conn->in, conn->in + conn->off, conn->len - conn->off);
	conn->len -= conn->off;
	conn->off = 0;
	/* a big request passed: give the memory back (16k connections) */
	if (conn->size > TCP_BUF_MIN + 1 && conn->len <= TCP_BUF_MIN) {
		conn->size = TCP_BUF_MIN + 1;
		conn->in = xreallocarray(conn->in, conn->size, 1);
	}
}

/* Readable: one recv() into the buffer, then whatever is whole. */
static void
tcp_read(struct tcp_conn *conn)
{
	ssize_t n;

	if (conn->len + 1 >= conn->size) {
		/* a request is at most TCP_BUF_MAX, refused once past it */
		if (conn->size >= TCP_BUF_MAX + 1) {
			conn->state = TCP_DEAD;
			return;
		}
		conn->size = conn->size == 0
		    ? TCP_BUF_MIN + 1
		    : MIN((conn->size - 1) * 2, TCP_BUF_MAX) + 1;
		conn->in = xreallocarray(conn->in, conn->size, 1);
	}
	n = recv(conn->fd, conn->in + conn->len, conn->size - 1 - conn->len, 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn->state = TCP_DEAD; /* closed, or an error */
		return;
	}
	conn->len += n;
	tcp_process(conn);
}

/* Writable: the rest of a reply; once it has gone, the next request. */
static void
tcp_flush(struct tcp_conn *conn)
{
	ssize_t n;

	n = send(conn->fd, conn->out + conn->outoff,
	    conn->outlen - conn->outoff, MSG_NOSIGNAL);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == -1) {
		conn->state = TCP_DEAD;
		return;
	}
	conn->outoff += n;
	if (conn->outoff < conn->outlen)
		return;
	free(conn->out);
	conn->out = NULL;
	conn->outoff = conn->outlen = 0;
	if (conn->close_after) {
		tcp_linger(conn);
		return;
	}
	conn->state = TCP_READING;
	tcp_want(conn, EV_READ);
	tcp_touch(conn);
	tcp_process(conn); /* pipelined requests already read */
}

static void
tcp_conn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_conn *conn = arg;
	char buf[4096];
	ssize_t n;

	(void)what;
	switch (conn->state) {
	case TCP_READING:
		tcp_read(conn);
		break;
	case TCP_WRITING:
		tcp_flush(conn);
		break;
	case TCP_LINGERING:
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
			conn->state = TCP_DEAD;
		break;
	case TCP_DEAD:
		break;
	}
	if (conn->state == TCP_DEAD)
		tcp_free(conn);
}

/*
 * The first connections in the list are past their deadline: no whole
 * request within request_timeout of opening or of the last reply (so a
 * client trickling a header every few seconds is closed too), a reply
 * not taken, or a lingering close the client never finished.
 */
static void
tcp_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server_tcp *srv = arg;
	struct tcp_conn *conn;
	int64_t timeout = srv->d->conf->request_timeout_ms, now = mono_ms();

	(void)fd;
	(void)what;
	while ((conn = TAILQ_FIRST(&srv->conns)) != NULL &&
	    now - conn->since >= timeout) {
		if (conn->state == TCP_READING)
			log_limited(&srv->timeout_log, LOG_LEVEL_INFO,
			    "%s: %s sent no whole request within %lld ms: "
			    "closing",
			    srv->name, conn->peer->addr, (long long)timeout);
		else if (conn->state == TCP_WRITING)
			log_limited(&srv->timeout_log, LOG_LEVEL_INFO,
			    "%s: %s took no reply within %lld ms: closing",
			    srv->name, conn->peer->addr, (long long)timeout);
		tcp_free(conn);
	}
	tcp_arm(srv);
}

/* --- the listener ------------------------------------------------------ */

static struct tcp_peer *
tcp_peer_get(struct server_tcp *srv, const char *addr)
{
	struct tcp_peer *peer;
	size_t h = str_hash(addr) % TCP_PEER_BUCKETS;

	LIST_FOREACH(peer, &srv->peers[h], entry)
	if (strcmp(peer->addr, addr) == 0)
		return peer;
	peer = xcalloc(1, sizeof(*peer));
	snprintf(peer->addr, sizeof(peer->addr), "%s", addr);
	LIST_INSERT_HEAD(&srv->peers[h], peer, entry);
	return peer;
}

/* Count a new connection against the caps: keep it or close it now. */
static void
tcp_admit(struct server_tcp *srv, int fd, const struct sockaddr_storage *ss)
{
	const struct conf *conf = srv->d->conf;
	struct tcp_conn *conn;
	struct tcp_peer *peer;
	char addr[INET6_ADDRSTRLEN] = "unknown";
	int one = 1;

	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
		    addr, sizeof(addr));
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)ss)->sin6_addr, addr,
		    sizeof(addr));
	peer = tcp_peer_get(srv, addr);
	if (peer->n >= (unsigned)conf->max_connections_per_user ||
	    srv->nconns >= (unsigned)conf->heartbeat_max_connections) {
		log_limited(&srv->refuse_log, LOG_LEVEL_WARN,
		    "%s: %s has %u connections open, %u in all "
		    "(limits %lld and %lld): closing the newest",
		    srv->name, addr, peer->n, srv->nconns,
		    (long long)conf->max_connections_per_user,
		    (long long)conf->heartbeat_max_connections);
		if (peer->n == 0) {
			LIST_REMOVE(peer, entry);
			free(peer);
		}
		close(fd);
		return;
	}
	/* a reply is one segment: no waiting for the last one's ACK */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	conn = xcalloc(1, sizeof(*conn));
	conn->srv = srv;
	conn->fd = fd;
	conn->peer = peer;
	peer->n++;
	srv->nconns++;
	conn->ev = event_new(
	    srv->d->base, fd, EV_READ | EV_PERSIST, tcp_conn_cb, conn);
	event_add(conn->ev, NULL);
	TAILQ_INSERT_TAIL(&srv->conns, conn, entry);
	tcp_touch(conn);
}

/*
 * accept() failed with something other than EAGAIN: stop accepting for a
 * while (10 ms, doubling to 1 s) instead of being woken for it at once, so
 * the loop serves the connections it has. Out of descriptors, the waiting
 * connections would wait in vain: the reserved descriptor accepts and
 * closes them.
 */
static void
tcp_backoff(struct server_tcp *srv, int err)
{
	struct timeval tv;
	int n = 0;

	if (err == EMFILE || err == ENFILE)
		n = server_limit_drain(srv->fd);
	srv->backoff_ms = srv->backoff_ms == 0
	    ? TCP_BACKOFF_MIN_MS
	    : MIN(srv->backoff_ms * 2, TCP_BACKOFF_MAX_MS);
	log_limited(&srv->accept_log, LOG_LEVEL_WARN,
	    "%s: accept: %s: closed %d waiting connections, not accepting "
	    "for %d ms",
	    srv->name, strerror(err), n, srv->backoff_ms);
	event_del(srv->listen_ev);
	tv.tv_sec = srv->backoff_ms / 1000;
	tv.tv_usec = (srv->backoff_ms % 1000) * 1000;
	evtimer_add(srv->resume_ev, &tv);
}

static void
tcp_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct server_tcp *srv = arg;
	struct sockaddr_storage ss;
	socklen_t slen;
	int fd, i;

	(void)what;
	for (i = 0; i < TCP_ACCEPT_BATCH; i++) {
		slen = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &slen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (fd == -1) {
			tcp_backoff(srv, errno);
			return;
		}
		srv->backoff_ms = 0;
		tcp_admit(srv, fd, &ss);
	}
}

static void
tcp_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server_tcp *srv = arg;

	(void)fd;
	(void)what;
	event_add(srv->listen_ev, NULL);
}

/* A listening socket on host:port ("[::]", "" and "*" as evhttp took). */
static int
tcp_listen(const char *listen_on, const char *host, int port, char **cause)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV },
	                *res, *ai;
	char node[256], serv[16];
	const char *name = node;
	int fd = -1, err = 0, one = 1, e;
	size_t n = strlen(host);

	if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
		snprintf(node, sizeof(node), "%.*s", (int)(n - 2), host + 1);
	else
		snprintf(node, sizeof(node), "%s", host);
	if (strcmp(node, "") == 0 || strcmp(node, "*") == 0)
		name = NULL; /* every address */
	snprintf(serv, sizeof(serv), "%d", port);
	if ((e = getaddrinfo(name, serv, &hints, &res)) != 0) {
		set_cause(cause, "cannot listen on %s: %s", listen_on,
		    gai_strerror(e));
		return -1;
	}
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1) {
			err = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
		    listen(fd, SERVER_BACKLOG) == -1) {
			err = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd == -1)
		set_cause(
		    cause, "cannot listen on %s: %s", listen_on, strerror(err));
	return fd;
}

struct server_tcp *
server_tcp_create(struct llmctld *d, char **cause)
{
	const struct conf *conf = d->conf;
	struct server_tcp *srv;
	size_t i;
	int fd;

	if ((fd = tcp_listen(conf->heartbeat_listen, conf->heartbeat_host,
	         conf->heartbeat_port, cause)) == -1)
		return NULL;
	server_limit_reserve();
	srv = xcalloc(1, sizeof(*srv));
	srv->d = d;
	srv->name = xstrdup(conf->heartbeat_listen);
	srv->fd = fd;
	TAILQ_INIT(&srv->conns);
	for (i = 0; i < TCP_PEER_BUCKETS; i++)
		LIST_INIT(&srv->peers[i]);
	srv->listen_ev =
	    event_new(d->base, fd, EV_READ | EV_PERSIST, tcp_accept_cb, srv);
	srv->resume_ev = evtimer_new(d->base, tcp_resume_cb, srv);
	srv->deadline_ev = evtimer_new(d->base, tcp_deadline_cb, srv);
	event_add(srv->listen_ev, NULL);
	return srv;
}

void
server_tcp_free(struct server_tcp *srv)
{
	struct tcp_conn *conn;

	if (srv == NULL)
		return;
	while ((conn = TAILQ_FIRST(&srv->conns)) != NULL)
		tcp_free(conn); /* the last of a peer frees it */
	event_free(srv->listen_ev);
	event_free(srv->resume_ev);
	event_free(srv->deadline_ev);
	close(srv->fd);
	json_decref(srv->memo_body);
	free(srv->name);
	free(srv);
}
