/*
 * check_plan-brute: the planner against exhaustive search. Random small
 * trees (up to 12 nodes, unbalanced, nodes under no switch, mixed GPU
 * counts, NVLink domains, GPU types, failures, every state) and random
 * requests; the objective of plan.h is computed here from scratch for the
 * planner's nodes and for every subset of nodes and GPU set, and the two
 * best must be equal.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plan-test.h"
#include "plan.h"
#include "topo.h"
#include "util.h"

#define MAXL TOPO_MAX_DEPTH

/* The objective of plan.h, computed here from scratch for any node set. */
struct obj {
	int level;
	int count[MAXL];
	int free[MAXL];
	long cost;
};

struct brute {
	const struct topo *t;
	const struct plan_request *r;
	int k, gpn;
	uint64_t mask;
	unsigned char el[64];
	int cap[256];
	int pick[64], npick;
	int cand[64], ncand;
	int found;
	struct obj best;
};

static int
excluded(const struct plan_request *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nexclude; i++)
		if (strcmp(r->exclude[i], name) == 0)
			return 1;
	return 0;
}

static int
eligible(const struct topo *t, const struct plan_request *r, int k, int gpn,
    uint64_t mask, int i)
{
	const struct topo_node *n = &t->nodes[i];

	if (n->state != TOPO_IDLE && n->state != TOPO_MIXED &&
	    n->state != TOPO_POWERED_DOWN)
		return 0;
	if (excluded(r, n->name) || n->gpus < gpn)
		return 0;
	if (k > 1 && n->nvlink_domain < 0)
		return 0;
	if (r->gpu_type != NULL &&
	    (n->gpu_type == NULL || strcasecmp(r->gpu_type, n->gpu_type) != 0))
		return 0;
	if (gpn > 0 && (n->free_gpus == 0 || (n->free_gpus & mask) != mask))
		return 0;
	return 1;
}

static long
node_cost(const struct topo_node *n, int gpn)
{
	int spare = gpn > 0 ? __builtin_popcountll(n->free_gpus) - gpn : 0;
	long f = n->failures > 255 ? 255 : n->failures;

	if (spare > 127)
		spare = 127;
	return f * 256 + (n->state == TOPO_POWERED_DOWN) * 128 +
	    (spare < 0 ? 0 : spare);
}

/* Capacity in units of every switch for the eligible set b->el. */
static void
brute_caps(struct brute *b)
{
	const struct topo *t = b->t;
	int dom[64], cnt[64], nd, s, p, d;
	size_t i, x;

	memset(b->cap, 0, sizeof(b->cap));
	for (i = 0; i < t->nswitches; i++) {
		if (t->switches[i].nchildren > 0)
			continue;
		nd = 0;
		for (x = 0; x < t->switches[i].nnodes; x++) {
			int n = t->switches[i].nodes[x];

			if (!b->el[n])
				continue;
			for (d = 0; d < nd &&
			     dom[d] !=
			         (b->k > 1 ? t->nodes[n].nvlink_domain : 0);
			     d++)
				;
			if (d == nd) {
				dom[nd] =
				    b->k > 1 ? t->nodes[n].nvlink_domain : 0;
				cnt[nd++] = 0;
			}
			cnt[d]++;
		}
		for (d = 0; d < nd; d++)
			for (p = (int)i; p != -1; p = t->switches[p].parent)
				b->cap[p] += cnt[d] / b->k;
	}
	(void)s;
}

/* Objective of nodes[0..n) with the current caps; -1 if it breaks a rule. */
static int
objective(const struct brute *b, const int *nodes, int n, struct obj *o)
{
	const struct topo *t = b->t;
	int used[256] = { 0 }, lca, leaf, i, j, s, nleaves = 0, same;

	memset(o, 0, sizeof(*o));
	lca = t->nodes[nodes[0]].leaf;
	for (i = 0; i < n; i++) {
		leaf = t->nodes[nodes[i]].leaf;
		while (!topo_switch_contains(t, lca, leaf))
			lca = t->switches[lca].parent;
		o->cost += node_cost(&t->nodes[nodes[i]], b->gpn);
		if (b->k > 1) {
			for (same = 0, j = 0; j < n; j++)
				if (t->nodes[nodes[j]].leaf == leaf &&
				    t->nodes[nodes[j]].nvlink_domain ==
				        t->nodes[nodes[i]].nvlink_domain)
					same++;
			if (same % b->k != 0)
				return -1;
		}
	}
	for (i = 0; i < n; i++)
		for (s = t->nodes[nodes[i]].leaf; s != -1;
		     s = t->switches[s].parent) {
			if (!used[s]) {
				used[s] = 1;
				o->count[t->switches[s].level]++;
				o->free[t->switches[s].level] += b->cap[s];
				if (t->switches[s].level == 0)
					nleaves++;
			}
			if (s == lca)
				break;
		}
	if (b->r->max_leaf_switches > 0 && nleaves > b->r->max_leaf_switches)
		return -1;
	o->level = t->switches[lca].level;
	return 0;
}

static int
obj_cmp(const struct obj *a, const struct obj *b, int nlevels)
{
	int l;

	if (a->level != b->level)
		return a->level < b->level ? -1 : 1;
	for (l = nlevels - 1; l >= 0; l--)
		if (a->count[l] != b->count[l])
			return a->count[l] < b->count[l] ? -1 : 1;
	for (l = nlevels - 1; l >= 0; l--)
		if (a->free[l] != b->free[l])
			return a->free[l] < b->free[l] ? -1 : 1;
	if (a->cost != b->cost)
		return a->cost < b->cost ? -1 : 1;
	return 0;
}

static void
brute_rec(struct brute *b, int from, int left)
{
	struct obj o;
	int i;

	if (left == 0) {
		if (objective(b, b->pick, b->npick, &o) == 0 &&
		    (!b->found || obj_cmp(&o, &b->best, b->t->nlevels) < 0)) {
			b->best = o;
			b->found = 1;
		}
		return;
	}
	for (i = from; i <= b->ncand - left; i++) {
		b->pick[b->npick++] = b->cand[i];
		brute_rec(b, i + 1, left - 1);
		b->npick--;
	}
}

static void
brute_set(struct brute *b, uint64_t mask)
{
	size_t i;

	b->mask = mask;
	b->ncand = 0;
	for (i = 0; i < b->t->nnodes; i++) {
		b->el[i] = eligible(b->t, b->r, b->k, b->gpn, mask, (int)i);
		if (b->el[i])
			b->cand[b->ncand++] = (int)i;
	}
	brute_caps(b);
}

/* Best objective over every GPU set and every node set; 0 if none fits. */
static int
brute_force(
    const struct topo *t, const struct plan_request *r, int k, struct obj *best)
{
	struct brute b = { .t = t, .r = r, .k = k, .gpn = r->gpus_per_node };
	uint64_t mask;
	int maxg = 0;
	size_t i;

	for (i = 0; i < t->nnodes; i++)
		if (t->nodes[i].gpus > maxg)
			maxg = t->nodes[i].gpus;
	if (b.gpn == 0) {
		brute_set(&b, 0);
		brute_rec(&b, 0, r->nodes);
	} else
		for (mask = 0; mask < ((uint64_t)1 << maxg); mask++) {
			if (__builtin_popcountll(mask) != b.gpn)
				continue;
			brute_set(&b, mask);
			brute_rec(&b, 0, r->nodes);
		}
	*best = b.best;
	return b.found;
}

/* The objective of a plan, and its hard rules. */
static void
plan_objective(const struct topo *t, const struct plan_request *r, int k,
    const struct plan *p, struct obj *o)
{
	struct brute b = { .t = t, .r = r, .k = k, .gpn = r->gpus_per_node };
	int nodes[64];
	size_t i;

	brute_set(&b, p->gpu_mask);
	ck_assert_int_eq(__builtin_popcountll(p->gpu_mask), b.gpn);
	for (i = 0; i < p->nnodes; i++) {
		nodes[i] = p->nodes[i].topo_index;
		ck_assert_msg(
		    b.el[nodes[i]], "node %s not eligible", p->nodes[i].name);
		if (k > 1 && i % k != 0) {
			ck_assert_int_eq(t->nodes[nodes[i]].nvlink_domain,
			    t->nodes[nodes[i - 1]].nvlink_domain);
			ck_assert_int_eq(t->nodes[nodes[i]].leaf,
			    t->nodes[nodes[i - 1]].leaf);
		}
	}
	ck_assert_int_eq(p->nnodes, r->nodes);
	ck_assert_int_eq(objective(&b, nodes, (int)p->nnodes, o), 0);
}

static uint64_t
rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

struct rtree {
	struct topo *t;
	uint64_t *rng;
	int nsw, nnodes, gpus, domains, types;
};

static void
rtree_node(struct rtree *rt, char *list, size_t len)
{
	struct topo_node_info info = { 0 };
	char name[16];
	uint64_t all;
	int r = (int)(rnd(rt->rng) % 100);

	snprintf(name, sizeof(name), "n%d", rt->nnodes++);
	info.name = name;
	info.gpus = rt->gpus == 0 ? (rnd(rt->rng) % 2 ? 2 : 4) : rt->gpus;
	all = ((uint64_t)1 << info.gpus) - 1;
	info.free_gpus = all;
	info.state = TOPO_IDLE;
	if (r < 15) {
		info.state = TOPO_MIXED;
		info.free_gpus = rnd(rt->rng) & all;
		if (info.free_gpus == 0 || info.free_gpus == all)
			info.free_gpus = 1;
	} else if (r < 25) {
		info.state = TOPO_ALLOCATED;
		info.free_gpus = 0;
	} else if (r < 30)
		info.state = TOPO_DRAIN;
	else if (r < 34)
		info.state = TOPO_DOWN;
	else if (r < 40)
		info.state = TOPO_POWERED_DOWN;
	info.failures = rnd(rt->rng) % 5 == 0 ? 1 + (int)(rnd(rt->rng) % 3) : 0;
	info.nvlink_domain = rt->domains ? (int)(rnd(rt->rng) % 3) : -1;
	if (rt->types)
		info.gpu_type = rnd(rt->rng) % 3 == 0 ? "b" : "a";
	ck_assert_int_eq(topo_add_node(rt->t, &info, NULL), 0);
	if (*list != '\0')
		strncat(list, ",", len - strlen(list) - 1);
	strncat(list, name, len - strlen(list) - 1);
}

/* A random switch of the given height; returns its name in out. */
static void
rtree_switch(struct rtree *rt, int level, char *out, size_t outlen)
{
	char list[512] = "", child[32];
	int i, n;

	snprintf(out, outlen, "s%d", rt->nsw++);
	if (level == 0 || rt->nnodes >= 11) {
		n = 1 + (int)(rnd(rt->rng) % 4);
		for (i = 0; i < n && rt->nnodes < 12; i++)
			rtree_node(rt, list, sizeof(list));
		ck_assert_int_eq(topo_add_switch(rt->t, out, NULL,
		                     *list != '\0' ? list : NULL, NULL),
		    0);
		return;
	}
	n = 1 + (int)(rnd(rt->rng) % 3);
	for (i = 0; i < n; i++) {
		/* Now and then skip a level: unbalanced trees. */
		rtree_switch(rt,
		    level > 1 && rnd(rt->rng) % 4 == 0 ? level - 2 : level - 1,
		    child, sizeof(child));
		if (*list != '\0')
			strcat(list, ",");
		strcat(list, child);
	}
	ck_assert_int_eq(topo_add_switch(rt->t, out, list, NULL, NULL), 0);
}

START_TEST(test_exhaustive)
{
	static const int gpn_choice[] = { 0, 1, 2, -1 };
	const char *excl[1];
	struct plan_request r;
	struct plan *p;
	struct obj po, best;
	uint64_t seed, rng;
	struct rtree rt;
	char root[32], *cause;
	int found, k, tpn, mismatches = 0, plans = 0;

	for (seed = (uint64_t)_i * 100; seed < (uint64_t)_i * 100 + 100;
	     seed++) {
		rng = seed * 7919 + 1;
		memset(&rt, 0, sizeof(rt));
		rt.t = topo_create();
		rt.rng = &rng;
		rt.gpus = rnd(&rng) % 4 == 0 ? 0 : rnd(&rng) % 2 ? 2 : 4;
		rt.domains = rnd(&rng) % 3 == 0;
		rt.types = rnd(&rng) % 5 == 0;
		rtree_switch(&rt, (int)(rnd(&rng) % 4), root, sizeof(root));
		if (rnd(&rng) % 6 == 0) { /* a node under no switch */
			char none[32] = "";

			rtree_node(&rt, none, sizeof(none));
		}
		ck_assert_int_eq(topo_finish(rt.t, NULL), 0);

		memset(&r, 0, sizeof(r));
		r.nodes =
		    1 + (int)(rnd(&rng) % (rt.nnodes < 5 ? rt.nnodes : 5));
		r.gpus_per_node = gpn_choice[rnd(&rng) % 4];
		if (r.gpus_per_node < 0)
			r.gpus_per_node = rt.gpus == 0 ? 2 : rt.gpus;
		tpn = r.gpus_per_node > 0 ? r.gpus_per_node : 1;
		k = 1;
		if (rt.domains && rnd(&rng) % 2 == 0) {
			k = 2;
			r.nodes += r.nodes % 2;
			r.tensor = 2 * tpn;
		}
		r.max_leaf_switches = (int)(rnd(&rng) % 4);
		if (r.max_leaf_switches == 3)
			r.max_leaf_switches = 0;
		if (rnd(&rng) % 3 == 0) {
			excl[0] = rt.t->nodes[rnd(&rng) % rt.t->nnodes].name;
			r.exclude = excl;
			r.nexclude = 1;
		}
		if (rt.types && rnd(&rng) % 2 == 0)
			r.gpu_type = "a";

		cause = NULL;
		p = plan_make(rt.t, &r, &cause);
		found = brute_force(rt.t, &r, k, &best);
		if (p != NULL) {
			plans++;
			plan_objective(rt.t, &r, k, p, &po);
		}
		if ((p != NULL) != found ||
		    (found && obj_cmp(&po, &best, rt.t->nlevels) != 0)) {
			mismatches++;
			fprintf(stderr,
			    "seed %llu: planner %s (level %d cost "
			    "%ld), exhaustive %s (level %d cost %ld)\n",
			    (unsigned long long)seed, p ? "placed" : cause,
			    p ? po.level : -1, p ? po.cost : -1,
			    found ? "placed" : "none", found ? best.level : -1,
			    found ? best.cost : -1);
		}
		plan_free(p);
		free(cause);
		topo_free(rt.t);
	}
	ck_assert_int_eq(mismatches, 0);
	ck_assert_int_gt(plans, 30);
}
END_TEST

TCase *
plan_exhaustive_tcase(void)
{
	TCase *tc = tcase_create("exhaustive");

	/* 40 x 100 seeds. */
	tcase_add_loop_test(tc, test_exhaustive, 0, 40);
	tcase_set_timeout(tc, 60);
	return tc;
}
