/* lifecycle: the job state machine's table and its one writer. */
#include "config.h"

#include "lifecycle.h"
#include "log.h"
#include "util.h"

/* Keep in step with the table in docs/design.md section 5 (checked). */
static const struct job_transition transitions[] = {
	{ .from = JOB_QUEUED,		.to = JOB_SUBMITTED },
	{ .from = JOB_RESTARTING,	.to = JOB_SUBMITTED },
	{ .from = JOB_SUBMITTED,	.to = JOB_RUNNING },
	{ .from = JOB_SUBMITTED,	.to = JOB_QUEUED },	/* re-plan */
	{ .from = JOB_QUEUED,		.to = JOB_COMPLETED },
	{ .from = JOB_QUEUED,		.to = JOB_FAILED },
	{ .from = JOB_QUEUED,		.to = JOB_RESTARTING },
	{ .from = JOB_QUEUED,		.to = JOB_CANCELLED },
	{ .from = JOB_SUBMITTED,	.to = JOB_COMPLETED },
	{ .from = JOB_SUBMITTED,	.to = JOB_FAILED },
	{ .from = JOB_SUBMITTED,	.to = JOB_RESTARTING },
	{ .from = JOB_SUBMITTED,	.to = JOB_CANCELLED },
	{ .from = JOB_RUNNING,		.to = JOB_COMPLETED },
	{ .from = JOB_RUNNING,		.to = JOB_FAILED },
	{ .from = JOB_RUNNING,		.to = JOB_RESTARTING },
	{ .from = JOB_RUNNING,		.to = JOB_CANCELLED },
	{ .from = JOB_RESTARTING,	.to = JOB_COMPLETED },
	{ .from = JOB_RESTARTING,	.to = JOB_FAILED },
	{ .from = JOB_RESTARTING,	.to = JOB_RESTARTING },
	{ .from = JOB_RESTARTING,	.to = JOB_CANCELLED },
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
	log_debug("job %lld: %s -> %s", (long long)id, job_state_name(from),
	    job_state_name(to));
	return 0;
}

int
lifecycle_job_reason(struct store *st, int64_t id, enum job_state state,
    const char *reason)
{
	return store_job_set_state(st, id, state, reason);
}
