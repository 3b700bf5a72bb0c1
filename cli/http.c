/*
 * http: a small HTTP/1.1 client over one kept-alive connection, with
 * poll() deadlines, for llmctl (client.c). It replaced libcurl, whose 31
 * shared libraries cost more start-up time than a whole submit.
 *
 * Reusing a connection: before a request goes on a kept one, poll() says
 * whether the server closed it (or wrote unasked) since the last reply; if
 * so a new one is opened and nothing was sent. Left is the race of the
 * server closing while the request is on its way: no byte of a reply comes
 * back, and whether the server read the request cannot be known. So it is
 * sent again on a new connection only when that is harmless (req->resend:
 * a GET, or a POST whose Idempotency-Key makes the daemon answer a repeat
 * with the first one's result); anything else fails as unanswered.
 *
 * Everything is bounded: the head of a reply, each line in it, trailers,
 * and (through the deadline) the time; the body's size is the caller's.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http.h"
#include "util.h"

#define HTTP_CONNECT_TIMEOUT_MS 5000
#define HTTP_MAX_HEAD (64 * 1024) /* status line and headers */
#define HTTP_MAX_TRAILERS 64

struct http {
	int fd; /* -1: not connected */
	char *peer; /* what fd leads to, "unix:PATH" or "tcp:HOST PORT" */
	int64_t deadline; /* mono_ms(), or -1: none */
	size_t got; /* bytes received in this try */
	size_t off, len; /* buf[off..len) is read but not used */
	char buf[16384]; /* also the longest line of a head */
};

/* What a reply's head says about its body. */
struct http_head {
	long long length; /* Content-Length, or -1 */
	int chunked;
	int close; /* the connection ends with this reply */
};

static void http_close(struct http *);
static int http_wait(struct http *, short, int64_t, char **);
static int http_connect(struct http *, const struct http_peer *, char **);
static int http_connect_addr(
    struct http *, int, const struct sockaddr *, socklen_t, char **);
static int http_send(struct http *, const char *, size_t, char **);
static int http_fill(struct http *, int, char **);
static int http_line(struct http *, char **, char **);
static int http_head(struct http *, struct http_head *, int *, char **);
static int http_take(struct http *, long long,
    int (*)(const char *, size_t, void *), void *, char **);
static int http_chunked(
    struct http *, int (*)(const char *, size_t, void *), void *, char **);
static int http_try(struct http *, const struct http_peer *, const char *,
    size_t, const struct http_request *, int *,
    int (*)(const char *, size_t, void *), void *, char **);

struct http *
http_create(void)
{
	struct http *h;

	h = xcalloc(1, sizeof *h);
	h->fd = -1;
	return h;
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	http_close(h);
	free(h->peer);
	free(h);
}

static void
http_close(struct http *h)
{
	if (h->fd != -1)
		close(h->fd);
	h->fd = -1;
	h->off = h->len = 0;
}

/* Until fd has events or deadline (-1: none) passes. */
static int
http_wait(struct http *h, short events, int64_t deadline, char **cause)
{
	struct pollfd pfd = { .fd = h->fd, .events = events };
	int64_t left;
	int n;

	for (;;) {
		left = deadline < 0 ? -1 : deadline - mono_ms();
		if (deadline >= 0 && left < 0)
			left = 0;
		if ((n = poll(&pfd, 1, (int)left)) > 0)
			return 0;
		if (n == 0) {
			set_cause(cause, "timed out");
			return HTTP_ERR_TIMEOUT;
		}
		if (errno != EINTR) {
			set_cause(cause, "poll: %s", strerror(errno));
			return HTTP_ERR_BROKEN;
		}
	}
}

static int
http_connect(struct http *h, const struct http_peer *p, char **cause)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int rc;

	if (p->unix_path != NULL) {
		if (strlen(p->unix_path) >= sizeof sun.sun_path) {
			set_cause(cause, "%s", strerror(ENAMETOOLONG));
			return HTTP_ERR_CONNECT;
		}
		memcpy(sun.sun_path, p->unix_path, strlen(p->unix_path));
		return http_connect_addr(
		    h, AF_UNIX, (struct sockaddr *)&sun, sizeof sun, cause);
	}
	if ((rc = getaddrinfo(p->host, p->port, &hints, &res)) != 0) {
		set_cause(cause, "%s",
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return HTTP_ERR_CONNECT;
	}
	/* Each address in turn (::1 then 127.0.0.1), within one timeout. */
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		free(*cause);
		*cause = NULL;
		rc = http_connect_addr(
		    h, ai->ai_family, ai->ai_addr, ai->ai_addrlen, cause);
		if (rc == 0)
			break;
	}
	freeaddrinfo(res);
	return rc;
}

static int
http_connect_addr(struct http *h, int family, const struct sockaddr *sa,
    socklen_t salen, char **cause)
{
	int64_t until = mono_ms() + HTTP_CONNECT_TIMEOUT_MS;
	socklen_t len = sizeof(int);
	int err;

	if (h->deadline >= 0 && h->deadline < until)
		until = h->deadline;
	h->fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (h->fd == -1)
		goto fail;
	while (connect(h->fd, sa, salen) == -1) {
		if (errno == EAGAIN && mono_ms() < until) {
			/* a Unix socket's backlog is full: try again */
			poll(NULL, 0, 10);
			continue;
		}
		if (errno == EAGAIN)
			errno = ETIMEDOUT;
		if (errno == EINTR)
			continue; /* TCP goes on (EALREADY next), Unix retries */
		if (errno != EINPROGRESS && errno != EALREADY)
			goto fail;
		if (http_wait(h, POLLOUT, until, NULL) != 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		if (getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			goto fail;
		if ((errno = err) != 0)
			goto fail;
		break;
	}
	return 0;
fail:
	set_cause(cause, "%s", strerror(errno));
	http_close(h);
	return HTTP_ERR_CONNECT;
}

/* All of data, however short the writes; never SIGPIPE. */
static int
http_send(struct http *h, const char *data, size_t len, char **cause)
{
	ssize_t n;
	int rc;

	while (len > 0) {
		if ((n = send(h->fd, data, len, MSG_NOSIGNAL)) >= 0) {
			data += n;
			len -= (size_t)n;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if ((rc = http_wait(h, POLLOUT, h->deadline, cause)) !=
			    0)
				return rc;
		} else if (errno != EINTR) {
			set_cause(cause, "%s", strerror(errno));
			return HTTP_ERR_BROKEN;
		}
	}
	return 0;
}

/* Read more into buf: the byte count, or 0 at the end if eof_ok. */
static int
http_fill(struct http *h, int eof_ok, char **cause)
{
	ssize_t n;
	int rc;

	if (h->off > 0) {
		memmove(h->buf, h->buf + h->off, h->len - h->off);
		h->len -= h->off;
		h->off = 0;
	}
	for (;;) {
		if ((rc = http_wait(h, POLLIN, h->deadline, cause)) != 0)
			return rc;
		n = recv(h->fd, h->buf + h->len, sizeof h->buf - h->len, 0);
		if (n > 0) {
			h->len += (size_t)n;
			h->got += (size_t)n;
			return (int)n;
		}
		if (n == 0 && eof_ok)
			return 0;
		if (n == 0) {
			set_cause(cause, "the connection closed %s",
			    h->got == 0 ? "before an answer"
			                : "in the middle of the reply");
			return HTTP_ERR_BROKEN;
		}
		if (errno != EINTR && errno != EAGAIN) {
			set_cause(cause, "%s", strerror(errno));
			return HTTP_ERR_BROKEN;
		}
	}
}

/* The next line, NUL-terminated without its CRLF or LF, inside buf. */
static int
http_line(struct http *h, char **line, char **cause)
{
	char *nl;
	int rc;

	while ((nl = memchr(h->buf + h->off, '\n', h->len - h->off)) == NULL) {
		if (h->off == 0 && h->len == sizeof h->buf) {
			set_cause(cause,
			    "a line of the reply is longer than "
			    "%zu bytes",
			    sizeof h->buf);
			return HTTP_ERR_BROKEN;
		}
		if ((rc = http_fill(h, 0, cause)) < 0)
			return rc;
	}
	*line = h->buf + h->off;
	h->off = (size_t)(nl + 1 - h->buf);
	if (nl > *line && nl[-1] == '\r')
		nl--;
	*nl = '\0';
	return 0;
}

/* Status line and headers; 1xx interim replies are skipped. */
static int
http_head(struct http *h, struct http_head *hd, int *status, char **cause)
{
	char *line, *v, *end;
	size_t size = 0;
	int rc;

	do {
		memset(hd, 0, sizeof *hd);
		hd->length = -1;
		if ((rc = http_line(h, &line, cause)) != 0)
			return rc;
		if (strncmp(line, "HTTP/1.", 7) != 0 ||
		    !isdigit((unsigned char)line[7]) || line[8] != ' ' ||
		    strspn(line + 9, "0123456789") != 3 ||
		    (line[12] != ' ' && line[12] != '\0'))
			goto bad;
		*status = atoi(line + 9);
		hd->close = line[7] == '0';
		for (;;) {
			if ((rc = http_line(h, &line, cause)) != 0)
				return rc;
			if ((size += strlen(line) + 2) > HTTP_MAX_HEAD) {
				set_cause(cause,
				    "the reply's head is longer "
				    "than %d bytes",
				    HTTP_MAX_HEAD);
				return HTTP_ERR_BROKEN;
			}
			if (*line == '\0')
				break;
			if ((v = strchr(line, ':')) == NULL || v == line)
				goto bad;
			*v++ = '\0';
			v += strspn(v, " \t");
			end = v + strlen(v);
			while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
				*--end = '\0';
			if (strcasecmp(line, "Content-Length") == 0) {
				if (*v == '\0' ||
				    strspn(v, "0123456789") != strlen(v) ||
				    strlen(v) > 18 ||
				    (hd->length != -1 &&
				        hd->length != atoll(v)))
					goto bad;
				hd->length = atoll(v);
			} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
				if (strcasecmp(v, "chunked") != 0) {
					set_cause(cause,
					    "unsupported "
					    "Transfer-Encoding: %.100s",
					    v);
					return HTTP_ERR_BROKEN;
				}
				hd->chunked = 1;
			} else if (strcasecmp(line, "Connection") == 0 &&
			    strcasestr(v, "close") != NULL)
				hd->close = 1;
		}
	} while (*status >= 100 && *status <= 199);
	return 0;
bad:
	set_cause(cause, "malformed %s in the reply",
	    size == 0 ? "status line" : "header");
	return HTTP_ERR_BROKEN;
}

/* n bytes of body to fn, or to the end of the stream if n is -1. */
static int
http_take(struct http *h, long long n, int (*fn)(const char *, size_t, void *),
    void *arg, char **cause)
{
	size_t m;
	int rc, stop;

	while (n != 0) {
		if (h->off == h->len) {
			if ((rc = http_fill(h, n < 0, cause)) < 0)
				return rc;
			if (rc == 0)
				return HTTP_OK; /* ended by close */
		}
		m = h->len - h->off;
		if (n > 0 && (unsigned long long)n < m)
			m = (size_t)n;
		stop = fn(h->buf + h->off, m, arg);
		h->off += m;
		if (n > 0)
			n -= (long long)m;
		if (stop)
			return HTTP_STOPPED;
	}
	return HTTP_OK;
}

/* A chunked body: SIZE[;ext] CRLF DATA CRLF ..., 0, trailers, CRLF. */
static int
http_chunked(struct http *h, int (*fn)(const char *, size_t, void *), void *arg,
    char **cause)
{
	unsigned long long size;
	char *line, *end;
	int rc, i;

	for (;;) {
		if ((rc = http_line(h, &line, cause)) != 0)
			return rc;
		errno = 0;
		size = strtoull(line, &end, 16);
		if (!isxdigit((unsigned char)*line) || errno != 0 ||
		    size > (1ULL << 62) || strchr(";\t ", *end) == NULL)
			goto bad;
		if (size == 0)
			break;
		if ((rc = http_take(h, (long long)size, fn, arg, cause)) != 0)
			return rc;
		if ((rc = http_line(h, &line, cause)) != 0)
			return rc;
		if (*line != '\0')
			goto bad;
	}
	for (i = 0; i < HTTP_MAX_TRAILERS; i++) {
		if ((rc = http_line(h, &line, cause)) != 0)
			return rc;
		if (*line == '\0')
			return HTTP_OK;
	}
bad:
	set_cause(cause, "malformed chunked body in the reply");
	return HTTP_ERR_BROKEN;
}

/* One try: connect unless connected, send, read the reply. */
static int
http_try(struct http *h, const struct http_peer *p, const char *msg, size_t len,
    const struct http_request *req, int *status,
    int (*fn)(const char *, size_t, void *), void *arg, char **cause)
{
	struct http_head hd = { .length = -1 };
	int rc;

	h->got = 0;
	if (h->fd == -1 && (rc = http_connect(h, p, cause)) != 0)
		return rc;
	if ((rc = http_send(h, msg, len, cause)) != 0 ||
	    (rc = http_head(h, &hd, status, cause)) != 0)
		goto out;
	if (req->stream)
		h->deadline = -1;
	if (hd.chunked)
		rc = http_chunked(h, fn, arg, cause);
	else if (*status == 204 || *status == 304)
		rc = HTTP_OK;
	else
		rc = http_take(h, hd.length, fn, arg, cause);
out:
	/* Kept only after a whole reply that left nothing unread. */
	if (rc != HTTP_OK || hd.close || (hd.length == -1 && !hd.chunked) ||
	    h->off != h->len)
		http_close(h);
	return rc;
}

int
http_exchange(struct http *h, const struct http_peer *p,
    const struct http_request *req, int *status,
    int (*fn)(const char *, size_t, void *), void *arg, char **cause)
{
	struct pollfd pfd;
	char *peer, *msg, *clen;
	size_t hlen, len;
	int rc, reused;

	peer = p->unix_path != NULL ? xasprintf("unix:%s", p->unix_path)
	                            : xasprintf("tcp:%s %s", p->host, p->port);
	pfd = (struct pollfd){ .fd = h->fd, .events = POLLIN };
	if (h->peer == NULL || strcmp(h->peer, peer) != 0 ||
	    (h->fd != -1 && poll(&pfd, 1, 0) != 0))
		http_close(h); /* another peer, or closed since */
	free(h->peer);
	h->peer = peer;

	clen = req->body != NULL
	    ? xasprintf("Content-Length: %zu\r\n", req->body_len)
	    : xstrdup("");
	msg = xasprintf("%s %s HTTP/1.1\r\nHost: %s\r\n"
	                "User-Agent: llmctl/" PACKAGE_VERSION "\r\n%s%s\r\n",
	    req->method, req->target, req->host,
	    req->headers != NULL ? req->headers : "", clen);
	free(clen);
	hlen = strlen(msg);
	len = hlen + (req->body != NULL ? req->body_len : 0);
	msg = xreallocarray(msg, len + 1, 1);
	if (req->body != NULL)
		memcpy(msg + hlen, req->body, req->body_len);

	*status = 0;
	h->deadline = mono_ms() + req->timeout_s * (int64_t)1000;
	reused = h->fd != -1;
	rc = http_try(h, p, msg, len, req, status, fn, arg, cause);
	if (rc == HTTP_ERR_BROKEN && reused && h->got == 0 && req->resend) {
		/* closed as the request went out: see the top comment */
		free(*cause);
		*cause = NULL;
		rc = http_try(h, p, msg, len, req, status, fn, arg, cause);
	}
	free(msg);
	return rc;
}
