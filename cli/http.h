/*
 * http: the HTTP/1.1 client under client.c. One connection, to a Unix
 * socket or a TCP host and port, kept open between requests while the
 * server keeps it (HTTP/1.1's default) and opened again when it is gone.
 * Plain HTTP only: no TLS, no proxies, no redirects, no HTTP/1.0
 * keep-alive. Replies may have a Content-Length, be chunked, or end when
 * the server closes.
 *
 * A struct http is owned by its creator and freed with http_free().
 */
#ifndef LLMCTL_HTTP_H
#define LLMCTL_HTTP_H

#include <stddef.h>

/* http_exchange() results: 0, 1 or an error with *cause set. */
#define HTTP_OK 0
#define HTTP_STOPPED 1 /* the body callback asked to stop */
#define HTTP_ERR_CONNECT -1 /* no connection: cause is the reason */
#define HTTP_ERR_TIMEOUT -2 /* no whole reply by the deadline */
#define HTTP_ERR_BROKEN -3 /* connection lost, or a malformed reply */

/* Where to connect: unix_path, or host and port for TCP. */
struct http_peer {
	const char *unix_path;
	const char *host; /* a name or address, an IPv6 one without [] */
	const char *port;
};

struct http_request {
	const char *method;
	const char *target; /* "/v1/jobs?..." */
	const char *host; /* the Host header */
	const char *headers; /* more header lines ending "\r\n", or NULL */
	const char *body; /* sent with a Content-Length; NULL: none */
	size_t body_len;
	int resend; /* has no effect twice (GET, Idempotency-Key) */
	int timeout_s; /* for the exchange from connect to reply */
	int stream; /* the timeout ends once the reply's head is in */
};

struct http *http_create(void);
void http_free(struct http *);

/*
 * Send req to peer and read the reply: *status is set once its head is in,
 * then fn gets the body in pieces as they arrive and returns non-zero to
 * stop it (HTTP_STOPPED; the connection is closed).
 */
int http_exchange(struct http *, const struct http_peer *,
    const struct http_request *, int *status,
    int (*fn)(const char *, size_t, void *), void *arg, char **cause);

#endif
