/*
 * plan-int: what plan.c shares with plan-select.c, the node selection
 * engine. Not for other modules: plan.h is the interface.
 *
 * plan.c checks the request, decides per node whether it is eligible for
 * one choice of GPU indices and what it costs; plan_select() picks the
 * nodes. A "unit" is the set of nodes one tensor-parallel group needs when
 * the group is larger than a node (k nodes in one NVLink domain under one
 * leaf), otherwise a single node.
 */
#ifndef LLMCTL_PLAN_INT_H
#define LLMCTL_PLAN_INT_H

#include <stdint.h>

#include "plan.h"
#include "topo.h"

typedef unsigned __int128 plan_key;

/* Where each part of the objective sits in a plan_key (see plan.h). */
struct plan_layout {
	int count_shift[TOPO_MAX_DEPTH];
	int free_shift[TOPO_MAX_DEPTH]; /* -1: not compared */
	int count_bits; /* above count_shift[0] */
};

struct plan_ctx {
	const struct topo *t;
	enum spec_policy policy;
	int k; /* nodes per unit */
	int need; /* units */
	int limit; /* leaf switches, 0: none */
	struct plan_layout layout;
	/* For the current GPU set, per node. */
	const unsigned char *eligible;
	const uint32_t *cost;
};

struct plan_choice {
	int level; /* of the spanning switch */
	plan_key key; /* pack only */
	int *nodes; /* topo indices in rank order */
	size_t nnodes;
};

/* Layout for a topo and a request of so many nodes; -1 if it cannot fit. */
int plan_layout_make(
    struct plan_layout *, const struct topo *, int nodes, uint64_t max_cost);
/* 0 and *choice filled (free choice->nodes), or -1 if nothing fits. */
int plan_select(const struct plan_ctx *, struct plan_choice *);

/* Leaf switches in tree order (plan-spread.c); out has nswitches room. */
size_t plan_leaves(const struct topo *, int *out);
/*
 * Units to take per switch (take, zeroed by the caller) for spread (any
 * 0) or any (1), from the units each leaf can give (cap); -1 if the leaves
 * (at most limit of them, if limit > 0) cannot hold need.
 */
int plan_spread(const struct topo *, const int *cap, int need, int limit,
    int any, int *take);

#endif
