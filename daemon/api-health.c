/*
 * api-health: what the TCP listener serves. Heartbeats carry a per-attempt
 * bearer token instead of an identity; metrics are Prometheus text.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "health.h"
#include "llmctld.h"
#include "store.h"
#include "util.h"

void
api_heartbeat(
    struct llmctld *d, const struct api_request *req, struct api_response *resp)
{
	const char *auth = req->authorization;
	json_t *body;
	json_int_t rank = -1, step = -1;

	if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0) {
		api_error(resp, 401, "unauthorized",
		    "expected Authorization: Bearer <LLMCTL_HEARTBEAT_TOKEN>");
		return;
	}
	body = json_loadb(req->body, req->body_len, 0, NULL);
	if (body == NULL ||
	    json_unpack(body, "{s:I, s?I}", "rank", &rank, "step", &step) !=
	        0 ||
	    rank < 0 || rank > INT_MAX || step < -1) {
		api_error(resp, 400, "bad_request",
		    "expected a JSON body "
		    "{\"rank\": R, \"step\": S}");
		json_decref(body);
		return;
	}
	json_decref(body);
	if (health_beat(d->health, auth + 7, (int)rank, step) != 0) {
		api_error(resp, 403, "permission_denied",
		    "unknown or expired "
		    "heartbeat token, or rank out of range");
		return;
	}
	resp->status = 200;
	resp->body = json_pack("{s:b}", "ok", 1);
}

void
api_metrics(
    struct llmctld *d, const struct api_request *req, struct api_response *resp)
{
	int64_t counts[JOB_CANCELLED + 1];
	char *text, *tmp;
	int k;

	(void)req;
	if (store_job_counts(d->store, counts) != 0) {
		api_error(resp, 503, "store_failed", "cannot read the store");
		return;
	}
	text = xstrdup("# HELP llmctld_jobs Jobs by state.\n"
	               "# TYPE llmctld_jobs gauge\n");
	for (k = JOB_QUEUED; k <= JOB_CANCELLED; k++) {
		tmp = xasprintf("%sllmctld_jobs{state=\"%s\"} %lld\n", text,
		    job_state_name((enum job_state)k), (long long)counts[k]);
		free(text);
		text = tmp;
	}
	tmp = xasprintf("%s# HELP llmctld_heartbeats_total Heartbeats "
	                "accepted.\n# TYPE llmctld_heartbeats_total counter\n"
	                "llmctld_heartbeats_total %lld\n",
	    text, (long long)health_total(d->health));
	free(text);
	resp->status = 200;
	resp->text = tmp;
}
