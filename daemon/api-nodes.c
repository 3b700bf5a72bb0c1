/*
 * api-nodes: node health records (nodehealth.h) in GET /v1/nodes, and
 * POST /v1/nodes/{name}/clear, the admin's way to trust a node again. A
 * failure names its job only to the job's owner and admins.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "conf.h"
#include "llmctld.h"
#include "log.h"
#include "nodehealth.h"
#include "store.h"
#include "util.h"

/* Failures shown per node. */
#define NODE_FAILURES_SHOWN 5

static json_t *
record_json(const struct node_record *r, const struct nodehealth_conf *nc,
    const struct api_request *req, int64_t now)
{
	enum node_health h = nodehealth_state(r, now);
	int64_t until = nodehealth_until(r, now);
	json_t *fails = json_array();
	const struct node_failure *f;
	size_t i;

	for (i = 0; i < r->nfail; i++) {
		f = &r->fail[i];
		json_array_append_new(fails,
		    json_pack("{s:I, s:o, s:o, s:o}", "at", (json_int_t)f->at,
		        "cause",
		        f->cause != NULL ? json_string(f->cause) : json_null(),
		        "job",
		        req->admin || f->uid == req->uid
		            ? json_integer(f->job_id)
		            : json_null(),
		        "attempt",
		        req->admin || f->uid == req->uid
		            ? json_integer(f->attempt)
		            : json_null()));
	}
	return json_pack("{s:s, s:s, s:f, s:i, s:o, s:b, s:I, s:o}", "name",
	    r->name, "state", nodehealth_state_name(h), "score",
	    nodehealth_score(r, now, nc->half_life_s), "quarantines",
	    r->quarantines, "until",
	    until != 0 ? json_integer(until) : json_null(), "drained",
	    r->drained == NODE_DRAINED, "failures_total",
	    (json_int_t)r->nfail_total, "failures", fails);
}

json_t *
api_node_health_json(struct llmctld *d, const struct api_request *req)
{
	struct nodehealth_conf nc;
	struct node_record *v;
	json_t *arr = json_array();
	int64_t now = wall_s();
	size_t n, i;

	nodehealth_conf_from(&nc, d->conf);
	v = store_node_list(d->store, NODE_FAILURES_SHOWN, &n);
	for (i = 0; i < n; i++)
		json_array_append_new(arr, record_json(&v[i], &nc, req, now));
	node_record_list_free(v, n);
	return arr;
}

/* "/v1/nodes/NAME/clear" -> NAME (borrowed, not NUL-ended); 0 or -1. */
int
api_node_path(const char *path, const char **name, size_t *len)
{
	const char *p = path + strlen("/v1/nodes/"), *slash;

	if (strncmp(path, "/v1/nodes/", strlen("/v1/nodes/")) != 0 ||
	    (slash = strchr(p, '/')) == NULL || slash == p ||
	    strcmp(slash, "/clear") != 0)
		return -1;
	*name = p;
	*len = (size_t)(slash - p);
	return 0;
}

void
api_node_clear(
    struct llmctld *d, const struct api_request *req, struct api_response *resp)
{
	struct nodehealth_conf nc;
	struct node_record r = { 0 };
	const char *p;
	char *name;
	size_t len;
	int rc;

	if (api_node_path(req->path, &p, &len) != 0) {
		api_error(
		    resp, 404, "not_found", "no such endpoint: %s", req->path);
		return;
	}
	name = xstrndup(p, len);
	if (!req->admin) {
		api_error(resp, 403, "permission_denied",
		    "only root and the admin group clear nodes");
		goto out;
	}
	if ((rc = store_node_clear(d->store, name)) != 0) {
		if (rc > 0)
			api_error(resp, 404, "not_found",
			    "no health record for node %s", name);
		else
			api_error(resp, 500, "internal", "cannot clear node %s",
			    name);
		goto out;
	}
	log_info("uid %lu cleared node %s", (unsigned long)req->uid, name);
	nodehealth_conf_from(&nc, d->conf);
	if (store_node_get(d->store, name, &r, NODE_FAILURES_SHOWN) == 0) {
		resp->status = 200;
		resp->body = record_json(&r, &nc, req, wall_s());
	}
	node_record_free(&r);
out:
	free(name);
}
