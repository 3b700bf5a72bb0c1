/*
 * api-jobs: list, show and cancel (submit: api-submit.c). A user sees and
 * changes only their own jobs; root and the admin group see all.
 */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "checkpoint.h"
#include "health.h"
#include "hostlist.h"
#include "llmctld.h"
#include "lifecycle.h"
#include "log.h"
#include "monitor.h"
#include "store.h"
#include "users.h"
#include "util.h"

static json_t *
json_opt_int(int has, int64_t v)
{
	return has ? json_integer(v) : json_null();
}

static json_t *
json_opt_str(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *
attempt_to_json(const struct attempt *a)
{
	json_t *o, *plan;

	o = json_pack("{s:i, s:s, s:s, s:o, s:o, s:i, s:I, s:o, s:o, s:o, "
	              "s:o, s:o}",
	    "attempt", a->attempt, "tag", a->tag, "state",
	    attempt_state_name(a->state), "slurm_job_id",
	    json_opt_int(a->slurm_job_id != 0, a->slurm_job_id), "nodes",
	    json_opt_str(a->nodes), "master_port", a->master_port,
	    "submitted_at", (json_int_t)a->submitted_at, "started_at",
	    json_opt_int(a->started_at != 0, a->started_at), "ended_at",
	    json_opt_int(a->ended_at != 0, a->ended_at), "exit_code",
	    json_opt_int(a->has_exit_code, a->exit_code), "cause",
	    json_opt_str(attempt_cause_name(a->cause)), "reason",
	    json_opt_str(a->reason));
	/* the placement this attempt runs with, rank by rank */
	plan = a->plan != NULL ? json_loads(a->plan, 0, NULL) : NULL;
	json_object_set_new(o, "plan", plan != NULL ? plan : json_null());
	return o;
}

/* The ranks of the attempt in flight flagged as stragglers now. */
static json_t *
job_stragglers_json(struct llmctld *d, const struct attempt *last)
{
	struct straggler *s;
	json_t *arr = json_array(), *plan;
	size_t n, i;

	if (last == NULL || last->ended_at != 0)
		return arr;
	n = health_stragglers(d->health, last->token_hash, &s);
	plan = n > 0 && last->plan != NULL ? json_loads(last->plan, 0, NULL)
	                                   : NULL;
	for (i = 0; i < n; i++)
		json_array_append_new(arr,
		    json_pack("{s:i, s:s, s:f, s:f, s:f, s:I}", "rank",
		        s[i].rank, "node", monitor_rank_node(plan, s[i].rank),
		        "ratio", s[i].ratio, "seconds_per_step", s[i].sps,
		        "peer_seconds_per_step", s[i].peer_sps, "since",
		        (json_int_t)s[i].since_wall));
	json_decref(plan);
	free(s);
	return arr;
}

/* Newest checkpoint, heartbeat summary and excluded nodes of a job. */
static void
job_health_json(struct llmctld *d, const struct job *job,
    const struct attempt *last, json_t *o)
{
	const struct beat *b;
	const struct ckpt *c;
	struct ckpt *ck;
	struct hostlist hl = { 0 }, uniq = { 0 };
	json_t *ex;
	char *blamed;
	size_t n, i;

	ck = store_checkpoints_of(d->store, job->id, &n);
	c = checkpoint_newest(ck, n);
	json_object_set_new(o, "checkpoint",
	    c == NULL
	        ? json_null()
	        : json_pack("{s:I, s:s, s:b}", "step", (json_int_t)c->step,
	              "path", c->path, "verified", c->verified));
	checkpoint_free(ck, n);
	b = last != NULL && last->ended_at == 0
	    ? health_get(d->health, last->token_hash)
	    : NULL;
	if (b != NULL && b->count > 0)
		json_object_set_new(o, "heartbeat",
		    json_pack("{s:I, s:I, "
		              "s:i, s:I}",
		        "age_s", (json_int_t)((mono_ms() - b->last_ms) / 1000),
		        "step", (json_int_t)b->step, "ranks", b->ranks_seen,
		        "beats", (json_int_t)b->count));
	else if (last != NULL && last->beats > 0)
		json_object_set_new(o, "heartbeat",
		    json_pack("{s:I, s:I, "
		              "s:I}",
		        "age_s", (json_int_t)(wall_s() - last->last_beat_at),
		        "step", (json_int_t)last->last_step, "beats",
		        (json_int_t)last->beats));
	else
		json_object_set_new(o, "heartbeat", json_null());
	json_object_set_new(o, "stragglers", job_stragglers_json(d, last));
	ex = json_array();
	if ((blamed = store_job_blamed(d->store, job->id)) != NULL &&
	    hostlist_expand(&hl, blamed, NULL) == 0)
		for (i = 0; i < hl.n; i++) {
			if (!hostlist_contains(&uniq, hl.names[i])) {
				hostlist_expand(&uniq, hl.names[i], NULL);
				json_array_append_new(
				    ex, json_string(hl.names[i]));
			}
		}
	hostlist_clear(&hl);
	hostlist_clear(&uniq);
	free(blamed);
	json_object_set_new(o, "excluded_nodes", ex);
}

/* The job object of the API, last its newest attempt (NULL: none). */
json_t *
api_job_summary_json(const struct job *job, const struct attempt *last)
{
	return json_pack("{s:I, s:s, s:s, s:I, s:s, s:o, s:I, s:I, s:i, s:i, "
	                 "s:i, s:i, s:o, s:o, s:o}",
	    "id", (json_int_t)job->id, "name", job->name, "user", job->user,
	    "uid", (json_int_t)job->uid, "state", job_state_name(job->state),
	    "reason", json_opt_str(job->reason), "created_at",
	    (json_int_t)job->created_at, "updated_at",
	    (json_int_t)job->updated_at, "nodes", job->nodes, "gpus_per_node",
	    job->gpus_per_node, "world_size", job->world_size, "attempt",
	    job->attempts, "slurm_job_id",
	    json_opt_int(last != NULL && last->slurm_job_id != 0,
	        last != NULL ? last->slurm_job_id : 0),
	    "node_list", json_opt_str(last != NULL ? last->nodes : NULL),
	    "exit_code", json_opt_int(job->has_exit_code, job->exit_code));
}

/* The job object of the API; with_detail adds attempts and the spec. */
json_t *
api_job_json(struct llmctld *d, const struct job *job, int with_detail)
{
	struct attempt **as, *last;
	json_t *o, *arr, *spec;
	size_t n, i;

	as = store_attempts_of(d->store, job->id, &n);
	last = n > 0 ? as[n - 1] : NULL;
	o = api_job_summary_json(job, last);
	if (with_detail) {
		arr = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(arr, attempt_to_json(as[i]));
		json_object_set_new(o, "attempts", arr);
		spec = json_loads(job->spec, 0, NULL);
		json_object_set_new(
		    o, "spec", spec != NULL ? spec : json_null());
		job_health_json(d, job, last, o);
		json_object_set_new(o, "goodput", api_goodput_json(d, job));
	}
	attempt_list_free(as, n);
	return o;
}

/* The caller's name, or its uid in decimal. */
char *
api_user_name(struct llmctld *d, uid_t uid)
{
	const struct user *u = users_get(d->users, uid, mono_ms() / 1000);

	if (u != NULL)
		return xstrdup(u->name);
	return xasprintf("%lu", (unsigned long)uid);
}

#define LIST_NAME_MAX 256 /* longer than any job name worth asking for */
#define LIST_DEFAULT 100 /* jobs per page without limit= */

/* "RUNNING,queued": a bit per state into *states; -1 names the bad one. */
static int
list_states(const char *s, unsigned *states, struct api_response *resp)
{
	enum job_state st;
	char *copy, *p, *word;
	int rc = 0;

	p = copy = xstrdup(s);
	while (rc == 0 && (word = strsep(&p, ",")) != NULL) {
		if (job_state_parse(word, &st) != 0) {
			api_error(resp, 400, "bad_request",
			    "unknown state: %s (use QUEUED, SUBMITTED, "
			    "RUNNING, RESTARTING, COMPLETED, FAILED or "
			    "CANCELLED)",
			    word);
			rc = -1;
		} else
			*states |= 1u << st;
	}
	free(copy);
	return rc;
}

/* A non-negative decimal query parameter; -1 after a 400 reply. */
static int
list_number(const char *key, const char *s, int64_t max, int64_t *out,
    struct api_response *resp)
{
	long long v;
	char *end;

	errno = 0;
	/* range-checked before any cast: 2^32 + 1 is not 1 */
	v = strtoll(s, &end, 10);
	if (*s < '0' || *s > '9' || errno != 0 || *end != '\0' || v > max) {
		api_error(resp, 400, "bad_request", "bad %s: %s", key, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* A uid in decimal digits, -1 if s is not one ((uid_t)-1 is none). */
static long long
list_uid(const char *s)
{
	long long v = 0;
	size_t i;

	for (i = 0; s[i] >= '0' && s[i] <= '9' && i < 10; i++)
		v = v * 10 + (s[i] - '0');
	return i > 0 && s[i] == '\0' && v < (long long)UINT32_MAX ? v : -1;
}

/*
 * user=NAME|UID|all: whose jobs; -1 after the error reply. A number is a
 * uid, as squeue's --user takes (llmctl sends its own so that it needs no
 * NSS, cli/cmd-status.c). The caller's own name (`squeue -u $USER`
 * habits) comes from d->users; NSS is asked on the loop only for an admin
 * naming another user, so an ordinary user's names never reach a slow
 * directory.
 */
static int
list_user(struct llmctld *d, const char *user, const struct api_request *req,
    struct job_filter *f, struct api_response *resp)
{
	const struct user *me;
	struct passwd *pw;
	long long uid;

	if (user == NULL || strcmp(user, "all") == 0)
		return 0;
	uid = list_uid(user);
	if (uid == (long long)req->uid || (uid >= 0 && req->admin))
		f->uid = (uid_t)uid;
	else if (uid == -1 &&
	    (me = users_get(d->users, req->uid, mono_ms() / 1000)) != NULL &&
	    strcmp(me->name, user) == 0)
		f->uid = req->uid;
	else if (!req->admin) {
		api_error(resp, 403, "permission_denied",
		    "only root and the admin group see other users' jobs");
		return -1;
	} else if ((pw = getpwnam(user)) == NULL) {
		api_error(resp, 400, "bad_request", "no such user: %s", user);
		return -1;
	} else
		f->uid = pw->pw_uid;
	f->all_users = 0;
	return 0;
}

/*
 * GET /v1/jobs?state=&user=&name=&since=&limit=&after=: every filter is
 * applied by the store's query (docs/design.md section 4).
 */
void
api_jobs_list(
    struct llmctld *d, const struct api_request *req, struct api_response *resp)
{
	struct job_filter f = { .uid = req->uid, .all_users = req->admin };
	const char *state = api_query(req, "state");
	const char *limit = api_query(req, "limit");
	const char *after = api_query(req, "after");
	const char *since = api_query(req, "since");
	struct job **jobs;
	int64_t lim = 0;
	json_t *arr;
	size_t n, i;
	int want;

	if (state != NULL && list_states(state, &f.states, resp) != 0)
		return;
	if (list_user(d, api_query(req, "user"), req, &f, resp) != 0)
		return;
	if (limit != NULL &&
	    (list_number("limit", limit, 10000, &lim, resp) != 0 || lim < 1)) {
		api_error(resp, 400, "bad_request", "limit must be 1-10000");
		return;
	}
	f.limit = (int)lim;
	if (after != NULL &&
	    list_number("after", after, INT64_MAX, &f.after, resp) != 0)
		return;
	if (since != NULL &&
	    list_number("since", since, INT64_MAX, &f.since, resp) != 0)
		return;
	f.name = api_query(req, "name");
	if (f.name != NULL &&
	    (*f.name == '\0' || strlen(f.name) > LIST_NAME_MAX)) {
		api_error(resp, 400, "bad_request", "name must be 1-%d bytes",
		    LIST_NAME_MAX);
		return;
	}
	/* one more than asked for: whether the listing was cut */
	want = f.limit > 0 ? f.limit : LIST_DEFAULT;
	f.limit = want + 1;
	jobs = store_job_list(d->store, &f, &n);
	arr = json_array();
	for (i = 0; i < n && i < (size_t)want; i++)
		json_array_append_new(arr, api_job_json(d, jobs[i], 0));
	resp->status = 200;
	resp->body = json_pack("{s:o}", "jobs", arr);
	/* the cursor: pass it as after= for the next page */
	if (n > (size_t)want)
		json_object_set_new(
		    resp->body, "next", json_integer(jobs[want - 1]->id));
	job_list_free(jobs, n);
}

void
api_jobs_get(struct llmctld *d, const struct api_request *req,
    struct api_response *resp, int64_t id)
{
	struct job *job;

	if ((job = api_job_for_caller(d, req, resp, id)) == NULL)
		return;
	resp->status = 200;
	resp->body = api_job_json(d, job, 1);
	job_free(job);
}

void
api_jobs_cancel(struct llmctld *d, const struct api_request *req,
    struct api_response *resp, int64_t id)
{
	struct job *job;
	char *who;

	if ((job = api_job_for_caller(d, req, resp, id)) == NULL)
		return;
	if (job_state_final(job->state)) {
		api_error(resp, 409, "conflict", "job %lld already %s",
		    (long long)id, job_state_name(job->state));
		job_free(job);
		return;
	}
	who = api_user_name(d, req->uid);
	if (store_begin(d->store) != 0 ||
	    lifecycle_job_set(d->store, id, job->state, JOB_CANCELLED,
	        "cancelled by user") != 0 ||
	    store_event_add(
	        d->store, id, "cancelled", "cancelled by %s", who) != 0 ||
	    store_commit(d->store) != 0) {
		store_rollback(d->store);
		api_error(resp, 503, "store_failed",
		    "cannot record the "
		    "cancellation; the job is unchanged");
	} else {
		log_job(id, "cancelled by %s", who);
		job_free(job);
		job = store_job_get(d->store, id);
		resp->status = 200;
		resp->body = api_job_json(d, job, 0);
		monitor_kick_sweep(d->monitor);
	}
	free(who);
	job_free(job);
}
