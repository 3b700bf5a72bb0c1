/* policy: budgets, the crash-loop rule and backoff for ended attempts. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "spec.h"
#include "store.h"
#include "util.h"

int
policy_cause_infra(const char *cause)
{
	static const char *const infra[] = { "node_failure", "hang",
	    "preempted", "timeout", "preflight_failed", "lost" };
	size_t i;

	for (i = 0; cause != NULL && i < nitems(infra); i++)
		if (strcmp(cause, infra[i]) == 0)
			return 1;
	return 0;
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
	return a->reason != NULL ? a->reason : a->cause;
}

void
policy_decide(const struct spec *sp, struct job *job,
    const struct attempt *a, int64_t beat, struct policy_decision *d)
{
	const char *cause = a->cause;
	int progressed, infra;

	memset(d, 0, sizeof(*d));
	if (cause == NULL && strcmp(a->state, "COMPLETED") == 0) {
		d->action = POLICY_COMPLETE;
		return;
	}
	if (cause != NULL && strcmp(cause, "cancelled") == 0) {
		d->action = job->state == JOB_CANCELLED ? POLICY_CANCELLED :
		    POLICY_FAIL;
		d->reason = xstrdup(a->reason != NULL ? a->reason :
		    "cancelled");
		return;
	}
	infra = policy_cause_infra(cause);
	if (!infra && (cause == NULL || strcmp(cause, "user_error") != 0)) {
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
	if (strcmp(cause, "timeout") == 0 && sp->checkpoint.dir == NULL) {
		d->action = POLICY_FAIL;
		d->reason = xstrdup("time limit reached, and without "
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
	} else if (infra && job->infra_restarts >
	    sp->recovery.max_infra_restarts) {
		d->action = POLICY_FAIL;
		d->reason = xasprintf("%s; recovery.max_infra_restarts (%d) "
		    "used up", what(a), sp->recovery.max_infra_restarts);
	} else if (sp->checkpoint.dir != NULL &&
	    sp->recovery.no_progress_limit > 0 &&
	    job->no_progress >= sp->recovery.no_progress_limit) {
		d->action = POLICY_FAIL;
		d->reason = xasprintf("crash loop: %d attempts in a row ended "
		    "without a new complete checkpoint or a higher heartbeat "
		    "step (%s)", job->no_progress,
		    what(a));
	} else {
		d->action = POLICY_RESTART;
		d->delay_s = progressed ? 0 : backoff(sp, job->failures_in_row);
		if (progressed)
			job->failures_in_row = 0;
		d->reason = xasprintf("attempt %d: %s; restarting%s", a->attempt,
		    what(a), d->delay_s > 0 ? " after backoff" : "");
	}
}
