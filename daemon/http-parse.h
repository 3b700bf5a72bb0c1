/*
 * http-parse: what the TCP listener's server (server-tcp.c) reads of a
 * request, parsed in place in its buffer: the head (request line and the
 * headers it acts on) and the target (path and query, as server.c reads
 * them through evhttp). Refusals come back as the API's error replies.
 */
#ifndef LLMCTLD_HTTP_PARSE_H
#define LLMCTLD_HTTP_PARSE_H

#include <stddef.h>

#include "api.h"

#define HTTP_HEAD_MAX (16 * 1024) /* request line and headers */
#define HTTP_BODY_MAX (64 * 1024)

/*
 * A request's head. Offsets are from the request's first byte, so they
 * hold while the buffer moves (grows, compacts) as the body arrives.
 */
struct http_head {
	size_t len; /* through the empty line */
	size_t body_len; /* Content-Length; 0 without one */
	enum api_method method; /* API_OTHER: neither GET nor POST */
	size_t target; /* NUL-terminated in place */
	size_t auth; /* Authorization's value, NUL-terminated; 0: none */
	int http10;
	int keep_alive; /* after the reply */
	int expect; /* Expect: 100-continue over HTTP/1.1 */
};

/*
 * The length of the head at buf (through its empty line), or 0 while it
 * is not all in buf[0..len). from: where to search on, at most two bytes
 * before where the last search ended (the empty line may have begun).
 */
size_t http_head_end(const char *buf, size_t len, size_t from);
/*
 * Parse the whole head req[0..len), not starting with an empty line, into
 * the zeroed h. -1 with resp filled: the request is refused or cannot be
 * framed, and the connection is to be closed after the reply.
 */
int http_parse_head(
    char *req, size_t len, struct http_head *h, struct api_response *resp);
/*
 * Split and decode the target t into areq's path and query, in place;
 * areq->query is the caller's to free, even on failure. -1: a malformed
 * URI (a NUL in the path, a query element without a key or '=').
 */
int http_parse_target(char *t, struct api_request *areq);
/* The reason phrase of a status code. */
const char *http_reason(int status);

#endif
