/*
 * client: HTTP/1.1 over llmctld's Unix socket with libcurl, JSON with
 * jansson.
 *
 * One easy handle is reused for every request of a run (llmctl cancel with
 * many ids keeps one connection). Proxies from the environment are ignored,
 * redirects are never followed and replies are capped, so nothing but the
 * daemon on the socket decides what llmctl prints. The same transfer code
 * serves client_request_url(), which llmctl heartbeat uses to reach the
 * daemon's TCP listener from inside a job.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "client.h"
#include "util.h"

#define CLIENT_CONNECT_TIMEOUT_S 5
#define CLIENT_TIMEOUT_S 30
#define CLIENT_MAX_REPLY (64 * 1024 * 1024)
#define CLIENT_RETRY_S 20 /* client_request_once() keeps trying this long */

struct client {
	char *socket_path;
	CURL *curl;
	char *buf; /* the reply being received */
	size_t len;
	size_t cap;
	int overflow;
};

static size_t client_write_cb(char *, size_t, size_t, void *);
static int client_transport_error(
    struct client *, CURLcode, const char *, const char *, char **);
static int client_http_error(struct client *, long, char **);
static int client_handle(struct client *, char **);
static int client_perform(struct client *, const char *, const char *,
    const char *, const char *, const char *, const json_t *, json_t **,
    char **);

struct client *
client_create(const char *socket_path)
{
	struct client *c;

	c = xcalloc(1, sizeof *c);
	c->socket_path = xstrdup(socket_path);
	return c;
}

void
client_free(struct client *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL) {
		curl_easy_cleanup(c->curl);
		curl_global_cleanup();
	}
	free(c->buf);
	free(c->socket_path);
	free(c);
}

char *
client_escape(struct client *c, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *e, *p;

	(void)c;
	p = e = xmalloc(strlen(s) * 3 + 1);
	for (; *s != '\0'; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("-._~", *s) != NULL)
			*p++ = *s;
		else {
			*p++ = '%';
			*p++ = hex[(unsigned char)*s >> 4];
			*p++ = hex[(unsigned char)*s & 0xf];
		}
	}
	*p = '\0';
	return e;
}

static size_t
client_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct client *c = arg;
	size_t n = size * nmemb;

	if (c->len + n > CLIENT_MAX_REPLY) {
		c->overflow = 1;
		return 0;
	}
	if (c->len + n + 1 > c->cap) {
		while (c->len + n + 1 > c->cap)
			c->cap = c->cap == 0 ? 4096 : c->cap * 2;
		c->buf = xreallocarray(c->buf, c->cap, 1);
	}
	memcpy(c->buf + c->len, data, n);
	c->len += n;
	c->buf[c->len] = '\0';
	return n;
}

/* Turn a failed transfer into the message a user can act on. */
static int
client_transport_error(struct client *c, CURLcode res, const char *where,
    const char *errbuf, char **cause)
{
	long oserr = 0;
	const char *reason;

	switch (res) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &oserr);
		if (oserr != 0)
			reason = strerror((int)oserr);
		else
			reason =
			    *errbuf != '\0' ? errbuf : curl_easy_strerror(res);
		set_cause(cause, "cannot connect to llmctld at %s: %s", where,
		    reason);
		return CLIENT_ERR_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		set_cause(cause, "llmctld at %s did not answer within %d s",
		    where, CLIENT_TIMEOUT_S);
		return CLIENT_ERR_CONNECT;
	case CURLE_WRITE_ERROR:
		if (c->overflow) {
			set_cause(cause,
			    "reply from llmctld is larger than "
			    "%d bytes",
			    CLIENT_MAX_REPLY);
			return CLIENT_ERR_REPLY;
		}
		break;
	default:
		break;
	}
	set_cause(cause, "request to llmctld at %s failed: %s", where,
	    *errbuf != '\0' ? errbuf : curl_easy_strerror(res));
	return CLIENT_ERR_CONNECT;
}

/* A non-2xx answer: the daemon's {"error": ...} text if it sent one. */
static int
client_http_error(struct client *c, long status, char **cause)
{
	json_t *j, *e;
	char *nl;

	j = c->buf != NULL ? json_loadb(c->buf, c->len, 0, NULL) : NULL;
	e = json_is_object(j) ? json_object_get(j, "error") : NULL;
	if (json_is_string(e) && json_string_length(e) > 0)
		set_cause(cause, "%s", json_string_value(e));
	else if (c->buf != NULL && c->len > 0) {
		if ((nl = strchr(c->buf, '\n')) != NULL)
			*nl = '\0';
		set_cause(
		    cause, "llmctld answered HTTP %ld: %.200s", status, c->buf);
	} else
		set_cause(cause, "llmctld answered HTTP %ld", status);
	json_decref(j);
	return CLIENT_ERR_REPLY;
}

int
client_request(struct client *c, const char *method, const char *path,
    const json_t *body, json_t **reply, char **cause)
{
	struct sockaddr_un sun;
	char *url;
	int rc;

	*reply = NULL;
	if (strlen(c->socket_path) >= sizeof sun.sun_path) {
		set_cause(cause, "cannot connect to llmctld at %s: %s",
		    c->socket_path, strerror(ENAMETOOLONG));
		return CLIENT_ERR_CONNECT;
	}
	url = xasprintf("http://localhost%s", path);
	rc = client_perform(c, method, url, c->socket_path, NULL,
	    c->socket_path, body, reply, cause);
	free(url);
	return rc;
}

int
client_request_once(struct client *c, const char *method, const char *path,
    const char *key, const json_t *body, json_t **reply, char **cause)
{
	struct sockaddr_un sun;
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	time_t give_up = time(NULL) + CLIENT_RETRY_S;
	char *url, *header;
	int rc;

	*reply = NULL;
	if (strlen(c->socket_path) >= sizeof sun.sun_path)
		return client_request(c, method, path, body, reply, cause);
	url = xasprintf("http://localhost%s", path);
	header = xasprintf("Idempotency-Key: %s", key);
	for (;;) {
		rc = client_perform(c, method, url, c->socket_path, header,
		    c->socket_path, body, reply, cause);
		if (rc != CLIENT_ERR_CONNECT || time(NULL) >= give_up)
			break;
		/* no answer: the daemon may be restarting; same key again */
		free(*cause);
		*cause = NULL;
		nanosleep(&pause, NULL);
		if (pause.tv_nsec < 800 * 1000 * 1000)
			pause.tv_nsec *= 2;
	}
	free(header);
	free(url);
	return rc;
}

int
client_request_url(struct client *c, const char *method, const char *url,
    const char *token, const json_t *body, json_t **reply, char **cause)
{
	char *auth = NULL;
	size_t i;
	int rc;

	*reply = NULL;
	/* Only plain web URLs: never file://, or any other curl protocol. */
	if (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0) {
		set_cause(cause, "%s: not an http:// or https:// URL", url);
		return CLIENT_ERR_CONNECT;
	}
	for (i = 0; token != NULL && token[i] != '\0'; i++) {
		/* A newline would end the header and start another. */
		if ((unsigned char)token[i] < 0x20 || token[i] == 0x7f) {
			set_cause(cause, "the token holds a control character");
			return CLIENT_ERR_CONNECT;
		}
	}
	if (token != NULL)
		auth = xasprintf("Authorization: Bearer %s", token);
	rc =
	    client_perform(c, method, url, NULL, auth, url, body, reply, cause);
	free(auth);
	return rc;
}

/* The easy handle, made once and reset for each transfer; 0 or -1. */
static int
client_handle(struct client *c, char **cause)
{
	if (c->curl == NULL) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
		    (c->curl = curl_easy_init()) == NULL)
			return set_cause(cause, "cannot initialise libcurl");
	} else
		curl_easy_reset(c->curl);
	c->len = 0;
	c->overflow = 0;
	return 0;
}

/*
 * One transfer: method to url, over the Unix socket unix_path unless it is
 * NULL, with the extra header line header unless NULL; where names the peer
 * in messages.
 */
static int
client_perform(struct client *c, const char *method, const char *url,
    const char *unix_path, const char *header, const char *where,
    const json_t *body, json_t **reply, char **cause)
{
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE], *data = NULL;
	json_error_t jerr;
	CURLcode res;
	long status = 0;
	int rc;

	if (client_handle(c, cause) != 0)
		return CLIENT_ERR_CONNECT;
	if (c->buf != NULL)
		c->buf[0] = '\0';

	headers = curl_slist_append(headers, "Accept: application/json");
	/* No "Expect: 100-continue" round trip for large specs. */
	headers = curl_slist_append(headers, "Expect:");
	if (header != NULL)
		headers = curl_slist_append(headers, header);
	if (body != NULL) {
		data = json_dumps(body, JSON_COMPACT);
		if (data == NULL) {
			set_cause(cause, "cannot encode the request as JSON");
			rc = CLIENT_ERR_REPLY;
			goto out;
		}
		headers = curl_slist_append(
		    headers, "Content-Type: application/json");
	}
	if (strcmp(method, "POST") == 0) {
		/* Always a Content-Length, 0 for a bodiless POST. */
		curl_easy_setopt(
		    c->curl, CURLOPT_POSTFIELDS, data != NULL ? data : "");
	} else {
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
		if (data != NULL)
			curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, data);
	}
	if (unix_path != NULL)
		curl_easy_setopt(c->curl, CURLOPT_UNIX_SOCKET_PATH, unix_path);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_PROXY, "");
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "llmctl/" PACKAGE_VERSION);
	curl_easy_setopt(
	    c->curl, CURLOPT_CONNECTTIMEOUT, (long)CLIENT_CONNECT_TIMEOUT_S);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, (long)CLIENT_TIMEOUT_S);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, client_write_cb);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
	errbuf[0] = '\0';

	if ((res = curl_easy_perform(c->curl)) != CURLE_OK) {
		rc = client_transport_error(c, res, where, errbuf, cause);
		goto out;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		rc = client_http_error(c, status, cause);
		goto out;
	}
	if (c->len == 0)
		*reply = json_null();
	else if ((*reply = json_loadb(c->buf, c->len, 0, &jerr)) == NULL) {
		set_cause(cause, "invalid JSON from llmctld: %s", jerr.text);
		rc = CLIENT_ERR_REPLY;
		goto out;
	}
	rc = CLIENT_OK;
out:
	curl_slist_free_all(headers);
	free(data);
	return rc;
}

/* The state of one client_stream(). */
struct client_lines {
	struct client *c;
	int (*fn)(const char *, void *);
	void *arg;
	int stopped; /* fn asked to stop */
};

static size_t
client_lines_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct client_lines *cl = arg;
	struct client *c = cl->c;
	size_t n = size * nmemb, used = 0;
	long status = 0;
	char *nl;

	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (client_write_cb(data, size, nmemb, c) != n)
		return 0;
	if (status < 200 || status > 299)
		return n; /* an error body: read whole, shown at the end */
	while ((nl = memchr(c->buf + used, '\n', c->len - used)) != NULL) {
		*nl = '\0';
		if (cl->fn(c->buf + used, cl->arg) != 0) {
			cl->stopped = 1;
			return 0;
		}
		used = (size_t)(nl - c->buf) + 1;
	}
	memmove(c->buf, c->buf + used, c->len - used);
	c->len -= used;
	c->buf[c->len] = '\0';
	return n;
}

int
client_stream(struct client *c, const char *path,
    int (*fn)(const char *, void *), void *arg, char **cause)
{
	struct client_lines cl = { .c = c, .fn = fn, .arg = arg };
	char errbuf[CURL_ERROR_SIZE], *url;
	CURLcode res;
	long status = 0;

	if (client_handle(c, cause) != 0)
		return CLIENT_ERR_CONNECT;
	url = xasprintf("http://localhost%s", path);
	curl_easy_setopt(c->curl, CURLOPT_UNIX_SOCKET_PATH, c->socket_path);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_PROXY, "");
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "llmctl/" PACKAGE_VERSION);
	curl_easy_setopt(
	    c->curl, CURLOPT_CONNECTTIMEOUT, (long)CLIENT_CONNECT_TIMEOUT_S);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, client_lines_cb);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &cl);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
	errbuf[0] = '\0';
	res = curl_easy_perform(c->curl);
	free(url);
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (cl.stopped)
		return CLIENT_OK;
	/* a stream the daemon cut short ends like one it ended */
	if ((res == CURLE_PARTIAL_FILE || res == CURLE_RECV_ERROR) &&
	    status >= 200 && status <= 299)
		return CLIENT_OK;
	if (res != CURLE_OK)
		return client_transport_error(
		    c, res, c->socket_path, errbuf, cause);
	if (status < 200 || status > 299)
		return client_http_error(c, status, cause);
	return CLIENT_OK;
}
