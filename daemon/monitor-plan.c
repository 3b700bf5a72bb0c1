/*
 * monitor-plan: plan an attempt, build and submit it, cancel it, load the
 * cluster snapshot; the ops to the worker and their results.
 *
 * An attempt without a Slurm id is planned on the loop, on the snapshot
 * the tick keeps (d->cluster), recorded, built and sent as OP_SUBMIT: one
 * RPC (a submit's first attempt in the submit's own transaction, when
 * nothing but the plan is to be written: monitor_plan_first). The
 * exactly-once rule decides before that: an attempt this process made
 * and never handed to OP_SUBMIT cannot be in Slurm; any other (made
 * before a restart, or its submit's outcome unknown) is looked up by tag
 * in a poll that started after its last submit, and submitted only when
 * that poll does not show it.
 */
#include "config.h"

#include <sys/param.h>
#include <sys/queue.h>

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "launch.h"
#include "lifecycle.h"
#include "llmctld.h"
#include "log.h"
#include "logdir.h"
#include "monitor.h"
#include "monitor-int.h"
#include "checkpoint.h"
#include "health.h"
#include "hostlist.h"
#include "placement.h"
#include "spec.h"
#include "spec-cache.h"
#include "store.h"
#include "users.h"
#include "util.h"
#include "worker.h"

#define SUBMIT_RETRY_MAX_S 60 /* the longest wait after a refused submit */

/* An attempt on its way to Slurm: the arg of its OP_SUBMIT, which borrows
 * its strings. */
struct submit_data {
	struct monitor *m;
	struct launch *launch;
	struct spec_ref *spec_ref; /* holds spec */
	const struct spec *spec;
	char *tag;
	char *name;
	struct placement place; /* its request borrows spec, exclude */
	const char **exclude; /* plan request's merged exclude list */
	char *req_nodes; /* the plan's nodes and spares, Slurm's req_nodes */
	char *order; /* the plan's nodes in rank order */
	char *spares; /* its spares, NULL: none */
	struct hostlist blamed; /* nodes earlier attempts blamed */
	struct hostlist avoid; /* nodes a re-plan should avoid */
	struct hostlist quarantined; /* nodehealth.h: no job goes there */
	char *resume_from; /* the checkpoint it resumes from, or NULL */
	int64_t resume_step;
};

static struct submit_data *submit_data_new(struct monitor *, const char *);
static void submit_data_free(void *);
static void submit_done(struct op *, void *);
static void submit_request(
    const struct submit_data *, const struct job *, struct bjob_request *);
static void plan_wait(struct monitor *, struct job *, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static int plan_find(
    struct monitor *, struct track *, struct attempt *, struct job *);
static const struct bcluster *plan_snapshot(struct monitor *, struct job *);
static void plan_unplaced(struct monitor *, const struct submit_data *,
    struct attempt *, struct job *, const char *);
static void plan_handed(const struct submit_data *, const struct attempt *,
    const struct job *, const char *);
static const char *plan_record(
    const struct bcluster *, struct submit_data *, struct attempt *);
static struct ckpt *plan_resume(struct monitor *, struct submit_data *,
    struct attempt *, const struct job *, struct launch_ctx *, size_t *);
static int plan_store(struct monitor *, const struct submit_data *,
    struct attempt *, const struct job *);
static int plan_build(struct monitor *, struct submit_data *, struct attempt *,
    const struct job *, const char *, char **);
static void hold_cb(void *, const char *, const char *, int);
static void plan_place(struct monitor *, const struct bcluster *,
    struct submit_data *, struct attempt *, struct job *);
static int plan_request(struct monitor *, struct submit_data *,
    const struct attempt *, const struct job *, char **);
static void cancel_done(struct op *, void *);
static void cluster_done(struct op *, void *);

static struct submit_data *
submit_data_new(struct monitor *m, const char *tag)
{
	struct submit_data *sd;

	sd = xcalloc(1, sizeof(*sd));
	sd->m = m;
	sd->tag = xstrdup(tag);
	return sd;
}

static void
submit_data_free(void *p)
{
	struct submit_data *sd = p;

	if (sd == NULL)
		return;
	launch_free(sd->launch);
	placement_clear(&sd->place);
	spec_ref_put(sd->spec_ref);
	free(sd->tag);
	free(sd->name);
	free(sd->exclude);
	free(sd->req_nodes);
	free(sd->order);
	free(sd->spares);
	free(sd->resume_from);
	hostlist_clear(&sd->blamed);
	hostlist_clear(&sd->avoid);
	hostlist_clear(&sd->quarantined);
	free(sd);
}

/* OP_SUBMIT came back. */
static void
submit_done(struct op *op, void *arg)
{
	struct submit_data *sd = arg;
	struct monitor *m = sd->m;
	struct track *t = monitor_track_get(m, sd->tag);
	struct attempt *a;
	struct job *job;
	char *reason;
	int64_t delay;

	t->busy = 0;
	/* unless recorded now, only a poll pushed after this may tell */
	t->list_after = m->lists;
	if ((a = monitor_attempt_by_tag(m, sd->tag, &job)) == NULL) {
		submit_data_free(sd);
		return;
	}
	if (op->u.submit.no_logdir)
		monitor_finish(
		    m, a, job, ATTEMPT_FAILED, CAUSE_LAUNCH_FAILED, op->cause);
	else if (op->rc != 0 && op->transient) {
		/*
		 * Not again at once: a full queue (MaxJobCount) or a busy
		 * slurmctld refuses every job, and resubmitting each at every
		 * poll made 20,653 submit RPCs for 600 jobs. One poll
		 * interval, doubling to SUBMIT_RETRY_MAX_S.
		 */
		delay = m->d->conf->poll_interval_ms
		    << MIN(t->submit_fails, 10);
		delay = MIN(delay, SUBMIT_RETRY_MAX_S * 1000);
		t->submit_fails++;
		t->submit_retry_ms = mono_ms() + delay;
		log_warnx("job %lld: attempt %d not submitted yet: %s "
		          "(again in %lld s)",
		    (long long)a->job_id, a->attempt, op->cause,
		    (long long)(delay + 999) / 1000);
	} else if (op->rc != 0) {
		reason = xasprintf("Slurm refused the job: %s", op->cause);
		monitor_finish(
		    m, a, job, ATTEMPT_FAILED, CAUSE_SUBMIT_FAILED, reason);
		free(reason);
	} else
		monitor_attempt_in_slurm(m, a, job, op->u.submit.id, 1);
	attempt_free(a);
	job_free(job);
	submit_data_free(sd);
}

/* Keep the newest cluster snapshot, for the plans and the API. */
static void
keep_cluster(struct monitor *m, struct bcluster **cl)
{
	if (*cl == NULL)
		return;
	bcluster_free(m->d->cluster);
	m->d->cluster = *cl;
	*cl = NULL;
	m->loaded_ms = mono_ms();
}

/* What Slurm is asked for, from the spec, the launch and the plan. */
static void
submit_request(const struct submit_data *sd, const struct job *job,
    struct bjob_request *req)
{
	const struct spec *sp = sd->spec;

	*req = (struct bjob_request){ .tag = sd->tag,
		.uid = job->uid,
		.gid = job->gid,
		.name = sd->name };
	req->script = sd->launch->script;
	req->env = sd->launch->env;
	req->nenv = sd->launch->nenv;
	req->workdir = sp->workdir;
	req->output = sd->launch->batch_log;
	/* the spares are part of the allocation, idle until needed */
	req->nodes = sp->resources.nodes + sp->resources.spare_nodes;
	req->tasks = spec_world_size(sp) +
	    sp->resources.spare_nodes * sp->resources.tasks_per_node;
	req->no_kill = sp->resources.spare_nodes > 0;
	req->tasks_per_node = sp->resources.tasks_per_node;
	req->gpus_per_node = sp->resources.gpus_per_node;
	req->gpu_type = sp->resources.gpu_type;
	req->cpus_per_gpu = sp->resources.cpus_per_gpu;
	req->mem_per_node_mb = sp->resources.mem_per_node_mb;
	req->partition = sp->resources.partition;
	req->account = sp->resources.account;
	req->qos = sp->resources.qos;
	req->time_limit_s = sp->resources.time_limit_s;
	req->req_nodes = sd->req_nodes;
	if (sd->place.to_slurm) {
		req->exc_nodes = sd->place.exclude;
		req->switches = sd->place.switches;
		req->switch_wait_s = (int)(sp->placement.max_wait_s < INT_MAX
		        ? sp->placement.max_wait_s
		        : INT_MAX);
	}
	req->warn_signal = sd->launch->warn_signal;
	req->warn_time_s = sd->launch->warn_time_s;
	req->warn_batch = sd->launch->warn_batch;
}

/* The job waits, saying why (once per new reason). */
static void
plan_wait(struct monitor *m, struct job *job, const char *fmt, ...)
{
	va_list ap;
	char *reason;

	va_start(ap, fmt);
	reason = xvasprintf(fmt, ap);
	va_end(ap);
	if (job->reason == NULL || strcmp(job->reason, reason) != 0) {
		lifecycle_job_reason(m->d->store, job->id, job->state, reason);
		log_job(job->id, "%s", reason);
	}
	free(reason);
}

/* One of ours in the last poll: its Slurm id, 0: none. */
static int64_t
seen_id(const struct monitor *m, const char *tag, uid_t uid)
{
	size_t i;

	for (i = 0; i < m->nseen; i++)
		if (m->seen[i].tag != NULL && m->seen[i].uid == uid &&
		    strcmp(m->seen[i].tag, tag) == 0)
			return m->seen[i].id;
	return 0;
}

/*
 * An attempt that Slurm may have (made before a restart, or its submit's
 * outcome unknown): a poll pushed after its last submit answers, by tag
 * and uid, as that poll started after the submit returned (one worker, in
 * order). 1: settled so (found; or waiting for such a poll), 0: absent.
 */
static int
plan_find(
    struct monitor *m, struct track *t, struct attempt *a, struct job *job)
{
	int64_t id;

	if (m->seen_list <= t->list_after) {
		m->list_wanted = 1;
		if (m->poll_failing)
			plan_wait(
			    m, job, "slurmctld unreachable: %s", m->poll_cause);
		return 1;
	}
	if ((id = seen_id(m, a->tag, job->uid)) != 0) {
		monitor_attempt_in_slurm(m, a, job, id, 0);
		return 1;
	}
	t->absent = 1;
	return 0;
}

/*
 * The snapshot to plan on: the one kept, unless older than two poll
 * intervals (a tick refreshes it each interval); then the job waits for
 * the load, which kicks the monitor. NULL: none to plan on yet.
 */
static const struct bcluster *
plan_snapshot(struct monitor *m, struct job *job)
{
	if (m->d->cluster != NULL &&
	    mono_ms() - m->loaded_ms <= 2 * m->d->conf->poll_interval_ms)
		return m->d->cluster;
	m->load_wanted = 1;
	monitor_load_cluster(m);
	if (m->load_cause != NULL)
		plan_wait(m, job, "slurmctld unreachable: %s", m->load_cause);
	return NULL;
}

/* No plan: never on this cluster (the attempt fails), or not now. */
static void
plan_unplaced(struct monitor *m, const struct submit_data *sd,
    struct attempt *a, struct job *job, const char *cause)
{
	char *reason;

	if (sd->place.never) {
		reason =
		    xasprintf("cannot be placed on this cluster: %s", cause);
		monitor_finish(
		    m, a, job, ATTEMPT_FAILED, CAUSE_UNPLACEABLE, reason);
		free(reason);
	} else {
		monitor_unplaced(m, sd->tag);
		plan_wait(m, job, "waiting for resources: %s", cause);
	}
}

/* Say how Slurm is to place the job handed to it. */
static void
plan_handed(const struct submit_data *sd, const struct attempt *a,
    const struct job *job, const char *busy)
{
	const struct placement *pl = &sd->place;
	int64_t wait = sd->spec->placement.max_wait_s;

	if (busy == NULL && pl->navoid > 0)
		busy = "re-planned";
	else if (busy == NULL && pl->queued > 0)
		busy = "jobs of ours wait in Slurm's queue";
	else if (busy == NULL && pl->waiting > 0)
		busy = "other jobs wait in Slurm's queue";
	else if (busy == NULL)
		busy = "free nodes span more switches than the best";
	if (pl->switches > 0 && wait > 0)
		log_job(job->id,
		    "attempt %d: %s; Slurm places it, waiting up to %llds "
		    "for %d leaf switch%s (--switches=%d@%lld)",
		    a->attempt, busy, (long long)wait, pl->switches,
		    pl->switches == 1 ? "" : "es", pl->switches,
		    (long long)wait);
	else
		log_job(job->id, "attempt %d: %s; Slurm places it", a->attempt,
		    busy);
}

/*
 * Record the placement on the attempt; the master's address, if known.
 * Slurm places a job handed to it: it has neither plan nor nodes yet.
 */
static const char *
plan_record(
    const struct bcluster *cl, struct submit_data *sd, struct attempt *a)
{
	const struct plan *plan = sd->place.plan;
	json_t *pj;
	char *text;

	if (plan == NULL) {
		/* Slurm places it: no plan, the nodes once it runs */
		monitor_set_str(&a->plan, NULL);
		monitor_set_str(&a->nodes, NULL);
		return NULL;
	}
	pj = plan_to_json(plan, cl->live);
	text = json_dumps(pj, JSON_COMPACT);
	json_decref(pj);
	monitor_set_str(&a->plan, text);
	free(text);
	sd->order = plan_nodelist(plan);
	sd->spares = plan_sparelist(plan);
	sd->req_nodes = sd->spares != NULL
	    ? xasprintf("%s,%s", sd->order, sd->spares)
	    : xstrdup(sd->order);
	monitor_set_str(&a->nodes, sd->req_nodes);
	return cl->addr != NULL ? cl->addr[plan->nodes[0].topo_index] : NULL;
}

/*
 * A fresh token for this launch: only the workers ever see it; the store
 * and the heartbeat table keep its hash, recorded before Slurm hears of the
 * job.
 */
char *
monitor_plan_token(struct monitor *m, struct attempt *a, const struct job *job)
{
	char *token = random_hex(16);

	health_unregister(m->d->health, a->token_hash);
	free(a->token_hash);
	a->token_hash = health_token_hash(token);
	health_register(
	    m->d->health, a->token_hash, job->id, a->attempt, job->world_size);
	return token;
}

/*
 * Every attempt after the first resumes from the newest good checkpoint:
 * set it in ctx, which borrows from the list returned (free it after use).
 */
static struct ckpt *
plan_resume(struct monitor *m, struct submit_data *sd, struct attempt *a,
    const struct job *job, struct launch_ctx *ctx, size_t *nck)
{
	const struct ckpt *newest;
	struct ckpt *ck;

	ck = store_checkpoints_of(m->d->store, job->id, nck);
	newest = sd->spec->checkpoint.dir != NULL ? checkpoint_newest(ck, *nck)
	                                          : NULL;
	if (newest != NULL) {
		ctx->resume_from = newest->path;
		ctx->resume_step = newest->step;
		a->ckpt_start = newest->step;
		monitor_set_str(&sd->resume_from, newest->path);
		sd->resume_step = newest->step;
	}
	return ck;
}

/* Build the launch for the placed attempt. */
static int
plan_build(struct monitor *m, struct submit_data *sd, struct attempt *a,
    const struct job *job, const char *addr, char **cause)
{
	struct launch_ctx ctx;
	const struct user *u;
	struct ckpt *ck;
	size_t nck;
	char *token;

	token = monitor_plan_token(m, a, job);
	u = users_get(m->d->users, job->uid, mono_ms() / 1000);
	ctx = (struct launch_ctx){ .job_id = job->id,
		.attempt = a->attempt,
		.master_port = a->master_port,
		.uid = job->uid,
		.gid = job->gid,
		.user = job->user,
		.home = u != NULL ? u->home : "/",
		.state_dir = m->d->conf->state_dir,
		.node_order = sd->order,
		.spare_nodes = sd->spares,
		.topo_order = sd->place.order,
		.master_addr = addr,
		.heartbeat_url = m->d->heartbeat_url,
		.heartbeat_token = token,
		.warn_signo = m->d->conf->warn_signo,
		.warn_time_s = (int)(m->d->conf->warn_time_ms / 1000) };
	ck = plan_resume(m, sd, a, job, &ctx, &nck);
	sd->launch = launch_build(sd->spec, &ctx, cause);
	free(token);
	checkpoint_free(ck, nck);
	return sd->launch != NULL ? 0 : -1;
}

/*
 * The attempt's log directory, made on the fs pool before its submit goes
 * to the worker: the batch script writes there, and making it (mkdirat
 * on ext4) took 14-24% of the loop's time at 2,000 active jobs, and on
 * the one backend thread it lengthened every submit.
 */
struct logdir_task {
	struct monitor *m;
	struct op *op;
	const char *state_dir;
	int64_t job_id;
	int attempt;
	char *cause;
	int rc;
};

static void
logdir_run(void *arg)
{
	struct logdir_task *lt = arg;
	const struct bjob_request *req = &lt->op->u.submit.req;

	lt->rc = logdir_make(lt->state_dir, lt->job_id, lt->attempt, req->uid,
	    req->gid, &lt->cause);
}

/* Submit it, or have submit_done end the attempt launch_failed. */
static void
logdir_done(void *arg, int cancelled)
{
	struct logdir_task *lt = arg;

	if (cancelled)
		worker_drop(lt->op);
	else {
		if (lt->rc != 0) {
			lt->op->u.submit.no_logdir = 1;
			lt->op->cause = lt->cause;
			lt->cause = NULL;
		}
		worker_push(lt->m->d->worker, lt->op);
	}
	free(lt->cause);
	free(lt);
}

/*
 * OP_SUBMIT takes sd over; from now on Slurm may have the tag (the track
 * is busy from here to submit_done, log directory included).
 */
void
monitor_plan_sent(struct monitor *m, struct submit_data *sd,
    const struct attempt *a, const struct job *job)
{
	struct track *t = monitor_track_get(m, a->tag);
	struct bjob_request req;
	struct logdir_task *lt;

	sd->name = xstrdup(job->name);
	submit_request(sd, job, &req);
	t->busy = 1;
	t->absent = 0;
	lt = xcalloc(1, sizeof(*lt));
	lt->m = m;
	lt->op = worker_submit(&req, submit_done, sd, submit_data_free);
	lt->state_dir = m->d->conf->state_dir;
	lt->job_id = job->id;
	lt->attempt = a->attempt;
	monitor_fs_push(m, job->uid, logdir_run, logdir_done, lt);
}

/*
 * The launch's record, before Slurm hears of it, in one transaction: the
 * plan and nodes, the new token's hash (a restarted daemon must accept the
 * ranks' heartbeats), the checkpoint it resumes from and its event. If it
 * cannot be stored nothing is submitted: the attempt stays CREATED as the
 * store has it and the next tick plans it again.
 */
static int
plan_store(struct monitor *m, const struct submit_data *sd, struct attempt *a,
    const struct job *job)
{
	struct store *st = m->d->store;

	if (store_begin(st) == 0 && store_attempt_update(st, a) == 0 &&
	    (sd->resume_from == NULL ||
	        store_event_add(st, job->id, "resume",
	            "attempt %d resumes from checkpoint step %lld (%s)",
	            a->attempt, (long long)sd->resume_step,
	            sd->resume_from) == 0) &&
	    store_commit(st) == 0)
		return 0;
	store_rollback(st);
	health_unregister(m->d->health, a->token_hash);
	log_warnx("job %lld: attempt %d: cannot record its launch; not "
	          "submitted, planned again on the next tick",
	    (long long)job->id, a->attempt);
	return -1;
}

enum plan_made { PLAN_MADE, PLAN_UNPLACED, PLAN_UNBUILT };

/*
 * Place the attempt on cl and build its launch, writing nothing: PLAN_MADE
 * (to be recorded), or why not (*cause): no room or never (PLAN_UNPLACED),
 * no launch (PLAN_UNBUILT, its token registered still).
 */
static enum plan_made
plan_ready(struct monitor *m, const struct bcluster *cl, struct submit_data *sd,
    struct attempt *a, struct job *job, char **cause)
{
	const char *addr;
	int transient = 0;

	sd->place.tag = sd->tag;
	/*
	 * A read: without it fewer GPUs are held, nothing is lost. Holds are
	 * GPUs only: a job that takes none has nothing to count (and every
	 * one of those is pinned, so there may be thousands to read).
	 */
	if (sd->place.req.gpus_per_node > 0)
		(void)store_attempts_holding(
		    m->d->store, cl->loaded_at - 1, hold_cb, sd);
	/* a read: on error none are counted, the plan may pin */
	sd->place.queued = store_attempts_queued(m->d->store);
	sd->place.waiting = monitor_waiting(m, sd->spec->resources.partition);
	if (placement_run(&sd->place, cl, cause, &transient) != 0)
		return PLAN_UNPLACED;
	if (sd->place.to_slurm)
		plan_handed(sd, a, job, transient ? *cause : NULL);
	free(*cause);
	*cause = NULL;
	addr = plan_record(cl, sd, a);
	return plan_build(m, sd, a, job, addr, cause) == 0 ? PLAN_MADE
	                                                   : PLAN_UNBUILT;
}

/* Place the attempt on cl: record, build and submit it, or say why not. */
static void
plan_place(struct monitor *m, const struct bcluster *cl, struct submit_data *sd,
    struct attempt *a, struct job *job)
{
	char *cause = NULL;

	switch (plan_ready(m, cl, sd, a, job, &cause)) {
	case PLAN_UNPLACED:
		plan_unplaced(m, sd, a, job, cause);
		break;
	case PLAN_UNBUILT:
		monitor_finish(
		    m, a, job, ATTEMPT_FAILED, CAUSE_LAUNCH_FAILED, cause);
		break;
	case PLAN_MADE:
		/* recorded before Slurm hears of it, or not sent */
		if (plan_store(m, sd, a, job) == 0) {
			monitor_plan_sent(m, sd, a, job);
			sd = NULL;
		}
		break;
	}
	free(cause);
	submit_data_free(sd);
}

int
monitor_plan_first(struct monitor *m, struct attempt *a, struct job *job,
    struct submit_data **out)
{
	const struct bcluster *cl = m->d->cluster;
	struct submit_data *sd;
	enum plan_made made = PLAN_UNPLACED;
	char *cause = NULL;
	int rc = 1;

	*out = NULL;
	/* on a fresh snapshot only: the tick loads one and waits for it */
	if (cl == NULL ||
	    mono_ms() - m->loaded_ms > 2 * m->d->conf->poll_interval_ms)
		return 1;
	sd = submit_data_new(m, a->tag);
	if (plan_request(m, sd, a, job, &cause) == 0 &&
	    (made = plan_ready(m, cl, sd, a, job, &cause)) == PLAN_MADE) {
		rc = store_attempt_update(m->d->store, a) == 0 ? 0 : -1;
		if (rc == 0) {
			*out = sd;
			sd = NULL;
		}
	}
	/* no room now, no launch: the tick says so, or ends the attempt */
	if (made != PLAN_UNPLACED && rc != 0)
		health_unregister(m->d->health, a->token_hash);
	free(cause);
	submit_data_free(sd);
	return rc;
}

void
monitor_plan_undo(
    struct monitor *m, struct submit_data *sd, const struct attempt *a)
{
	if (sd != NULL) {
		health_unregister(m->d->health, a->token_hash);
		submit_data_free(sd);
	}
	/* planned or not, the plan's request made it a track */
	monitor_track_drop(m, a->tag);
}

/* The nodes quarantined now, which the live plan leaves out. */
static void
plan_quarantined(struct monitor *m, struct submit_data *sd)
{
	char **q;
	size_t n, i;

	q = store_nodes_quarantined(m->d->store, wall_s(), &n);
	for (i = 0; i < n; i++) {
		hostlist_expand(&sd->quarantined, q[i], NULL);
		free(q[i]);
	}
	free(q);
	sd->place.quarantined = (const char *const *)sd->quarantined.names;
	sd->place.nquarantined = sd->quarantined.n;
}

/*
 * The plan request from the stored spec, without the nodes blamed for the
 * job's earlier attempts and, after a re-plan, avoiding the last ones.
 */
static int
plan_request(struct monitor *m, struct submit_data *sd, const struct attempt *a,
    const struct job *job, char **cause)
{
	struct track *t = monitor_track_get(m, a->tag);
	char *blamed;

	if ((sd->spec_ref = monitor_job_spec(m, job, cause)) != NULL)
		sd->spec = sd->spec_ref->spec;
	if ((blamed = store_job_blamed(m->d->store, job->id)) != NULL)
		hostlist_expand(&sd->blamed, blamed, NULL);
	free(blamed);
	if (sd->spec == NULL ||
	    plan_request_from_spec(sd->spec,
	        (const char *const *)sd->blamed.names, sd->blamed.n,
	        &sd->place.req, &sd->exclude, cause) != 0)
		return -1;
	if (t->avoid != NULL) {
		hostlist_expand(&sd->avoid, t->avoid, NULL);
		sd->place.avoid = (const char *const *)sd->avoid.names;
		sd->place.navoid = sd->avoid.n;
	}
	plan_quarantined(m, sd);
	return 0;
}

/* One attempt of ours that will take GPUs Slurm still shows free. */
static void
hold_cb(void *arg, const char *tag, const char *nodes, int gpus)
{
	struct submit_data *sd = arg;
	struct hostlist hl = { 0 };
	size_t i;

	if (tag != NULL && nodes != NULL && strcmp(tag, sd->tag) != 0 &&
	    hostlist_expand(&hl, nodes, NULL) == 0)
		for (i = 0; i < hl.n; i++)
			placement_hold_add(&sd->place.held, &sd->place.nheld,
			    tag, hl.names[i], gpus);
	hostlist_clear(&hl);
}

/*
 * Plan the attempt on the kept snapshot and submit it, once Slurm is known
 * not to have it (or take the job Slurm has), counting the GPUs our own
 * planned, pending or just started attempts will take (the store's, read
 * against the snapshot's age). No RPC but the submit.
 */
void
monitor_plan_attempt(struct monitor *m, struct attempt *a, struct job *job)
{
	struct track *t = monitor_track_get(m, a->tag);
	const struct bcluster *cl;
	struct submit_data *sd;
	char *cause = NULL;

	if (!t->absent && plan_find(m, t, a, job))
		return;
	if (job->state == JOB_CANCELLED) {
		/* cancelled before Slurm ever had it */
		monitor_finish(
		    m, a, job, ATTEMPT_CANCELLED, CAUSE_CANCELLED, NULL);
		return;
	}
	/* Slurm refused it for now: not before the back-off ends */
	if (mono_ms() < t->submit_retry_ms)
		return;
	if (spares_try(m, a, job))
		return;
	/* no room last time: again once the cluster changed */
	if (!monitor_replan_due(m, t) || (cl = plan_snapshot(m, job)) == NULL)
		return;
	t->unplaced = 0;
	sd = submit_data_new(m, a->tag);
	if (plan_request(m, sd, a, job, &cause) == 0) {
		plan_place(m, cl, sd, a, job);
		return;
	}
	monitor_finish(m, a, job, ATTEMPT_FAILED, CAUSE_LAUNCH_FAILED,
	    cause != NULL ? cause : "stored spec unreadable");
	free(cause);
	submit_data_free(sd);
}

static void
cancel_done(struct op *op, void *arg)
{
	(void)arg;
	if (op->rc != 0)
		log_warnx("cancel of Slurm job %lld failed: %s (will retry)",
		    (long long)op->u.cancel.id, op->cause);
}

void
monitor_cancel_attempt(struct monitor *m, struct attempt *a)
{
	struct track *t = monitor_track_get(m, a->tag);
	int64_t now = mono_ms();

	if (t->last_kill_ms != 0 &&
	    now - t->last_kill_ms < m->d->conf->poll_interval_ms)
		return;
	t->last_kill_ms = now;
	/* a hang of a job with spares: its step only, the allocation stays */
	if (a->ending && a->cause == CAUSE_HANG && spares_planned(a)) {
		spares_fence(m, a);
		return;
	}
	monitor_cancel_slurm(m, a->slurm_job_id);
}

void
monitor_cancel_slurm(struct monitor *m, int64_t id)
{
	worker_push(m->d->worker, worker_cancel(id, cancel_done, NULL));
}

static void
cluster_done(struct op *op, void *arg)
{
	struct monitor *m = arg;

	m->loading = 0;
	monitor_set_str(&m->load_cause, op->rc != 0 ? op->cause : NULL);
	if (op->rc != 0)
		return;
	if (op->u.cluster.unchanged && m->d->cluster != NULL) {
		/* "no change": the kept snapshot is as new as this answer */
		m->d->cluster->loaded_at = wall_s();
		m->loaded_ms = mono_ms();
	} else {
		m->load_stamp = op->u.cluster.stamp;
		m->changes++;
	}
	keep_cluster(m, &op->u.cluster.cluster);
	if (m->load_wanted) {
		m->load_wanted = 0;
		monitor_kick(m);
	}
}

/* What the failures folded into a snapshot were: FNV-1a of them. */
static uint64_t
fail_sum(const struct bfailure *f, size_t n)
{
	uint64_t h = 14695981039346656037ULL;
	const char *c;
	size_t i;

	for (i = 0; i < n; i++) {
		for (c = f[i].name; *c != '\0'; c++)
			h = (h ^ (unsigned char)*c) * 1099511628211ULL;
		h = (h ^ (uint64_t)f[i].failures) * 1099511628211ULL;
	}
	return h;
}

/*
 * Refresh the snapshot the plans and the API use, one load at a time and
 * one per poll interval however often the monitor is kicked (a tenth off
 * for the timer's slack). Nodes unchanged since the kept snapshot, with the
 * same failures, cost slurmctld a "no change" and keep the snapshot.
 */
void
monitor_load_cluster(struct monitor *m)
{
	int64_t every = m->d->conf->poll_interval_ms;
	struct bfailure *fail;
	uint64_t sum;
	size_t nfail;

	if (m->loading ||
	    (m->d->cluster != NULL &&
	        mono_ms() - m->load_pushed_ms < every - every / 10))
		return;
	fail = store_node_failures(m->d->store, &nfail);
	sum = fail_sum(fail, nfail);
	if (m->d->cluster == NULL || sum != m->load_fail_sum)
		m->load_stamp = 0;
	m->load_fail_sum = sum;
	m->loading = 1;
	m->load_pushed_ms = mono_ms();
	worker_push(m->d->worker,
	    worker_cluster(m->load_stamp, fail, nfail, cluster_done, m));
}
