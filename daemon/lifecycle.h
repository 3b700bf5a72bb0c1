/*
 * lifecycle: the job state machine (docs/design.md section 5). The table
 * of legal transitions and the one function that changes a job's state;
 * store_job_set_state() is called from nowhere else.
 */
#ifndef LLMCTLD_LIFECYCLE_H
#define LLMCTLD_LIFECYCLE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct job_transition {
	enum job_state	 from;
	enum job_state	 to;
};

/* The legal transitions, *n of them. */
const struct job_transition *lifecycle_job_table(size_t *n);
int lifecycle_job_legal(enum job_state from, enum job_state to);
/*
 * Move a job from its state to another, inside the caller's transaction:
 * an illegal transition is logged and refused (-1), as is a failed write;
 * the caller then rolls back.
 */
int lifecycle_job_set(struct store *, int64_t id, enum job_state from,
    enum job_state to, const char *reason);
/* Change only the reason a job gives (waiting for resources, ...). */
int lifecycle_job_reason(struct store *, int64_t id, enum job_state,
    const char *reason);

#endif
