/*
 * server: HTTP/1.1 on the Unix socket (evhttp). Each request's caller is
 * identified by SO_PEERCRED, turned into a struct api_request and handed to
 * api_dispatch(). The socket is 0666: identity, not file mode, is the
 * access control.
 *
 * server-tcp: the heartbeat listener on conf heartbeat_host:heartbeat_port,
 * a small HTTP/1.1 server of its own (no identity, three routes); its
 * requests go to the same api_dispatch() with tcp set.
 */
#ifndef LLMCTLD_SERVER_H
#define LLMCTLD_SERVER_H

struct llmctld;
struct server;

struct server_tcp;

/*
 * When one user floods a listener, the kernel's backlog is where everyone
 * else waits: it must hold more connections than one process opens by
 * default (1024), or connect() fails (EAGAIN on a Unix socket). The kernel
 * caps it at net.core.somaxconn.
 */
#define SERVER_BACKLOG 4096

struct server *server_create(struct llmctld *, const char *path, char **cause);
void server_free(struct server *);

struct server_tcp *server_tcp_create(struct llmctld *, char **cause);
void server_tcp_free(struct server_tcp *);

#endif
