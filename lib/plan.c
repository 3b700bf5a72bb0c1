/*
 * plan: check a request, try each set of GPU indices the job could use on
 * every node, keep the best selection of nodes (plan-select.c), then lay
 * out the ranks and measure the result. When nothing fits, say why in the
 * user's terms.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plan-int.h"
#include "util.h"

/* The request with defaults filled and checked. */
struct req {
	const struct plan_request *r;
	int nodes, tpn, gpn, tp, pp, dp, k;
};

static int plan_check(const struct plan_request *, struct req *, char **);
static struct plan *plan_make_one(
    const struct topo *, const struct plan_request *, char **);
static void plan_base(const struct topo *, const struct req *, unsigned char *,
    uint32_t *, uint32_t *);
static int plan_eligible(const struct topo *, const struct req *,
    const unsigned char *, uint64_t, unsigned char *);
static uint64_t plan_next_set(uint64_t);
static struct plan *plan_build(const struct topo *, const struct req *,
    uint64_t, const struct plan_choice *);
static char *plan_why(
    const struct topo *, const struct req *, const unsigned char *, uint64_t);

static const char *policy_names[] = {
	[POLICY_PACK] = "pack",
	[POLICY_SPREAD] = "spread",
	[POLICY_ANY] = "any",
};

const char *
plan_policy_name(enum spec_policy policy)
{
	if ((unsigned)policy >= nitems(policy_names))
		return "unknown";
	return policy_names[policy];
}

static int
plan_check(const struct plan_request *r, struct req *q, char **cause)
{
	long world;

	memset(q, 0, sizeof(*q));
	q->r = r;
	q->nodes = r->nodes;
	q->gpn = r->gpus_per_node;
	if (r->nodes < 1 || r->nodes > TOPO_MAX_NODES)
		return set_cause(cause, "nodes must be 1 to %d, not %d",
		    TOPO_MAX_NODES, r->nodes);
	if (q->gpn < 0 || q->gpn > TOPO_MAX_GPUS)
		return set_cause(cause, "gpus_per_node must be 0 to %d, not %d",
		    TOPO_MAX_GPUS, q->gpn);
	q->tpn = r->tasks_per_node > 0 ? r->tasks_per_node
	    : q->gpn > 0               ? q->gpn
	                               : 1;
	if (r->tasks_per_node < 0 || q->tpn > 1024)
		return set_cause(
		    cause, "bad tasks_per_node %d", r->tasks_per_node);
	if (q->gpn > 0 && (q->tpn > q->gpn || q->gpn % q->tpn != 0))
		return set_cause(cause,
		    "%d GPUs per node do not split evenly "
		    "over %d tasks",
		    q->gpn, q->tpn);
	q->tp = r->tensor > 0 ? r->tensor : 1;
	q->pp = r->pipeline > 0 ? r->pipeline : 1;
	if (r->tensor < 0 || r->pipeline < 0 || r->data < 0)
		return set_cause(cause, "negative parallel sizes");
	q->k = 1;
	if (q->tp <= q->tpn && q->tpn % q->tp != 0)
		return set_cause(cause,
		    "tensor %d does not divide %d tasks "
		    "per node",
		    q->tp, q->tpn);
	if (q->tp > q->tpn) {
		if (q->tp % q->tpn != 0)
			return set_cause(cause,
			    "tensor %d is not a multiple "
			    "of %d tasks per node",
			    q->tp, q->tpn);
		q->k = q->tp / q->tpn;
		if (q->nodes % q->k != 0)
			return set_cause(cause,
			    "tensor %d spans %d nodes, but "
			    "%d nodes is not a multiple of %d",
			    q->tp, q->k, q->nodes, q->k);
	}
	world = (long)q->nodes * q->tpn;
	q->dp = r->data > 0 ? r->data : (int)(world / ((long)q->tp * q->pp));
	if ((long)q->tp * q->pp * q->dp != world)
		return set_cause(cause,
		    "tensor %d x pipeline %d x data %d is "
		    "%ld, but the world size is %ld",
		    q->tp, q->pp, q->dp, (long)q->tp * q->pp * q->dp, world);
	if (r->max_leaf_switches < 0)
		return set_cause(cause,
		    "max_leaf_switches must not be "
		    "negative");
	if ((unsigned)r->policy >= nitems(policy_names))
		return set_cause(cause, "unknown placement policy");
	return 0;
}

/* What does not depend on the GPU set: usable at all, and the cost. */
static void
plan_base(const struct topo *t, const struct req *q, unsigned char *ok,
    uint32_t *cost, uint32_t *max_cost)
{
	const struct plan_request *r = q->r;
	const struct topo_node *n;
	size_t i;
	int x, spare;

	*max_cost = 0;
	for (i = 0; i < t->nnodes; i++) {
		n = &t->nodes[i];
		ok[i] = topo_node_usable(n) && n->gpus >= q->gpn &&
		    (q->gpn == 0 || n->free_gpus != 0) &&
		    (q->k == 1 || n->nvlink_domain >= 0) &&
		    (r->gpu_type == NULL ||
		        (n->gpu_type != NULL &&
		            strcasecmp(n->gpu_type, r->gpu_type) == 0));
		spare = q->gpn > 0 ? topo_popcount(n->free_gpus) - q->gpn : 0;
		cost[i] = (uint32_t)(n->failures > 255 ? 255 : n->failures)
		        << 8 |
		    (n->state == TOPO_POWERED_DOWN) << 7 |
		    (spare < 0            ? 0
		            : spare > 127 ? 127
		                          : spare);
	}
	for (i = 0; i < r->nexclude; i++)
		if ((x = topo_find_node(t, r->exclude[i])) != -1)
			ok[x] = 0;
	for (i = 0; i < t->nnodes; i++)
		if (ok[i] && cost[i] > *max_cost)
			*max_cost = cost[i];
}

/* Nodes eligible for GPU set mask; returns how many. */
static int
plan_eligible(const struct topo *t, const struct req *q,
    const unsigned char *ok, uint64_t mask, unsigned char *el)
{
	size_t i;
	int n = 0;

	for (i = 0; i < t->nnodes; i++) {
		el[i] = ok[i] &&
		    (q->gpn == 0 || (t->nodes[i].free_gpus & mask) == mask);
		n += el[i];
	}
	return n;
}

/* The next larger mask with as many bits set (Gosper). */
static uint64_t
plan_next_set(uint64_t x)
{
	uint64_t c = x & -x, r = x + c;

	if (r == 0)
		return 0;
	return (((r ^ x) >> 2) / c) | r;
}

static int
bits_for(uint64_t x)
{
	int b = 0;

	while (x != 0) {
		b++;
		x >>= 1;
	}
	return b;
}

int
plan_layout_make(
    struct plan_layout *l, const struct topo *t, int nodes, uint64_t max_cost)
{
	int counts[TOPO_MAX_DEPTH] = { 0 }, cb[TOPO_MAX_DEPTH], fb, total, lv;
	int shift, nl = t->nlevels, top;
	size_t i;

	for (i = 0; i < t->nswitches; i++)
		counts[t->switches[i].level]++;
	fb = bits_for(t->nnodes);
	shift = bits_for((uint64_t)nodes * max_cost);
	total = shift + nl * fb;
	for (lv = 0; lv < nl; lv++) {
		cb[lv] = bits_for(counts[lv]);
		total += cb[lv];
	}
	/* Too wide for 128 bits: compare free capacity on fewer levels. */
	for (top = nl; total > 127 && top > 0; top--)
		total -= fb;
	if (total > 127)
		return -1;
	for (lv = 0; lv < nl; lv++) {
		l->free_shift[lv] = lv < top ? shift : -1;
		if (lv < top)
			shift += fb;
	}
	l->count_bits = 0;
	for (lv = 0; lv < nl; lv++) {
		l->count_shift[lv] = shift;
		shift += cb[lv];
		l->count_bits += cb[lv];
	}
	return 0;
}

static struct plan *
plan_make_one(const struct topo *t, const struct plan_request *r, char **cause)
{
	struct plan_ctx c = { .t = t };
	struct plan_choice best = { .level = INT_MAX }, ch;
	struct req q;
	unsigned char *ok, *el;
	uint32_t *cost, max_cost;
	uint64_t mask, best_mask = 0, hash, *seen = NULL, full;
	size_t nseen = 0, i;
	int maxg = 0, n, tries = 0, most = -1;
	uint64_t most_mask = 0;
	struct plan *p = NULL;

	if (t == NULL || !t->finished) {
		set_cause(cause, "no cluster topology");
		return NULL;
	}
	if (plan_check(r, &q, cause) != 0)
		return NULL;
	ok = xmalloc(t->nnodes + 1);
	el = xmalloc(t->nnodes + 1);
	cost = xreallocarray(NULL, t->nnodes + 1, sizeof(*cost));
	plan_base(t, &q, ok, cost, &max_cost);
	for (i = 0; i < t->nnodes; i++)
		if (ok[i] && t->nodes[i].gpus > maxg)
			maxg = t->nodes[i].gpus;
	c.policy = r->policy;
	c.k = q.k;
	c.need = q.nodes / q.k;
	c.limit = r->max_leaf_switches;
	c.eligible = el;
	c.cost = cost;
	if (plan_layout_make(&c.layout, t, q.nodes, max_cost) != 0) {
		set_cause(cause, "switch tree too large for the planner");
		goto out;
	}

	full = maxg >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << maxg) - 1;
	/* a shift by 64 is undefined: 64 GPUs per node is the full mask */
	mask = q.gpn == 0 ? 0
	    : q.gpn >= 64 ? ~(uint64_t)0
	                  : ((uint64_t)1 << q.gpn) - 1;
	if (q.gpn > maxg)
		mask = full + 1; /* no set at all */
	/*
	 * Every set of gpus_per_node indices among the largest node's GPUs,
	 * lowest first; sets that make the same nodes eligible are tried once.
	 */
	for (; q.gpn == 0 || (mask != 0 && (mask & ~full) == 0);
	     mask = plan_next_set(mask)) {
		if (++tries > 4096)
			break;
		n = plan_eligible(t, &q, ok, mask, el);
		if (n > most) {
			most = n;
			most_mask = mask;
		}
		if (n >= q.nodes) {
			for (hash = 1469598103934665603ULL, i = 0;
			     i < t->nnodes; i++)
				if (el[i])
					hash = (hash ^ i) * 1099511628211ULL;
			for (i = 0; i < nseen && seen[i] != hash; i++)
				;
			if (i == nseen) {
				seen = xreallocarray(
				    seen, nseen + 1, sizeof(*seen));
				seen[nseen++] = hash;
				if (plan_select(&c, &ch) == 0) {
					if (ch.level < best.level ||
					    (ch.level == best.level &&
					        ch.key < best.key)) {
						free(best.nodes);
						best = ch;
						best_mask = mask;
					} else
						free(ch.nodes);
					if (r->policy != POLICY_PACK)
						break;
				}
			}
		}
		if (q.gpn == 0)
			break;
	}
	if (best.nodes != NULL)
		p = plan_build(t, &q, best_mask, &best);
	else if (cause != NULL)
		*cause = plan_why(t, &q, ok, most_mask);
out:
	free(best.nodes);
	free(seen);
	free(ok);
	free(el);
	free(cost);
	return p;
}

/* Ranks in docs/design.md section 3 order, then the metrics. */
static struct plan *
plan_build(const struct topo *t, const struct req *q, uint64_t mask,
    const struct plan_choice *ch)
{
	struct plan *p = xcalloc(1, sizeof(*p));
	int gpus[TOPO_MAX_GPUS], ng = 0, b, lca, leaf, per, *used;
	size_t i, r;
	struct plan_rank *rk;

	p->tasks_per_node = q->tpn;
	p->gpus_per_node = q->gpn;
	p->tensor = q->tp;
	p->pipeline = q->pp;
	p->data = q->dp;
	p->gpu_mask = mask;
	p->policy = q->r->policy;
	for (b = 0; b < TOPO_MAX_GPUS; b++)
		if (mask & ((uint64_t)1 << b))
			gpus[ng++] = b;
	p->nnodes = ch->nnodes;
	p->nodes = xcalloc(p->nnodes, sizeof(*p->nodes));
	for (i = 0; i < p->nnodes; i++) {
		p->nodes[i].topo_index = ch->nodes[i];
		p->nodes[i].name = xstrdup(t->nodes[ch->nodes[i]].name);
		p->nodes[i].leaf =
		    xstrdup(t->switches[t->nodes[ch->nodes[i]].leaf].name);
		p->nodes[i].first_rank = (int)i * q->tpn;
		p->nodes[i].failures = t->nodes[ch->nodes[i]].failures;
		p->failures += p->nodes[i].failures;
	}
	p->nranks = p->nnodes * q->tpn;
	p->ranks = xcalloc(p->nranks, sizeof(*p->ranks));
	per = q->gpn > 0 ? q->gpn / q->tpn : 0;
	for (r = 0; r < p->nranks; r++) {
		rk = &p->ranks[r];
		rk->node = (int)(r / q->tpn);
		rk->local_rank = (int)(r % q->tpn);
		rk->gpu = q->gpn > 0 ? gpus[rk->local_rank * per] : -1;
		rk->tp = (int)(r % q->tp);
		rk->pp = (int)(r / q->tp % q->pp);
		rk->dp = (int)(r / ((size_t)q->tp * q->pp));
	}

	p->nlevels = t->nlevels;
	p->switches_per_level = xcalloc(t->nlevels, sizeof(int));
	used = xcalloc(t->nswitches, sizeof(int));
	lca = t->nodes[ch->nodes[0]].leaf;
	for (i = 0; i < p->nnodes; i++) {
		leaf = t->nodes[ch->nodes[i]].leaf;
		while (!topo_switch_contains(t, lca, leaf))
			lca = t->switches[lca].parent;
		for (b = leaf; b != -1 && !used[b]; b = t->switches[b].parent) {
			used[b] = 1;
			p->switches_per_level[t->switches[b].level]++;
		}
		if (p->nnodes > 1 &&
		    leaf != t->nodes[ch->nodes[(i + 1) % p->nnodes]].leaf)
			p->ring_leaf_crossings++;
	}
	/* Switches above the spanning one carry no traffic of this job. */
	for (b = t->switches[lca].parent; b != -1; b = t->switches[b].parent)
		p->switches_per_level[t->switches[b].level]--;
	p->spanning_switch = xstrdup(t->switches[lca].name);
	p->levels_spanned = t->switches[lca].level + 1;
	free(used);
	return p;
}

static int
plan_excluded(const struct plan_request *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nexclude; i++)
		if (strcmp(r->exclude[i], name) == 0)
			return 1;
	return 0;
}

/* Why nothing fits, measured on the GPU set that made most nodes eligible. */
static char *
plan_why(const struct topo *t, const struct req *q, const unsigned char *ok,
    uint64_t mask)
{
	const struct topo_node *n;
	char what[128], type[80] = "", *s;
	int excluded = 0, down = 0, busy = 0, el = 0, *cap;
	int limit = q->r->max_leaf_switches, top, sum, fit = 0, i, j, x;
	size_t v;

	if (q->r->gpu_type != NULL)
		snprintf(type, sizeof(type), " of type %s", q->r->gpu_type);
	if (q->gpn > 0)
		snprintf(what, sizeof(what), "nodes with %d free GPU%s%s",
		    q->gpn, q->gpn == 1 ? "" : "s", type);
	else
		snprintf(what, sizeof(what), "idle or mixed nodes");
	cap = xcalloc(t->nswitches, sizeof(int));
	for (v = 0; v < t->nnodes; v++) {
		n = &t->nodes[v];
		if (q->gpn > 0 && ok[v] &&
		    topo_popcount(n->free_gpus) >= q->gpn)
			fit++;
		if (ok[v] && (q->gpn == 0 || (n->free_gpus & mask) == mask)) {
			el++;
			cap[n->leaf]++;
		} else if (plan_excluded(q->r, n->name))
			excluded++;
		else if (n->state == TOPO_DOWN || n->state == TOPO_DRAIN)
			down++;
		else
			busy++;
	}
	if (el < q->nodes && fit >= q->nodes) {
		s = xasprintf(
		    "needs %d nodes with the same %d free GPU indices; "
		    "at most %d nodes share a set",
		    q->nodes, q->gpn, el);
		free(cap);
		return s;
	}
	if (el < q->nodes) {
		s = xasprintf("needs %d %s; %d %s them (%d busy or unsuitable, "
		              "%d down or drained, %d excluded)",
		    q->nodes, what, el, el == 1 ? "has" : "have", busy, down,
		    excluded);
		free(cap);
		return s;
	}
	if (q->k > 1) {
		s = xasprintf(
		    "needs %d groups of %d nodes in one NVLink domain "
		    "under one leaf for tensor %d; not enough such groups are "
		    "free",
		    q->nodes / q->k, q->k, q->tp);
		free(cap);
		return s;
	}
	/* Only the leaf limit is left: the largest leaves, in nodes. */
	for (i = 1; i < (int)t->nswitches; i++)
		for (j = i; j > 0 && cap[j] > cap[j - 1]; j--) {
			x = cap[j];
			cap[j] = cap[j - 1];
			cap[j - 1] = x;
		}
	top = limit < (int)t->nswitches ? limit : (int)t->nswitches;
	for (sum = 0, i = 0; i < top; i++)
		sum += cap[i];
	free(cap);
	if (limit == 1)
		return xasprintf("needs %d %s under one leaf; largest leaf has "
		                 "%d",
		    q->nodes, what, sum);
	return xasprintf("needs %d %s under at most %d leaf switches; the %d "
	                 "largest leaves have %d",
	    q->nodes, what, limit, limit, sum);
}

void
plan_free(struct plan *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nnodes; i++) {
		free(p->nodes[i].name);
		free(p->nodes[i].leaf);
	}
	for (i = 0; i < p->nspares; i++) {
		free(p->spares[i].name);
		free(p->spares[i].leaf);
	}
	free(p->nodes);
	free(p->spares);
	free(p->ranks);
	free(p->spanning_switch);
	free(p->switches_per_level);
	free(p);
}

/*
 * The last nspares nodes of a plan for nodes + spares become its spares;
 * the ranks of the rest get the request's own coordinates.
 */
static void
plan_split(struct plan *p, const struct plan_request *r)
{
	int tp = r->tensor > 0 ? r->tensor : 1,
	    pp = r->pipeline > 0 ? r->pipeline : 1;
	size_t i;

	p->nspares = (size_t)r->spares;
	p->nnodes -= p->nspares;
	p->spares = xcalloc(p->nspares, sizeof(*p->spares));
	for (i = 0; i < p->nspares; i++) {
		p->spares[i] = p->nodes[p->nnodes + i];
		p->spares[i].first_rank = -1;
	}
	p->nranks = p->nnodes * (size_t)p->tasks_per_node;
	for (i = 0; i < p->nranks; i++) {
		p->ranks[i].tp = (int)i % tp;
		p->ranks[i].pp = (int)i / tp % pp;
		p->ranks[i].dp = (int)i / (tp * pp);
	}
	p->tensor = tp;
	p->pipeline = pp;
	p->data = (int)p->nranks / (tp * pp);
}

/*
 * With spares, the nodes and their spares are planned as one set, so the
 * spares sit as close to the rest as the tree allows (the fewest switches
 * for all of them: the same leaf, else the same spine); the ranks go on
 * the first nodes in plan order, the spares are the last. If the tensor
 * and pipeline groups do not tile the larger set, it is planned without
 * them and only the ranks keep them.
 */
struct plan *
plan_make(const struct topo *t, const struct plan_request *r, char **cause)
{
	struct plan_request all = *r;
	struct req q;
	struct plan *p;

	if (r->spares <= 0)
		return plan_make_one(t, r, cause);
	if (plan_check(r, &q, cause) != 0)
		return NULL;
	if (r->spares > TOPO_MAX_NODES - r->nodes) {
		set_cause(cause, "too many spare nodes");
		return NULL;
	}
	all.nodes = r->nodes + r->spares;
	all.data = 0;
	all.spares = 0;
	if (plan_check(&all, &q, NULL) != 0)
		all.tensor = all.pipeline = 1;
	if ((p = plan_make_one(t, &all, cause)) != NULL)
		plan_split(p, r);
	return p;
}
