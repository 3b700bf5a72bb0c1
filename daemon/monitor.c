/* monitor: ticks, attempt creation, submission results and Slurm polls. */
#include "config.h"

#include <sys/queue.h>

#include <pwd.h>
#include <signal.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "launch.h"
#include "lifecycle.h"
#include "llmctld.h"
#include "log.h"
#include "monitor.h"
#include "monitor-int.h"
#include "checkpoint.h"
#include "health.h"
#include "hostlist.h"
#include "plan.h"
#include "pool.h"
#include "spec.h"
#include "store.h"
#include "timer.h"
#include "util.h"
#include "worker.h"

#define LOST_AFTER_POLLS 3	/* polls that miss a job before it is lost */
#define SCAN_THREADS	 3	/* checkpoint scans at once, of different users */

/* Data a submit op owns while it is in flight. */
struct submit_data {
	struct launch	 *launch;
	struct spec	 *spec;
	char		 *tag;
	char		 *name;
	const char	**exclude;	/* plan request's merged exclude list */
	char		 *req_nodes;	/* the plan's nodes, Slurm's req_nodes */
	struct hostlist	  blamed;	/* nodes earlier attempts blamed */
	struct hostlist	  avoid;	/* nodes a re-plan should avoid */
};

static void monitor_tick_cb(void *);

struct track *
monitor_track_get(struct monitor *m, const char *tag)
{
	struct track *t;

	TAILQ_FOREACH(t, &m->tracks, entry)
		if (strcmp(t->tag, tag) == 0)
			return t;
	t = xcalloc(1, sizeof(*t));
	t->tag = xstrdup(tag);
	TAILQ_INSERT_TAIL(&m->tracks, t, entry);
	return t;
}

void
monitor_track_drop(struct monitor *m, const char *tag)
{
	struct track *t;

	TAILQ_FOREACH(t, &m->tracks, entry) {
		if (strcmp(t->tag, tag) == 0) {
			TAILQ_REMOVE(&m->tracks, t, entry);
			free(t->avoid);
			free(t->pf_nodes);
			free(t->tag);
			free(t);
			return;
		}
	}
}

static void
submit_data_free(void *p)
{
	struct submit_data *sd = p;

	launch_free(sd->launch);
	spec_free(sd->spec);
	free(sd->tag);
	free(sd->name);
	free(sd->exclude);
	free(sd->req_nodes);
	hostlist_clear(&sd->blamed);
	hostlist_clear(&sd->avoid);
	free(sd);
}

/* A port in the configured range that no attempt in flight uses. */
static int
pick_port(struct monitor *m, int64_t job_id, int attempt)
{
	const struct conf *c = m->d->conf;
	struct attempt **as;
	size_t n, i;
	int64_t k, port = c->master_port_base;
	int used;

	as = store_attempts_active(m->d->store, &n);
	for (k = 0; k < c->master_port_count; k++) {
		port = c->master_port_base + (job_id * 7 + attempt + k) %
		    c->master_port_count;
		used = 0;
		for (i = 0; i < n; i++)
			used |= as[i]->master_port == port;
		if (!used)
			break;
	}
	attempt_list_free(as, n);
	return (int)port;
}

/* The attempt's blamed nodes: failure counts and an event for each. */
static int
record_blame(struct store *st, const struct attempt *a)
{
	struct hostlist hl = { 0 };
	size_t i;
	int rc = 0;

	/* a list that does not parse blames no one, as before */
	if (a->blamed == NULL || hostlist_expand(&hl, a->blamed, NULL) != 0) {
		hostlist_clear(&hl);
		return 0;
	}
	for (i = 0; i < hl.n && rc == 0; i++) {
		rc |= store_node_failure_add(st, hl.names[i]);
		rc |= store_event_add(st, a->job_id, "node_blamed",
		    "node %s blamed for attempt %d (%s); later attempts "
		    "avoid it", hl.names[i], a->attempt,
		    a->cause != CAUSE_NONE ? attempt_cause_name(a->cause) : "?");
	}
	hostlist_clear(&hl);
	return rc;
}

/*
 * Record the end of an attempt, its events and blame in one transaction;
 * if any of it fails none of it is kept and the end is seen again on a
 * later poll (docs/design.md section 5). What happens to the job
 * (completed, failed, restarted) is the restart policy's call, in
 * monitor-recovery.c.
 */
void
monitor_finish(struct monitor *m, struct attempt *a, struct job *job,
    enum attempt_state to, enum attempt_cause cause, const char *reason)
{
	struct store *st = m->d->store;
	const char *cn;

	if (cause == CAUSE_NONE)
		cause = a->cause;
	cn = attempt_cause_name(cause);
	if (reason != NULL || a->reason == NULL)
		monitor_set_str(&a->reason, reason);
	a->ckpt_end = recovery_newest_step(m, job->id);
	if (store_begin(st) != 0)
		goto fail;
	if (lifecycle_attempt_set(st, a, to, cause, "attempt_ended",
	    "attempt %d ended %s%s%s%s", a->attempt, attempt_state_name(to),
	    cn != NULL ? " (" : "", cn != NULL ? cn : "",
	    cn != NULL ? ")" : "") != 0 ||
	    (a->reason != NULL &&
	    store_event_add(st, a->job_id, "reason", "%s", a->reason) != 0) ||
	    record_blame(st, a) != 0) {
		store_rollback(st);
		goto fail;
	}
	if (store_commit(st) != 0)
		goto fail;
	log_job(job->id, "attempt %d ended %s (%s%s%s)", a->attempt,
	    attempt_state_name(a->state), cn != NULL ? cn : "ok",
	    a->reason != NULL ? ": " : "", a->reason != NULL ? a->reason : "");
	health_unregister(m->d->health, a->token_hash);
	monitor_track_drop(m, a->tag);
	recovery_decide(m, job->id);
	return;
fail:
	log_warnx("job %lld: the end of attempt %d is not recorded; seen "
	    "again on a later poll", (long long)job->id, a->attempt);
}

struct attempt *
monitor_attempt_by_tag(struct monitor *m, const char *tag,
    struct job **job)
{
	struct attempt **as, *found = NULL;
	size_t n, i;

	as = store_attempts_active(m->d->store, &n);
	for (i = 0; i < n; i++) {
		if (found == NULL && strcmp(as[i]->tag, tag) == 0) {
			found = as[i];
			as[i] = NULL;
		}
	}
	attempt_list_free(as, n);
	*job = found != NULL ? store_job_get(m->d->store, found->job_id) : NULL;
	if (found != NULL && *job == NULL) {
		attempt_free(found);
		found = NULL;
	}
	return found;
}

/*
 * Slurm has the attempt (submitted now, or found by its tag). Not
 * recorded, the next tick finds it by its tag again.
 */
static void
attempt_in_slurm(struct monitor *m, struct attempt *a, struct job *job,
    int64_t id, int submitted)
{
	struct store *st = m->d->store;

	a->slurm_job_id = id;
	if (store_begin(st) != 0)
		goto fail;
	if (lifecycle_attempt_set(st, a, ATTEMPT_PENDING, CAUSE_NONE,
	    "submitted", submitted ?
	    "attempt %d submitted as Slurm job %lld on %s" :
	    "attempt %d found in Slurm as job %lld (submitted before a "
	    "restart)%s", a->attempt, (long long)id,
	    submitted && a->nodes != NULL ? a->nodes : "") != 0 ||
	    ((job->state == JOB_QUEUED || job->state == JOB_RESTARTING) &&
	    lifecycle_job_set(st, job->id, job->state, JOB_SUBMITTED,
	    NULL) != 0)) {
		store_rollback(st);
		goto fail;
	}
	if (store_commit(st) != 0)
		goto fail;
	log_job(job->id, "attempt %d is Slurm job %lld%s", a->attempt,
	    (long long)id, submitted ? "" : " (found by tag)");
	if (job->state == JOB_CANCELLED)
		monitor_kick(m);
	return;
fail:
	log_warnx("job %lld: attempt %d is Slurm job %lld, not recorded; "
	    "found by its tag again", (long long)job->id, a->attempt,
	    (long long)id);
}

static void
submit_done(struct op *op, void *arg)
{
	struct monitor *m = arg;
	struct submit_data *sd = op->owned;
	struct attempt *a;
	struct job *job;
	char *reason;

	monitor_track_get(m, sd->tag)->busy = 0;
	if ((a = monitor_attempt_by_tag(m, sd->tag, &job)) == NULL)
		return;
	if (op->rc != 0 && op->transient) {
		log_warnx("job %lld: attempt %d not submitted yet: %s "
		    "(will retry)", (long long)a->job_id, a->attempt, op->cause);
	} else if (op->rc != 0) {
		reason = xasprintf("Slurm refused the job: %s", op->cause);
		monitor_finish(m, a, job, ATTEMPT_FAILED, CAUSE_SUBMIT_FAILED,
		    reason);
		free(reason);
	} else if (op->kind == OP_FIND && op->found_id == 0) {
		/* cancelled before Slurm ever had it */
		monitor_finish(m, a, job, ATTEMPT_CANCELLED, CAUSE_CANCELLED,
		    NULL);
	} else if (op->kind == OP_FIND) {
		attempt_in_slurm(m, a, job, op->found_id, 0);
	} else {
		attempt_in_slurm(m, a, job, op->found_id, op->submitted);
	}
	attempt_free(a);
	job_free(job);
}

/* Keep the newest cluster snapshot for the API (nodes, plan). */
static void
keep_cluster(struct monitor *m, struct op *op)
{
	if (op->cluster == NULL)
		return;
	bcluster_free(m->d->cluster);
	m->d->cluster = op->cluster;
	op->cluster = NULL;
}

/* Fill a submit op from the spec, the launch and the plan. */
static void
submit_op_fill(struct op *op, struct submit_data *sd)
{
	const struct spec *sp = sd->spec;

	op->kind = OP_SUBMIT;
	op->req.name = sd->name;
	op->req.script = sd->launch->script;
	op->req.env = sd->launch->env;
	op->req.nenv = sd->launch->nenv;
	op->req.workdir = sp->workdir;
	op->req.output = sd->launch->batch_log;
	op->req.nodes = sp->resources.nodes;
	op->req.tasks = spec_world_size(sp);
	op->req.tasks_per_node = sp->resources.tasks_per_node;
	op->req.gpus_per_node = sp->resources.gpus_per_node;
	op->req.gpu_type = sp->resources.gpu_type;
	op->req.cpus_per_gpu = sp->resources.cpus_per_gpu;
	op->req.mem_per_node_mb = sp->resources.mem_per_node_mb;
	op->req.partition = sp->resources.partition;
	op->req.account = sp->resources.account;
	op->req.qos = sp->resources.qos;
	op->req.time_limit_s = sp->resources.time_limit_s;
	op->req.req_nodes = sd->req_nodes;
}


static void
plan_done(struct op *op, void *arg)
{
	struct monitor *m = arg;
	struct submit_data *sd = op->owned;
	struct launch_ctx ctx;
	struct passwd *pw;
	struct attempt *a;
	struct job *job;
	struct op *sub;
	char *cause = NULL, *reason, *text, *token;
	const char *addr;
	const struct ckpt *newest;
	struct ckpt *ck;
	size_t nck;
	json_t *pj;

	monitor_track_get(m, sd->tag)->busy = 0;
	if ((a = monitor_attempt_by_tag(m, sd->tag, &job)) == NULL) {
		keep_cluster(m, op);
		return;
	}
	if (op->rc == 0 && op->found_id != 0) {
		attempt_in_slurm(m, a, job, op->found_id, 0);
		goto out;
	}
	if (job->state == JOB_CANCELLED) {
		/* cancelled while it was being planned: never submit it */
		monitor_finish(m, a, job, ATTEMPT_CANCELLED, CAUSE_CANCELLED,
		    NULL);
		goto out;
	}
	if (op->rc != 0 && op->never) {
		reason = xasprintf("cannot be placed on this cluster: %s",
		    op->cause);
		monitor_finish(m, a, job, ATTEMPT_FAILED, CAUSE_UNPLACEABLE,
		    reason);
		free(reason);
		goto out;
	}
	if (op->rc != 0) {
		reason = xasprintf("waiting for resources: %s", op->cause);
		if (job->reason == NULL || strcmp(job->reason, reason) != 0) {
			lifecycle_job_reason(m->d->store, job->id, job->state,
			    reason);
			log_job(job->id, "%s", reason);
		}
		free(reason);
		goto out;
	}

	/* planned: record the placement, then build and submit */
	pj = plan_to_json(op->plan, op->cluster->live);
	text = json_dumps(pj, JSON_COMPACT);
	json_decref(pj);
	monitor_set_str(&a->plan, text);
	free(text);
	sd->req_nodes = plan_nodelist(op->plan);
	monitor_set_str(&a->nodes, sd->req_nodes);
	store_attempt_update(m->d->store, a);
	addr = op->cluster->addr != NULL ?
	    op->cluster->addr[op->plan->nodes[0].topo_index] : NULL;
	/*
	 * A fresh token for this launch: only the workers ever see it; the
	 * store and the heartbeat table keep its hash, recorded below before
	 * Slurm hears of the job.
	 */
	token = random_hex(16);
	health_unregister(m->d->health, a->token_hash);
	free(a->token_hash);
	a->token_hash = health_token_hash(token);
	health_register(m->d->health, a->token_hash, job->id, a->attempt,
	    job->world_size);
	pw = getpwuid(job->uid);
	ctx = (struct launch_ctx){ .job_id = job->id, .attempt = a->attempt,
	    .master_port = a->master_port, .uid = job->uid, .gid = job->gid,
	    .user = job->user, .home = pw != NULL ? pw->pw_dir : "/",
	    .state_dir = m->d->conf->state_dir, .node_order = sd->req_nodes,
	    .master_addr = addr, .heartbeat_url = m->d->heartbeat_url,
	    .heartbeat_token = token };
	/* every attempt after the first resumes from the newest good one */
	ck = store_checkpoints_of(m->d->store, job->id, &nck);
	newest = sd->spec->checkpoint.dir != NULL ?
	    checkpoint_newest(ck, nck) : NULL;
	if (newest != NULL) {
		ctx.resume_from = newest->path;
		ctx.resume_step = newest->step;
		a->ckpt_start = newest->step;
		store_event_add(m->d->store, job->id, "resume",
		    "attempt %d resumes from checkpoint step %lld (%s)",
		    a->attempt, (long long)newest->step, newest->path);
	}
	sd->launch = launch_build(sd->spec, &ctx, &cause);
	free(token);
	checkpoint_free(ck, nck);
	store_attempt_update(m->d->store, a);
	if (sd->launch == NULL ||
	    launch_make_log_dir(sd->launch, &ctx, &cause) != 0) {
		monitor_finish(m, a, job, ATTEMPT_FAILED, CAUSE_LAUNCH_FAILED,
		    cause);
		free(cause);
		goto out;
	}
	/* the submit op takes over the data, and finds by tag again */
	sub = xcalloc(1, sizeof(*sub));
	sub->owned = sd;
	sub->owned_free = submit_data_free;
	op->owned = NULL;
	sub->done = submit_done;
	sub->arg = m;
	sub->req.tag = sd->tag;
	sub->req.uid = job->uid;
	sub->req.gid = job->gid;
	sd->name = xstrdup(job->name);
	submit_op_fill(sub, sd);
	sub->req.warn_signal = m->d->conf->warn_signo;
	sub->req.warn_time_s = (int)(m->d->conf->warn_time_ms / 1000);
	/* a warning longer than the job itself comes at half-time */
	if (sd->spec->resources.time_limit_s > 0 &&
	    sub->req.warn_time_s >= sd->spec->resources.time_limit_s)
		sub->req.warn_time_s = (int)(sd->spec->resources.time_limit_s / 2);
	monitor_track_get(m, a->tag)->busy = 1;
	worker_push(m->d->worker, sub);
out:
	keep_cluster(m, op);
	attempt_free(a);
	job_free(job);
}

/* Plan the attempt on a fresh snapshot (or find it in Slurm by tag). */
static void
plan_attempt(struct monitor *m, struct attempt *a, struct job *job)
{
	struct submit_data *sd;
	struct op *op;
	json_t *js;
	char *cause = NULL, *blamed;

	sd = xcalloc(1, sizeof(*sd));
	sd->tag = xstrdup(a->tag);
	op = xcalloc(1, sizeof(*op));
	op->owned = sd;
	op->owned_free = submit_data_free;
	op->arg = m;
	op->req.tag = sd->tag;
	op->req.uid = job->uid;
	op->req.gid = job->gid;
	if (job->state == JOB_CANCELLED) {
		op->kind = OP_FIND;
		op->done = submit_done;
		goto push;
	}
	op->kind = OP_PLAN;
	op->done = plan_done;
	js = json_loads(job->spec, 0, NULL);
	sd->spec = js != NULL ? spec_from_json(js, &cause) : NULL;
	json_decref(js);
	/* nodes blamed for this job's earlier attempts are not used again */
	if ((blamed = store_job_blamed(m->d->store, job->id)) != NULL)
		hostlist_expand(&sd->blamed, blamed, NULL);
	free(blamed);
	if (sd->spec == NULL || plan_request_from_spec(sd->spec,
	    (const char *const *)sd->blamed.names, sd->blamed.n,
	    &op->preq, &sd->exclude, &cause) != 0) {
		monitor_finish(m, a, job, ATTEMPT_FAILED, CAUSE_LAUNCH_FAILED,
		    cause != NULL ? cause : "stored spec unreadable");
		free(cause);
		op_free(op);
		return;
	}
	op->fail = store_node_failures(m->d->store, &op->nfail);
	if (monitor_track_get(m, a->tag)->avoid != NULL) {
		hostlist_expand(&sd->avoid, monitor_track_get(m, a->tag)->avoid,
		    NULL);
		op->avoid = (const char *const *)sd->avoid.names;
		op->navoid = sd->avoid.n;
	}
push:
	monitor_track_get(m, a->tag)->busy = 1;
	worker_push(m->d->worker, op);
}

static void
cancel_done(struct op *op, void *arg)
{
	(void)arg;
	if (op->rc != 0)
		log_warnx("cancel of Slurm job %lld failed: %s (will retry)",
		    (long long)op->id, op->cause);
}

void
monitor_cancel_attempt(struct monitor *m, struct attempt *a)
{
	struct track *t = monitor_track_get(m, a->tag);
	struct op *op;
	int64_t now = mono_ms();

	if (t->last_kill_ms != 0 && now - t->last_kill_ms <
	    m->d->conf->poll_interval_ms)
		return;
	t->last_kill_ms = now;
	op = xcalloc(1, sizeof(*op));
	op->kind = OP_CANCEL;
	op->id = a->slurm_job_id;
	op->done = cancel_done;
	worker_push(m->d->worker, op);
}

/*
 * The Slurm job of a re-planned attempt is gone: the attempt starts over
 * with a new tag (a tag names one Slurm job, ever), in one transaction;
 * not recorded, it is retried when the next poll sees the job final.
 */
static void
replan_reset(struct monitor *m, struct attempt *a, struct job *job)
{
	struct store *st = m->d->store;
	char *old = a->tag, *avoid = a->nodes;

	a->tag = random_hex(12);
	a->nodes = NULL;
	a->slurm_job_id = 0;
	monitor_set_str(&a->reason, NULL);
	monitor_set_str(&a->plan, NULL);
	a->submitted_at = wall_s();
	a->started_at = a->ended_at = 0;
	a->has_exit_code = 0;
	if (store_begin(st) != 0)
		goto fail;
	if (store_attempt_retag(st, a, old) != 0 ||
	    lifecycle_attempt_set(st, a, ATTEMPT_CREATED, CAUSE_NONE, NULL,
	    NULL) != 0 || (job->state == JOB_SUBMITTED &&
	    lifecycle_job_set(st, job->id, job->state, JOB_QUEUED,
	    NULL) != 0)) {
		store_rollback(st);
		goto fail;
	}
	if (store_commit(st) != 0)
		goto fail;
	monitor_track_drop(m, old);
	if (avoid != NULL)
		monitor_track_get(m, a->tag)->avoid = avoid;
	free(old);
	monitor_kick(m);
	return;
fail:
	log_warnx("job %lld: attempt %d not re-planned yet (store)",
	    (long long)job->id, a->attempt);
	free(a->tag);
	a->tag = old;
	a->nodes = avoid;
}

/* Slurm's view of an attempt, and the cause of each end of its own. */
static const enum attempt_state slurm_states[] = {
	[BJOB_PENDING] = ATTEMPT_PENDING,
	[BJOB_RUNNING] = ATTEMPT_RUNNING,
	[BJOB_COMPLETED] = ATTEMPT_COMPLETED,
	[BJOB_FAILED] = ATTEMPT_FAILED,
	[BJOB_CANCELLED] = ATTEMPT_CANCELLED,
	[BJOB_TIMEOUT] = ATTEMPT_TIMEOUT,
	[BJOB_NODE_FAIL] = ATTEMPT_NODE_FAIL,
	[BJOB_PREEMPTED] = ATTEMPT_PREEMPTED,
	[BJOB_OTHER] = ATTEMPT_FAILED,	/* boot failure, OOM, ...: FAILED */
};
static const enum attempt_cause slurm_causes[] = {
	[BJOB_COMPLETED] = CAUSE_NONE,
	[BJOB_FAILED] = CAUSE_USER_ERROR,
	[BJOB_CANCELLED] = CAUSE_CANCELLED,
	[BJOB_TIMEOUT] = CAUSE_TIMEOUT,
	[BJOB_NODE_FAIL] = CAUSE_NODE_FAILURE,
	[BJOB_PREEMPTED] = CAUSE_PREEMPTED,
	[BJOB_OTHER] = CAUSE_NODE_FAILURE,
};

/* The planned nodes were taken: start ending it, to plan again. */
static int
replan_start(struct monitor *m, struct attempt *a, const struct bjob *b)
{
	free(a->reason);
	a->reason = xasprintf("planned nodes %s still busy after %llds%s%s; "
	    "planning again", a->nodes != NULL ? a->nodes : "?",
	    (long long)(wall_s() - a->submitted_at), b->reason != NULL ?
	    ": " : "", b->reason != NULL ? b->reason : "");
	return lifecycle_attempt_set(m->d->store, a, a->state, CAUSE_REPLAN,
	    "replan", "%s", a->reason);
}

/*
 * A poll shows the attempt in flight: its state (unless llmctld is ending
 * it), nodes and start, and the job RUNNING once it runs, in one
 * transaction; not recorded, the next poll brings them again.
 */
static void
apply_progress(struct monitor *m, struct attempt *a, struct job *job,
    const struct bjob *b)
{
	struct store *st = m->d->store;
	enum attempt_state to = a->ending ? a->state : slurm_states[b->state];
	int changed = 0, replan, rc = 0;

	if (a->ending)
		monitor_cancel_attempt(m, a);
	if (b->nodes != NULL && (a->nodes == NULL ||
	    strcmp(a->nodes, b->nodes) != 0)) {
		monitor_set_str(&a->nodes, b->nodes);
		changed = 1;
	}
	if (b->state != BJOB_PENDING && a->started_at == 0 &&
	    b->start_time > 0) {
		a->started_at = b->start_time;
		changed = 1;
	}
	replan = !a->ending && b->state == BJOB_PENDING && a->plan != NULL &&
	    (wall_s() - a->submitted_at) * 1000 >= m->d->conf->replan_after_ms;
	if (!changed && !replan && to == a->state)
		return;
	if (store_begin(st) != 0)
		goto fail;
	if (to != a->state)
		rc = lifecycle_attempt_set(st, a, to, CAUSE_NONE, NULL, NULL);
	else if (!replan)
		rc = store_attempt_update(st, a);
	if (rc == 0 && replan)
		rc = replan_start(m, a, b);
	if (rc == 0 && b->state == BJOB_RUNNING && job->state == JOB_SUBMITTED)
		rc = lifecycle_job_set(st, job->id, job->state, JOB_RUNNING,
		    NULL) != 0 || store_event_add(st, job->id, "state",
		    "attempt %d running on %s", a->attempt, a->nodes != NULL ?
		    a->nodes : "?") != 0;
	if (rc != 0) {
		store_rollback(st);
		goto fail;
	}
	if (store_commit(st) != 0)
		goto fail;
	if (replan) {
		log_job(job->id, "%s", a->reason);
		monitor_cancel_attempt(m, a);
	}
	return;
fail:
	log_warnx("job %lld: attempt %d: Slurm's report not recorded; taken "
	    "from the next poll", (long long)job->id, a->attempt);
}

/* A poll shows the attempt's Slurm job final. */
static void
apply_end(struct monitor *m, struct attempt *a, struct job *job,
    const struct bjob *b)
{
	enum attempt_state to = slurm_states[b->state];
	enum attempt_cause cause = slurm_causes[b->state];
	char *reason = NULL, *pf;

	a->ended_at = b->end_time > 0 ? b->end_time : wall_s();
	a->has_exit_code = 1;
	a->exit_code = b->exit_code;
	if (a->ending && a->cause == CAUSE_REPLAN) {
		replan_reset(m, a, job);
		return;
	}
	if (a->ending) {
		/* llmctld ended it (hang, ...): its own cause and reason */
		monitor_finish(m, a, job, to, CAUSE_NONE, NULL);
		return;
	}
	if (job->state == JOB_CANCELLED)
		cause = CAUSE_CANCELLED;
	else if (b->state == BJOB_FAILED &&
	    recovery_preflight_failed(m, job, a, &pf) == 0)
		return; /* read off the loop: decide on a later poll */
	else if (b->state == BJOB_FAILED && pf != NULL) {
		cause = CAUSE_PREFLIGHT_FAILED;
		reason = xasprintf("preflight failed on %s", pf);
		monitor_set_str(&a->blamed, pf);
		free(pf);
	} else if (b->state == BJOB_FAILED)
		reason = xasprintf("exit code %d", b->exit_code);
	else if (b->state == BJOB_CANCELLED)
		reason = xstrdup("cancelled outside llmctl");
	else if (b->state != BJOB_COMPLETED)
		reason = xasprintf("Slurm ended it %s%s%s",
		    bjob_state_name(b->state), b->reason != NULL ? ": " : "",
		    b->reason != NULL ? b->reason : "");
	if (b->state == BJOB_NODE_FAIL || b->state == BJOB_OTHER)
		recovery_blame_down(m, a);
	monitor_finish(m, a, job, to, cause, reason);
	free(reason);
}

/* Map one Slurm report onto an attempt in flight. */
static void
apply_bjob(struct monitor *m, struct attempt *a, struct job *job,
    const struct bjob *b)
{
	if (bjob_final(b->state))
		apply_end(m, a, job, b);
	else
		apply_progress(m, a, job, b);
}

static void
list_done(struct op *op, void *arg)
{
	struct monitor *m = arg;
	struct attempt **as;
	struct job *job;
	struct track *t;
	size_t n, i, k;
	const struct bjob *b;

	m->polling = 0;
	if (op->rc != 0) {
		if (!m->poll_failing)
			log_warnx("cannot reach Slurm: %s", op->cause);
		m->poll_failing = 1;
		return;
	}
	if (m->poll_failing)
		log_info("Slurm answers again");
	m->poll_failing = 0;
	as = store_attempts_active(m->d->store, &n);
	for (i = 0; i < n; i++) {
		if (as[i]->slurm_job_id == 0)
			continue;
		if ((job = store_job_get(m->d->store, as[i]->job_id)) == NULL)
			continue;
		b = NULL;
		for (k = 0; k < op->njobs && b == NULL; k++)
			if (op->jobs[k].id == as[i]->slurm_job_id)
				b = &op->jobs[k];
		t = monitor_track_get(m, as[i]->tag);
		if (b != NULL) {
			t->misses = 0;
			apply_bjob(m, as[i], job, b);
		} else if (++t->misses >= LOST_AFTER_POLLS) {
			monitor_finish(m, as[i], job, ATTEMPT_LOST, CAUSE_LOST,
			    "Slurm no longer knows the job");
		}
		job_free(job);
	}
	attempt_list_free(as, n);
}

static void
create_attempts(struct monitor *m, enum job_state from)
{
	struct store *st = m->d->store;
	struct attempt a = { 0 };
	struct job **jobs;
	size_t n, i;

	jobs = store_jobs_in_state(st, from, &n);
	for (i = 0; i < n; i++) {
		/* a QUEUED job gets its first attempt here, and only that */
		if (from == JOB_QUEUED && jobs[i]->attempts > 0)
			continue;
		if (from == JOB_RESTARTING && jobs[i]->not_before > wall_s())
			continue;
		a.job_id = jobs[i]->id;
		a.attempt = jobs[i]->attempts + 1;
		a.tag = random_hex(12);
		a.state = ATTEMPT_CREATED;
		a.master_port = pick_port(m, a.job_id, a.attempt);
		a.submitted_at = wall_s();
		a.last_step = a.ckpt_start = a.ckpt_end = -1;
		/* committed (fsync) before Slurm can hear of it */
		if (store_begin(st) == 0 && store_attempt_insert(st, &a) == 0 &&
		    store_event_add(st, a.job_id, "attempt",
		    "attempt %d created (tag %s, MASTER_PORT %d)", a.attempt,
		    a.tag, a.master_port) == 0)
			store_commit(st);
		else
			store_rollback(st);
		free(a.tag);
	}
	job_list_free(jobs, n);
}

static void
cluster_done(struct op *op, void *arg)
{
	struct monitor *m = arg;

	m->loading = 0;
	if (op->rc == 0)
		keep_cluster(m, op);
}

/* Refresh the snapshot the API answers from, one load at a time. */
static void
load_cluster(struct monitor *m)
{
	struct op *op;

	if (m->loading)
		return;
	op = xcalloc(1, sizeof(*op));
	op->kind = OP_CLUSTER;
	op->done = cluster_done;
	op->arg = m;
	op->fail = store_node_failures(m->d->store, &op->nfail);
	m->loading = 1;
	worker_push(m->d->worker, op);
}

static void
monitor_tick_cb(void *arg)
{
	struct monitor *m = arg;
	struct attempt **as;
	struct job *job;
	struct track *t;
	struct op *op;
	size_t n, i;
	int need_poll = 0;

	load_cluster(m);
	create_attempts(m, JOB_QUEUED);
	create_attempts(m, JOB_RESTARTING);
	as = store_attempts_active(m->d->store, &n);
	for (i = 0; i < n; i++) {
		t = monitor_track_get(m, as[i]->tag);
		if (t->busy)
			continue;
		if ((job = store_job_get(m->d->store, as[i]->job_id)) == NULL)
			continue;
		health_register(m->d->health, as[i]->token_hash, job->id,
		    as[i]->attempt, job->world_size);
		if (as[i]->slurm_job_id == 0)
			plan_attempt(m, as[i], job);
		else {
			need_poll = 1;
			if (job->state == JOB_CANCELLED || as[i]->ending)
				monitor_cancel_attempt(m, as[i]);
		}
		job_free(job);
	}
	attempt_list_free(as, n);
	recovery_tick(m);
	if (need_poll && !m->polling) {
		op = xcalloc(1, sizeof(*op));
		op->kind = OP_LIST;
		op->done = list_done;
		op->arg = m;
		m->polling = 1;
		worker_push(m->d->worker, op);
	}
	timer_schedule(m->tick, m->d->conf->poll_interval_ms);
}

struct monitor *
monitor_create(struct llmctld *d)
{
	struct monitor *m;

	m = xcalloc(1, sizeof(*m));
	m->d = d;
	TAILQ_INIT(&m->tracks);
	TAILQ_INIT(&m->scans);
	m->scanner = pool_create(d->base, "scan", SCAN_THREADS);
	m->tick = timer_new(d->base, monitor_tick_cb, m);
	timer_schedule(m->tick, 0);
	return m;
}

void
monitor_kick(struct monitor *m)
{
	timer_schedule(m->tick, 0);
}

void
monitor_free(struct monitor *m)
{
	struct track *t;

	if (m == NULL)
		return;
	/* first: a scan finishing now may still decide and kick the timer */
	checkpoint_stop();
	pool_free(m->scanner);
	timer_free(m->tick);
	recovery_free(m);
	while ((t = TAILQ_FIRST(&m->tracks)) != NULL)
		monitor_track_drop(m, t->tag);
	free(m);
}
