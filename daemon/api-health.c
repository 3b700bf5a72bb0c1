/*
 * api-health: what the TCP listener serves. Heartbeats carry a per-attempt
 * bearer token instead of an identity; /metrics is in api-metrics.c.
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
