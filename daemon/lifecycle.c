/* lifecycle: the job and attempt state machines' tables and writers. */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>

#include "goodput.h"
#include "lifecycle.h"
#include "log.h"
#include "util.h"

/* Keep in step with the table in docs/design.md section 5 (checked). */
static const struct job_transition transitions[] = {
	{ .from = JOB_QUEUED, .to = JOB_SUBMITTED },
	{ .from = JOB_RESTARTING, .to = JOB_SUBMITTED },
	{ .from = JOB_SUBMITTED, .to = JOB_RUNNING },
	{ .from = JOB_SUBMITTED, .to = JOB_QUEUED }, /* re-plan */
	{ .from = JOB_QUEUED, .to = JOB_COMPLETED },
	{ .from = JOB_QUEUED, .to = JOB_FAILED },
	{ .from = JOB_QUEUED, .to = JOB_RESTARTING },
	{ .from = JOB_QUEUED, .to = JOB_CANCELLED },
	{ .from = JOB_SUBMITTED, .to = JOB_COMPLETED },
	{ .from = JOB_SUBMITTED, .to = JOB_FAILED },
	{ .from = JOB_SUBMITTED, .to = JOB_RESTARTING },
	{ .from = JOB_SUBMITTED, .to = JOB_CANCELLED },
	{ .from = JOB_RUNNING, .to = JOB_COMPLETED },
	{ .from = JOB_RUNNING, .to = JOB_FAILED },
	{ .from = JOB_RUNNING, .to = JOB_RESTARTING },
	{ .from = JOB_RUNNING, .to = JOB_CANCELLED },
	{ .from = JOB_RESTARTING, .to = JOB_COMPLETED },
	{ .from = JOB_RESTARTING, .to = JOB_FAILED },
	{ .from = JOB_RESTARTING, .to = JOB_RESTARTING },
	{ .from = JOB_RESTARTING, .to = JOB_CANCELLED },
};

const struct job_transition *
lifecycle_job_table(size_t *n)
{
	*n = nitems(transitions);
	return transitions;
}

int
lifecycle_job_legal(enum job_state from, enum job_state to)
{
	size_t i;

	for (i = 0; i < nitems(transitions); i++)
		if (transitions[i].from == from && transitions[i].to == to)
			return 1;
	return 0;
}

int
lifecycle_job_set(struct store *st, int64_t id, enum job_state from,
    enum job_state to, const char *reason)
{
	if (!lifecycle_job_legal(from, to)) {
		log_warnx("job %lld: illegal transition %s -> %s refused",
		    (long long)id, job_state_name(from), job_state_name(to));
		return -1;
	}
	if (store_job_set_state(st, id, to, reason) != 0)
		return -1;
	/* a final job's goodput ledger is stored with its end */
	if (job_state_final(to) && goodput_job_final(st, id) != 0)
		return -1;
	log_debug("job %lld: %s -> %s", (long long)id, job_state_name(from),
	    job_state_name(to));
	return 0;
}

int
lifecycle_job_reason(
    struct store *st, int64_t id, enum job_state state, const char *reason)
{
	return store_job_set_state(st, id, state, reason);
}

#define C(x) (1u << CAUSE_##x)
/*
 * What Slurm's end of a job llmctld did not end itself may be caused by.
 * FAILED may be a timeout: the first failing rank died of the time-limit
 * warning the job asked for (recovery_exit_reason).
 */
#define ENDS(from) \
	{ from, 0, ATTEMPT_COMPLETED, C(NONE) | C(CANCELLED) }, \
	    { from, 0, ATTEMPT_FAILED, \
		    C(USER_ERROR) | C(PREFLIGHT_FAILED) | C(NODE_FAILURE) | \
		        C(TIMEOUT) | C(CANCELLED) }, \
	    { from, 0, ATTEMPT_CANCELLED, C(CANCELLED) }, \
	    { from, 0, ATTEMPT_TIMEOUT, C(TIMEOUT) | C(CANCELLED) }, \
	    { from, 0, ATTEMPT_NODE_FAIL, C(NODE_FAILURE) | C(CANCELLED) }, \
	    { from, 0, ATTEMPT_PREEMPTED, C(PREEMPTED) | C(CANCELLED) }, \
	{ \
		from, 0, ATTEMPT_LOST, C(LOST) \
	}

/*
 * Keep in step with the table in docs/design.md section 5 (checked). A
 * job cancelled in llmctl makes any end "cancelled"; an attempt llmctld
 * is ending keeps its cause whatever Slurm's end, unless Slurm lost it.
 */
static const struct attempt_transition attempt_transitions[] = {
	{ ATTEMPT_CREATED, 0, ATTEMPT_PENDING, C(NONE) }, /* in Slurm */
	{ ATTEMPT_CREATED, 0, ATTEMPT_FAILED,
	    C(SUBMIT_FAILED) | C(UNPLACEABLE) | C(LAUNCH_FAILED) },
	{ ATTEMPT_CREATED, 0, ATTEMPT_CANCELLED, C(CANCELLED) },
	{ ATTEMPT_PENDING, 0, ATTEMPT_RUNNING, C(NONE) },
	{ ATTEMPT_RUNNING, 0, ATTEMPT_PENDING, C(NONE) }, /* requeued */
	{ ATTEMPT_PENDING, 0, ATTEMPT_PENDING, C(REPLAN) }, /* ending */
	{ ATTEMPT_RUNNING, 0, ATTEMPT_RUNNING, C(HANG) }, /* ending */
	{ ATTEMPT_PENDING, 1, ATTEMPT_CREATED, C(NONE) }, /* re-planned */
	ENDS(ATTEMPT_PENDING),
	ENDS(ATTEMPT_RUNNING),
	{ ATTEMPT_RUNNING, 1, ATTEMPT_COMPLETED, C(HANG) },
	{ ATTEMPT_RUNNING, 1, ATTEMPT_FAILED, C(HANG) },
	{ ATTEMPT_RUNNING, 1, ATTEMPT_CANCELLED, C(HANG) },
	{ ATTEMPT_RUNNING, 1, ATTEMPT_TIMEOUT, C(HANG) },
	{ ATTEMPT_RUNNING, 1, ATTEMPT_NODE_FAIL, C(HANG) },
	{ ATTEMPT_RUNNING, 1, ATTEMPT_PREEMPTED, C(HANG) },
	{ ATTEMPT_RUNNING, 1, ATTEMPT_LOST, C(LOST) },
	{ ATTEMPT_PENDING, 1, ATTEMPT_LOST, C(LOST) },
};

const struct attempt_transition *
lifecycle_attempt_table(size_t *n)
{
	*n = nitems(attempt_transitions);
	return attempt_transitions;
}

int
lifecycle_attempt_legal(enum attempt_state from, int from_ending,
    enum attempt_state to, enum attempt_cause cause)
{
	const struct attempt_transition *t;
	size_t i;

	for (i = 0; i < nitems(attempt_transitions); i++) {
		t = &attempt_transitions[i];
		if (t->from == from && t->from_ending == !!from_ending &&
		    t->to == to && (t->causes & (1u << cause)) != 0)
			return 1;
	}
	return 0;
}

static const char *
cause_str(enum attempt_cause cause)
{
	return cause != CAUSE_NONE ? attempt_cause_name(cause) : "-";
}

int
lifecycle_attempt_set(struct store *st, struct attempt *a,
    enum attempt_state to, enum attempt_cause cause, const char *kind,
    const char *fmt, ...)
{
	struct attempt old = *a;
	va_list ap;
	char *msg;
	int rc;

	if (!lifecycle_attempt_legal(a->state, a->ending, to, cause) ||
	    !store_in_transaction(st)) {
		log_warnx("job %lld: attempt %d: %s transition %s%s -> %s (%s) "
		          "refused",
		    (long long)a->job_id, a->attempt,
		    store_in_transaction(st) ? "illegal" : "untransacted",
		    attempt_state_name(a->state), a->ending ? " ending" : "",
		    attempt_state_name(to), cause_str(cause));
		return -1;
	}
	a->state = to;
	a->cause = cause;
	a->ending = !attempt_state_final(to) && cause != CAUSE_NONE;
	if (attempt_state_final(to) && a->ended_at == 0)
		a->ended_at = wall_s();
	rc = store_attempt_update(st, a);
	if (rc == 0 && kind != NULL) {
		va_start(ap, fmt);
		msg = xvasprintf(fmt, ap);
		va_end(ap);
		rc = store_event_add(st, a->job_id, kind, "%s", msg);
		free(msg);
	}
	/* a cancelled job's attempt ends after the job: ledger again */
	if (rc == 0 && attempt_state_final(to))
		rc = goodput_job_final(st, a->job_id);
	if (rc != 0) {
		/* the caller rolls back: the attempt is as the store has it */
		a->state = old.state;
		a->cause = old.cause;
		a->ending = old.ending;
		a->ended_at = old.ended_at;
		return -1;
	}
	log_debug("job %lld: attempt %d: %s%s -> %s (%s)", (long long)a->job_id,
	    a->attempt, attempt_state_name(old.state),
	    old.ending ? " ending" : "", attempt_state_name(to),
	    cause_str(cause));
	return 0;
}
