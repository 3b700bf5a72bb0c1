/*
 * plan: where every rank of a job goes (docs/design.md sections 3 and 7).
 *
 * plan_make() is a pure function of a finished topo and a request: the
 * same input always gives the same plan. With policy pack it is exact on
 * trees; it minimises, in order:
 *
 *   1. the level of the lowest switch spanning the job;
 *   2. the number of switches used at each level, from the top down;
 *   3. best fit: the free capacity (in nodes eligible for this request) of
 *      the switches used at each level, from the top down, so the tightest
 *      switches are filled and whole free leaves stay whole;
 *   4. the sum over chosen nodes of a node cost: recent failures first,
 *      then powered-down nodes, then spare free GPUs left on the node.
 *
 * Excluded, down, drained and allocated nodes are never used;
 * max_leaf_switches is a hard limit. Policy spread spreads the job over as
 * many leaf switches as it can (fewest nodes per leaf); policy any takes
 * eligible nodes in topology order. All policies keep the hard rules:
 * partial-node jobs take the same GPU indices on every node, and a tensor
 * group larger than a node stays within one NVLink domain under one leaf.
 *
 * Nodes are ordered leaf by leaf in tree order and ranks follow docs/design.md
 * section 3: rank = (dp * PP + pp) * TP + tp, node = rank / tasks_per_node.
 * The caller owns a plan and frees it with plan_free().
 */
#ifndef LLMCTL_PLAN_H
#define LLMCTL_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "spec.h"
#include "topo.h"

/* What to place; independent of the spec so the daemon can re-plan. */
struct plan_request {
	int nodes;
	int tasks_per_node; /* 0: gpus_per_node or 1 */
	int gpus_per_node; /* 0: CPU only */
	int tensor; /* 0: 1 */
	int pipeline; /* 0: 1 */
	int data; /* 0: derived */
	enum spec_policy policy;
	int max_leaf_switches; /* 0: no limit */
	const char *const *exclude; /* borrowed names */
	size_t nexclude;
	const char *gpu_type; /* NULL: any */
	int spares; /* nodes planned beside them, held unused */
};

struct plan_rank {
	int node; /* index into plan->nodes */
	int gpu; /* local GPU index, -1 for CPU-only jobs */
	int local_rank;
	int tp;
	int pp;
	int dp;
};

struct plan_node {
	char *name;
	char *leaf; /* name of its leaf switch */
	int topo_index; /* index in the topo planned on */
	int first_rank;
	int failures;
};

struct plan {
	struct plan_node *nodes; /* in rank order */
	size_t nnodes;
	struct plan_node *spares; /* planned with them, no ranks */
	size_t nspares;
	struct plan_rank *ranks; /* indexed by rank */
	size_t nranks;
	int tasks_per_node;
	int gpus_per_node;
	int tensor;
	int pipeline;
	int data;
	uint64_t gpu_mask; /* same GPUs on every node */
	enum spec_policy policy;

	/* Metrics of the chosen nodes. */
	char *spanning_switch; /* lowest common one */
	int levels_spanned; /* its level + 1 */
	int *switches_per_level; /* [0]: leaves */
	int nlevels;
	int ring_leaf_crossings;
	int failures; /* sum over nodes */
};

struct plan *plan_make(
    const struct topo *, const struct plan_request *, char **cause);
void plan_free(struct plan *);

/* Plan as JSON; "nodes" lists the nodes in rank order. topo may be NULL. */
json_t *plan_to_json(const struct plan *, const struct topo *);
/* Comma-joined node names in rank order: Slurm's required nodes. */
char *plan_nodelist(const struct plan *);
/* The spares after them (Slurm's required nodes with spares); NULL: none. */
char *plan_sparelist(const struct plan *);
const char *plan_policy_name(enum spec_policy);

/*
 * Fill req from a parsed spec (plan-spec.c); the request borrows the
 * spec's strings, so it lives no longer than the spec. extra (nextra names)
 * are excluded on top of the spec's own list, e.g. nodes blamed for a
 * failed attempt; *names_out (free it) holds the merged list.
 */
int plan_request_from_spec(const struct spec *, const char *const *extra,
    size_t nextra, struct plan_request *req, const char ***names_out,
    char **cause);

#endif
