/*
 * api-goodput: a job's goodput ledger as JSON (the "goodput" object of
 * GET /v1/jobs/{id}) and GET /v1/goodput?by=user|day|job&since=T, the
 * totals (by job: a row per job, the ETTR of a list of jobs).
 * A user sees only their own jobs; root and the admin group see all.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "goodput.h"
#include "llmctld.h"
#include "store.h"
#include "util.h"

static json_t *
opt_time(int64_t t)
{
	return t != 0 ? json_integer(t) : json_null();
}

static json_t *
incident_json(const struct gp_incident *in)
{
	const char *cause = attempt_cause_name(in->cause);

	return json_pack("{s:i, s:o, s:o, s:I, s:o, s:I, s:{s:I, s:I, s:I, "
	                 "s:I}}",
	    "attempt", in->attempt, "cause",
	    cause != NULL ? json_string(cause) : json_null(), "nodes",
	    in->nodes != NULL ? json_string(in->nodes) : json_null(),
	    "failed_at", (json_int_t)in->failed_at, "training_again_at",
	    opt_time(in->training_again_at), "recovery_s",
	    (json_int_t)in->recovery_s, "recovery", "detect_s",
	    (json_int_t)in->part[0], "backoff_s", (json_int_t)in->part[1],
	    "queue_s", (json_int_t)in->part[2], "startup_s",
	    (json_int_t)in->part[3]);
}

/* The buckets every goodput object has; b[] as goodput.h, wall their sum. */
static json_t *
buckets_json(const int64_t *b, int64_t wall)
{
	int64_t rec =
	    b[GP_RDETECT] + b[GP_RBACKOFF] + b[GP_RQUEUE] + b[GP_RSTARTUP];

	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, "
	                 "s:{s:I, s:I, s:I, s:I}}",
	    "wall_s", (json_int_t)wall, "queue_s", (json_int_t)b[GP_QUEUE],
	    "startup_s", (json_int_t)b[GP_STARTUP], "productive_s",
	    (json_int_t)b[GP_PRODUCTIVE], "lost_s", (json_int_t)b[GP_LOST],
	    "recovery_s", (json_int_t)rec, "ckpt_stall_s",
	    (json_int_t)b[GP_STALL], "ettr",
	    wall > 0 ? (double)b[GP_PRODUCTIVE] / (double)wall : 0.0,
	    "recovery", "detect_s", (json_int_t)b[GP_RDETECT], "backoff_s",
	    (json_int_t)b[GP_RBACKOFF], "queue_s", (json_int_t)b[GP_RQUEUE],
	    "startup_s", (json_int_t)b[GP_RSTARTUP]);
}

json_t *
api_goodput_json(struct llmctld *d, const struct job *job)
{
	struct gp_ledger l;
	json_t *o, *arr;
	size_t i;

	if (goodput_of_job(d->store, job, wall_s(), &l) != 0) {
		goodput_ledger_clear(&l);
		return json_null();
	}
	o = buckets_json(l.b, l.wall_s);
	arr = json_array();
	for (i = 0; i < l.nincidents; i++)
		json_array_append_new(arr, incident_json(&l.incidents[i]));
	json_object_set_new(o, "incidents", arr);
	json_object_set_new(
	    o, "final", json_boolean(job_state_final(job->state)));
	goodput_ledger_clear(&l);
	return o;
}

void
api_goodput(
    struct llmctld *d, const struct api_request *req, struct api_response *resp)
{
	const char *by = api_query(req, "by"), *since = api_query(req, "since");
	struct gp_total *t;
	enum gp_by gb;
	long long from = 0;
	int64_t wall;
	json_t *arr, *o;
	size_t n, i;
	char *end;
	int b;

	if (by == NULL || strcmp(by, "user") == 0)
		gb = GP_BY_USER;
	else if (strcmp(by, "day") == 0)
		gb = GP_BY_DAY;
	else if (strcmp(by, "job") == 0)
		gb = GP_BY_JOB;
	else {
		api_error(resp, 400, "bad_request",
		    "by must be user, day or job: %s", by);
		return;
	}
	if (since != NULL) {
		errno = 0;
		from = strtoll(since, &end, 10);
		if (*since < '0' || *since > '9' || *end != '\0' ||
		    errno != 0) {
			api_error(
			    resp, 400, "bad_request", "bad since: %s", since);
			return;
		}
	}
	t = goodput_totals(
	    d->store, gb, req->admin, req->uid, from, wall_s(), &n);
	if (t == NULL) {
		api_error(resp, 503, "store_failed", "cannot read the ledger");
		return;
	}
	arr = json_array();
	for (i = 0; i < n; i++) {
		for (wall = 0, b = 0; b < GP_NBUCKETS; b++)
			wall += t[i].b[b];
		o = buckets_json(t[i].b, wall);
		json_object_set_new(o, "key", json_string(t[i].key));
		json_object_set_new(o, "jobs", json_integer(t[i].jobs));
		json_object_set_new(
		    o, "incidents", json_integer(t[i].incidents));
		json_array_append_new(arr, o);
	}
	free(t);
	resp->status = 200;
	resp->body = json_pack("{s:s, s:o}", "by",
	    gb == GP_BY_DAY       ? "day"
	        : gb == GP_BY_JOB ? "job"
	                          : "user",
	    "totals", arr);
}
