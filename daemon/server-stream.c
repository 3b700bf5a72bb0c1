/*
 * server-stream: a reply that goes on (chunked NDJSON), for event streams.
 *
 * The request deadline of server-limit.c stops once a request is whole and
 * restarts when its reply ends, so it never cuts a stream; evhttp's own
 * read timeout would (it applies while a reply is written), so a stream's
 * connection reads without one and writes with STREAM_WRITE_TIMEOUT_S: a
 * reader that takes nothing for that long is cut. The writer pauses a
 * stream whose reader is behind (api_stream_unsent()), and ends one that
 * stays behind (api_stream_close()); past STREAM_MAX_BUFFERED unsent, a
 * last resort, the connection is closed at once. Either way the log says
 * so. The connection still counts against max_connections_per_user.
 *
 * When the client goes away evhttp detaches the request from its
 * connection: api_stream_alive() says so and api_stream_end() frees it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>

#include "api.h"
#include "log.h"
#include "util.h"

#define STREAM_MAX_BUFFERED (1024 * 1024)
#define STREAM_WRITE_TIMEOUT_S 60

struct api_stream {
	struct evhttp_request *req; /* NULL once we closed it */
};

static struct log_limit slow_log;

struct api_stream *
api_stream_start(const struct api_request *areq, struct api_response *resp)
{
	struct evhttp_request *req = areq->later;
	struct evhttp_connection *evcon;
	struct api_stream *s;
	struct timeval wtv = { .tv_sec = STREAM_WRITE_TIMEOUT_S };

	if (req == NULL || (evcon = evhttp_request_get_connection(req)) == NULL)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->req = req;
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/x-ndjson");
	evhttp_send_reply_start(req, 200, "OK");
	bufferevent_set_timeouts(
	    evhttp_connection_get_bufferevent(evcon), NULL, &wtv);
	resp->deferred = 1;
	return s;
}

int
api_stream_alive(const struct api_stream *s)
{
	return s->req != NULL && evhttp_request_get_connection(s->req) != NULL;
}

size_t
api_stream_unsent(const struct api_stream *s)
{
	struct evhttp_connection *evcon;

	if (!api_stream_alive(s))
		return 0;
	evcon = evhttp_request_get_connection(s->req);
	return evbuffer_get_length(
	    bufferevent_get_output(evhttp_connection_get_bufferevent(evcon)));
}

void
api_stream_close(struct api_stream *s, const char *why)
{
	struct evhttp_connection *evcon;

	if (!api_stream_alive(s))
		return;
	evcon = evhttp_request_get_connection(s->req);
	log_limited(&slow_log, LOG_LEVEL_WARN,
	    "event stream: %s (%zu bytes "
	    "unsent): closing it",
	    why, api_stream_unsent(s));
	s->req = NULL; /* freed with its connection */
	evhttp_connection_free(evcon);
}

int
api_stream_send(struct api_stream *s, const char *data, size_t len)
{
	struct evbuffer *buf;

	if (!api_stream_alive(s))
		return -1;
	if (api_stream_unsent(s) > STREAM_MAX_BUFFERED) {
		api_stream_close(s,
		    "the reader is too slow (over "
		    "STREAM_MAX_BUFFERED)");
		return -1;
	}
	buf = evbuffer_new();
	evbuffer_add(buf, data, len);
	evhttp_send_reply_chunk(s->req, buf);
	evbuffer_free(buf);
	return 0;
}

void
api_stream_end(struct api_stream *s)
{
	if (s == NULL)
		return;
	/* frees the request, also one whose client has gone */
	if (s->req != NULL)
		evhttp_send_reply_end(s->req);
	free(s);
}
