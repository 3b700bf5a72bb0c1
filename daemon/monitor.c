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
#include "metrics.h"
#include "monitor.h"
#include "monitor-int.h"
#include "nodehealth.h"
#include "placement.h"
#include "spec-cache.h"
#include "checkpoint.h"
#include "health.h"
#include "hostlist.h"
#include "pool.h"
#include "store.h"
#include "timer.h"
#include "util.h"
#include "worker.h"

#define LOST_AFTER_POLLS 3 /* polls that miss a job before it is lost */
#define SCAN_THREADS 3 /* checkpoint scans at once, of different users */
/* Poll intervals after which an unplaced attempt is planned again anyway. */
#define REPLAN_IDLE 30

static void monitor_tick_cb(void *);

/* FNV-1a of the tag, for the track index. */
static size_t
track_bucket(const struct monitor *m, const char *tag)
{
	return (size_t)(str_hash(tag) % m->track_buckets);
}

static void
track_index_grow(struct monitor *m)
{
	struct track *t;
	size_t b;

	free(m->track_index);
	m->track_buckets = m->track_buckets == 0 ? 64 : m->track_buckets * 2;
	m->track_index = xcalloc(m->track_buckets, sizeof(*m->track_index));
	TAILQ_FOREACH(t, &m->tracks, entry)
	{
		b = track_bucket(m, t->tag);
		t->hnext = m->track_index[b];
		m->track_index[b] = t;
	}
}

/* The attempt's track, NULL if there is none: O(1), by the tag's bucket. */
struct track *
monitor_track_find(struct monitor *m, const char *tag)
{
	struct track *t;

	if (m->track_buckets > 0)
		for (t = m->track_index[track_bucket(m, tag)]; t != NULL;
		     t = t->hnext)
			if (strcmp(t->tag, tag) == 0)
				return t;
	return NULL;
}

/* Blocking file work for a user: on the fs pool, or (tests) here and now. */
void
monitor_fs_push(
    struct monitor *m, uid_t uid, pool_run_fn run, pool_done_fn done, void *arg)
{
	if (m->d->fspool != NULL) {
		pool_push(m->d->fspool, uid, run, done, arg);
		return;
	}
	run(arg);
	done(arg, 0);
}

/* The attempt's track, made if new. */
struct track *
monitor_track_get(struct monitor *m, const char *tag)
{
	struct track *t;
	size_t b;

	if ((t = monitor_track_find(m, tag)) != NULL)
		return t;
	t = xcalloc(1, sizeof(*t));
	t->tag = xstrdup(tag);
	/* not known absent: only a poll pushed from now on may tell */
	t->list_after = m->lists;
	TAILQ_INSERT_TAIL(&m->tracks, t, entry);
	if (++m->ntracks > 2 * m->track_buckets)
		track_index_grow(m); /* indexes t too */
	else {
		b = track_bucket(m, tag);
		t->hnext = m->track_index[b];
		m->track_index[b] = t;
	}
	return t;
}

void
monitor_track_drop(struct monitor *m, const char *tag)
{
	struct track **p, *t;

	if (m->track_buckets == 0)
		return;
	for (p = &m->track_index[track_bucket(m, tag)]; (t = *p) != NULL;
	     p = &t->hnext) {
		if (strcmp(t->tag, tag) == 0) {
			*p = t->hnext;
			TAILQ_REMOVE(&m->tracks, t, entry);
			m->ntracks--;
			free(t->avoid);
			free(t->pf_nodes);
			free(t->tag);
			free(t);
			return;
		}
	}
}

/*
 * A port in the configured range that no attempt in flight uses (nor one
 * inserted before it in this transaction), looked up port by port in an
 * index: the first one tried is nearly always free.
 */
static int
pick_port(struct monitor *m, int64_t job_id, int attempt)
{
	const struct conf *c = m->d->conf;
	int64_t k, port = c->master_port_base;

	for (k = 0; k < c->master_port_count; k++) {
		port = c->master_port_base +
		    (job_id * 7 + attempt + k) % c->master_port_count;
		if (store_port_in_use(m->d->store, (int)port) != 1)
			break;
	}
	return (int)port;
}

/*
 * Record the end of an attempt, its events and blame in one transaction;
 * if any of it fails none of it is kept and the end is seen again on a
 * later poll (docs/design.md section 5). What happens to the job
 * (completed, failed, restarted) is the restart policy's call, in
 * monitor-recovery.c: in the same transaction when it needs no final
 * checkpoint scan (one fsync for both), else after it.
 */
void
monitor_finish(struct monitor *m, struct attempt *a, struct job *job,
    enum attempt_state to, enum attempt_cause cause, const char *reason)
{
	struct store *st = m->d->store;
	struct decision *dc = NULL;
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
	        store_event_add(st, a->job_id, "reason", "%s", a->reason) !=
	            0) ||
	    nodehealth_record_blame(st, m->d->conf, a) != 0 ||
	    recovery_decide_in(m, job->id, &dc) != 0) {
		store_rollback(st);
		goto fail;
	}
	if (store_commit(st) != 0) {
		recovery_decision_free(dc);
		goto fail;
	}
	m->changes++; /* its GPUs are free for the attempts waiting */
	log_job(job->id, "attempt %d ended %s (%s%s%s)", a->attempt,
	    attempt_state_name(a->state), cn != NULL ? cn : "ok",
	    a->reason != NULL ? ": " : "", a->reason != NULL ? a->reason : "");
	straggler_forget(m, a);
	health_unregister(m->d->health, a->token_hash);
	recovery_fence(m, a, job->uid);
	monitor_track_drop(m, a->tag);
	recovery_decided(m, job->id, dc);
	return;
fail:
	log_warnx("job %lld: the end of attempt %d is not recorded; seen "
	          "again on a later poll",
	    (long long)job->id, a->attempt);
}

struct spec_ref *
monitor_job_spec(struct monitor *m, const struct job *job, char **cause)
{
	return spec_cache_get(m->d->specs, job->id, job->spec, cause);
}

struct attempt *
monitor_attempt_by_tag(struct monitor *m, const char *tag, struct job **job)
{
	struct attempt *found;

	/* by the tag's index, not a scan of the attempts in flight */
	found = store_attempt_active_by_tag(m->d->store, tag);
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
void
monitor_attempt_in_slurm(struct monitor *m, struct attempt *a, struct job *job,
    int64_t id, int submitted)
{
	struct store *st = m->d->store;

	a->slurm_job_id = id;
	/* lost, the id is found by the tag again */
	if (store_begin_recoverable(st) != 0)
		goto fail;
	if (lifecycle_attempt_set(st, a, ATTEMPT_PENDING, CAUSE_NONE,
	        "submitted",
	        submitted
	            ? "attempt %d submitted as Slurm job %lld %s%s"
	            : "attempt %d found in Slurm as job %lld (submitted before a "
	              "restart)%s%s",
	        a->attempt, (long long)id,
	        submitted && a->nodes != NULL ? "on " : "",
	        !submitted             ? ""
	            : a->nodes != NULL ? a->nodes
	                               : "(Slurm picks the nodes)") != 0 ||
	    ((job->state == JOB_QUEUED || job->state == JOB_RESTARTING) &&
	        lifecycle_job_set(
	            st, job->id, job->state, JOB_SUBMITTED, NULL) != 0)) {
		store_rollback(st);
		goto fail;
	}
	if (store_commit(st) != 0)
		goto fail;
	log_job(job->id, "attempt %d is Slurm job %lld%s", a->attempt,
	    (long long)id, submitted ? "" : " (found by tag)");
	if (job->state == JOB_CANCELLED)
		monitor_kick_sweep(m);
	return;
fail:
	log_warnx("job %lld: attempt %d is Slurm job %lld, not recorded; "
	          "found by its tag again",
	    (long long)job->id, a->attempt, (long long)id);
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
	    lifecycle_attempt_set(
	        st, a, ATTEMPT_CREATED, CAUSE_NONE, NULL, NULL) != 0 ||
	    (job->state == JOB_SUBMITTED &&
	        lifecycle_job_set(st, job->id, job->state, JOB_QUEUED, NULL) !=
	            0)) {
		store_rollback(st);
		goto fail;
	}
	if (store_commit(st) != 0)
		goto fail;
	m->changes++;
	monitor_track_drop(m, old);
	/* a new tag, never submitted */
	monitor_track_get(m, a->tag)->absent = 1;
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
	[BJOB_OTHER] = ATTEMPT_FAILED, /* boot failure, OOM, ...: FAILED */
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

/*
 * How long Slurm has had the attempt pending: from when it accepted the
 * job, so time spent before (a slurmctld outage, the worker's queue) does
 * not count against the planned nodes.
 */
static int64_t
pending_s(const struct attempt *a, const struct bjob *b)
{
	return wall_s() -
	    (b->submit_time > 0 ? b->submit_time : a->submitted_at);
}

/* The planned nodes were taken: start ending it, to plan again. */
static int
replan_start(struct monitor *m, struct attempt *a, const struct bjob *b)
{
	free(a->reason);
	a->reason = xasprintf("planned nodes %s still busy after %llds%s%s; "
	                      "planning again",
	    a->nodes != NULL ? a->nodes : "?", (long long)pending_s(a, b),
	    b->reason != NULL ? ": " : "", b->reason != NULL ? b->reason : "");
	return lifecycle_attempt_set(
	    m->d->store, a, a->state, CAUSE_REPLAN, "replan", "%s", a->reason);
}

/*
 * A poll shows the attempt in flight: its state (unless llmctld is ending
 * it), nodes and start, and the job RUNNING once it runs, in one
 * transaction; not recorded, the next poll brings them again.
 */
static void
apply_progress(
    struct monitor *m, struct attempt *a, struct job *job, const struct bjob *b)
{
	struct store *st = m->d->store;
	enum attempt_state to = a->ending ? a->state : slurm_states[b->state];
	int changed = 0, replan, rc = 0;

	if (a->ending)
		monitor_cancel_attempt(m, a);
	if (b->nodes != NULL &&
	    (a->nodes == NULL || strcmp(a->nodes, b->nodes) != 0)) {
		monitor_set_str(&a->nodes, b->nodes);
		changed = 1;
	}
	if (b->state != BJOB_PENDING && a->started_at == 0 &&
	    b->start_time > 0) {
		a->started_at = b->start_time;
		changed = 1;
	}
	replan = !a->ending && b->state == BJOB_PENDING && a->plan != NULL &&
	    pending_s(a, b) * 1000 >= m->d->conf->replan_after_ms;
	if (!changed && !replan && to == a->state)
		return;
	/* Slurm's report, told again by a poll; a re-plan cancels: durable */
	if ((replan ? store_begin(st) : store_begin_recoverable(st)) != 0)
		goto fail;
	if (to != a->state)
		rc = lifecycle_attempt_set(st, a, to, CAUSE_NONE, NULL, NULL);
	else if (!replan)
		rc = store_attempt_update(st, a);
	if (rc == 0 && replan)
		rc = replan_start(m, a, b);
	if (rc == 0 && b->state == BJOB_RUNNING && job->state == JOB_SUBMITTED)
		rc = lifecycle_job_set(
		         st, job->id, job->state, JOB_RUNNING, NULL) != 0 ||
		    store_event_add(st, job->id, "state",
		        "attempt %d running on %s", a->attempt,
		        a->nodes != NULL ? a->nodes : "?") != 0;
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
	          "from the next poll",
	    (long long)job->id, a->attempt);
}

/* A poll shows the attempt's Slurm job final. */
static void
apply_end(
    struct monitor *m, struct attempt *a, struct job *job, const struct bjob *b)
{
	enum attempt_state to = slurm_states[b->state];
	enum attempt_cause cause = slurm_causes[b->state];
	char *reason = NULL, *pf;

	a->ended_at = b->end_time > 0 ? b->end_time : wall_s();
	a->has_exit_code = 1;
	a->exit_code = b->exit_code;
	/* it ran between two polls: where and when only the end tells */
	if (b->nodes != NULL && a->nodes == NULL) {
		monitor_set_str(&a->nodes, b->nodes);
		if (a->started_at == 0 && b->start_time > 0)
			a->started_at = b->start_time;
	}
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
		reason = recovery_exit_reason(m, job, a, b->exit_code, &cause);
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
apply_bjob(
    struct monitor *m, struct attempt *a, struct job *job, const struct bjob *b)
{
	if (bjob_final(b->state))
		apply_end(m, a, job, b);
	else if (!spares_step(m, a, job, b))
		apply_progress(m, a, job, b);
}

static void
waiting_free(struct monitor *m)
{
	while (m->nwaiting > 0)
		free(m->waiting[--m->nwaiting].partition);
	free(m->waiting);
	m->waiting = NULL;
}

/* Count the others' jobs of seen that wait for nodes, by partition. */
static void
count_waiting(struct monitor *m)
{
	const struct bjob *b;
	size_t i, k;

	waiting_free(m);
	for (i = 0; i < m->nseen; i++) {
		b = &m->seen[i];
		if (b->tag != NULL || b->partition == NULL)
			continue;
		for (k = 0; k < m->nwaiting; k++)
			if (strcmp(m->waiting[k].partition, b->partition) == 0)
				break;
		if (k == m->nwaiting) {
			m->waiting = xreallocarray(
			    m->waiting, k + 1, sizeof(*m->waiting));
			m->waiting[k].partition = xstrdup(b->partition);
			m->waiting[k].n = 0;
			m->nwaiting++;
		}
		m->waiting[k].n++;
	}
}

/* Does comma list a name a partition that comma list b names? */
static int
lists_meet(const char *a, const char *b)
{
	const char *p, *q;
	size_t la, lb;

	for (p = a; *p != '\0'; p += la + (p[la] == ',')) {
		la = strcspn(p, ",");
		for (q = b; *q != '\0'; q += lb + (q[lb] == ',')) {
			lb = strcspn(q, ",");
			if (la == lb && strncmp(p, q, la) == 0)
				return 1;
		}
	}
	return 0;
}

/*
 * Others' jobs that wait in Slurm's queue for nodes of partition (NULL:
 * the default, which llmctld does not know: all of them), as of the last
 * poll.
 */
int64_t
monitor_waiting(const struct monitor *m, const char *partition)
{
	int64_t n = 0;
	size_t k;

	for (k = 0; k < m->nwaiting; k++)
		if (partition == NULL ||
		    lists_meet(partition, m->waiting[k].partition))
			n += m->waiting[k].n;
	return n;
}

/*
 * Keep the poll's jobs: they answer "does Slurm have this tag?" for the
 * attempts that may be there already (monitor-plan.c), without a load of
 * their own.
 */
static void
keep_seen(struct monitor *m, struct op *op)
{
	/* "no change": the kept table is this poll's answer */
	m->seen_list = m->lists;
	if (m->list_wanted) {
		m->list_wanted = 0;
		monitor_kick(m);
	}
	if (op->u.list.unchanged)
		return;
	bjob_list_free(m->seen, m->nseen);
	m->seen = op->u.list.jobs;
	m->nseen = op->u.list.njobs;
	m->seen_stamp = op->u.list.stamp;
	op->u.list.jobs = NULL;
	op->u.list.njobs = 0;
	count_waiting(m);
	m->changes++;
}

static int
bjob_cmp_id(const void *a, const void *b)
{
	int64_t x = ((const struct bjob *)a)->id,
	        y = ((const struct bjob *)b)->id;

	return x < y ? -1 : x > y;
}

/* An end for a later loop turn (ends_cb): its attempt's tag, its Slurm id. */
static void
ends_defer(struct monitor *m, const char *tag, int64_t id)
{
	m->ends = xreallocarray(m->ends, m->nends + 1, sizeof(*m->ends));
	m->ends[m->nends].tag = xstrdup(tag);
	m->ends[m->nends++].id = id;
}

static void
ends_free(struct monitor *m)
{
	while (m->nends > 0)
		free(m->ends[--m->nends].tag);
	free(m->ends);
	m->ends = NULL;
	m->ends_done = 0;
}

/*
 * The next MONITOR_ENDS_MAX deferred ends, each on its attempt and job as
 * stored now (other events ran since the poll: one may be over already),
 * with the report the kept table has; then the next poll may run.
 */
static void
ends_cb(void *arg)
{
	struct monitor *m = arg;
	struct pending_end *e;
	struct attempt *a;
	struct job *job;
	const struct bjob *b;
	struct bjob key = { 0 };
	size_t k;

	for (k = 0; k < MONITOR_ENDS_MAX && m->ends_done < m->nends; k++) {
		e = &m->ends[m->ends_done++];
		key.id = e->id;
		b = m->nseen > 0 ? bsearch(&key, m->seen, m->nseen,
		                       sizeof(*m->seen), bjob_cmp_id)
		                 : NULL;
		if (b == NULL ||
		    (a = monitor_attempt_by_tag(m, e->tag, &job)) == NULL)
			continue;
		if (a->slurm_job_id == e->id)
			apply_bjob(m, a, job, b);
		attempt_free(a);
		job_free(job);
	}
	if (m->ends_done < m->nends) {
		timer_schedule(m->ends_timer, 0);
		return;
	}
	ends_free(m);
	monitor_kick(m);
}

static void
list_done(struct op *op, void *arg)
{
	struct monitor *m = arg;
	struct attempt **as;
	struct job *job;
	struct track *t;
	size_t n, i, nb, ends = 0;
	const struct bjob *b, *bs;
	struct bjob key = { 0 };

	m->polling = 0;
	if (op->rc != 0) {
		if (!m->poll_failing)
			log_warnx("cannot reach Slurm: %s", op->cause);
		m->poll_failing = 1;
		monitor_set_str(&m->poll_cause, op->cause);
		return;
	}
	if (m->poll_failing)
		log_info("Slurm answers again");
	m->poll_failing = 0;
	/* by id, for the look-ups below (the kept table is sorted already) */
	if (!op->u.list.unchanged)
		qsort(op->u.list.jobs, op->u.list.njobs,
		    sizeof(*op->u.list.jobs), bjob_cmp_id);
	bs = op->u.list.unchanged ? m->seen : op->u.list.jobs;
	nb = op->u.list.unchanged ? m->nseen : op->u.list.njobs;
	as = store_attempts_active(m->d->store, &n);
	for (i = 0; i < n; i++) {
		if (as[i]->slurm_job_id == 0)
			continue;
		if ((job = store_job_get(m->d->store, as[i]->job_id)) == NULL)
			continue;
		key.id = as[i]->slurm_job_id;
		b = nb > 0 ? bsearch(&key, bs, nb, sizeof(*bs), bjob_cmp_id)
		           : NULL;
		t = monitor_track_get(m, as[i]->tag);
		if (b != NULL) {
			t->misses = 0;
			if (bjob_final(b->state) && ends++ >= MONITOR_ENDS_MAX)
				ends_defer(m, as[i]->tag, b->id);
			else
				apply_bjob(m, as[i], job, b);
		} else if (++t->misses >= LOST_AFTER_POLLS) {
			monitor_finish(m, as[i], job, ATTEMPT_LOST, CAUSE_LOST,
			    "Slurm no longer knows the job");
		}
		job_free(job);
	}
	attempt_list_free(as, n);
	metrics_poll(metrics_now() - m->poll_started);
	/* the deferred ends' reports are in the table kept */
	keep_seen(m, op);
	if (m->nends > 0)
		timer_schedule(m->ends_timer, 0);
}

/* Insert job's next attempt in the transaction open; it, or NULL. */
struct attempt *
monitor_create_attempt(struct monitor *m, const struct job *job)
{
	struct store *st = m->d->store;
	struct attempt *a;

	a = xcalloc(1, sizeof(*a));
	a->job_id = job->id;
	a->attempt = job->attempts + 1;
	a->tag = random_hex(12);
	a->state = ATTEMPT_CREATED;
	/* sees the attempts inserted before it in this transaction */
	a->master_port = pick_port(m, a->job_id, a->attempt);
	a->submitted_at = wall_s();
	a->last_step = a->ckpt_start = a->ckpt_end = -1;
	if (store_attempt_insert(st, a) == 0 &&
	    store_event_add(st, a->job_id, "attempt",
	        "attempt %d created (tag %s, MASTER_PORT %d)", a->attempt,
	        a->tag, a->master_port) == 0)
		return a;
	attempt_free(a);
	return NULL;
}

/*
 * The attempts this tick makes (a RESTARTING job's next once its backoff
 * is over; a QUEUED job's first only if its submit did not make it, as
 * one stored by an older llmctld: looked for until a tick read them all
 * without a fault, as every submit of this process makes its job's
 * first), in one transaction, one fsync however many: committed before
 * Slurm can hear of them; if any fails, none is kept and the next tick
 * makes them again.
 */
static void
create_attempts(struct monitor *m)
{
	static const enum job_state from[] = { JOB_QUEUED, JOB_RESTARTING };
	struct store *st = m->d->store;
	struct job **jobs;
	struct attempt *a;
	char **tags = NULL;
	size_t n, i, k, ntags = 0;
	uint64_t faults = store_faults(st);
	int begun = 0, rc = 0;

	/* from[0], QUEUED, until a tick found every such job */
	for (k = m->queued_made ? 1 : 0; k < nitems(from) && rc == 0; k++) {
		jobs = store_jobs_in_state(st, from[k], &n);
		for (i = 0; i < n && rc == 0; i++) {
			/* a QUEUED job without one gets its first, only that */
			if (from[k] == JOB_QUEUED && jobs[i]->attempts > 0)
				continue;
			if (from[k] == JOB_RESTARTING &&
			    jobs[i]->not_before > wall_s())
				continue;
			if (!begun && (rc = store_begin(st)) != 0)
				break;
			begun = 1;
			if ((a = monitor_create_attempt(m, jobs[i])) == NULL) {
				rc = -1;
				break;
			}
			tags = xreallocarray(tags, ntags + 1, sizeof(*tags));
			tags[ntags++] = a->tag;
			a->tag = NULL;
			attempt_free(a);
		}
		job_list_free(jobs, n);
		/* a read that failed is no "none left": again next tick */
		if (store_faults(st) != faults)
			rc = -1;
	}
	if (begun && (rc != 0 || store_commit(st) != 0)) {
		store_rollback(st);
		rc = -1;
	}
	if (rc == 0)
		m->queued_made = 1;
	for (i = 0; i < ntags; i++) {
		if (rc == 0)
			monitor_attempt_made(m, tags[i]);
		free(tags[i]);
	}
	free(tags);
}

/* An attempt this process made is committed: Slurm cannot have it yet. */
void
monitor_attempt_made(struct monitor *m, const char *tag)
{
	monitor_track_get(m, tag)->absent = 1;
}

/*
 * One job-table load at a time, one per poll interval however often the
 * monitor is kicked (a tenth off for the timer's slack), with or without
 * attempts in flight: the plans count the others' jobs that wait in it.
 * An attempt that waits for a poll to tell whether Slurm has it gets one
 * at once. An unchanged table costs slurmctld a "no change".
 */
static int
poll_due(const struct monitor *m)
{
	int64_t every = m->d->conf->poll_interval_ms;

	if (m->polling || m->nends > 0)
		return 0;
	return m->list_wanted || mono_ms() - m->listed_ms >= every - every / 10;
}

int
monitor_replan_due(const struct monitor *m, const struct track *t)
{
	return !t->unplaced || t->unplaced_changes != m->changes ||
	    mono_ms() >= t->replan_ms;
}

void
monitor_unplaced(struct monitor *m, const char *tag)
{
	struct track *t = monitor_track_get(m, tag);

	t->unplaced = 1;
	t->unplaced_changes = m->changes;
	t->replan_ms = mono_ms() + REPLAN_IDLE * m->d->conf->poll_interval_ms;
}

/*
 * Every attempt in flight: cancels to send, tokens to know, hangs, scans
 * and node drains (O(attempts)); once a poll interval, or at once when a
 * cancel asks for it.
 */
static void
sweep(struct monitor *m)
{
	struct attempt **as;
	struct job *job;
	size_t n, i;

	m->swept_ms = mono_ms();
	m->sweep_wanted = 0;
	as = store_attempts_active(m->d->store, &n);
	for (i = 0; i < n; i++) {
		if (as[i]->slurm_job_id == 0 ||
		    monitor_track_get(m, as[i]->tag)->busy)
			continue;
		if ((job = store_job_get(m->d->store, as[i]->job_id)) == NULL)
			continue;
		health_register(m->d->health, as[i]->token_hash, job->id,
		    as[i]->attempt, job->world_size);
		if (job->state == JOB_CANCELLED || as[i]->ending)
			monitor_cancel_attempt(m, as[i]);
		job_free(job);
	}
	attempt_list_free(as, n);
	recovery_tick(m);
	nodes_tick(m);
}

/* An attempt whose submit is on the worker now: nothing to do for it. */
static int
busy_tag(void *arg, const char *tag)
{
	struct track *t;

	return tag != NULL && (t = monitor_track_find(arg, tag)) != NULL &&
	    t->busy;
}

/*
 * A tick: new attempts made and those not in Slurm yet planned, on every
 * kick (a submit, a plan or a snapshot come back), so their cost follows
 * the attempts waiting, not every attempt in flight; the sweep once a
 * poll interval.
 */
static void
monitor_tick_cb(void *arg)
{
	struct monitor *m = arg;
	int64_t every = m->d->conf->poll_interval_ms;
	struct attempt **as;
	struct job *job;
	size_t n, i;

	monitor_load_cluster(m);
	create_attempts(m);
	as = store_attempts_unsubmitted(m->d->store, busy_tag, m, &n);
	for (i = 0; i < n; i++) {
		if ((job = store_job_get(m->d->store, as[i]->job_id)) == NULL)
			continue;
		monitor_plan_attempt(m, as[i], job);
		job_free(job);
	}
	attempt_list_free(as, n);
	if (m->sweep_wanted || mono_ms() - m->swept_ms >= every - every / 10)
		sweep(m);
	if (poll_due(m)) {
		m->polling = 1;
		m->poll_started = metrics_now();
		m->lists++;
		m->listed_ms = mono_ms();
		worker_push(
		    m->d->worker, worker_list(m->seen_stamp, list_done, m));
	}
	timer_schedule(m->tick, every);
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
	m->ends_timer = timer_new(d->base, ends_cb, m);
	timer_schedule(m->tick, 0);
	return m;
}

void
monitor_kick(struct monitor *m)
{
	timer_schedule(m->tick, 0);
}

/* A kick that also sweeps every attempt: a cancel to send now. */
void
monitor_kick_sweep(struct monitor *m)
{
	m->sweep_wanted = 1;
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
	timer_free(m->ends_timer);
	ends_free(m);
	recovery_free(m);
	while ((t = TAILQ_FIRST(&m->tracks)) != NULL)
		monitor_track_drop(m, t->tag);
	free(m->track_index);
	bjob_list_free(m->seen, m->nseen);
	waiting_free(m);
	free(m->load_cause);
	free(m->poll_cause);
	free(m);
}
