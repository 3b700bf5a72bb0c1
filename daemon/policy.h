/*
 * policy: what happens after an attempt ends (docs/design.md section 8).
 * A pure function of the spec, the job's counters and the ended attempt,
 * so it is tested on tables without Slurm. It charges the right budget,
 * applies the crash-loop rule and computes the backoff; the caller stores
 * the result.
 */
#ifndef LLMCTLD_POLICY_H
#define LLMCTLD_POLICY_H

#include <stdint.h>

#include "store.h"

struct spec;

enum policy_action {
	POLICY_COMPLETE,
	POLICY_RESTART,
	POLICY_FAIL,
	POLICY_CANCELLED,
};

#define POLICY_BACKOFF_CAP 600 /* seconds */

struct policy_decision {
	enum policy_action action;
	int64_t delay_s; /* POLICY_RESTART */
	char *reason; /* owned by the caller */
};

/*
 * Updates job's counters (restarts, infra_restarts, ...) in place. beat is
 * the highest heartbeat step of the job's earlier attempts (-1: none): an
 * attempt that beat past it made progress, like one that left a new
 * complete checkpoint.
 */
void policy_decide(const struct spec *, struct job *, const struct attempt *,
    int64_t beat, struct policy_decision *);
/* Causes charged to max_infra_restarts rather than max_restarts. */
int policy_cause_infra(enum attempt_cause);

#endif
