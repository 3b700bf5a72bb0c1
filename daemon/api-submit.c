/*
 * api-submit: POST /v1/jobs. The spec is parsed and validated here again
 * whatever the client checked; the job, its event, its first attempt and,
 * when it can be placed now, its plan are stored in one transaction before
 * the 201 (monitor_plan_first: then the tick has nothing to do for it).
 *
 * Group commit: submits that arrive together share that transaction. One
 * whose answer can wait (api_defer: the Unix socket) is queued, and the
 * queue is stored at the end of the loop turn (or once SUBMIT_BATCH_MAX
 * wait) in one transaction, one fsync for all of them, and then each is
 * answered. While one commit's fsync holds the loop, the other clients'
 * submits arrive and go together into the next. A queued job is in no
 * table until its commit, so nothing can see or report it before; if the
 * transaction fails, every submit in it is answered 503 and none is kept.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "conf.h"
#include "llmctld.h"
#include "log.h"
#include "metrics.h"
#include "monitor.h"
#include "notify.h"
#include "spec.h"
#include "spec-cache.h"
#include "store.h"
#include "timer.h"
#include "util.h"

/*
 * Jobs in one transaction at most: a batch is stored (and planned) in one
 * loop callback, so this bounds how long it holds the loop (about 0.5 ms
 * a job here) while the fsync saved per job stops mattering long before.
 */
#define SUBMIT_BATCH_MAX 64

/* A submit on its way to the store, its strings its own. */
struct submit {
	struct api_later *later; /* NULL: answered in the caller's resp */
	struct job job;
	char *key; /* job.idem_key */
	struct spec *spec; /* until the spec cache takes it */
	struct attempt *a;
	struct submit_data *sd; /* planned in the transaction */
	int planned; /* monitor_plan_first's answer */
	int64_t repeat; /* its key's job: stored, or earlier in the batch */
	double t0; /* metrics_now() on arrival */
	TAILQ_ENTRY(submit) entry;
};
TAILQ_HEAD(submit_list, submit);

/* d->submits, made on the first deferred submit. */
struct submit_queue {
	struct timer *timer; /* 0 ms: the next loop turn */
	struct submit_list list;
	size_t n;
};

/* What an Idempotency-Key may hold: a token a shell passes without care. */
static int
idem_key_valid(const char *key)
{
	size_t len = strlen(key);

	return len >= 1 && len <= 128 &&
	    strspn(key,
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	        "abcdefghijklmnopqrstuvwxyz0123456789._:-") == len;
}

/*
 * The answer to a submit that repeats the Idempotency-Key of job id (the
 * client lost the reply and sent it again): that job; the same key with
 * another spec is the caller's mistake.
 */
static void
repeat_answer(struct llmctld *d, int64_t id, const char *spec, const char *key,
    struct api_response *resp)
{
	struct job *job;

	if (id < 0 || (job = store_job_get(d->store, id)) == NULL) {
		api_error(resp, 503, "store_failed",
		    "cannot look up the "
		    "Idempotency-Key; nothing was submitted");
		return;
	}
	if (strcmp(job->spec, spec) != 0)
		api_error(resp, 422, "idempotency_key_reused",
		    "Idempotency-Key \"%s\" was used for job %lld with "
		    "another spec",
		    key, (long long)id);
	else {
		log_job(id,
		    "submit repeated with its Idempotency-Key: "
		    "answered with this job");
		resp->status = 200;
		resp->body = api_job_json(d, job, 0);
	}
	job_free(job);
}

/* llmctld runs as root: a job's webhook only where the admin allows. */
static int
api_check_webhook(struct llmctld *d, const struct api_request *req,
    const struct spec *spec, struct api_response *resp)
{
	char *why = NULL;

	if (spec->notify.webhook == NULL ||
	    notify_url_allowed(
	        d->conf->webhook_allow, spec->notify.webhook, &why) == 0)
		return 0;
	api_error(resp, 400, "invalid_spec", "notify.webhook: %s", why);
	log_warnx("uid %lu: refused webhook: %s", (unsigned long)req->uid, why);
	free(why);
	return -1;
}

static void
submit_free(struct submit *s)
{
	attempt_free(s->a);
	spec_free(s->spec);
	free(s->job.name);
	free(s->job.user);
	free(s->job.spec);
	free(s->key);
	free(s);
}

/* One submit into the transaction open; -1: the store failed. */
static int
submit_insert(struct llmctld *d, struct submit *s)
{
	struct store *st = d->store;
	struct job *job = &s->job;

	/* its key on a stored job, or one earlier in this batch: that one */
	if (s->key != NULL &&
	    (s->repeat = store_job_by_key(st, job->uid, s->key)) != 0)
		return s->repeat > 0 ? 0 : -1;
	if (store_job_insert(st, job) != 0 ||
	    store_event_add(st, job->id, "submitted",
	        "submitted by %s: %d nodes x %d GPUs, world size %d", job->user,
	        job->nodes, job->gpus_per_node, job->world_size) != 0 ||
	    (s->a = monitor_create_attempt(d->monitor, job)) == NULL)
		return -1;
	/*
	 * For its plan: no parse there (spec-cache.h). An entry whose job
	 * is rolled back is never used: it is found by id and stored text.
	 */
	spec_cache_add(d->specs, job->id, job->spec, s->spec);
	s->spec = NULL;
	s->planned = monitor_plan_first(d->monitor, s->a, job, &s->sd);
	return s->planned < 0 ? -1 : 0;
}

/* After the transaction (rc: its outcome): s's answer in resp. */
static void
submit_done(struct llmctld *d, struct submit *s, int rc, int *kick,
    struct api_response *resp)
{
	if (rc != 0) {
		if (s->a != NULL)
			monitor_plan_undo(d->monitor, s->sd, s->a);
		api_error(resp, 503, "store_failed",
		    "cannot record the job (is the disk full?); nothing was "
		    "submitted");
		return;
	}
	if (s->repeat > 0) {
		repeat_answer(d, s->repeat, s->job.spec, s->key, resp);
		return;
	}
	log_job(s->job.id, "submitted by %s (%s)", s->job.user, s->job.name);
	monitor_attempt_made(d->monitor, s->a->tag);
	if (s->planned == 0)
		monitor_plan_sent(d->monitor, s->sd, s->a, &s->job);
	else
		*kick = 1;
	s->job.attempts = 1;
	resp->status = 201;
	/* its attempt has neither a Slurm id nor nodes yet */
	resp->body = api_job_summary_json(&s->job, NULL);
}

/*
 * Store the submits of list in one transaction and answer the deferred
 * ones; list is left empty but for one answered in *resp (not deferred).
 */
static void
submits_store(
    struct llmctld *d, struct submit_list *list, struct api_response *resp)
{
	struct store *st = d->store;
	struct api_response r;
	struct submit *s;
	int rc, kick = 0;
	size_t n = 0;

	rc = store_begin(st);
	TAILQ_FOREACH(s, list, entry)
	{
		if (rc != 0)
			break;
		rc = submit_insert(d, s);
		n++;
	}
	if (rc != 0 || store_commit(st) != 0) {
		store_rollback(st);
		rc = -1;
	}
	log_debug("%zu submit%s in one transaction%s", n, n == 1 ? "" : "s",
	    rc != 0 ? ": failed, none kept" : "");
	while ((s = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, s, entry);
		r = (struct api_response){ 0 };
		submit_done(d, s, rc, &kick, s->later != NULL ? &r : resp);
		if (s->later != NULL) {
			/* counted with its answer, not as "deferred" */
			metrics_api(
			    "/v1/jobs", 0, r.status, metrics_now() - s->t0);
			api_answer(s->later, &r);
		}
		submit_free(s);
	}
	if (kick)
		monitor_kick(d->monitor);
}

static void
queue_flush(struct llmctld *d)
{
	struct submit_queue *q = d->submits;
	struct submit_list list;

	if (q == NULL || q->n == 0)
		return;
	/* answers may run handlers again: store what is queued now */
	TAILQ_INIT(&list);
	TAILQ_CONCAT(&list, &q->list, entry);
	q->n = 0;
	submits_store(d, &list, NULL);
}

static void
queue_cb(void *arg)
{
	queue_flush(arg);
}

/* Queue s to be stored at the end of this loop turn. */
static void
queue_add(struct llmctld *d, struct submit *s)
{
	struct submit_queue *q = d->submits;

	if (q == NULL) {
		q = d->submits = xcalloc(1, sizeof(*q));
		TAILQ_INIT(&q->list);
		q->timer = timer_new(d->base, queue_cb, d);
	}
	TAILQ_INSERT_TAIL(&q->list, s, entry);
	if (++q->n >= SUBMIT_BATCH_MAX)
		queue_flush(d);
	else if (q->n == 1)
		timer_schedule(q->timer, 0);
}

void
api_jobs_flush(struct llmctld *d)
{
	queue_flush(d);
	if (d->submits != NULL) {
		timer_free(d->submits->timer);
		free(d->submits);
		d->submits = NULL;
	}
}

/* The submit of a valid spec (taken over), from its caller's request. */
static struct submit *
submit_new(struct llmctld *d, const struct api_request *req, struct spec *spec)
{
	struct submit *s;
	json_t *jspec;

	s = xcalloc(1, sizeof(*s));
	s->t0 = metrics_now();
	s->spec = spec;
	jspec = spec_to_json(spec);
	s->job.spec = json_dumps(jspec, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(jspec);
	s->job.name = xstrdup(spec->name);
	s->job.uid = req->uid;
	s->job.gid = req->gid;
	s->job.user = api_user_name(d, req->uid);
	s->job.state = JOB_QUEUED;
	s->job.nodes = spec->resources.nodes;
	s->job.gpus_per_node = spec->resources.gpus_per_node;
	s->job.world_size = spec_world_size(spec);
	if (req->idempotency_key != NULL)
		s->job.idem_key = s->key = xstrdup(req->idempotency_key);
	return s;
}

/* A valid spec that may be submitted as the caller; else resp says why. */
static struct spec *
submit_spec(
    struct llmctld *d, const struct api_request *req, struct api_response *resp)
{
	struct spec *spec;

	if (req->idempotency_key != NULL &&
	    !idem_key_valid(req->idempotency_key)) {
		api_error(resp, 400, "bad_request",
		    "Idempotency-Key: expected "
		    "1-128 characters of A-Z a-z 0-9 . _ : -");
		return NULL;
	}
	if ((spec = api_parse_spec_body(req, resp)) == NULL)
		return NULL;
	/*
	 * Checkpoints are read only as the job's user, never as root (a path
	 * a user can change would be followed with root's rights), so a root
	 * job's checkpoints would never be found and every restart would
	 * begin at step 0: refuse it instead of losing the progress silently.
	 */
	if (req->uid == 0 && spec->checkpoint.dir != NULL) {
		api_error(resp, 400, "invalid_spec",
		    "checkpoint.dir: a job "
		    "owned by root cannot have checkpoints: llmctld reads a "
		    "checkpoint directory only as the job's user, never as "
		    "root; submit the job as the user who writes the "
		    "checkpoints");
		spec_free(spec);
		return NULL;
	}
	if (api_check_webhook(d, req, spec, resp) != 0 ||
	    api_check_placeable(d, spec, resp) != 0) {
		spec_free(spec);
		return NULL;
	}
	return spec;
}

void
api_jobs_submit(
    struct llmctld *d, const struct api_request *req, struct api_response *resp)
{
	const char *dry = api_query(req, "dry_run");
	struct submit_list one;
	struct submit *s;
	struct spec *spec;

	if ((spec = submit_spec(d, req, resp)) == NULL)
		return;
	if (dry != NULL && strcmp(dry, "0") != 0) {
		resp->status = 200;
		resp->body = json_pack(
		    "{s:b, s:o}", "valid", 1, "spec", spec_to_json(spec));
		spec_free(spec);
		return;
	}
	/* a repeated key is answered after the batch (submit_insert) */
	s = submit_new(d, req, spec);
	if ((s->later = api_defer(req, resp)) != NULL) {
		resp->counted_later = 1;
		queue_add(d, s);
		return;
	}
	/* nothing can wait for the answer: a transaction of its own */
	TAILQ_INIT(&one);
	TAILQ_INSERT_TAIL(&one, s, entry);
	submits_store(d, &one, resp);
}
