/*
 * http-parse: HTTP/1.1 request heads and targets, parsed in place, for
 * the TCP listener's server (server-tcp.c). Functions of a buffer alone,
 * no connection and no libevent, so a unit test walks them with a table.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "http-parse.h"
#include "util.h"

static const struct {
	int status;
	const char *reason;
} http_reasons[] = {
	{ .status = 100, .reason = "Continue" },
	{ .status = 200, .reason = "OK" },
	{ .status = 201, .reason = "Created" },
	{ .status = 400, .reason = "Bad Request" },
	{ .status = 401, .reason = "Unauthorized" },
	{ .status = 403, .reason = "Forbidden" },
	{ .status = 404, .reason = "Not Found" },
	{ .status = 405, .reason = "Method Not Allowed" },
	{ .status = 409, .reason = "Conflict" },
	{ .status = 411, .reason = "Length Required" },
	{ .status = 413, .reason = "Content Too Large" },
	{ .status = 417, .reason = "Expectation Failed" },
	{ .status = 422, .reason = "Unprocessable Content" },
	{ .status = 431, .reason = "Request Header Fields Too Large" },
	{ .status = 500, .reason = "Internal Server Error" },
	{ .status = 503, .reason = "Service Unavailable" },
	{ .status = 505, .reason = "HTTP Version Not Supported" },
};

const char *
http_reason(int status)
{
	size_t i;

	for (i = 0; i < nitems(http_reasons); i++)
		if (http_reasons[i].status == status)
			return http_reasons[i].reason;
	return "Unknown";
}

/* RFC 9110 token characters: methods and header names. */
static int
is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static int
name_is(const char *name, size_t n, const char *want)
{
	return n == strlen(want) && strncasecmp(name, want, n) == 0;
}

/* Is the comma-separated list v (of n bytes) holding the token want? */
static int
has_token(const char *v, size_t n, const char *want)
{
	const char *end = v + n, *comma;
	size_t len;

	for (;;) {
		if ((comma = memchr(v, ',', end - v)) == NULL)
			comma = end;
		while (v < comma && (*v == ' ' || *v == '\t'))
			v++;
		len = comma - v;
		while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
			len--;
		if (name_is(v, len, want))
			return 1;
		if (comma == end)
			return 0;
		v = comma + 1;
	}
}

/*
 * The length of the head (through its empty line), or 0 while it is not
 * all here. Lines may end in LF alone, as evhttp took them.
 */
size_t
http_head_end(const char *buf, size_t len, size_t from)
{
	const char *p = buf + from, *end = buf + len, *nl;

	while ((nl = memchr(p, '\n', end - p)) != NULL) {
		if (nl + 1 < end && nl[1] == '\n')
			return nl + 2 - buf;
		if (nl + 2 < end && nl[1] == '\r' && nl[2] == '\n')
			return nl + 3 - buf;
		p = nl + 1;
	}
	return 0;
}

static int
bad_head(struct api_response *resp, int status, const char *why)
{
	api_error(resp, status, "bad_request", "%s", why);
	return -1;
}

/* The request line: method, target (NUL-terminated there), version. */
static int
parse_request_line(
    char *req, size_t n, struct http_head *h, struct api_response *resp)
{
	char *sp1, *sp2, *v;
	size_t i;

	if ((sp1 = memchr(req, ' ', n)) == NULL || sp1 == req ||
	    (sp2 = memchr(sp1 + 1, ' ', req + n - sp1 - 1)) == NULL ||
	    sp2 == sp1 + 1 || memchr(sp2 + 1, ' ', req + n - sp2 - 1) != NULL)
		return bad_head(resp, 400, "malformed request line");
	for (i = 0; req + i < sp1; i++)
		if (!is_tchar(req[i]))
			return bad_head(resp, 400, "malformed request line");
	if (sp1 - req == 3 && memcmp(req, "GET", 3) == 0)
		h->method = API_GET;
	else if (sp1 - req == 4 && memcmp(req, "POST", 4) == 0)
		h->method = API_POST;
	else
		h->method = API_OTHER;
	v = sp2 + 1;
	if (req + n - v == 8 && memcmp(v, "HTTP/1.", 7) == 0 && v[7] >= '0' &&
	    v[7] <= '9')
		h->http10 = v[7] == '0'; /* 1.2 and on read as 1.1 */
	else if (req + n - v >= 5 && memcmp(v, "HTTP/", 5) == 0)
		return bad_head(resp, 505, "only HTTP/1.0 and 1.1 are served");
	else
		return bad_head(resp, 400, "malformed request line");
	*sp2 = '\0';
	h->target = sp1 + 1 - req;
	return 0;
}

/* One header line, name and value: what this server acts on. */
static int
parse_header(char *req, char *line, size_t n, struct http_head *h,
    struct api_response *resp, int *has_length)
{
	char *colon, *v;
	size_t nlen, vlen, i, len = 0;

	if (line[0] == ' ' || line[0] == '\t') /* obsolete line folding */
		return bad_head(resp, 400, "malformed header");
	if ((colon = memchr(line, ':', n)) == NULL || colon == line)
		return bad_head(resp, 400, "malformed header");
	nlen = colon - line;
	for (i = 0; i < nlen; i++)
		if (!is_tchar(line[i]))
			return bad_head(resp, 400, "malformed header");
	v = colon + 1;
	vlen = line + n - v;
	while (vlen > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;

	if (name_is(line, nlen, "Content-Length")) {
		if (vlen == 0)
			return bad_head(resp, 400, "malformed Content-Length");
		for (i = 0; i < vlen; i++) {
			if (v[i] < '0' || v[i] > '9')
				return bad_head(
				    resp, 400, "malformed Content-Length");
			len = len * 10 + (v[i] - '0');
			if (len > HTTP_BODY_MAX)
				return bad_head(resp, 413, "body over 64 KiB");
		}
		/* two that differ: which one a proxy used is anyone's guess */
		if (*has_length && len != h->body_len)
			return bad_head(resp, 400, "two Content-Lengths");
		*has_length = 1;
		h->body_len = len;
	} else if (name_is(line, nlen, "Transfer-Encoding"))
		return bad_head(resp, 411, "a body needs a Content-Length");
	else if (name_is(line, nlen, "Connection")) {
		if (has_token(v, vlen, "close"))
			h->keep_alive = -1;
		else if (has_token(v, vlen, "keep-alive") && h->keep_alive == 0)
			h->keep_alive = 1;
	} else if (name_is(line, nlen, "Expect")) {
		if (!name_is(v, vlen, "100-continue"))
			return bad_head(resp, 417, "unknown expectation");
		/* an HTTP/1.0 client cannot be waiting for it */
		h->expect = !h->http10;
	} else if (name_is(line, nlen, "Authorization") && h->auth == 0) {
		v[vlen] = '\0';
		h->auth = v - req;
	}
	return 0;
}

/*
 * Parse the whole head req[0..len) into h, NUL-terminating the target and
 * the Authorization value in place. -1 with resp filled: the request
 * cannot be framed or is refused, and the connection is closed after it.
 */
int
http_parse_head(
    char *req, size_t len, struct http_head *h, struct api_response *resp)
{
	char *p = req, *end = req + len, *nl;
	size_t n;
	int first = 1, has_length = 0;

	if (memchr(req, '\0', len) != NULL)
		return bad_head(resp, 400, "NUL in the request head");
	while (p < end && (nl = memchr(p, '\n', end - p)) != NULL) {
		n = nl - p;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (memchr(p, '\r', n) != NULL) /* a bare CR: smuggling */
			return bad_head(resp, 400, "CR inside a line");
		if (n == 0)
			break;
		if (first && parse_request_line(p, n, h, resp) != 0)
			return -1;
		if (!first &&
		    parse_header(req, p, n, h, resp, &has_length) != 0)
			return -1;
		first = 0;
		p = nl + 1;
	}
	if (first) /* the caller skips empty lines before a request */
		return bad_head(resp, 400, "no request line");
	/* HTTP/1.1 keeps the connection unless told not to; 1.0 if told to */
	h->keep_alive = h->http10 ? h->keep_alive == 1 : h->keep_alive != -1;
	h->len = len;
	return 0;
}

/*
 * Decode %XX in s[0..n) in place, '+' as a space if plus, and terminate
 * it; a '%' without two hex digits stays, as evhttp_uridecode keeps it.
 * Returns the decoded length (NULs included).
 */
static size_t
uri_decode(char *s, size_t n, int plus)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hex_digit(s[i + 1]) >= 0 &&
		    hex_digit(s[i + 2]) >= 0) {
			s[o++] = (char)(hex_digit(s[i + 1]) << 4 |
			    hex_digit(s[i + 2]));
			i += 2;
		} else if (plus && s[i] == '+')
			s[o++] = ' ';
		else
			s[o++] = s[i];
	}
	s[o] = '\0';
	return o;
}

/*
 * The target as server.c reads one through evhttp: the path %-decoded,
 * with no NUL inside; the query as key=value pairs joined by '&', each
 * with a key, values decoded with '+' a space. -1: a malformed URI. In
 * place; areq->query is the caller's to free.
 */
int
http_parse_target(char *t, struct api_request *areq)
{
	char *q, *p, *amp, *eq;
	size_t n;

	/* the absolute form, which an HTTP/1.1 server must take */
	if (strncasecmp(t, "http://", 7) == 0 &&
	    (t = strchr(t + 7, '/')) == NULL)
		return -1;
	if (t[0] != '/')
		return -1;
	t[strcspn(t, "#")] = '\0'; /* a fragment is the client's own */
	if ((q = strchr(t, '?')) != NULL)
		*q++ = '\0';
	if (uri_decode(t, strlen(t), 0) != strlen(t))
		return -1;
	areq->path = t;
	if (q == NULL || *q == '\0')
		return 0;
	for (n = 1, p = q; (p = strchr(p, '&')) != NULL; p++)
		n++;
	areq->query = xcalloc(n, sizeof(*areq->query));
	for (p = q; p != NULL && *p != '\0'; p = amp) {
		if ((amp = strchr(p, '&')) != NULL)
			*amp++ = '\0';
		if ((eq = strchr(p, '=')) == NULL || eq == p)
			return -1;
		*eq++ = '\0';
		uri_decode(eq, strlen(eq), 1);
		areq->query[areq->nquery].key = p;
		areq->query[areq->nquery++].value = eq;
	}
	return 0;
}
