/*
 * llmctl dashboard: serve the web dashboard to a browser on this host.
 *
 * Runs as the calling user and listens on 127.0.0.1 only. Every other
 * local user can reach that port, so nothing is served without a secret:
 * the URL printed on start carries a one-time token; the first request
 * that shows it gets a session cookie (HttpOnly, SameSite=Strict) and a
 * redirect to the page with a second secret, the bearer, in the URL's
 * fragment (which browsers never send), and the token is refused from
 * then on. The page moves the bearer into its tab's sessionStorage and
 * sends it as "Authorization: Bearer" with every API request. Cookies
 * for 127.0.0.1 go to every port of it, so the cookie alone would reach
 * any other local user's server the browser visits there; the bearer
 * stays with this origin. Requests with the cookie get the built-in page;
 * GET /v1/... with the cookie and the bearer gets llmctld's answer to the
 * same request made on its Unix socket by this process, i.e. as this
 * user (dashboard-http.c). Nothing but GET is served, so a page in the
 * browser can do no more than read what `llmctl status` shows this user.
 * docs/design.md section 12, "The dashboard".
 *
 * One process: a poll() loop accepts and reads request heads (each within
 * 10 s), decides on the token and the cookie, and forks a child to write
 * each answer (an event stream may last as long as the page is open).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "dashboard.h"
#include "job.h"
#include "llmctl.h"
#include "util.h"

#define DASH_CONNS 64 /* request heads being read at once */
#define DASH_HEAD_MS 10000 /* to send a whole head */

struct dash_conn {
	int fd; /* -1: free */
	int64_t deadline_ms;
	struct dash_request req;
};

struct dashboard {
	const char *socket_path;
	int listener;
	int port;
	char *token; /* NULL once used */
	char *cookie_name; /* llmctl_dashboard_PORT: one per dashboard */
	char *session; /* the cookie's value */
	char *bearer; /* what the page sends with API requests */
	struct dash_conn conns[DASH_CONNS];
};

static int cmd_dashboard_exec(struct llmctl *, struct args *);
static int dash_listen(int, int *);
static void dash_accept(struct dashboard *, int);
static void dash_read(struct dashboard *, struct dash_conn *);
static void dash_answer(struct dashboard *, struct dash_conn *);
static int dash_host_ok(const struct dashboard *, const char *);
static int dash_signed_in(
    const struct dashboard *, const struct dash_request *, int);
static void dash_close(struct dash_conn *);

const struct cmd_entry cmd_dashboard_entry = {
	.name = "dashboard",
	.usage = "[--port port]",
	.about = "Serve a read-only web dashboard of your jobs on "
	         "127.0.0.1.",
	.args = { .template = "",
	    .longs =
	        (const struct args_long[]){
	            { .ch = 'p',
	                .name = "port",
	                .has_arg = 1,
	                .arg = "port",
	                .help = "the port on 127.0.0.1 (default: any free "
	                        "one)" },
	            { 0 } } },
	.exec = cmd_dashboard_exec,
};

/* A TCP socket listening on 127.0.0.1:port; *bound is the port it got. */
static int
dash_listen(int port, int *bound)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t salen = sizeof sa;
	int s, one = 1;

	if ((s = socket(
	         AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return -1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(s, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(s, 64) != 0 ||
	    getsockname(s, (struct sockaddr *)&sa, &salen) != 0) {
		close(s);
		return -1;
	}
	*bound = ntohs(sa.sin_port);
	return s;
}

static void
dash_close(struct dash_conn *c)
{
	close(c->fd);
	c->fd = -1;
}

static void
dash_accept(struct dashboard *dash, int ls)
{
	struct dash_conn *c = NULL;
	size_t i;
	int fd;

	while ((fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		for (i = 0; i < DASH_CONNS && c == NULL; i++)
			if (dash->conns[i].fd == -1)
				c = &dash->conns[i];
		if (c == NULL) {
			/* full: the browser retries; others wait their 10 s */
			close(fd);
			continue;
		}
		c->fd = fd;
		c->deadline_ms = mono_ms() + DASH_HEAD_MS;
		c->req.len = 0;
		c = NULL;
	}
}

/*
 * The Host a browser sends for this server. Anything else is a page of
 * another name resolving to 127.0.0.1 (DNS rebinding): refused.
 */
static int
dash_host_ok(const struct dashboard *dash, const char *host)
{
	char a[64], b[64];

	if (host == NULL)
		return 0;
	snprintf(a, sizeof a, "127.0.0.1:%d", dash->port);
	snprintf(b, sizeof b, "localhost:%d", dash->port);
	return strcmp(host, a) == 0 || strcmp(host, b) == 0;
}

/* The request has the cookie, and with api the bearer too. */
static int
dash_signed_in(
    const struct dashboard *dash, const struct dash_request *req, int api)
{
	char *cookie;
	int ok;

	if (req->cookie == NULL ||
	    (cookie = dash_cookie(req->cookie, dash->cookie_name)) == NULL)
		return 0;
	ok = dash_secret_equal(cookie, dash->session);
	free(cookie);
	if (ok && api)
		ok = req->authorization != NULL &&
		    strncmp(req->authorization, "Bearer ", 7) == 0 &&
		    dash_secret_equal(req->authorization + 7, dash->bearer);
	return ok;
}

/* Answer a whole head: refusals at once, the rest from a child. */
static void
dash_answer(struct dashboard *dash, struct dash_conn *c)
{
	const struct dash_request *req = &c->req;
	const struct dash_asset *asset;
	char *token, *extra, path[256];
	size_t plen, i;
	pid_t parent;
	int fd = c->fd;

	if (!dash_host_ok(dash, req->host)) {
		dash_reply_text(fd, 403,
		    "wrong Host: open the URL "
		    "llmctl dashboard printed");
		return;
	}
	if (strcmp(req->method, "GET") != 0) {
		dash_reply_text(fd, 405, "the dashboard only reads: GET only");
		return;
	}
	if ((token = dash_query_param(req->target, "token")) != NULL) {
		if (dash->token == NULL) {
			dash_reply_text(fd, 403,
			    "this link was used already: run llmctl dashboard "
			    "again for a new one");
		} else if (!dash_secret_equal(token, dash->token)) {
			dash_reply_text(fd, 403, "wrong token");
		} else {
			free(dash->token);
			dash->token = NULL;
			extra =
			    xasprintf("Location: /#session=%s\r\n"
			              "Set-Cookie: %s=%s; Path=/; HttpOnly; "
			              "SameSite=Strict\r\n",
			        dash->bearer, dash->cookie_name, dash->session);
			dash_reply(fd, 303, "text/plain", extra, NULL, 0);
			free(extra);
			fprintf(stderr,
			    "llmctl dashboard: the link was opened; it "
			    "works no more\n");
		}
		free(token);
		return;
	}
	plen = strcspn(req->target, "?");
	if (plen >= sizeof path)
		plen = sizeof path - 1;
	memcpy(path, req->target, plen);
	path[plen] = '\0';
	asset = dash_asset_find(path);
	if (!dash_signed_in(dash, req, asset == NULL)) {
		dash_reply_text(fd, 401,
		    "not signed in: open the URL llmctl dashboard printed");
		return;
	}
	if (asset == NULL && strncmp(path, "/v1/", 4) != 0) {
		dash_reply_text(fd, 404, "not found");
		return;
	}
	parent = getpid();
	switch (fork()) {
	case -1:
		dash_reply_text(fd, 503, "cannot fork");
		return;
	case 0:
		/*
		 * Only this connection: a copy of another one held here
		 * would keep it open after its own answer ended, and an
		 * answer without a length ends when the connection closes.
		 */
		/* and no stream outlives the dashboard (Ctrl-C) */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 ||
		    getppid() != parent)
			_exit(1);
		close(dash->listener);
		for (i = 0; i < DASH_CONNS; i++)
			if (dash->conns[i].fd != -1 && dash->conns[i].fd != fd)
				close(dash->conns[i].fd);
		if (asset != NULL)
			dash_reply(fd, 200, asset->type, NULL, asset->data,
			    asset->len);
		else
			dash_proxy(fd, dash->socket_path, req->target);
		_exit(0);
	default:
		return;
	}
}

static void
dash_read(struct dashboard *dash, struct dash_conn *c)
{
	ssize_t n;

	n = read(c->fd, c->req.buf + c->req.len, DASH_HEAD_MAX - c->req.len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		dash_close(c);
		return;
	}
	c->req.len += (size_t)n;
	switch (dash_request_parse(&c->req)) {
	case 0:
		return;
	case 1:
		/* written blocking (accept4 made fd so), by us or a child */
		dash_answer(dash, c);
		break;
	default:
		dash_reply_text(c->fd, 400, "bad request");
		break;
	}
	dash_close(c);
}

static int
cmd_dashboard_exec(struct llmctl *ctx, struct args *args)
{
	struct dashboard dash = { .socket_path = ctx->socket_path };
	struct pollfd pfd[DASH_CONNS + 1];
	struct dash_conn *map[DASH_CONNS + 1];
	const char *port_s = args_get(args, 'p');
	json_t *reply = NULL;
	char *cause = NULL;
	long long port = 0;
	size_t i, n;
	int ls, timeout;
	int64_t now;

	if (port_s != NULL &&
	    (job_parse_number("port", port_s, &port) != 0 || port > 65535)) {
		fprintf(stderr, "llmctl: port must be 0 to 65535\n");
		return CMD_USAGE;
	}
	/* say now, not in the browser, that llmctld is not there */
	if (client_request(llmctl_client(ctx), "GET", "/v1/version", NULL,
	        &reply, &cause) != CLIENT_OK) {
		fprintf(stderr, "llmctl: %s\n", cause);
		free(cause);
		return CMD_FAILED;
	}
	json_decref(reply);
	if ((dash.listener = ls = dash_listen((int)port, &dash.port)) < 0) {
		fprintf(stderr, "llmctl: cannot listen on 127.0.0.1:%lld: %s\n",
		    port, strerror(errno));
		return CMD_FAILED;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_IGN); /* children reap themselves */
	dash.token = random_hex(16);
	dash.session = random_hex(32);
	dash.bearer = random_hex(32);
	dash.cookie_name = xasprintf("llmctl_dashboard_%d", dash.port);
	for (i = 0; i < DASH_CONNS; i++)
		dash.conns[i].fd = -1;
	printf("http://127.0.0.1:%d/?token=%s\n", dash.port, dash.token);
	fflush(stdout);
	fprintf(stderr,
	    "llmctl dashboard: open the URL above once, in a browser on this "
	    "host; Ctrl-C stops it\n");
	for (;;) {
		pfd[0] = (struct pollfd){ .fd = ls, .events = POLLIN };
		n = 1;
		now = mono_ms();
		timeout = -1;
		for (i = 0; i < DASH_CONNS; i++) {
			struct dash_conn *c = &dash.conns[i];

			if (c->fd == -1)
				continue;
			if (now >= c->deadline_ms) {
				dash_close(c);
				continue;
			}
			if (timeout < 0 || c->deadline_ms - now < timeout)
				timeout = (int)(c->deadline_ms - now);
			map[n] = c;
			pfd[n++] =
			    (struct pollfd){ .fd = c->fd, .events = POLLIN };
		}
		if (poll(pfd, n, timeout) < 0 && errno != EINTR) {
			fprintf(stderr, "llmctl: poll: %s\n", strerror(errno));
			break;
		}
		for (i = 1; i < n; i++)
			if (pfd[i].revents != 0)
				dash_read(&dash, map[i]);
		if (pfd[0].revents & POLLIN)
			dash_accept(&dash, ls);
	}
	close(ls);
	free(dash.token);
	free(dash.session);
	free(dash.bearer);
	free(dash.cookie_name);
	return CMD_FAILED;
}
