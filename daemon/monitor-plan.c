/*
 * monitor-plan: the monitor's ops to the worker and their results: plan an
 * attempt, build and submit it, cancel it, load the cluster snapshot.
 */
#include "config.h"

#include <sys/queue.h>

#include <pwd.h>
#include <stdlib.h>
#include <string.h>

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
#include "spec.h"
#include "store.h"
#include "util.h"
#include "worker.h"

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

static void
submit_done(struct op *op, void *arg)
{
	struct monitor *m = arg;
	struct submit_data *sd = op->owned;
	struct attempt *a;
	struct job *job;
	char *reason;

	track_get(m, sd->tag)->busy = 0;
	if ((a = attempt_by_tag(m, sd->tag, &job)) == NULL)
		return;
	if (op->rc != 0 && op->transient) {
		log_warnx("job %lld: attempt %d not submitted yet: %s "
		    "(will retry)", (long long)a->job_id, a->attempt, op->cause);
	} else if (op->rc != 0) {
		reason = xasprintf("Slurm refused the job: %s", op->cause);
		set_str(&a->state, "FAILED");
		finish(m, a, job, "submit_failed", reason);
		free(reason);
	} else if (op->kind == OP_FIND && op->found_id == 0) {
		/* cancelled before Slurm ever had it */
		set_str(&a->state, "CANCELLED");
		finish(m, a, job, "cancelled", NULL);
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

	track_get(m, sd->tag)->busy = 0;
	if ((a = attempt_by_tag(m, sd->tag, &job)) == NULL) {
		keep_cluster(m, op);
		return;
	}
	if (op->rc == 0 && op->found_id != 0) {
		attempt_in_slurm(m, a, job, op->found_id, 0);
		goto out;
	}
	if (job->state == JOB_CANCELLED) {
		/* cancelled while it was being planned: never submit it */
		set_str(&a->state, "CANCELLED");
		finish(m, a, job, "cancelled", NULL);
		goto out;
	}
	if (op->rc != 0 && op->never) {
		reason = xasprintf("cannot be placed on this cluster: %s",
		    op->cause);
		set_str(&a->state, "FAILED");
		finish(m, a, job, "unplaceable", reason);
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
	set_str(&a->plan, text);
	free(text);
	sd->req_nodes = plan_nodelist(op->plan);
	set_str(&a->nodes, sd->req_nodes);
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
		set_str(&a->state, "FAILED");
		finish(m, a, job, "launch_failed", cause);
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
	track_get(m, a->tag)->busy = 1;
	worker_push(m->d->worker, sub);
out:
	keep_cluster(m, op);
	attempt_free(a);
	job_free(job);
}

/* Plan the attempt on a fresh snapshot (or find it in Slurm by tag). */
void
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
		set_str(&a->state, "FAILED");
		finish(m, a, job, "launch_failed", cause != NULL ?
		    cause : "stored spec unreadable");
		free(cause);
		op_free(op);
		return;
	}
	op->fail = store_node_failures(m->d->store, &op->nfail);
	if (track_get(m, a->tag)->avoid != NULL) {
		hostlist_expand(&sd->avoid, track_get(m, a->tag)->avoid, NULL);
		op->avoid = (const char *const *)sd->avoid.names;
		op->navoid = sd->avoid.n;
	}
push:
	track_get(m, a->tag)->busy = 1;
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
cancel_attempt(struct monitor *m, struct attempt *a)
{
	struct track *t = track_get(m, a->tag);
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

static void
cluster_done(struct op *op, void *arg)
{
	struct monitor *m = arg;

	m->loading = 0;
	if (op->rc == 0)
		keep_cluster(m, op);
}

/* Refresh the snapshot the API answers from, one load at a time. */
void
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
