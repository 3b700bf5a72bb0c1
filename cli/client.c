/*
 * client: llmctl's requests to llmctld, HTTP/1.1 (http.c) over the Unix
 * socket, JSON with jansson.
 *
 * One connection serves every request of a run while llmctld keeps it
 * (llmctl cancel with many ids, llmctl submit with many files). Nothing
 * from the environment picks a proxy, redirects are never followed and
 * replies are capped, so nothing but the daemon on the socket decides what
 * llmctl prints. The same code serves client_request_url(), which llmctl
 * heartbeat uses to reach the daemon's TCP listener from inside a job.
 */
#include "config.h"

#include <sys/un.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "client.h"
#include "http.h"
#include "util.h"

#define CLIENT_TIMEOUT_S 30 /* LLMCTL_TIMEOUT changes it */
#define CLIENT_MAX_REPLY (64 * 1024 * 1024)
#define CLIENT_MAX_LINE (1024 * 1024) /* one line of a stream */
#define CLIENT_RETRY_S 20 /* client_request_once() keeps trying this long */

struct client {
	char *socket_path;
	struct http *http;
	int timeout_s;
	char *buf; /* the reply being received */
	size_t len;
	size_t cap;
	size_t max; /* how much buf may hold */
	int status; /* its HTTP status */
	int (*fn)(const char *, void *); /* client_stream()'s */
	void *arg;
	int stopped; /* fn asked to stop */
};

static int client_collect_cb(const char *, size_t, void *);
static int client_lines_cb(const char *, size_t, void *);
static int client_fail(struct client *, int, const char *, char *, char **);
static int client_http_error(struct client *, char **);
static int client_header_ok(const char *);
static int client_url_split(
    const char *, char **, struct http_peer *, const char **);
static int client_perform(struct client *, const struct http_peer *,
    const char *, const char *, const char *, const char *, const char *,
    const json_t *, json_t **, char **);

struct client *
client_create(const char *socket_path)
{
	struct client *c;
	const char *s = getenv("LLMCTL_TIMEOUT");

	c = xcalloc(1, sizeof *c);
	c->socket_path = xstrdup(socket_path);
	c->http = http_create();
	c->timeout_s = CLIENT_TIMEOUT_S;
	if (s != NULL && strspn(s, "0123456789") == strlen(s) &&
	    strlen(s) <= 4 && atoi(s) > 0)
		c->timeout_s = atoi(s);
	return c;
}

void
client_free(struct client *c)
{
	if (c == NULL)
		return;
	http_free(c->http);
	free(c->buf);
	free(c->socket_path);
	free(c);
}

char *
client_escape(struct client *c, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *e, *p;

	(void)c;
	p = e = xmalloc(strlen(s) * 3 + 1);
	for (; *s != '\0'; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("-._~", *s) != NULL)
			*p++ = *s;
		else {
			*p++ = '%';
			*p++ = hex[(unsigned char)*s >> 4];
			*p++ = hex[(unsigned char)*s & 0xf];
		}
	}
	*p = '\0';
	return e;
}

/* Append to buf, up to c->max; non-zero (stop) past it. */
static int
client_collect_cb(const char *data, size_t n, void *arg)
{
	struct client *c = arg;

	if (c->len + n > c->max)
		return 1;
	if (c->len + n + 1 > c->cap) {
		while (c->len + n + 1 > c->cap)
			c->cap = c->cap == 0 ? 4096 : c->cap * 2;
		c->buf = xreallocarray(c->buf, c->cap, 1);
	}
	memcpy(c->buf + c->len, data, n);
	c->len += n;
	c->buf[c->len] = '\0';
	return 0;
}

/* Turn a failed exchange into the message a user can act on. */
static int
client_fail(
    struct client *c, int rc, const char *where, char *reason, char **cause)
{
	switch (rc) {
	case HTTP_ERR_CONNECT:
		set_cause(cause, "cannot connect to llmctld at %s: %s", where,
		    reason);
		break;
	case HTTP_ERR_TIMEOUT:
		set_cause(cause, "llmctld at %s did not answer within %d s",
		    where, c->timeout_s);
		break;
	case HTTP_STOPPED:
		set_cause(cause, "%s from llmctld is larger than %zu bytes",
		    c->fn != NULL ? "a line" : "reply", c->max);
		break;
	default:
		set_cause(cause, "request to llmctld at %s failed: %s", where,
		    reason);
		break;
	}
	free(reason);
	return rc == HTTP_STOPPED ? CLIENT_ERR_REPLY : CLIENT_ERR_CONNECT;
}

/* A non-2xx answer: the daemon's {"error": ...} text if it sent one. */
static int
client_http_error(struct client *c, char **cause)
{
	json_t *j, *e;
	char *nl;

	j = c->len > 0 ? json_loadb(c->buf, c->len, 0, NULL) : NULL;
	e = json_is_object(j) ? json_object_get(j, "error") : NULL;
	if (json_is_string(e) && json_string_length(e) > 0)
		set_cause(cause, "%s", json_string_value(e));
	else if (c->len > 0) {
		if ((nl = strchr(c->buf, '\n')) != NULL)
			*nl = '\0';
		set_cause(cause, "llmctld answered HTTP %d: %.200s", c->status,
		    c->buf);
	} else
		set_cause(cause, "llmctld answered HTTP %d", c->status);
	json_decref(j);
	return CLIENT_ERR_REPLY;
}

/*
 * One request: method to target at peer with the extra header line header
 * (NULL: none); host is the Host header and where names the peer in
 * messages. Sent again on a fresh connection only if that is harmless.
 */
static int
client_perform(struct client *c, const struct http_peer *peer,
    const char *where, const char *host, const char *method, const char *target,
    const char *header, const json_t *body, json_t **reply, char **cause)
{
	struct http_request req = { .method = method,
		.target = target,
		.host = host,
		.timeout_s = c->timeout_s };
	json_error_t jerr;
	char *data = NULL, *headers, *reason = NULL;
	int rc;

	*reply = NULL;
	if (body != NULL && (data = json_dumps(body, JSON_COMPACT)) == NULL) {
		set_cause(cause, "cannot encode the request as JSON");
		return CLIENT_ERR_REPLY;
	}
	headers = xasprintf("Accept: application/json\r\n%s%s%s",
	    header != NULL ? header : "", header != NULL ? "\r\n" : "",
	    data != NULL ? "Content-Type: application/json\r\n" : "");
	req.headers = headers;
	/* Always a Content-Length for a POST, 0 without a body. */
	req.body = data != NULL           ? data
	    : strcmp(method, "POST") == 0 ? ""
	                                  : NULL;
	req.body_len = data != NULL ? strlen(data) : 0;
	req.resend = strcmp(method, "GET") == 0 ||
	    (header != NULL && strncmp(header, "Idempotency-Key:", 16) == 0);
	c->len = 0;
	c->max = CLIENT_MAX_REPLY;
	c->fn = NULL;
	rc = http_exchange(
	    c->http, peer, &req, &c->status, client_collect_cb, c, &reason);
	free(headers);
	free(data);
	if (rc != HTTP_OK)
		return client_fail(c, rc, where, reason, cause);
	if (c->status < 200 || c->status > 299)
		return client_http_error(c, cause);
	if (c->len == 0)
		*reply = json_null();
	else if ((*reply = json_loadb(c->buf, c->len, 0, &jerr)) == NULL) {
		set_cause(cause, "invalid JSON from llmctld: %s", jerr.text);
		return CLIENT_ERR_REPLY;
	}
	return CLIENT_OK;
}

int
client_request(struct client *c, const char *method, const char *path,
    const json_t *body, json_t **reply, char **cause)
{
	struct http_peer peer = { .unix_path = c->socket_path };

	return client_perform(c, &peer, c->socket_path, "localhost", method,
	    path, NULL, body, reply, cause);
}

/* A value for a header line: a newline would end it and start another. */
static int
client_header_ok(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	}
	return 1;
}

int
client_request_once(struct client *c, const char *method, const char *path,
    const char *key, const json_t *body, json_t **reply, char **cause)
{
	struct http_peer peer = { .unix_path = c->socket_path };
	struct sockaddr_un sun;
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	time_t give_up = time(NULL) + CLIENT_RETRY_S;
	char *header;
	int rc;

	*reply = NULL;
	if (!client_header_ok(key)) {
		set_cause(cause,
		    "the idempotency key holds a control "
		    "character");
		return CLIENT_ERR_REPLY;
	}
	header = xasprintf("Idempotency-Key: %s", key);
	for (;;) {
		rc = client_perform(c, &peer, c->socket_path, "localhost",
		    method, path, header, body, reply, cause);
		if (rc != CLIENT_ERR_CONNECT || time(NULL) >= give_up ||
		    strlen(c->socket_path) >= sizeof sun.sun_path)
			break;
		/* no answer: the daemon may be restarting; same key again */
		free(*cause);
		*cause = NULL;
		nanosleep(&pause, NULL);
		if (pause.tv_nsec < 800 * 1000 * 1000)
			pause.tv_nsec *= 2;
	}
	free(header);
	return rc;
}

/*
 * Split http://HOST[:PORT][/PATH] (HOST a name, IPv4 or [IPv6]) into peer
 * and *target, in *buf (the caller frees it); 0, or -1 if it is not one.
 */
static int
client_url_split(
    const char *url, char **buf, struct http_peer *peer, const char **target)
{
	char *p;
	size_t n;

	if (strncmp(url, "http://", 7) != 0 || !client_header_ok(url) ||
	    strchr(url, ' ') != NULL)
		return -1;
	n = strcspn(url + 7, "/");
	*target = url[7 + n] == '/' ? url + 7 + n : "/";
	*buf = xstrndup(url + 7, n);
	peer->host = *buf;
	peer->port = "80";
	if (**buf == '[') {
		if ((p = strchr(*buf, ']')) == NULL ||
		    (p[1] != ':' && p[1] != '\0'))
			return -1;
		*p++ = '\0';
		peer->host = *buf + 1;
	} else
		p = strchr(*buf, ':');
	if (p != NULL && *p == ':') {
		*p++ = '\0';
		peer->port = p;
		if (*p == '\0' || strspn(p, "0123456789") != strlen(p))
			return -1;
	}
	return *peer->host == '\0' || strchr(peer->host, '@') != NULL ? -1 : 0;
}

int
client_request_url(struct client *c, const char *method, const char *url,
    const char *token, const json_t *body, json_t **reply, char **cause)
{
	struct http_peer peer = { 0 };
	const char *target;
	char *auth = NULL, *buf = NULL, *host;
	int rc;

	*reply = NULL;
	if (strncmp(url, "https://", 8) == 0) {
		set_cause(cause,
		    "%s: https is not supported: llmctld's "
		    "listeners speak plain http://",
		    url);
		return CLIENT_ERR_CONNECT;
	}
	if (client_url_split(url, &buf, &peer, &target) != 0) {
		set_cause(cause, "%s: not an http:// URL", url);
		free(buf);
		return CLIENT_ERR_CONNECT;
	}
	if (token != NULL && !client_header_ok(token)) {
		set_cause(cause, "the token holds a control character");
		free(buf);
		return CLIENT_ERR_CONNECT;
	}
	if (token != NULL)
		auth = xasprintf("Authorization: Bearer %s", token);
	host = xstrndup(url + 7, strcspn(url + 7, "/"));
	rc = client_perform(
	    c, &peer, url, host, method, target, auth, body, reply, cause);
	free(host);
	free(auth);
	free(buf);
	return rc;
}

/* A piece of a stream: each whole line to fn, or an error body kept. */
static int
client_lines_cb(const char *data, size_t n, void *arg)
{
	struct client *c = arg;
	size_t used = 0;
	char *nl;

	if (client_collect_cb(data, n, c) != 0)
		return 1;
	if (c->status < 200 || c->status > 299)
		return 0; /* an error body: read whole, shown at the end */
	while ((nl = memchr(c->buf + used, '\n', c->len - used)) != NULL) {
		*nl = '\0';
		if (c->fn(c->buf + used, c->arg) != 0) {
			c->stopped = 1;
			return 1;
		}
		used = (size_t)(nl - c->buf) + 1;
	}
	memmove(c->buf, c->buf + used, c->len - used);
	c->len -= used;
	c->buf[c->len] = '\0';
	return 0;
}

int
client_stream(struct client *c, const char *path,
    int (*fn)(const char *, void *), void *arg, char **cause)
{
	struct http_peer peer = { .unix_path = c->socket_path };
	struct http_request req = { .method = "GET",
		.target = path,
		.host = "localhost",
		.resend = 1,
		.timeout_s = c->timeout_s,
		.stream = 1 };
	char *reason = NULL;
	int rc;

	c->len = 0;
	c->max = CLIENT_MAX_LINE;
	c->fn = fn;
	c->arg = arg;
	c->stopped = 0;
	rc = http_exchange(
	    c->http, &peer, &req, &c->status, client_lines_cb, c, &reason);
	if (c->stopped) {
		free(reason);
		return CLIENT_OK;
	}
	/* a stream the daemon cut short ends like one it ended */
	if ((rc == HTTP_OK || rc == HTTP_ERR_BROKEN) && c->status >= 200 &&
	    c->status <= 299) {
		free(reason);
		return CLIENT_OK;
	}
	if (rc != HTTP_OK)
		return client_fail(c, rc, c->socket_path, reason, cause);
	return client_http_error(c, cause);
}
