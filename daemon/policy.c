/* policy: budgets, the crash-loop rule and backoff for ended attempts. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "spec.h"
#include "store.h"
#include "util.h"

int
policy_cause_infra(enum attempt_cause cause)
{
	switch (cause) {
	case CAUSE_NODE_FAILURE:
	case CAUSE_HANG:
	case CAUSE_PREEMPTED:
	case CAUSE_TIMEOUT:
	case CAUSE_PREFLIGHT_FAILED:
	case CAUSE_LOST:
		return 1;
	default:
		return 0;
	}
}

static int64_t
backoff(const struct spec *sp, int in_row)
{
	int64_t d = sp->recovery.backoff_s;
	int i;

	for (i = 1; i < in_row && d < POLICY_BACKOFF_CAP; i++)
		d *= 2;
	return d < POLICY_BACKOFF_CAP ? d : POLICY_BACKOFF_CAP;
}

static const char *
what(const struct attempt *a)
{
	return a->reason != NULL ? a->reason : attempt_cause_name(a->cause);
}

void
policy_decide(const struct spec *sp, struct job *job, const struct attempt *a,
    int64_t beat, struct policy_decision *d)
{
	enum attempt_cause cause = a->cause;
	int progressed, infra;

	memset(d, 0, sizeof(*d));
	if (cause == CAUSE_NONE && a->state == ATTEMPT_COMPLETED) {
		d->action = POLICY_COMPLETE;
		return;
	}
	if (cause == CAUSE_CANCELLED) {
		d->action = job->state == JOB_CANCELLED ? POLICY_CANCELLED
		                                        : POLICY_FAIL;
		d->reason =
		    xstrdup(a->reason != NULL ? a->reason : "cancelled");
		return;
	}
	infra = policy_cause_infra(cause);
	if (!infra && cause != CAUSE_USER_ERROR) {
		/* refused, unplaceable, unlaunchable: trying again won't help */
		d->action = POLICY_FAIL;
		d->reason = xstrdup(what(a) != NULL ? what(a) : "failed");
		return;
	}
	if (sp->checkpoint.dir != NULL) {
		/* a trainer that resumes on its own shows it by its beats */
		progressed = a->ckpt_end > a->ckpt_start ||
		    (a->last_step > 0 && a->last_step > beat);
		job->no_progress = progressed ? 0 : job->no_progress + 1;
	} else
		progressed = 0;
	if (cause == CAUSE_TIMEOUT && sp->checkpoint.dir == NULL) {
		d->action = POLICY_FAIL;
		d->reason =
		    xstrdup("time limit reached, and without "
		            "checkpoint.dir there is nothing to continue from");
		return;
	}
	if (infra)
		job->infra_restarts++;
	else
		job->restarts++;
	job->failures_in_row++;
	if (!infra && job->restarts > sp->recovery.max_restarts) {
		d->action = POLICY_FAIL;
		d->reason = xasprintf("%s; recovery.max_restarts (%d) used up",
		    what(a), sp->recovery.max_restarts);
	} else if (infra &&
	    job->infra_restarts > sp->recovery.max_infra_restarts) {
		d->action = POLICY_FAIL;
		d->reason = xasprintf("%s; recovery.max_infra_restarts (%d) "
		                      "used up",
		    what(a), sp->recovery.max_infra_restarts);
	} else if (sp->checkpoint.dir != NULL &&
	    sp->recovery.no_progress_limit > 0 &&
	    job->no_progress >= sp->recovery.no_progress_limit) {
		d->action = POLICY_FAIL;
		d->reason = xasprintf(
		    "crash loop: %d attempts in a row ended "
		    "without a new complete checkpoint or a higher heartbeat "
		    "step (%s)",
		    job->no_progress, what(a));
	} else {
		d->action = POLICY_RESTART;
		d->delay_s = progressed ? 0 : backoff(sp, job->failures_in_row);
		if (progressed)
			job->failures_in_row = 0;
		d->reason =
		    xasprintf("attempt %d: %s; restarting%s", a->attempt,
		        what(a), d->delay_s > 0 ? " after backoff" : "");
	}
}
