/*
 * placement: where an attempt's ranks go, decided on one cluster snapshot.
 * No backend calls and no store: the monitor runs it on the loop thread on
 * the snapshot the tick keeps (monitor-plan.c), so a plan costs no RPC.
 */
#ifndef LLMCTLD_PLACEMENT_H
#define LLMCTLD_PLACEMENT_H

#include "plan.h"

struct bcluster;

/*
 * GPUs an attempt of ours will take on a node while the kept snapshot still
 * shows them free: it is planned or pending on those nodes, or started
 * running after the snapshot was loaded (store_attempts_holding). Without
 * them every job planned in one burst lands on the same free node.
 */
struct hold {
	char *tag; /* the attempt's */
	char *node;
	int gpus;
};

struct placement {
	struct plan_request req; /* borrowed strings */
	const char *const *avoid; /* re-plan: others if any fit */
	size_t navoid;
	/* quarantined (nodehealth.h): not now, but they count when idle */
	const char *const *quarantined;
	size_t nquarantined;
	const char *tag; /* the attempt's; its holds skip */
	struct hold *held; /* from the store, owned */
	size_t nheld;
	struct plan *plan; /* out, owned */
	int never; /* out: not even when idle */
};

/*
 * Plan on the snapshot: 0 with pl->plan; else -1 and *cause, and
 * *transient 1 while only busy nodes stand in the way (pl->never is 0).
 */
int placement_run(
    struct placement *, const struct bcluster *, char **cause, int *transient);
/* Frees the plan and the holds; the request's strings are the caller's. */
void placement_clear(struct placement *);
void placement_hold_add(
    struct hold **, size_t *, const char *tag, const char *node, int gpus);

#endif
