/*
 * placement: where an attempt's ranks go, decided on one cluster snapshot.
 * No backend calls and no store: OP_PLAN runs it on the worker thread right
 * after loading the snapshot, and it would run the same on a snapshot kept
 * from an earlier load.
 */
#ifndef LLMCTLD_PLACEMENT_H
#define LLMCTLD_PLACEMENT_H

#include "plan.h"

struct bcluster;

struct placement {
	struct plan_request	 req;		/* borrowed strings */
	const char *const	*avoid;		/* re-plan: others if any fit */
	size_t			 navoid;
	struct plan		*plan;		/* out, owned */
	int			 never;		/* out: not even when idle */
};

/*
 * Plan on the snapshot: 0 with pl->plan; else -1 and *cause, and
 * *transient 1 while only busy nodes stand in the way (pl->never is 0).
 */
int placement_run(struct placement *, const struct bcluster *, char **cause,
    int *transient);
/* Frees the plan; the request's strings are the caller's. */
void placement_clear(struct placement *);

#endif
