/* monitor: ticks, attempt creation, Slurm polls; ops: monitor-plan.c. */
#include "config.h"

#include <sys/queue.h>

#include <signal.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "lifecycle.h"
#include "llmctld.h"
#include "log.h"
#include "monitor.h"
#include "monitor-int.h"
#include "checkpoint.h"
#include "health.h"
#include "hostlist.h"
#include "pool.h"
#include "store.h"
#include "timer.h"
#include "util.h"
#include "worker.h"

#define LOST_AFTER_POLLS 3	/* polls that miss a job before it is lost */
#define SCAN_THREADS	 3	/* checkpoint scans at once, of different users */

static void monitor_tick_cb(void *);

struct track *
track_get(struct monitor *m, const char *tag)
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
track_drop(struct monitor *m, const char *tag)
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

/*
 * Record the end of an attempt. What happens to the job (completed,
 * failed, restarted) is the restart policy's call, in recovery.c.
 */
void
finish(struct monitor *m, struct attempt *a, struct job *job,
    const char *cause, const char *reason)
{
	struct store *st = m->d->store;
	struct hostlist hl = { 0 };
	size_t i;

	if (a->ended_at == 0)
		a->ended_at = wall_s();
	if (cause != NULL || a->cause == NULL)
		set_str(&a->cause, cause);
	if (reason != NULL || a->reason == NULL)
		set_str(&a->reason, reason);
	a->ckpt_end = recovery_newest_step(m, job->id);
	if (store_begin(st) != 0)
		return;
	store_attempt_update(st, a);
	store_event_add(st, a->job_id, "attempt_ended",
	    "attempt %d ended %s%s%s%s%s", a->attempt, a->state,
	    a->cause != NULL ? " (" : "", a->cause != NULL ? a->cause : "",
	    a->cause != NULL ? ")" : "",
	    a->reason != NULL ? "" : "");
	if (a->reason != NULL)
		store_event_add(st, a->job_id, "reason", "%s", a->reason);
	if (a->blamed != NULL && hostlist_expand(&hl, a->blamed, NULL) == 0)
		for (i = 0; i < hl.n; i++) {
			store_node_failure_add(st, hl.names[i]);
			store_event_add(st, a->job_id, "node_blamed",
			    "node %s blamed for attempt %d (%s); later "
			    "attempts avoid it", hl.names[i], a->attempt,
			    a->cause != NULL ? a->cause : "?");
		}
	hostlist_clear(&hl);
	store_commit(st);
	log_job(job->id, "attempt %d ended %s (%s%s%s)", a->attempt, a->state,
	    a->cause != NULL ? a->cause : "ok", a->reason != NULL ? ": " : "",
	    a->reason != NULL ? a->reason : "");
	health_unregister(m->d->health, a->token_hash);
	track_drop(m, a->tag);
	recovery_decide(m, job->id);
}

struct attempt *
attempt_by_tag(struct monitor *m, const char *tag, struct job **job)
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

/* Slurm has the attempt (submitted now, or found by its tag). */
void
attempt_in_slurm(struct monitor *m, struct attempt *a, struct job *job,
    int64_t id, int submitted)
{
	a->slurm_job_id = id;
	set_str(&a->state, "PENDING");
	store_begin(m->d->store);
	store_attempt_update(m->d->store, a);
	if (job->state == JOB_QUEUED || job->state == JOB_RESTARTING)
		lifecycle_job_set(m->d->store, job->id, job->state,
		    JOB_SUBMITTED, NULL);
	store_event_add(m->d->store, job->id, "submitted",
	    submitted ? "attempt %d submitted as Slurm job %lld on %s" :
	    "attempt %d found in Slurm as job %lld (submitted before a "
	    "restart)%s", a->attempt, (long long)id,
	    submitted && a->nodes != NULL ? a->nodes : "");
	store_commit(m->d->store);
	log_job(job->id, "attempt %d is Slurm job %lld%s", a->attempt,
	    (long long)id, submitted ? "" : " (found by tag)");
	if (job->state == JOB_CANCELLED)
		monitor_kick(m);
}

/*
 * The Slurm job of a re-planned attempt is gone: the attempt starts over
 * with a new tag (a tag names one Slurm job, ever), in one transaction.
 */
static void
replan_reset(struct monitor *m, struct attempt *a, struct job *job)
{
	char *old = a->tag;

	track_drop(m, old);
	a->tag = random_hex(12);
	if (a->nodes != NULL)
		track_get(m, a->tag)->avoid = xstrdup(a->nodes);
	a->slurm_job_id = 0;
	set_str(&a->state, "CREATED");
	set_str(&a->cause, NULL);
	set_str(&a->reason, NULL);
	set_str(&a->plan, NULL);
	set_str(&a->nodes, NULL);
	a->submitted_at = wall_s();
	a->started_at = a->ended_at = 0;
	a->has_exit_code = 0;
	store_begin(m->d->store);
	if (store_attempt_retag(m->d->store, a, old) != 0) {
		store_rollback(m->d->store);
		free(a->tag);
		a->tag = old;
		return;
	}
	if (job->state == JOB_SUBMITTED)
		lifecycle_job_set(m->d->store, job->id, job->state,
		    JOB_QUEUED, NULL);
	store_commit(m->d->store);
	free(old);
	monitor_kick(m);
}

/* Map one Slurm report onto an attempt in flight. */
static void
apply_bjob(struct monitor *m, struct attempt *a, struct job *job,
    const struct bjob *b)
{
	static const char *const causes[] = {
		[BJOB_COMPLETED] = NULL,
		[BJOB_FAILED] = "user_error",
		[BJOB_CANCELLED] = "cancelled",
		[BJOB_TIMEOUT] = "timeout",
		[BJOB_NODE_FAIL] = "node_failure",
		[BJOB_PREEMPTED] = "preempted",
		[BJOB_OTHER] = "node_failure",
	};
	const char *sname = bjob_state_name(b->state), *cause;
	char *reason = NULL, *pf;
	int changed = 0, ending = a->cause != NULL;

	/* an attempt llmctld is ending (hang, re-plan) keeps its state */
	if (!ending && strcmp(a->state, sname) != 0) {
		set_str(&a->state, sname);
		changed = 1;
	}
	if (b->nodes != NULL && (a->nodes == NULL ||
	    strcmp(a->nodes, b->nodes) != 0)) {
		set_str(&a->nodes, b->nodes);
		changed = 1;
	}
	if (b->state != BJOB_PENDING && a->started_at == 0 &&
	    b->start_time > 0) {
		a->started_at = b->start_time;
		changed = 1;
	}
	if (!bjob_final(b->state)) {
		if (!ending && b->state == BJOB_PENDING && a->plan != NULL &&
		    (wall_s() - a->submitted_at) * 1000 >=
		    m->d->conf->replan_after_ms) {
			/* the planned nodes were taken: plan again */
			set_str(&a->cause, "replan");
			free(a->reason);
			a->reason = xasprintf("planned nodes %s still busy after "
			    "%llds%s%s; planning again", a->nodes != NULL ?
			    a->nodes : "?", (long long)(wall_s() -
			    a->submitted_at), b->reason != NULL ? ": " : "",
			    b->reason != NULL ? b->reason : "");
			store_event_add(m->d->store, job->id, "replan", "%s",
			    a->reason);
			log_job(job->id, "%s", a->reason);
			changed = ending = 1;
		}
		if (ending)
			cancel_attempt(m, a);
		if (!changed)
			return;
		store_begin(m->d->store);
		store_attempt_update(m->d->store, a);
		if (b->state == BJOB_RUNNING && job->state == JOB_SUBMITTED) {
			lifecycle_job_set(m->d->store, job->id, job->state,
			    JOB_RUNNING, NULL);
			store_event_add(m->d->store, job->id, "state",
			    "attempt %d running on %s", a->attempt,
			    a->nodes != NULL ? a->nodes : "?");
		}
		store_commit(m->d->store);
		return;
	}
	set_str(&a->state, sname);
	a->ended_at = b->end_time > 0 ? b->end_time : wall_s();
	a->has_exit_code = 1;
	a->exit_code = b->exit_code;
	cause = causes[b->state];
	if (ending && strcmp(a->cause, "replan") == 0) {
		replan_reset(m, a, job);
		return;
	}
	if (ending) {
		/* llmctld ended it (hang, ...): its own cause and reason */
		finish(m, a, job, NULL, NULL);
		return;
	}
	if (job->state == JOB_CANCELLED)
		cause = "cancelled";
	else if (b->state == BJOB_FAILED &&
	    recovery_preflight_failed(m, job, a, &pf) == 0)
		return; /* read off the loop: decide on a later poll */
	else if (b->state == BJOB_FAILED && pf != NULL) {
		cause = "preflight_failed";
		reason = xasprintf("preflight failed on %s", pf);
		set_str(&a->blamed, pf);
		free(pf);
	} else if (b->state == BJOB_FAILED)
		reason = recovery_exit_reason(m, job, a, b->exit_code, &cause);
	else if (b->state == BJOB_CANCELLED)
		reason = xstrdup("cancelled outside llmctl");
	else if (b->state != BJOB_COMPLETED)
		reason = xasprintf("Slurm ended it %s%s%s", sname,
		    b->reason != NULL ? ": " : "",
		    b->reason != NULL ? b->reason : "");
	if (b->state == BJOB_NODE_FAIL || b->state == BJOB_OTHER)
		recovery_blame_down(m, a);
	finish(m, a, job, cause, reason);
	free(reason);
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
		for (k = 0; k < op->u.list.njobs && b == NULL; k++)
			if (op->u.list.jobs[k].id == as[i]->slurm_job_id)
				b = &op->u.list.jobs[k];
		t = track_get(m, as[i]->tag);
		if (b != NULL) {
			t->misses = 0;
			apply_bjob(m, as[i], job, b);
		} else if (++t->misses >= LOST_AFTER_POLLS) {
			set_str(&as[i]->state, "LOST");
			finish(m, as[i], job, "lost",
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
		a.state = (char *)"CREATED";
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
monitor_tick_cb(void *arg)
{
	struct monitor *m = arg;
	struct attempt **as;
	struct job *job;
	struct track *t;
	size_t n, i;
	int need_poll = 0;

	load_cluster(m);
	create_attempts(m, JOB_QUEUED);
	create_attempts(m, JOB_RESTARTING);
	as = store_attempts_active(m->d->store, &n);
	for (i = 0; i < n; i++) {
		t = track_get(m, as[i]->tag);
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
			if (job->state == JOB_CANCELLED || as[i]->cause != NULL)
				cancel_attempt(m, as[i]);
		}
		job_free(job);
	}
	attempt_list_free(as, n);
	recovery_tick(m);
	if (need_poll && !m->polling) {
		m->polling = 1;
		worker_push(m->d->worker, worker_list(list_done, m));
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
	while ((t = TAILQ_FIRST(&m->tracks)) != NULL) {
		TAILQ_REMOVE(&m->tracks, t, entry);
		free(t->avoid);
		free(t->tag);
		free(t);
	}
	free(m);
}
