/*
 * dashboard: what cmd-dashboard.c (the listener, the token and the cookie)
 * shares with dashboard-http.c (one request's head, the replies, the
 * static assets and the read-only proxy to llmctld's socket). The
 * security model is docs/design.md section 12, "The dashboard".
 */
#ifndef LLMCTL_DASHBOARD_H
#define LLMCTL_DASHBOARD_H

#include <stddef.h>

/* The largest request head read from the browser. */
#define DASH_HEAD_MAX 8192

/* One file of cli/dashboard/, built in (cli/dashboard/assets.c). */
struct dash_asset {
	const char *path; /* "/", "/app.js" */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
};

extern const struct dash_asset dash_assets[];
extern const size_t dash_nassets;

/* A request head as the browser sent it; the strings point into buf. */
struct dash_request {
	char buf[DASH_HEAD_MAX + 1];
	size_t len;
	const char *method;
	const char *target; /* path and query, as sent */
	const char *host; /* NULL when missing */
	const char *cookie; /* NULL when missing */
	const char *authorization; /* NULL when missing */
};

/*
 * 1 once buf holds a whole head, which is then parsed into req; 0 while
 * more is needed; -1 when it is malformed or too long.
 */
int dash_request_parse(struct dash_request *);

/* The value of parameter name in target's query, copied; NULL if absent. */
char *dash_query_param(const char *target, const char *name);

/* The value of cookie name in a Cookie header, copied; NULL if absent. */
char *dash_cookie(const char *header, const char *name);

/* Equal strings, in time that depends on the lengths only. */
int dash_secret_equal(const char *, const char *);

/*
 * Write a whole reply to fd: status, the headers every reply carries
 * (no caching, no framing, no sniffing), extra header lines (each ending
 * "\r\n"; may be NULL) and body. Blocking; returns -1 on a write error.
 */
int dash_reply(int fd, int status, const char *type, const char *extra,
    const void *body, size_t len);

/* A short text/plain error reply. */
int dash_reply_text(int fd, int status, const char *text);

/* The built-in asset at path, or NULL. */
const struct dash_asset *dash_asset_find(const char *path);

/*
 * Send GET target to llmctld on socket_path as this process's user and
 * copy the answer (status, type, body; a stream as it comes) to fd.
 * Blocking: run in a child. Returns 0, or -1 after answering 502.
 */
int dash_proxy(int fd, const char *socket_path, const char *target);

#endif
