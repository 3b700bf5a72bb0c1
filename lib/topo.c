/*
 * topo: build, check and look up the switch tree and its nodes, and
 * generate random clusters from a seed for tests and benchmarks.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hostlist.h"
#include "topo.h"
#include "util.h"

static int topo_name_ok(const char *);
static int topo_sort_names(struct topo *, int, char **);
static int topo_link(struct topo *, int, char **);
static int topo_add_implicit(struct topo *, const char *);
static int topo_levels(struct topo *, char **);
static uint64_t gen_next(uint64_t *);
static double gen_unit(uint64_t *);

static const char *state_names[] = {
	[TOPO_IDLE] = "idle",
	[TOPO_MIXED] = "mixed",
	[TOPO_ALLOCATED] = "allocated",
	[TOPO_DOWN] = "down",
	[TOPO_DRAIN] = "drain",
	[TOPO_POWERED_DOWN] = "powered-down",
};

static int
topo_name_ok(const char *name)
{
	size_t len;

	if (name == NULL || (len = strlen(name)) == 0 || len > 255)
		return 0;
	return strcspn(name, " \t\r\n,[]") == len;
}

struct topo *
topo_create(void)
{
	struct topo *t = xcalloc(1, sizeof(*t));

	t->root = -1;
	return t;
}

void
topo_free(struct topo *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nnodes; i++) {
		free(t->nodes[i].name);
		free(t->nodes[i].gpu_type);
	}
	for (i = 0; i < t->nswitches; i++) {
		free(t->switches[i].name);
		free(t->switches[i].children);
		free(t->switches[i].nodes);
		free(t->switches[i].child_expr);
		free(t->switches[i].node_expr);
	}
	free(t->nodes);
	free(t->switches);
	free(t->by_name);
	free(t->sw_by_name);
	free(t);
}

int
topo_add_switch(struct topo *t, const char *name, const char *children,
    const char *nodes, char **cause)
{
	struct topo_switch *sw;

	if (t->finished)
		return set_cause(cause, "topology is already finished");
	if (!topo_name_ok(name))
		return set_cause(
		    cause, "bad switch name \"%s\"", name == NULL ? "" : name);
	if (children != NULL && nodes != NULL)
		return set_cause(
		    cause, "switch %s: has both switches and nodes", name);
	if (t->nswitches >= TOPO_MAX_SWITCHES)
		return set_cause(
		    cause, "more than %d switches", TOPO_MAX_SWITCHES);
	if ((t->nswitches & (t->nswitches - 1)) == 0)
		t->switches = xreallocarray(t->switches,
		    t->nswitches == 0 ? 1 : t->nswitches * 2,
		    sizeof(*t->switches));
	sw = &t->switches[t->nswitches++];
	memset(sw, 0, sizeof(*sw));
	sw->name = xstrdup(name);
	sw->parent = -1;
	if (children != NULL)
		sw->child_expr = xstrdup(children);
	if (nodes != NULL)
		sw->node_expr = xstrdup(nodes);
	return 0;
}

int
topo_add_node(struct topo *t, const struct topo_node_info *info, char **cause)
{
	struct topo_node *n;

	if (t->finished)
		return set_cause(cause, "topology is already finished");
	if (!topo_name_ok(info->name))
		return set_cause(cause, "bad node name \"%s\"",
		    info->name == NULL ? "" : info->name);
	if (info->gpus < 0 || info->gpus > TOPO_MAX_GPUS)
		return set_cause(cause, "node %s: %d GPUs (at most %d)",
		    info->name, info->gpus, TOPO_MAX_GPUS);
	if (info->failures < 0)
		return set_cause(
		    cause, "node %s: negative failure count", info->name);
	if ((unsigned)info->state > TOPO_POWERED_DOWN)
		return set_cause(cause, "node %s: bad state", info->name);
	if (t->nnodes >= TOPO_MAX_NODES)
		return set_cause(cause, "more than %d nodes", TOPO_MAX_NODES);
	if ((t->nnodes & (t->nnodes - 1)) == 0)
		t->nodes = xreallocarray(t->nodes,
		    t->nnodes == 0 ? 1 : t->nnodes * 2, sizeof(*t->nodes));
	n = &t->nodes[t->nnodes++];
	n->name = xstrdup(info->name);
	n->gpus = info->gpus;
	n->free_gpus = info->free_gpus;
	if (info->gpus < TOPO_MAX_GPUS)
		n->free_gpus &= ((uint64_t)1 << info->gpus) - 1;
	n->gpu_type = info->gpu_type == NULL ? NULL : xstrdup(info->gpu_type);
	n->state = info->state;
	n->nvlink_domain = info->nvlink_domain < 0 ? -1 : info->nvlink_domain;
	n->failures = info->failures;
	n->leaf = -1;
	return 0;
}

struct name_idx {
	const char *name;
	int idx;
};

static int
cmp_name_cb(const void *a, const void *b)
{
	return strcmp(((const struct name_idx *)a)->name,
	    ((const struct name_idx *)b)->name);
}

/* Build the sorted name indices; duplicates are errors. */
static int
topo_sort_names(struct topo *t, int switches, char **cause)
{
	size_t i, n = switches ? t->nswitches : t->nnodes;
	struct name_idx *v = xreallocarray(NULL, n + 1, sizeof(*v));
	int *idx = xreallocarray(NULL, n + 1, sizeof(*idx));

	for (i = 0; i < n; i++) {
		v[i].name = switches ? t->switches[i].name : t->nodes[i].name;
		v[i].idx = (int)i;
	}
	qsort(v, n, sizeof(*v), cmp_name_cb);
	for (i = 0; i < n; i++) {
		idx[i] = v[i].idx;
		if (i > 0 && strcmp(v[i - 1].name, v[i].name) == 0) {
			set_cause(cause, "%s %s is defined twice",
			    switches ? "switch" : "node", v[i].name);
			free(v);
			free(idx);
			return -1;
		}
	}
	free(v);
	if (switches) {
		free(t->sw_by_name);
		t->sw_by_name = idx;
	} else {
		free(t->by_name);
		t->by_name = idx;
	}
	return 0;
}

static int
topo_bsearch(const struct topo *t, const int *idx, size_t n, int switches,
    const char *name)
{
	size_t lo = 0, hi = n, mid;
	int c;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		c = strcmp(name,
		    switches ? t->switches[idx[mid]].name
		             : t->nodes[idx[mid]].name);
		if (c == 0)
			return idx[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

int
topo_find_node(const struct topo *t, const char *name)
{
	if (t->by_name == NULL)
		return -1;
	return topo_bsearch(t, t->by_name, t->nnodes, 0, name);
}

int
topo_find_switch(const struct topo *t, const char *name)
{
	if (t->sw_by_name == NULL)
		return -1;
	return topo_bsearch(t, t->sw_by_name, t->nswitches, 1, name);
}

/* Resolve the names given to topo_add_switch() for switch s. */
static int
topo_link(struct topo *t, int s, char **cause)
{
	struct topo_switch *sw = &t->switches[s];
	struct hostlist hl = { 0 };
	char *why = NULL;
	size_t i;
	int c, rc = -1;

	if (sw->child_expr != NULL) {
		if (hostlist_expand(&hl, sw->child_expr, &why) != 0)
			goto bad;
		sw->children = xreallocarray(NULL, hl.n + 1, sizeof(int));
		for (i = 0; i < hl.n; i++) {
			if ((c = topo_find_switch(t, hl.names[i])) == -1) {
				set_cause(cause, "switch %s: unknown switch %s",
				    sw->name, hl.names[i]);
				goto out;
			}
			if (t->switches[c].parent != -1 || c == s) {
				set_cause(cause,
				    "switch %s: switch %s is "
				    "already under %s",
				    sw->name, hl.names[i],
				    c == s ? sw->name
				           : t->switches[t->switches[c].parent]
				                 .name);
				goto out;
			}
			t->switches[c].parent = s;
			sw->children[sw->nchildren++] = c;
		}
	} else if (sw->node_expr != NULL) {
		if (hostlist_expand(&hl, sw->node_expr, &why) != 0)
			goto bad;
		sw->nodes = xreallocarray(NULL, hl.n + 1, sizeof(int));
		for (i = 0; i < hl.n; i++) {
			if ((c = topo_find_node(t, hl.names[i])) == -1) {
				set_cause(cause, "switch %s: unknown node %s",
				    sw->name, hl.names[i]);
				goto out;
			}
			if (t->nodes[c].leaf != -1) {
				set_cause(cause,
				    "switch %s: node %s is "
				    "already under %s",
				    sw->name, hl.names[i],
				    t->switches[t->nodes[c].leaf].name);
				goto out;
			}
			t->nodes[c].leaf = s;
			sw->nodes[sw->nnodes++] = c;
		}
	}
	rc = 0;
	goto out;
bad:
	set_cause(cause, "switch %s: %s", sw->name, why);
out:
	free(why);
	hostlist_clear(&hl);
	return rc;
}

static int
topo_add_implicit(struct topo *t, const char *name)
{
	int s = (int)t->nswitches;

	if (topo_add_switch(t, name, NULL, NULL, NULL) != 0)
		return -1;
	t->switches[s].implicit = 1;
	return s;
}

/* Levels bottom-up in one pass over a depth-first order from the root. */
static int
topo_levels(struct topo *t, char **cause)
{
	int *stack, *order, s, c, top = 0;
	size_t i, norder = 0;
	struct topo_switch *sw;

	stack = xreallocarray(NULL, t->nswitches + 1, sizeof(int));
	order = xreallocarray(NULL, t->nswitches + 1, sizeof(int));
	stack[top++] = t->root;
	while (top > 0) {
		s = stack[--top];
		order[norder++] = s;
		sw = &t->switches[s];
		for (i = 0; i < sw->nchildren; i++)
			stack[top++] = sw->children[i];
	}
	for (i = norder; i-- > 0;) {
		sw = &t->switches[order[i]];
		sw->level = 0;
		for (c = 0; c < (int)sw->nchildren; c++)
			if (t->switches[sw->children[c]].level + 1 > sw->level)
				sw->level =
				    t->switches[sw->children[c]].level + 1;
	}
	if (norder != t->nswitches) {
		/* Unreached from the root: the lowest-numbered is named. */
		memset(stack, 0, (t->nswitches + 1) * sizeof(int));
		for (i = 0; i < norder; i++)
			stack[order[i]] = 1;
		for (i = 0; i < t->nswitches && stack[i]; i++)
			;
		free(stack);
		free(order);
		return set_cause(
		    cause, "switches form a loop (%s)", t->switches[i].name);
	}
	free(stack);
	free(order);
	if (t->switches[t->root].level >= TOPO_MAX_DEPTH)
		return set_cause(
		    cause, "switch tree deeper than %d levels", TOPO_MAX_DEPTH);
	t->nlevels = t->switches[t->root].level + 1;
	return 0;
}

int
topo_finish(struct topo *t, char **cause)
{
	size_t i, nroots = 0, norphans = 0;
	struct topo_switch *sw;
	int s, r;

	if (t->finished)
		return set_cause(cause, "topology is already finished");
	if (t->nnodes == 0)
		return set_cause(cause, "no nodes");
	if (topo_sort_names(t, 0, cause) != 0 ||
	    topo_sort_names(t, 1, cause) != 0)
		return -1;
	for (i = 0; i < t->nswitches; i++)
		if (topo_link(t, (int)i, cause) != 0)
			return -1;
	for (i = 0; i < t->nnodes; i++)
		if (t->nodes[i].leaf == -1)
			norphans++;
	if (norphans > 0) {
		s = topo_add_implicit(
		    t, t->nswitches == 0 ? "(all)" : "(unswitched)");
		sw = &t->switches[s];
		sw->nodes = xreallocarray(NULL, norphans, sizeof(int));
		for (i = 0; i < t->nnodes; i++)
			if (t->nodes[i].leaf == -1) {
				t->nodes[i].leaf = s;
				sw->nodes[sw->nnodes++] = (int)i;
			}
	}
	for (i = 0; i < t->nswitches; i++)
		if (t->switches[i].parent == -1) {
			nroots++;
			t->root = (int)i;
		}
	if (nroots > 1) {
		r = topo_add_implicit(t, "(root)");
		sw = &t->switches[r];
		sw->children = xreallocarray(NULL, nroots, sizeof(int));
		for (i = 0; i < t->nswitches; i++)
			if (t->switches[i].parent == -1 && (int)i != r) {
				t->switches[i].parent = r;
				sw->children[sw->nchildren++] = (int)i;
			}
		t->root = r;
	}
	if (nroots == 0)
		return set_cause(
		    cause, "switches form a loop (%s)", t->switches[0].name);
	if (topo_sort_names(t, 1, cause) != 0 || topo_levels(t, cause) != 0)
		return -1;
	for (i = 0; i < t->nswitches; i++) {
		sw = &t->switches[i];
		if (sw->level > 0 && sw->nnodes > 0)
			return set_cause(cause,
			    "switch %s: has both switches and nodes", sw->name);
		free(sw->child_expr);
		free(sw->node_expr);
		sw->child_expr = sw->node_expr = NULL;
	}
	t->finished = 1;
	return 0;
}

int
topo_switch_contains(const struct topo *t, int a, int b)
{
	while (b != -1) {
		if (a == b)
			return 1;
		b = t->switches[b].parent;
	}
	return 0;
}

const char *
topo_state_name(enum topo_state state)
{
	if ((unsigned)state >= nitems(state_names))
		return "unknown";
	return state_names[state];
}

int
topo_state_from_name(const char *name, enum topo_state *state)
{
	size_t i;

	for (i = 0; i < nitems(state_names); i++)
		if (strcasecmp(name, state_names[i]) == 0) {
			*state = (enum topo_state)i;
			return 0;
		}
	return -1;
}

int
topo_node_usable(const struct topo_node *n)
{
	return n->state == TOPO_IDLE || n->state == TOPO_MIXED ||
	    n->state == TOPO_POWERED_DOWN;
}

int
topo_popcount(uint64_t x)
{
	return __builtin_popcountll(x);
}

/* splitmix64: tiny, fast, and the same sequence on every platform. */
static uint64_t
gen_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double
gen_unit(uint64_t *s)
{
	return (double)(gen_next(s) >> 11) / 9007199254740992.0;
}

static int
digits(int n)
{
	int d = 1;

	while (n >= 10) {
		n /= 10;
		d++;
	}
	return d;
}

struct topo *
topo_generate(const struct topo_gen *g, char **cause)
{
	int leaves = g->leaves > 0 ? g->leaves : 1;
	int per = g->nodes_per_leaf > 0 ? g->nodes_per_leaf : 1;
	int gpus = g->gpus > 0 ? g->gpus : 8, spines = g->spines;
	int total = leaves * per, nw, lw, sw, l, s, i, lo, hi;
	struct topo_node_info info = { 0 };
	uint64_t rng = g->seed, all;
	struct topo *t;
	char *name, *expr;
	double busy, r;

	if (g->leaves < 0 || g->nodes_per_leaf < 0 || spines < 0 ||
	    (long)leaves * per > TOPO_MAX_NODES || gpus > TOPO_MAX_GPUS ||
	    spines > leaves) {
		set_cause(cause, "bad generator parameters");
		return NULL;
	}
	all = gpus == 64 ? ~(uint64_t)0 : ((uint64_t)1 << gpus) - 1;
	nw = digits(total) < 3 ? 3 : digits(total);
	lw = digits(leaves) < 2 ? 2 : digits(leaves);
	sw = digits(spines) < 2 ? 2 : digits(spines);
	t = topo_create();
	for (l = 0; l < leaves; l++) {
		busy = g->busy * gen_unit(&rng);
		for (i = l * per; i < (l + 1) * per; i++) {
			name = xasprintf("gpu%0*d", nw, i + 1);
			info.name = name;
			info.gpus = gpus;
			info.free_gpus = all;
			info.gpu_type = g->gpu_type;
			info.state = TOPO_IDLE;
			info.nvlink_domain =
			    g->nvlink_domain > 0 ? i / g->nvlink_domain : -1;
			info.failures = 0;
			r = gen_unit(&rng);
			if (r < g->drain)
				info.state = TOPO_DRAIN;
			else if (r < g->drain + g->down)
				info.state = TOPO_DOWN;
			else if (gen_unit(&rng) < busy) {
				info.state = TOPO_ALLOCATED;
				info.free_gpus = 0;
			} else if (gen_unit(&rng) < g->mixed) {
				info.state = TOPO_MIXED;
				info.free_gpus = gen_next(&rng) & all;
				if (info.free_gpus == all ||
				    info.free_gpus == 0)
					info.free_gpus = all >> 1;
			}
			if (gen_unit(&rng) < g->failing)
				info.failures = 1 + (int)(gen_next(&rng) % 3);
			topo_add_node(t, &info, NULL);
			free(name);
		}
		name = xasprintf("leaf%0*d", lw, l);
		expr = xasprintf(
		    "gpu[%0*d-%0*d]", nw, l * per + 1, nw, (l + 1) * per);
		topo_add_switch(t, name, NULL, expr, NULL);
		free(name);
		free(expr);
	}
	for (s = 0; s < spines; s++) {
		lo = (int)((long)s * leaves / spines);
		hi = (int)((long)(s + 1) * leaves / spines) - 1;
		name = xasprintf("spine%0*d", sw, s);
		expr = xasprintf("leaf[%0*d-%0*d]", lw, lo, lw, hi);
		topo_add_switch(t, name, expr, NULL, NULL);
		free(name);
		free(expr);
	}
	if (spines != 1 && (spines > 1 || leaves > 1)) {
		if (spines > 1)
			expr = xasprintf(
			    "spine[%0*d-%0*d]", sw, 0, sw, spines - 1);
		else
			expr =
			    xasprintf("leaf[%0*d-%0*d]", lw, 0, lw, leaves - 1);
		topo_add_switch(t, "core", expr, NULL, NULL);
		free(expr);
	}
	if (topo_finish(t, cause) != 0) {
		topo_free(t);
		return NULL;
	}
	return t;
}
