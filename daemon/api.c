/* api: the route table and the helpers every handler shares. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "llmctld.h"
#include "log.h"
#include "metrics.h"
#include "spec.h"
#include "store.h"
#include "util.h"

#define API_VERSION "v1"

const char *
api_query(const struct api_request *req, const char *key)
{
	size_t i;

	for (i = 0; i < req->nquery; i++)
		if (strcmp(req->query[i].key, key) == 0)
			return req->query[i].value;
	return NULL;
}

/*
 * Replace bytes that are not UTF-8 with '?': JSON strings must be UTF-8, and
 * jansson also refuses overlong forms, surrogates and code points past
 * U+10FFFF.
 */
void
api_utf8_scrub(unsigned char *s, size_t n)
{
	static const uint32_t min[] = {
		[2] = 0x80, [3] = 0x800, [4] = 0x10000
	};
	size_t i = 0, len, k;
	uint32_t cp;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		len = (s[i] & 0xe0) == 0xc0 ? 2
		    : (s[i] & 0xf0) == 0xe0 ? 3
		    : (s[i] & 0xf8) == 0xf0 ? 4
		                            : 0;
		cp = len == 0 ? 0 : s[i] & (0x7f >> len);
		for (k = 1; len != 0 && k < len; k++) {
			if (i + k >= n || (s[i + k] & 0xc0) != 0x80)
				len = 0;
			else
				cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (len == 0 || cp < min[len] || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff)) {
			s[i++] = '?';
			continue;
		}
		i += len;
	}
}

void
api_error(struct api_response *resp, int status, const char *code,
    const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	/* it may quote the request (a path, a query value): keep it JSON */
	api_utf8_scrub((unsigned char *)msg, strlen(msg));
	json_decref(resp->body);
	resp->status = status;
	resp->body = json_pack("{s:s, s:s}", "error", msg, "code", code);
	free(msg);
}

/* "/v1/jobs/12/cancel" -> id 12, rest "/cancel"; -1 if not a job path. */
static int
parse_job_path(const char *path, int64_t *id, const char **rest)
{
	const char *p = path + strlen("/v1/jobs/");
	char *end;
	long long v;

	if (strncmp(path, "/v1/jobs/", strlen("/v1/jobs/")) != 0 || *p < '0' ||
	    *p > '9')
		return -1;
	errno = 0;
	v = strtoll(p, &end, 10);
	if (errno != 0 || v <= 0)
		return -1;
	*id = v;
	*rest = end;
	return 0;
}

static void
api_health(struct api_response *resp)
{
	resp->status = 200;
	resp->body = json_pack("{s:s}", "status", "ok");
}

static void
api_version(struct api_response *resp)
{
	resp->status = 200;
	resp->body = json_pack(
	    "{s:s, s:s}", "version", PACKAGE_VERSION, "api", API_VERSION);
}

/* The routes' templates: the only values metrics' route label takes. */
static const char *const job_routes[] = { "", "/cancel", "/events", "/logs",
	"/checkpoints" };
static const char *const job_templates[] = { "/v1/jobs/{id}",
	"/v1/jobs/{id}/cancel", "/v1/jobs/{id}/events", "/v1/jobs/{id}/logs",
	"/v1/jobs/{id}/checkpoints" };
static const char *const fixed_routes[] = { "/v1/heartbeat", "/metrics",
	"/v1/metrics", "/v1/health", "/v1/version", "/v1/jobs", "/v1/events",
	"/v1/plan", "/v1/nodes", "/v1/goodput" };

static const char *
route_template(const char *path)
{
	const char *rest;
	int64_t id;
	size_t i;

	if (api_node_path(path, &rest, &i) == 0)
		return "/v1/nodes/{name}/clear";
	for (i = 0; i < nitems(fixed_routes); i++)
		if (strcmp(path, fixed_routes[i]) == 0)
			return fixed_routes[i];
	if (parse_job_path(path, &id, &rest) == 0)
		for (i = 0; i < nitems(job_routes); i++)
			if (strcmp(rest, job_routes[i]) == 0)
				return job_templates[i];
	return "other";
}

static void api_route(
    struct llmctld *, const struct api_request *, struct api_response *);

void
api_dispatch(
    struct llmctld *d, const struct api_request *req, struct api_response *resp)
{
	double t0 = metrics_now();

	api_route(d, req, resp);
	if (!resp->counted_later)
		metrics_api(route_template(req->path), req->tcp,
		    resp->deferred ? METRICS_DEFERRED : resp->status,
		    metrics_now() - t0);
}

static void
api_route(
    struct llmctld *d, const struct api_request *req, struct api_response *resp)
{
	const char *rest;
	int64_t id;

	resp->status = 500;
	resp->body = NULL;
	resp->text = NULL;
	if (req->tcp) {
		/* no caller identity over TCP: only these three */
		if (strcmp(req->path, "/v1/heartbeat") == 0 &&
		    req->method == API_POST)
			api_heartbeat(d, req, resp);
		else if (strcmp(req->path, "/metrics") == 0 &&
		    req->method == API_GET)
			api_metrics(d, req, resp);
		else if (strcmp(req->path, "/v1/health") == 0 &&
		    req->method == API_GET)
			api_health(resp);
		else
			api_error(resp, 404, "not_found",
			    "not served over "
			    "TCP: %s",
			    req->path);
	} else if (strcmp(req->path, "/v1/health") == 0 &&
	    req->method == API_GET)
		api_health(resp);
	else if (strcmp(req->path, "/v1/version") == 0 &&
	    req->method == API_GET)
		api_version(resp);
	else if (strcmp(req->path, "/v1/metrics") == 0 &&
	    req->method == API_GET)
		api_metrics(d, req, resp);
	else if (strcmp(req->path, "/v1/jobs") == 0 && req->method == API_POST)
		api_jobs_submit(d, req, resp);
	else if (strcmp(req->path, "/v1/jobs") == 0 && req->method == API_GET)
		api_jobs_list(d, req, resp);
	else if (parse_job_path(req->path, &id, &rest) == 0 &&
	    strcmp(rest, "") == 0 && req->method == API_GET)
		api_jobs_get(d, req, resp, id);
	else if (parse_job_path(req->path, &id, &rest) == 0 &&
	    strcmp(rest, "/cancel") == 0 && req->method == API_POST)
		api_jobs_cancel(d, req, resp, id);
	else if (parse_job_path(req->path, &id, &rest) == 0 &&
	    strcmp(rest, "/events") == 0 && req->method == API_GET &&
	    api_query(req, "follow") != NULL)
		api_events(d, req, resp, id);
	else if (parse_job_path(req->path, &id, &rest) == 0 &&
	    strcmp(rest, "/events") == 0 && req->method == API_GET)
		api_job_events(d, req, resp, id);
	else if (strcmp(req->path, "/v1/events") == 0 && req->method == API_GET)
		api_events(d, req, resp, 0);
	else if (parse_job_path(req->path, &id, &rest) == 0 &&
	    strcmp(rest, "/logs") == 0 && req->method == API_GET)
		api_job_logs(d, req, resp, id);
	else if (parse_job_path(req->path, &id, &rest) == 0 &&
	    strcmp(rest, "/checkpoints") == 0 && req->method == API_GET)
		api_job_checkpoints(d, req, resp, id);
	else if (strcmp(req->path, "/v1/plan") == 0 && req->method == API_POST)
		api_plan(d, req, resp);
	else if (strcmp(req->path, "/v1/nodes") == 0 && req->method == API_GET)
		api_nodes(d, req, resp);
	else if (strcmp(req->path, "/v1/goodput") == 0 &&
	    req->method == API_GET)
		api_goodput(d, req, resp);
	else if (strncmp(req->path, "/v1/nodes/", 10) == 0 &&
	    req->method == API_POST)
		api_node_clear(d, req, resp);
	else
		api_error(
		    resp, 404, "not_found", "no such endpoint: %s", req->path);
	if (resp->body == NULL && resp->text == NULL && !resp->deferred)
		api_error(resp, 500, "internal", "internal error");
}

/* The job, if the caller may see it; NULL with a 404 or 403 reply. */
struct job *
api_job_for_caller(struct llmctld *d, const struct api_request *req,
    struct api_response *resp, int64_t id)
{
	struct job *job;

	if ((job = store_job_get(d->store, id)) == NULL) {
		api_error(
		    resp, 404, "not_found", "no such job: %lld", (long long)id);
		return NULL;
	}
	if (job->uid != req->uid && !req->admin) {
		api_error(resp, 403, "permission_denied",
		    "job %lld belongs to another user", (long long)id);
		job_free(job);
		return NULL;
	}
	return job;
}

/* The spec in a submit or plan body, parsed; NULL with a 400 reply. */
struct spec *
api_parse_spec_body(const struct api_request *req, struct api_response *resp)
{
	json_t *body;
	json_error_t jerr;
	const char *text = NULL, *file = "job.yaml", *workdir = NULL;
	struct spec *spec;
	char *cause = NULL;

	body = json_loadb(req->body, req->body_len, 0, &jerr);
	if (body == NULL ||
	    json_unpack(body, "{s:s, s?s, s?s}", "spec", &text, "file", &file,
	        "workdir", &workdir) != 0) {
		api_error(resp, 400, "bad_request",
		    "expected a JSON body "
		    "{\"spec\": YAML text, \"file\": name, \"workdir\": path}");
		json_decref(body);
		return NULL;
	}
	if (workdir != NULL && workdir[0] != '/') {
		api_error(resp, 400, "bad_request",
		    "workdir must be an absolute path");
		json_decref(body);
		return NULL;
	}
	spec = spec_parse(text, strlen(text), file, workdir, &cause);
	if (spec == NULL) {
		api_error(resp, 400, "invalid_spec", "%s", cause);
		log_warnx("uid %lu: refused spec: %s", (unsigned long)req->uid,
		    cause);
		free(cause);
	} else if (spec->workdir == NULL) {
		api_error(resp, 400, "invalid_spec",
		    "%s: workdir: required "
		    "when the client sends no working directory",
		    file);
		spec_free(spec);
		spec = NULL;
	}
	json_decref(body);
	return spec;
}
