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
	int64_t queued; /* 1: one of ours waits in Slurm's queue for nodes */
	int64_t waiting; /* others' jobs that wait there for nodes */
	struct plan *plan; /* out, owned: pin these nodes */
	int never; /* out: not even when idle */
	/*
	 * out, when the best nodes are not free now: Slurm places the job
	 * (pl->plan NULL). It waits in Slurm's queue for as few leaf
	 * switches as the idle cluster allows (--switches=N@max_wait, 0: no
	 * constraint), never on the nodes in exclude.
	 */
	int to_slurm;
	int switches;
	char *order; /* candidates in tree order: "n1,n2 n3,n4", per leaf */
	char *exclude; /* comma list of the other nodes, or NULL */
};

/*
 * Plan on the snapshot: 0 with pl->plan (its nodes are free now and as
 * good as the idle cluster's best, no job of ours waits in Slurm's queue
 * and this is no re-plan), or 0 with pl->to_slurm (*cause says why when
 * nothing fits now); else -1 and *cause, never on this cluster
 * (pl->never), or, for a job with spares (never handed to Slurm), not
 * now. *transient: 1 when nothing fits now.
 */
int placement_run(
    struct placement *, const struct bcluster *, char **cause, int *transient);
/*
 * Frees the plan, the holds and the hand-off lists; the request's strings
 * are the caller's.
 */
void placement_clear(struct placement *);
void placement_hold_add(
    struct hold **, size_t *, const char *tag, const char *node, int gpus);

#endif
