/*
 * notify: webhook deliveries, off the loop; see notify.h.
 *
 * The queue is a list on the loop's thread. notify_pump() hands a waiting
 * delivery whose time has come to the pool when its destination has none
 * in flight and fewer than NOTIFY_THREADS are in flight, so the pool's own
 * queue never grows and one hanging receiver holds one thread. The thread
 * only runs curl on copies it owns; the result comes back in done().
 *
 * The saved cursor is the id before the oldest event still queued (or the
 * last event read when none is), so a restart sends again what was in
 * flight (at least once) and skips nothing.
 */
#include "config.h"

#include <sys/queue.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "api.h"
#include "conf.h"
#include "llmctld.h"
#include "log.h"
#include "notify.h"
#include "pool.h"
#include "spec.h"
#include "spec-cache.h"
#include "store.h"
#include "timer.h"
#include "util.h"

#define NOTIFY_THREADS 4
#define NOTIFY_BACKOFF_MS 1000 /* first retry; doubles */
#define NOTIFY_BACKOFF_MAX_MS 60000
#define NOTIFY_MAX_URL 2048
#define NOTIFY_CURSOR "notify"

struct delivery {
	TAILQ_ENTRY(delivery) entry;
	struct notify *n;
	char *url;
	char *dest; /* scheme://host:port */
	char *body;
	int64_t event_id;
	int tries; /* made so far */
	int64_t not_before; /* mono ms */
	int in_flight;
	long timeout_ms;
	/* filled on the pool thread */
	long status;
	char error[CURL_ERROR_SIZE];
};
TAILQ_HEAD(delivery_list, delivery);

struct notify {
	struct llmctld *d;
	struct pool *pool; /* NULL: nothing is sent (tests) */
	struct timer *timer; /* next retry */
	struct delivery_list queue; /* oldest first */
	size_t nqueued;
	int in_flight;
	int stopping; /* notify_free() */
	int64_t seen; /* last event read */
	int64_t saved; /* cursor in the store */
	struct notify_stats stats;
	struct log_limit drop_log;
	struct log_limit fail_log;
};

static void notify_pump(struct notify *);
static void notify_timer_cb(void *);

/* --- URLs -------------------------------------------------------------- */

struct url {
	int https;
	char host[256];
	int port;
	const char *path; /* into the URL: "/..." or "" */
};

/*
 * http[s]://HOST[:PORT][/PATH]: no user info (a "host@" could hide the real
 * host from a prefix match), no backslash, space or control character, no
 * dot segment or encoded dot or slash that a receiver could resolve out
 * of an allowed path.
 */
static int
url_parse(const char *s, struct url *u, char **why)
{
	const char *p, *host, *end;
	size_t i, hlen;
	long port;

	memset(u, 0, sizeof(*u));
	if (strlen(s) > NOTIFY_MAX_URL)
		return set_cause(why, "longer than %d bytes", NOTIFY_MAX_URL);
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f ||
		    s[i] == '\\' || (unsigned char)s[i] >= 0x80)
			return set_cause(why,
			    "\"%s\": spaces, backslashes and "
			    "control or non-ASCII characters are not allowed",
			    s);
	if (strncasecmp(s, "http://", 7) == 0)
		p = s + 7;
	else if (strncasecmp(s, "https://", 8) == 0) {
		p = s + 8;
		u->https = 1;
	} else
		return set_cause(
		    why, "\"%s\": not an http:// or https:// URL", s);
	host = p;
	end = p + strcspn(p, "/?#");
	if (memchr(host, '@', (size_t)(end - host)) != NULL)
		return set_cause(
		    why, "\"%s\": user info (@) is not allowed", s);
	if (*host == '[') {
		p = memchr(host, ']', (size_t)(end - host));
		if (p == NULL)
			return set_cause(why, "\"%s\": bad IPv6 address", s);
		p++;
	} else
		for (p = host; p < end && *p != ':'; p++)
			if (!isalnum((unsigned char)*p) && *p != '.' &&
			    *p != '-')
				return set_cause(
				    why, "\"%s\": bad host name", s);
	hlen = (size_t)(p - host);
	if (hlen == 0 || hlen >= sizeof(u->host))
		return set_cause(why, "\"%s\": no host", s);
	for (i = 0; i < hlen; i++)
		u->host[i] = (char)tolower((unsigned char)host[i]);
	u->port = u->https ? 443 : 80;
	if (p < end) {
		if (*p != ':' || p + 1 == end || end - p > 6)
			return set_cause(why, "\"%s\": bad port", s);
		port = 0;
		for (p++; p < end; p++) {
			if (!isdigit((unsigned char)*p))
				return set_cause(why, "\"%s\": bad port", s);
			port = port * 10 + (*p - '0');
		}
		if (port < 1 || port > 65535)
			return set_cause(why, "\"%s\": bad port", s);
		u->port = (int)port;
	}
	u->path = end;
	if (*end != '\0' && *end != '/')
		return set_cause(why, "\"%s\": a path must start with /", s);
	if (strstr(end, "/../") != NULL || strstr(end, "/./") != NULL ||
	    (strlen(end) >= 3 && strcmp(end + strlen(end) - 3, "/..") == 0) ||
	    (strlen(end) >= 2 && strcmp(end + strlen(end) - 2, "/.") == 0) ||
	    strcasestr(end, "%2e") != NULL || strcasestr(end, "%2f") != NULL ||
	    strcasestr(end, "%5c") != NULL)
		return set_cause(why,
		    "\"%s\": dot segments and encoded dots "
		    "or slashes are not allowed",
		    s);
	return 0;
}

int
notify_url_check(const char *url, char **why)
{
	struct url u;

	return url_parse(url, &u, why);
}

/* Calls fn on each prefix of list (a copy, cut in place). */
static int
allow_each(const char *list, int (*fn)(const char *, void *), void *arg)
{
	char *copy = xstrdup(list), *tok, *save = NULL;
	int rc = 0;

	for (tok = strtok_r(copy, " ,\t", &save); tok != NULL && rc == 0;
	     tok = strtok_r(NULL, " ,\t", &save))
		rc = fn(tok, arg);
	free(copy);
	return rc;
}

static int
allow_check_one(const char *prefix, void *arg)
{
	return url_parse(prefix, &(struct url){ 0 }, arg);
}

int
notify_allow_check(const char *list, char **why)
{
	return allow_each(list, allow_check_one, why);
}

struct allow_match {
	struct url url;
	int found;
};

/*
 * Same scheme, host and port, and the URL's path starts with the prefix's
 * at a segment boundary: "/hooks" allows "/hooks" and "/hooks/x", not
 * "/hooksx"; "/hooks/" only what is under it.
 */
static int
allow_match_one(const char *prefix, void *arg)
{
	struct allow_match *m = arg;
	struct url a;
	size_t len;
	char c;

	if (url_parse(prefix, &a, NULL) != 0 || a.https != m->url.https ||
	    a.port != m->url.port || strcmp(a.host, m->url.host) != 0)
		return 0;
	len = strlen(a.path);
	if (len == 0 || strncmp(m->url.path, a.path, len) != 0)
		m->found = len == 0;
	else {
		c = m->url.path[len];
		m->found = a.path[len - 1] == '/' || c == '\0' || c == '/' ||
		    c == '?' || c == '#';
	}
	return m->found;
}

int
notify_url_allowed(const char *allow, const char *url, char **why)
{
	struct allow_match m = { .found = 0 };
	char *bad = NULL;

	if (url_parse(url, &m.url, &bad) != 0) {
		set_cause(why,
		    "%s; and only destinations under llmctld.conf "
		    "webhook_allow are allowed",
		    bad);
		free(bad);
		return -1;
	}
	if (allow != NULL)
		allow_each(allow, allow_match_one, &m);
	if (!m.found)
		return set_cause(why,
		    "%s is not allowed: llmctld.conf "
		    "webhook_allow %s",
		    url,
		    allow == NULL ? "is not set, so "
		                    "jobs may name no webhook"
		                  : "lists no prefix of it");
	return 0;
}

/* --- what is sent ------------------------------------------------------ */

int
notify_type(const char *kind, const char *message)
{
	if (strcmp(kind, "state") == 0 &&
	    strncmp(message, "job COMPLETED", 13) == 0)
		return NOTIFY_COMPLETED;
	if (strcmp(kind, "state") == 0 &&
	    strncmp(message, "job FAILED", 10) == 0)
		return NOTIFY_FAILED;
	if (strcmp(kind, "restart") == 0)
		return NOTIFY_RESTARTED;
	if (strcmp(kind, "hang") == 0)
		return NOTIFY_HANG;
	if (strcmp(kind, "goodput") == 0)
		return NOTIFY_GOODPUT;
	return -1;
}

/*
 * Slack's incoming webhooks read "text" and ignore the rest; the other
 * members are for receivers that act on them.
 */
json_t *
notify_payload(int type, const struct event_row *ev, const struct job *job)
{
	char *text, *msg;
	json_t *o;

	/* JSON strings are UTF-8; a reason may quote a program's output */
	msg = xstrdup(ev->message);
	api_utf8_scrub((unsigned char *)msg, strlen(msg));
	text = xasprintf("llmctl: job %lld \"%s\" of %s %s: %s",
	    (long long)job->id, job->name, job->user, spec_notify_name(type),
	    msg);
	o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:I, s:I, s:s, s:s}",
	    "text", text, "event", spec_notify_name(type), "job_id",
	    (json_int_t)job->id, "job", job->name, "user", job->user, "state",
	    job_state_name(job->state), "event_id", (json_int_t)ev->id, "at",
	    (json_int_t)ev->at, "kind", ev->kind, "message", msg);
	free(text);
	free(msg);
	return o;
}

/* --- the queue --------------------------------------------------------- */

static void
delivery_free(struct delivery *dl)
{
	free(dl->url);
	free(dl->dest);
	free(dl->body);
	free(dl);
}

/* The id before the oldest queued event, or the last one read. */
static void
notify_save(struct notify *n)
{
	struct delivery *dl;
	int64_t low = n->seen;

	TAILQ_FOREACH(dl, &n->queue, entry)
	if (dl->event_id - 1 < low)
		low = dl->event_id - 1;
	if (low == n->saved || n->d->store == NULL)
		return;
	if (store_cursor_set(n->d->store, NOTIFY_CURSOR, low) == 0)
		n->saved = low;
}

static void
notify_remove(struct notify *n, struct delivery *dl)
{
	TAILQ_REMOVE(&n->queue, dl, entry);
	n->nqueued--;
	delivery_free(dl);
}

void
notify_enqueue(
    struct notify *n, const char *url, json_t *body, int64_t event_id)
{
	struct delivery *dl, *old;
	struct url u;

	if (url_parse(url, &u, NULL) != 0) {
		json_decref(body);
		return;
	}
	while (n->nqueued >= (size_t)n->d->conf->webhook_queue) {
		TAILQ_FOREACH(old, &n->queue, entry)
		if (!old->in_flight)
			break;
		if (old == NULL)
			break; /* all in flight: a queue of 1-4 */
		n->stats.dropped++;
		log_limited(&n->drop_log, LOG_LEVEL_WARN,
		    "webhook queue full "
		    "(%lld): dropped the oldest notification (event %lld to "
		    "%s); %llu dropped so far",
		    (long long)n->d->conf->webhook_queue,
		    (long long)old->event_id, old->dest,
		    (unsigned long long)n->stats.dropped);
		notify_remove(n, old);
	}
	dl = xcalloc(1, sizeof(*dl));
	dl->n = n;
	dl->url = xstrdup(url);
	dl->dest =
	    xasprintf("%s://%s:%d", u.https ? "https" : "http", u.host, u.port);
	dl->body = json_dumps(body, JSON_COMPACT);
	dl->event_id = event_id;
	json_decref(body);
	if (dl->body == NULL) {
		delivery_free(dl);
		return;
	}
	TAILQ_INSERT_TAIL(&n->queue, dl, entry);
	n->nqueued++;
}

/* Where one event goes: the daemon's webhook, and the job's own. */
static void
notify_event(struct notify *n, const struct event_row *ev)
{
	const struct conf *conf = n->d->conf;
	const struct spec *sp;
	struct spec_ref *ref;
	struct job *job;
	char *why = NULL;
	int type;

	if ((type = notify_type(ev->kind, ev->message)) < 0)
		return;
	if ((job = store_job_get(n->d->store, ev->job_id)) == NULL)
		return;
	if (conf->webhook_url != NULL)
		notify_enqueue(n, conf->webhook_url,
		    notify_payload(type, ev, job), ev->id);
	ref = spec_cache_get(n->d->specs, job->id, job->spec, NULL);
	sp = ref != NULL ? ref->spec : NULL;
	if (sp != NULL && sp->notify.webhook != NULL &&
	    (sp->notify.on & (1u << type))) {
		/* checked at submit; again, as the admin may have changed it */
		if (notify_url_allowed(
		        conf->webhook_allow, sp->notify.webhook, &why) == 0)
			notify_enqueue(n, sp->notify.webhook,
			    notify_payload(type, ev, job), ev->id);
		else
			log_limited(&n->fail_log, LOG_LEVEL_WARN,
			    "job %lld: "
			    "not notified: %s",
			    (long long)job->id, why);
		free(why);
	}
	spec_ref_put(ref);
	job_free(job);
}

void
notify_feed_cb(void *arg, const struct event_row *ev, size_t count)
{
	struct notify *n = arg;
	size_t i;

	for (i = 0; i < count; i++) {
		notify_event(n, &ev[i]);
		n->seen = ev[i].id;
	}
	if (count > 0) {
		notify_pump(n);
		notify_save(n);
	}
}

/* --- delivery ---------------------------------------------------------- */

static size_t
discard_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	(void)data;
	(void)arg;
	return size * nmemb;
}

/* On a pool thread: one POST, within the delivery's timeout. */
static void
delivery_run(void *arg)
{
	struct delivery *dl = arg;
	struct curl_slist *headers = NULL;
	CURLcode res;
	CURL *curl;

	dl->status = 0;
	dl->error[0] = '\0';
	if ((curl = curl_easy_init()) == NULL) {
		snprintf(dl->error, sizeof(dl->error), "curl_easy_init");
		return;
	}
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, "Expect:");
	curl_easy_setopt(curl, CURLOPT_URL, dl->url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_PROXY, "");
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, dl->timeout_ms);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, dl->timeout_ms);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, dl->body);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "llmctld/" PACKAGE_VERSION);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_cb);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, dl->error);
	if ((res = curl_easy_perform(curl)) == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &dl->status);
	else if (dl->error[0] == '\0')
		snprintf(dl->error, sizeof(dl->error), "%s",
		    curl_easy_strerror(res));
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
}

/* Back on the loop: done, retried later, or given up. */
static void
delivery_done(void *arg, int cancelled)
{
	struct delivery *dl = arg;
	struct notify *n = dl->n;
	int64_t backoff;

	dl->in_flight = 0;
	n->in_flight--;
	if (cancelled || n->stopping) {
		notify_remove(n, dl);
		return;
	}
	dl->tries++;
	if (dl->status >= 200 && dl->status <= 299) {
		n->stats.delivered++;
		log_debug("webhook %s: event %lld delivered", dl->dest,
		    (long long)dl->event_id);
		notify_remove(n, dl);
	} else if (dl->tries > n->d->conf->webhook_retries) {
		n->stats.failed++;
		if (dl->status != 0)
			snprintf(dl->error, sizeof(dl->error), "HTTP %ld",
			    dl->status);
		log_limited(&n->fail_log, LOG_LEVEL_WARN,
		    "webhook %s: event "
		    "%lld not delivered after %d tries: %s",
		    dl->dest, (long long)dl->event_id, dl->tries, dl->error);
		notify_remove(n, dl);
	} else {
		backoff = NOTIFY_BACKOFF_MS << (dl->tries - 1);
		if (backoff > NOTIFY_BACKOFF_MAX_MS)
			backoff = NOTIFY_BACKOFF_MAX_MS;
		dl->not_before = mono_ms() + backoff;
		if (dl->status != 0)
			snprintf(dl->error, sizeof(dl->error), "HTTP %ld",
			    dl->status);
		log_info("webhook %s: event %lld: %s (try %d), again in "
		         "%lld ms",
		    dl->dest, (long long)dl->event_id, dl->error, dl->tries,
		    (long long)backoff);
	}
	notify_pump(n);
	notify_save(n);
}

static int
dest_busy(const struct notify *n, const char *dest)
{
	const struct delivery *dl;

	TAILQ_FOREACH(dl, &n->queue, entry)
	if (dl->in_flight && strcmp(dl->dest, dest) == 0)
		return 1;
	return 0;
}

/* FNV-1a of the destination, the pool's key. */
static uint64_t
dest_key(const char *dest)
{
	return str_hash(dest);
}

/* Start what may start; wake up for the next retry that may not yet. */
static void
notify_pump(struct notify *n)
{
	struct delivery *dl;
	int64_t now = mono_ms(), next = -1;

	if (n->pool == NULL)
		return;
	TAILQ_FOREACH(dl, &n->queue, entry)
	{
		if (n->in_flight >= NOTIFY_THREADS)
			break;
		if (dl->in_flight || dest_busy(n, dl->dest))
			continue;
		if (dl->not_before > now) {
			if (next == -1 || dl->not_before < next)
				next = dl->not_before;
			continue;
		}
		dl->in_flight = 1;
		dl->timeout_ms = (long)n->d->conf->webhook_timeout_ms;
		n->in_flight++;
		/* keyed by destination: the pool serves them in turns */
		pool_push(n->pool, dest_key(dl->dest), delivery_run,
		    delivery_done, dl);
	}
	if (next != -1)
		timer_schedule(n->timer, next - now);
}

static void
notify_timer_cb(void *arg)
{
	notify_pump(arg);
}

struct notify *
notify_create(struct llmctld *d)
{
	struct notify *n;

	n = xcalloc(1, sizeof(*n));
	n->d = d;
	TAILQ_INIT(&n->queue);
	n->saved = n->seen =
	    d->store != NULL ? store_cursor_get(d->store, NOTIFY_CURSOR) : 0;
	if (n->seen < 0 && d->store != NULL) {
		/* first start: from now on, not all of history */
		n->seen = store_events_last(d->store);
		if (n->seen < 0)
			n->seen = 0;
		n->saved = -1;
		notify_save(n);
	}
	if (d->base != NULL) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
			fatalx("cannot initialise libcurl");
		n->pool = pool_create(d->base, "notify", NOTIFY_THREADS);
		n->timer = timer_new(d->base, notify_timer_cb, n);
	}
	return n;
}

int64_t
notify_cursor(const struct notify *n)
{
	return n->seen;
}

void
notify_get_stats(const struct notify *n, struct notify_stats *st)
{
	*st = n->stats;
	st->queued = n->nqueued;
}

void
notify_free(struct notify *n)
{
	struct delivery *dl;

	if (n == NULL)
		return;
	n->stopping = 1;
	pool_free(n->pool); /* waits for what is in flight */
	while ((dl = TAILQ_FIRST(&n->queue)) != NULL)
		notify_remove(n, dl);
	timer_free(n->timer);
	if (n->pool != NULL)
		curl_global_cleanup();
	free(n);
}
