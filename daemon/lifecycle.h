/*
 * lifecycle: the job and attempt state machines (docs/design.md section
 * 5). The tables of legal transitions and the one function for each that
 * changes a state: store_job_set_state() is called from nowhere else, and
 * an attempt's state, cause and ending flag are assigned nowhere else.
 */
#ifndef LLMCTLD_LIFECYCLE_H
#define LLMCTLD_LIFECYCLE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct job_transition {
	enum job_state from;
	enum job_state to;
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
int lifecycle_job_reason(
    struct store *, int64_t id, enum job_state, const char *reason);

/*
 * An attempt moves from (state, being ended or not) to a state, and has
 * one of the causes in the mask after it (bit 1 << cause; CAUSE_NONE
 * included). It is being ended after it iff the state is not final and
 * it has a cause.
 */
struct attempt_transition {
	enum attempt_state from;
	int from_ending;
	enum attempt_state to;
	unsigned int causes;
};

const struct attempt_transition *lifecycle_attempt_table(size_t *n);
int lifecycle_attempt_legal(enum attempt_state from, int from_ending,
    enum attempt_state to, enum attempt_cause cause);
/*
 * Move an attempt to a state with a cause, inside the caller's
 * transaction: set state, cause and ending (and ended_at, once final),
 * write the row and, if kind is not NULL, the event; log it. Refused (-1,
 * the attempt unchanged) when illegal or outside a transaction; -1 on a
 * failed write, the caller then rolls back.
 */
int lifecycle_attempt_set(struct store *, struct attempt *,
    enum attempt_state to, enum attempt_cause cause, const char *kind,
    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#endif
