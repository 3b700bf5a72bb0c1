/* server: evhttp on a Unix socket, peer credentials, JSON replies. */
#include "config.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "api.h"
#include "conf.h"
#include "llmctld.h"
#include "log.h"
#include "server-limit.h"
#include "server.h"
#include "users.h"
#include "util.h"

#define SERVER_MAX_BODY (4 * 1024 * 1024)

struct server {
	struct llmctld *d;
	struct evhttp *http;
	struct evconnlistener *listener;
	char *path; /* the Unix socket */
	struct server_limit *limit;
};

static void server_request_cb(struct evhttp_request *, void *);

static int
peer_cred(struct evhttp_request *req, struct ucred *cred)
{
	struct evhttp_connection *conn;
	struct bufferevent *bev;
	socklen_t len = sizeof(*cred);
	evutil_socket_t fd;

	if ((conn = evhttp_request_get_connection(req)) == NULL ||
	    (bev = evhttp_connection_get_bufferevent(conn)) == NULL ||
	    (fd = bufferevent_getfd(bev)) < 0)
		return -1;
	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len);
}

/* Root, or a member of the configured admin group. */
static int
is_admin(struct llmctld *d, uid_t uid, gid_t gid)
{
	if (uid == 0)
		return 1;
	if (d->conf->admin_gid == (gid_t)-1)
		return 0;
	if (gid == d->conf->admin_gid)
		return 1;
	return users_in_group(
	    d->users, uid, d->conf->admin_gid, mono_ms() / 1000);
}

static void
server_reply(struct evhttp_request *req, struct api_response *resp)
{
	struct evbuffer *out;
	char *text;

	out = evbuffer_new();
	if (resp->text != NULL) {
		evbuffer_add(out, resp->text, strlen(resp->text));
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Content-Type", "text/plain; version=0.0.4");
		free(resp->text);
	} else {
		text = json_dumps(
		    resp->body, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (text != NULL) {
			evbuffer_add(out, text, strlen(text));
			evbuffer_add(out, "\n", 1);
		}
		free(text);
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Content-Type", "application/json");
	}
	evhttp_send_reply(req, resp->status, NULL, out);
	evbuffer_free(out);
	json_decref(resp->body);
}

/*
 * A request answered later. libevent keeps it alive until it is answered:
 * if the client goes away first (EOF, timeout) the request is detached
 * from its connection and evhttp_send_reply() just frees it. So nothing
 * may evhttp_connection_free() a connection with a deferred request, and
 * the pools are freed (answering theirs) before the servers.
 */
struct api_later {
	struct evhttp_request *req;
};

struct api_later *
api_defer(const struct api_request *areq, struct api_response *resp)
{
	struct api_later *l;

	if (areq->later == NULL)
		return NULL;
	l = xcalloc(1, sizeof(*l));
	l->req = areq->later;
	resp->deferred = 1;
	return l;
}

void
api_answer(struct api_later *l, struct api_response *resp)
{
	server_reply(l->req, resp);
	free(l);
}

static void
server_request_cb(struct evhttp_request *req, void *arg)
{
	struct server *srv = arg;
	struct api_request areq = { 0 };
	struct api_response resp = { 0 };
	struct evkeyvalq params;
	struct evkeyval *kv;
	struct evbuffer *in;
	struct ucred cred;
	const struct evhttp_uri *uri;
	const char *path, *query;
	char *body = NULL, *decoded = NULL;
	size_t len, dlen, i;

	server_limit_request(srv->limit, req);
	TAILQ_INIT(&params);
	memset(&cred, 0, sizeof(cred));
	if (peer_cred(req, &cred) != 0) {
		api_error(&resp, 403, "permission_denied",
		    "cannot identify the caller");
		server_reply(req, &resp);
		return;
	}
	uri = evhttp_request_get_evhttp_uri(req);
	path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	if (path == NULL ||
	    (decoded = evhttp_uridecode(path, 0, &dlen)) == NULL ||
	    strlen(decoded) != dlen /* %00 inside */ ||
	    (query != NULL && evhttp_parse_query_str(query, &params) != 0)) {
		api_error(&resp, 400, "bad_request", "malformed request URI");
		goto reply;
	}
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
		areq.method = API_GET;
		break;
	case EVHTTP_REQ_POST:
		areq.method = API_POST;
		break;
	default:
		areq.method = API_OTHER;
		break;
	}
	in = evhttp_request_get_input_buffer(req);
	len = evbuffer_get_length(in);
	body = xmalloc(len + 1);
	evbuffer_remove(in, body, len);
	body[len] = '\0';
	TAILQ_FOREACH(kv, &params, next)
	areq.nquery++;
	areq.query = xcalloc(areq.nquery, sizeof(*areq.query));
	i = 0;
	TAILQ_FOREACH(kv, &params, next)
	{
		areq.query[i].key = kv->key;
		areq.query[i++].value = kv->value;
	}
	areq.path = decoded;
	areq.body = body;
	areq.body_len = len;
	areq.uid = cred.uid;
	areq.gid = cred.gid;
	areq.admin = is_admin(srv->d, cred.uid, cred.gid);
	areq.authorization = evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Authorization");
	areq.idempotency_key = evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Idempotency-Key");
	areq.later = req;
	api_dispatch(srv->d, &areq, &resp);
	if (resp.deferred)
		log_debug("uid %lu %s %s -> answered later",
		    (unsigned long)cred.uid,
		    areq.method == API_GET ? "GET" : "POST", decoded);
	else
		log_debug("uid %lu %s %s -> %d", (unsigned long)cred.uid,
		    areq.method == API_GET ? "GET" : "POST", decoded,
		    resp.status);
	if (resp.deferred)
		goto out;
reply:
	server_reply(req, &resp);
out:
	free(areq.query);
	free(body);
	free(decoded);
	evhttp_clear_headers(&params);
}

struct server *
server_create(struct llmctld *d, const char *path, char **cause)
{
	struct server *srv;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sun.sun_path)) {
		set_cause(cause, "%s: socket path too long", path);
		return NULL;
	}
	strcpy(sun.sun_path, path);
	/* a stale socket from a crash would make bind fail */
	if (unlink(path) == -1 && errno != ENOENT) {
		set_cause(cause, "unlink %s: %s", path, strerror(errno));
		return NULL;
	}
	srv = xcalloc(1, sizeof(*srv));
	srv->d = d;
	srv->path = xstrdup(path);
	srv->listener = evconnlistener_new_bind(d->base, NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, SERVER_BACKLOG,
	    (struct sockaddr *)&sun, sizeof(sun));
	if (srv->listener == NULL) {
		set_cause(
		    cause, "cannot listen on %s: %s", path, strerror(errno));
		goto fail;
	}
	if (chmod(path, 0666) == -1) {
		set_cause(cause, "chmod %s: %s", path, strerror(errno));
		goto fail;
	}
	if ((srv->http = evhttp_new(d->base)) == NULL ||
	    evhttp_bind_listener(srv->http, srv->listener) == NULL) {
		set_cause(cause, "cannot serve HTTP on %s", path);
		goto fail;
	}
	srv->limit = server_limit_create(d, srv->http, srv->listener, path);
	srv->listener = NULL; /* evhttp owns it now */
	evhttp_set_max_body_size(srv->http, SERVER_MAX_BODY);
	evhttp_set_max_headers_size(srv->http, 64 * 1024);
	evhttp_set_timeout(srv->http, 30);
	evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_gencb(srv->http, server_request_cb, srv);
	return srv;
fail:
	server_free(srv);
	return NULL;
}

void
server_free(struct server *srv)
{
	if (srv == NULL)
		return;
	if (srv->http != NULL)
		evhttp_free(srv->http);
	server_limit_free(srv->limit); /* after evhttp's closecbs */
	if (srv->listener != NULL)
		evconnlistener_free(srv->listener);
	if (srv->path != NULL)
		unlink(srv->path);
	free(srv->path);
	free(srv);
}
