/*
 * dashboard-http: the HTTP of llmctl dashboard, just enough for a
 * browser on the same host: parse one request head, write one reply and
 * close (no keep-alive), serve the built-in assets, and relay GET /v1/...
 * to llmctld's Unix socket. The relay is a plain HTTP/1.0 request on a
 * socket this process opens, so llmctld's SO_PEERCRED sees the user who
 * ran llmctl dashboard, exactly as for every other llmctl command.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "dashboard.h"
#include "util.h"

static int write_all(int, const void *, size_t);
static const char *status_text(int);
static int target_ok(const char *);
static char *head_value(char *, const char *);
static int proxy_open(const char *, const char *);
static int proxy_head(
    int, char *, size_t, int *, const char **, const char **, size_t *);

/* Every reply: nothing cached, nothing framed, nothing but our own code. */
#define DASH_HEADERS \
	"Cache-Control: no-store\r\n" \
	"X-Content-Type-Options: nosniff\r\n" \
	"X-Frame-Options: DENY\r\n" \
	"Referrer-Policy: no-referrer\r\n" \
	"Content-Security-Policy: default-src 'none'; script-src 'self'; " \
	"style-src 'self'; connect-src 'self'; img-src 'self'; " \
	"frame-ancestors 'none'; base-uri 'none'; form-action 'none'\r\n" \
	"Connection: close\r\n"

static int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static const char *
status_text(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 303:
		return "See Other";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	default:
		return status >= 500 ? "Error" : "Status";
	}
}

int
dash_reply(int fd, int status, const char *type, const char *extra,
    const void *body, size_t len)
{
	char *head;
	int rc;

	head = xasprintf("HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	                 "Content-Length: %zu\r\n" DASH_HEADERS "%s\r\n",
	    status, status_text(status), type, len, extra != NULL ? extra : "");
	rc = write_all(fd, head, strlen(head));
	free(head);
	if (rc == 0 && len > 0)
		rc = write_all(fd, body, len);
	return rc;
}

int
dash_reply_text(int fd, int status, const char *text)
{
	char *body = xasprintf("%s\n", text);
	int rc;

	rc = dash_reply(
	    fd, status, "text/plain; charset=utf-8", NULL, body, strlen(body));
	free(body);
	return rc;
}

/* The value of header line p if its name is name, else NULL. */
static char *
head_value(char *p, const char *name)
{
	size_t n = strlen(name);

	if (strncasecmp(p, name, n) != 0 || p[n] != ':')
		return NULL;
	p += n + 1;
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

int
dash_request_parse(struct dash_request *req)
{
	char *end, *line, *next, *sp, *sp2, *v;

	req->buf[req->len] = '\0';
	if ((end = strstr(req->buf, "\r\n\r\n")) == NULL)
		return req->len >= DASH_HEAD_MAX ? -1 : 0;
	end[2] = '\0'; /* the head's lines, each ending "\r\n" */
	req->host = req->cookie = req->authorization = NULL;
	for (line = req->buf; *line != '\0'; line = next) {
		next = strstr(line, "\r\n");
		*next = '\0';
		next += 2;
		if (line == req->buf)
			continue;
		if ((v = head_value(line, "Host")) != NULL)
			req->host = v;
		else if ((v = head_value(line, "Cookie")) != NULL)
			req->cookie = v;
		else if ((v = head_value(line, "Authorization")) != NULL)
			req->authorization = v;
	}
	if ((sp = strchr(req->buf, ' ')) == NULL ||
	    (sp2 = strchr(sp + 1, ' ')) == NULL ||
	    strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
		return -1;
	*sp = *sp2 = '\0';
	req->method = req->buf;
	req->target = sp + 1;
	return 1;
}

char *
dash_query_param(const char *target, const char *name)
{
	const char *q = strchr(target, '?'), *p, *e;
	size_t n = strlen(name);

	for (p = q != NULL ? q + 1 : NULL; p != NULL && *p != '\0'; p = e) {
		e = strchr(p, '&');
		if (strncmp(p, name, n) == 0 && p[n] == '=')
			return e != NULL ? xstrndup(p + n + 1, e - p - n - 1)
			                 : xstrdup(p + n + 1);
		if (e != NULL)
			e++;
	}
	return NULL;
}

char *
dash_cookie(const char *header, const char *name)
{
	const char *p = header, *e;
	size_t n = strlen(name);

	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == ';')
			p++;
		e = strchr(p, ';');
		if (strncmp(p, name, n) == 0 && p[n] == '=')
			return e != NULL ? xstrndup(p + n + 1, e - p - n - 1)
			                 : xstrdup(p + n + 1);
		p = e;
	}
	return NULL;
}

int
dash_secret_equal(const char *a, const char *b)
{
	size_t i, la = strlen(a), lb = strlen(b);
	unsigned char d = la != lb;

	for (i = 0; i < la && i < lb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

const struct dash_asset *
dash_asset_find(const char *path)
{
	size_t i;

	for (i = 0; i < dash_nassets; i++)
		if (strcmp(dash_assets[i].path, path) == 0)
			return &dash_assets[i];
	return NULL;
}

/*
 * Only what a GET of the API needs crosses into the request to llmctld:
 * printable ASCII without spaces (no line breaks to add headers with),
 * under /v1/, no "..".
 */
static int
target_ok(const char *t)
{
	const char *p;

	if (strncmp(t, "/v1/", 4) != 0 || strstr(t, "..") != NULL ||
	    strlen(t) > 2048)
		return 0;
	for (p = t; *p != '\0'; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return 0;
	return 1;
}

/* A connection to llmctld with the request for target sent; -1 if none. */
static int
proxy_open(const char *socket_path, const char *target)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *req;
	int s, rc;

	if (strlen(socket_path) >= sizeof sa.sun_path ||
	    (s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	memcpy(sa.sun_path, socket_path, strlen(socket_path));
	if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(s);
		return -1;
	}
	/* HTTP/1.0: llmctld answers unchunked and closes at the end */
	req = xasprintf("GET %s HTTP/1.0\r\nHost: llmctld\r\n\r\n", target);
	rc = write_all(s, req, strlen(req));
	free(req);
	if (rc != 0) {
		close(s);
		return -1;
	}
	return s;
}

/*
 * Read llmctld's answer up to the end of its head into buf (size bytes);
 * *status, *type (NULL: none) and *body (the bytes after the head, *blen
 * of them) point into it. -1 on a read error or a malformed head.
 */
static int
proxy_head(int s, char *buf, size_t size, int *status, const char **type,
    const char **body, size_t *blen)
{
	char *end = NULL, *line, *next, *v;
	size_t len = 0;
	ssize_t n;

	while (len < size - 1) {
		buf[len] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			break;
		if ((n = read(s, buf + len, size - 1 - len)) <= 0)
			return -1;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (end == NULL && (end = strstr(buf, "\r\n\r\n")) == NULL)
		return -1;
	if (sscanf(buf, "HTTP/1.%*d %d", status) != 1)
		return -1;
	*body = end + 4;
	*blen = len - (size_t)(end + 4 - buf);
	*end = '\0';
	*type = NULL;
	for (line = strstr(buf, "\r\n"); line != NULL; line = next) {
		line += 2;
		if ((next = strstr(line, "\r\n")) != NULL)
			*next = '\0';
		if ((v = head_value(line, "Content-Type")) != NULL)
			*type = v;
	}
	return 0;
}

int
dash_proxy(int fd, const char *socket_path, const char *target)
{
	char buf[16384], *head;
	const char *type, *body;
	size_t blen;
	ssize_t n;
	int s, status;

	if (!target_ok(target)) {
		dash_reply_text(fd, 400, "bad request path");
		return -1;
	}
	if ((s = proxy_open(socket_path, target)) < 0) {
		dash_reply_text(fd, 502, "cannot connect to llmctld");
		return -1;
	}
	if (proxy_head(s, buf, sizeof buf, &status, &type, &body, &blen) != 0) {
		close(s);
		dash_reply_text(fd, 502, "bad answer from llmctld");
		return -1;
	}
	/* the body's length is unknown (a stream): the close ends it */
	head = xasprintf("HTTP/1.1 %d %s\r\nContent-Type: %s\r\n" DASH_HEADERS
	                 "\r\n",
	    status, status_text(status),
	    type != NULL ? type : "application/json");
	n = write_all(fd, head, strlen(head));
	free(head);
	if (n == 0)
		n = write_all(fd, body, blen);
	while (n == 0 && (n = read(s, buf, sizeof buf)) > 0)
		n = write_all(fd, buf, (size_t)n);
	close(s);
	return 0;
}
