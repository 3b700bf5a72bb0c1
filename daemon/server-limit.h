/*
 * server-limit: what one client may hold of a listener. It counts the open
 * connections of the listener and of each peer (a uid on the Unix socket,
 * an address on TCP) and closes those over max_connections or
 * max_connections_per_user as soon as they are accepted; it gives each
 * request request_timeout to arrive whole (slowloris), and it backs off
 * instead of spinning when accept() fails (EMFILE), draining the backlog
 * with a reserved descriptor. Owned by its server, on the loop's thread.
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
    struct evconnlistener *, const char *name, int unix_socket);
/* The request is whole: stop its deadline until the reply is sent. */
void server_limit_request(struct server_limit *, struct evhttp_request *);
void server_limit_free(struct server_limit *);

#endif
