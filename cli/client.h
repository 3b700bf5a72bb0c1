/*
 * client: llmctl's HTTP/JSON client for llmctld's Unix socket (docs/design.md
 * section 4). The only file that includes <curl/curl.h>.
 *
 * A struct client is owned by its creator and freed with client_free().
 * Replies are jansson values owned by the caller.
 */
#ifndef LLMCTL_CLIENT_H
#define LLMCTL_CLIENT_H

#include <jansson.h>

/* client_request() results. */
#define CLIENT_OK 0
#define CLIENT_ERR_REPLY -1 /* the daemon answered with an error */
#define CLIENT_ERR_CONNECT \
	-2 /* no answer: socket missing, refused,
					   timed out */

struct client;

struct client *client_create(const char *socket_path);
void client_free(struct client *);

/*
 * Send method to path ("/v1/jobs?...") with body (NULL: none) as JSON.
 * On a 2xx answer returns CLIENT_OK with *reply set to the decoded JSON
 * (json_null() for an empty body). Otherwise returns CLIENT_ERR_REPLY or
 * CLIENT_ERR_CONNECT with *cause set to a one-message error without the
 * "llmctl: " prefix: the daemon's "error" text, or "cannot connect to
 * llmctld at PATH: REASON".
 */
int client_request(struct client *, const char *method, const char *path,
    const json_t *body, json_t **reply, char **cause);

/*
 * client_request() for a request that must take effect once (a submit):
 * sent with "Idempotency-Key: KEY", and when no answer came (the daemon
 * restarting, a reply lost) sent again with the same key, for up to 20 s;
 * the daemon answers a repeat with what the first one did.
 */
int client_request_once(struct client *, const char *method, const char *path,
    const char *key, const json_t *body, json_t **reply, char **cause);

/*
 * The same for a full http:// or https:// URL over TCP, with the header
 * "Authorization: Bearer TOKEN" unless token is NULL: for the daemon's
 * heartbeat listener. Messages name the URL instead of the socket.
 */
int client_request_url(struct client *, const char *method, const char *url,
    const char *token, const json_t *body, json_t **reply, char **cause);

/*
 * GET path as a stream of lines (NDJSON): fn is called with each line as
 * it arrives (without its newline, NUL-terminated) until it returns
 * non-zero or the daemon ends the reply. No overall timeout. Returns
 * CLIENT_OK once fn stopped it or the reply ended, else as
 * client_request().
 */
int client_stream(struct client *, const char *path,
    int (*fn)(const char *line, void *arg), void *arg, char **cause);

/* Percent-encode s for a query string; the caller frees the result. */
char *client_escape(struct client *, const char *s);

#endif
