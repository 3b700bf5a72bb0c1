/*
 * server-limit: what one client may hold of evhttp's Unix socket. It
 * counts the open connections of the listener and of each uid and closes
 * those over max_connections or max_connections_per_user as soon as they
 * are accepted; it gives each request request_timeout to arrive whole
 * (slowloris), and it backs off instead of spinning when accept() fails
 * (EMFILE), draining the backlog with a reserved descriptor. Owned by its
 * server, on the loop's thread. The TCP listener (server-tcp.c) does the
 * same itself and shares the reserved descriptor.
 */
#ifndef LLMCTLD_SERVER_LIMIT_H
#define LLMCTLD_SERVER_LIMIT_H

struct evconnlistener;
struct evhttp;
struct evhttp_request;
struct llmctld;
struct server_limit;

/* Take over http's new connections and listener's accept errors. */
struct server_limit *server_limit_create(struct llmctld *, struct evhttp *,
    struct evconnlistener *, const char *name);
/* The request is whole: stop its deadline until the reply is sent. */
void server_limit_request(struct server_limit *, struct evhttp_request *);
void server_limit_free(struct server_limit *);

/*
 * The process's reserved descriptor (EMFILE is about the whole process):
 * open it while descriptors are left; out of them, spend it to accept and
 * close up to 256 connections waiting on the listening socket fd, which
 * would wait in vain. Returns how many were closed.
 */
void server_limit_reserve(void);
int server_limit_drain(int fd);

#endif
