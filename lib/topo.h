/*
 * topo: the cluster model the planner works on (docs/design.md section 7).
 *
 * A switch tree of any depth whose leaf switches hold nodes, and per node
 * its GPUs, which GPU indices are free, GPU type, Slurm state, NVLink domain
 * and recent failure count. A topo is built in three ways: by the daemon's
 * Slurm backend through the builder below, from a snapshot file
 * (topo-yaml.c) and by topo_generate() for tests and benchmarks.
 *
 * Building: topo_create(), any number of topo_add_switch() and
 * topo_add_node() in any order, then topo_finish(), which resolves names,
 * links parents, computes levels and refuses inconsistent trees. Nodes that
 * no switch names go under an implicit leaf; several top-level switches get
 * an implicit root, so every finished topo has exactly one root. A cluster
 * without switches (no topology.conf) is one implicit leaf.
 *
 * A finished topo is read-only; its arrays may be read directly. The caller
 * of topo_create()/topo_generate()/topo_from_yaml() owns it and frees it
 * with topo_free().
 */
#ifndef LLMCTL_TOPO_H
#define LLMCTL_TOPO_H

#include <stddef.h>
#include <stdint.h>

#define TOPO_MAX_GPUS 64 /* per node: free GPUs are a 64-bit mask */
#define TOPO_MAX_NODES 65536
#define TOPO_MAX_SWITCHES 65536
#define TOPO_MAX_DEPTH 16

enum topo_state {
	TOPO_IDLE,
	TOPO_MIXED,
	TOPO_ALLOCATED,
	TOPO_DOWN,
	TOPO_DRAIN,
	TOPO_POWERED_DOWN,
};

/* What topo_add_node() copies into the model. */
struct topo_node_info {
	const char *name;
	int gpus; /* 0..TOPO_MAX_GPUS */
	uint64_t free_gpus; /* bit i set: GPU i is free */
	const char *gpu_type; /* NULL: untyped */
	enum topo_state state;
	int nvlink_domain; /* -1: none */
	int failures; /* recent failures, from the store */
};

struct topo_node {
	char *name;
	int gpus;
	uint64_t free_gpus; /* only bits below gpus */
	char *gpu_type;
	enum topo_state state;
	int nvlink_domain;
	int failures;
	int leaf; /* index of its leaf switch */
};

struct topo_switch {
	char *name;
	int level; /* 0: leaf; else 1 + highest child */
	int parent; /* -1 for the root */
	int *children; /* switch indices */
	size_t nchildren;
	int *nodes; /* node indices, leaves only */
	size_t nnodes;
	int implicit; /* made up by topo_finish() */
	/* Until topo_finish(): the names given to topo_add_switch(). */
	char *child_expr;
	char *node_expr;
};

struct topo {
	struct topo_node *nodes; /* in the order added */
	size_t nnodes;
	struct topo_switch *switches; /* in the order added */
	size_t nswitches;
	int root; /* after topo_finish() */
	int nlevels; /* root level + 1 */
	int finished;
	int *by_name; /* node indices sorted by name */
	int *sw_by_name; /* switch indices sorted by name */
};

/* Parameters of topo_generate(); zero fields take the noted defaults. */
struct topo_gen {
	int leaves; /* default 1 */
	int nodes_per_leaf; /* default 1 */
	int spines; /* 0: leaves hang off one root */
	int gpus; /* per node, default 8 */
	uint64_t seed;
	double busy; /* each leaf busy up to this fraction */
	double mixed; /* chance a non-busy node is partly used */
	double drain; /* chance a node is drained */
	double down; /* chance a node is down */
	double failing; /* chance a node has recent failures */
	int nvlink_domain; /* nodes per NVLink domain, 0: none */
	const char *gpu_type;
};

struct topo *topo_create(void);
void topo_free(struct topo *);

/*
 * A switch over other switches (children, a hostlist of switch names) or
 * over nodes (nodes, a hostlist of node names); the other is NULL.
 */
int topo_add_switch(struct topo *, const char *name, const char *children,
    const char *nodes, char **cause);
int topo_add_node(struct topo *, const struct topo_node_info *, char **cause);
int topo_finish(struct topo *, char **cause);

/* Built and finished from the parameters; NULL and *cause if they are bad. */
struct topo *topo_generate(const struct topo_gen *, char **cause);

/* Lookups on a finished topo: -1 when there is no such name. */
int topo_find_node(const struct topo *, const char *name);
int topo_find_switch(const struct topo *, const char *name);
/* Is switch a an ancestor of (or equal to) switch b? */
int topo_switch_contains(const struct topo *, int a, int b);

const char *topo_state_name(enum topo_state);
int topo_state_from_name(const char *, enum topo_state *);
/* Usable for new work: not down, drained or fully allocated. */
int topo_node_usable(const struct topo_node *);
int topo_popcount(uint64_t);

/* Snapshot files, version 1 (topo-yaml.c). */
struct topo *topo_from_yaml(
    const char *buf, size_t len, const char *filename, char **cause);
char *topo_to_yaml(const struct topo *);

#endif
