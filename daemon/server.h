/*
 * server: HTTP/1.1 on the Unix socket (evhttp). Each request's caller is
 * identified by SO_PEERCRED, turned into a struct api_request and handed to
 * api_dispatch(). The socket is 0666: identity, not file mode, is the
 * access control.
 */
#ifndef LLMCTLD_SERVER_H
#define LLMCTLD_SERVER_H

struct llmctld;
struct server;

struct server *server_create(struct llmctld *, const char *path, char **cause);
/* The heartbeat listener on conf heartbeat_host:heartbeat_port. */
struct server *server_create_tcp(struct llmctld *, char **cause);
void server_free(struct server *);

#endif
