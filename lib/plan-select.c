/*
 * plan-select: pick the nodes of a job for one choice of GPU indices.
 *
 * Pack is a dynamic program over the switch tree. For each switch v and
 * each amount a (units, capped at the job's need) it keeps the best key of
 * a placement of at least a units inside v's subtree; with a leaf limit it
 * keeps one such table per number of leaf switches used. A switch's table
 * is the min-plus product of its children's tables plus its own weight (one
 * switch at its level, its free capacity), and the key orders placements
 * as plan.h says, so the table entry for the job's need at the lowest
 * switch that has one is the optimum.
 *
 * Two facts keep it fast: tables are monotone in a ("at least"), so only
 * the last amount of each run of equal keys needs combining; and a leaf
 * whose nodes all cost the same has one such run. Spread and any are
 * simple rules over the leaves' capacities.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "plan-int.h"
#include "util.h"

#define KEY_INF (~(plan_key)0)
#define SUF_INF (UINT64_MAX / 4)
#define ARENA_CHUNK (1 << 20)

struct rec {
	int32_t a1, a2; /* amounts from the prefix and the child */
	int16_t j1, j2; /* leaf switches from each */
};

struct step {
	plan_key v;
	int32_t a;
	int32_t j;
};

struct table {
	int done;
	int n; /* highest amount kept */
	plan_key *f; /* [j][a], jdim * (n + 1) */
	int *kids; /* children with capacity, in order */
	int nkids;
};

struct chunk {
	struct chunk *next;
	size_t used, size;
	char data[];
};

struct item {
	uint64_t a, b;
	int pos;
	int node;
};

struct sel {
	const struct plan_ctx *c;
	const struct topo *t;
	int jdim;
	int *unit_nodes; /* k per unit */
	int *unit_pos; /* position of each in its leaf */
	uint64_t *unit_cost;
	int *first; /* per switch: its first unit */
	int *cap; /* per switch: units */
	int *take; /* per switch: units taken */
	struct table *tab;
	struct chunk *arena;
	struct step *sp, *sf; /* scratch for step lists */
	plan_key *qa, *qb; /* scratch for folds */
	uint64_t cstar; /* fewest switches, when pruning */
	size_t nscratch;
};

static void *arena_alloc(struct sel *, size_t);
static void sel_units(struct sel *);
static struct table *sel_table(struct sel *, int);
static void sel_combine(struct sel *, const plan_key *, int,
    const struct table *, plan_key *, int *, struct rec *, const uint64_t *);
static plan_key *sel_fold(struct sel *, int, struct rec **, int *, int *, int);
static uint64_t *sel_suffix(struct sel *, int);
static void sel_take(struct sel *, int, int, int, int);
static plan_key sel_final(struct sel *, int);
static int sel_pack(struct sel *, struct plan_choice *);
static void sel_trim(struct sel *, int);
static void sel_order(struct sel *, struct plan_choice *);

static void *
arena_alloc(struct sel *s, size_t size)
{
	struct chunk *ch = s->arena;
	void *p;

	size = (size + 15) & ~(size_t)15;
	if (ch == NULL || ch->size - ch->used < size) {
		ch = xmalloc(sizeof(*ch) + 16 +
		    (size > ARENA_CHUNK ? size : ARENA_CHUNK));
		ch->next = s->arena;
		ch->used = (16 - ((uintptr_t)ch->data & 15)) & 15;
		ch->size = (size > ARENA_CHUNK ? size : ARENA_CHUNK) + 16;
		s->arena = ch;
	}
	p = ch->data + ch->used;
	ch->used += size;
	return p;
}

static int
cmp_item_cb(const void *x, const void *y)
{
	const struct item *a = x, *b = y;

	if (a->a != b->a)
		return a->a < b->a ? -1 : 1;
	if (a->b != b->b)
		return a->b < b->b ? -1 : 1;
	return a->pos - b->pos;
}

/*
 * Units of every leaf, cheapest first. Groups of k nodes come from one
 * NVLink domain, cheapest nodes first; per domain the group costs rise, so
 * taking the cheapest a groups of the leaf is the best way to take a.
 */
static void
sel_units(struct sel *s)
{
	const struct topo *t = s->t;
	const struct plan_ctx *c = s->c;
	const struct topo_switch *sw;
	struct item *it, *units;
	size_t i, m, nu, total = 0, g;
	int k = c->k, x, node;
	uint64_t sum;

	for (m = 1, i = 0; i < t->nswitches; i++)
		if (t->switches[i].nnodes > m)
			m = t->switches[i].nnodes;
	it = xreallocarray(NULL, m, sizeof(*it));
	units = xreallocarray(NULL, m, sizeof(*units));
	s->unit_nodes = arena_alloc(s, (t->nnodes + 1) * sizeof(int));
	s->unit_pos = arena_alloc(s, (t->nnodes + 1) * sizeof(int));
	s->unit_cost = arena_alloc(s, (t->nnodes + 1) * sizeof(uint64_t));
	for (i = 0; i < t->nswitches; i++) {
		sw = &t->switches[i];
		s->first[i] = (int)total;
		s->cap[i] = 0;
		for (m = 0, x = 0; x < (int)sw->nnodes; x++) {
			node = sw->nodes[x];
			if (!c->eligible[node])
				continue;
			it[m].a = k > 1 ? (uint64_t)t->nodes[node].nvlink_domain
			                : c->cost[node];
			it[m].b = k > 1 ? c->cost[node] : 0;
			it[m].pos = x;
			it[m++].node = node;
		}
		if (k == 1) {
			for (g = 1; g < m && it[g].a == it[0].a; g++)
				;
			if (g < m)
				qsort(it, m, sizeof(*it), cmp_item_cb);
			for (g = 0; g < m; g++) {
				s->unit_nodes[total + g] = it[g].node;
				s->unit_pos[total + g] = it[g].pos;
				s->unit_cost[total + g] = it[g].a;
			}
			s->cap[i] = (int)m;
			total += m;
			continue;
		}
		qsort(it, m, sizeof(*it), cmp_item_cb);
		for (nu = 0, g = 0; g + k <= m;) {
			if (it[g + k - 1].a != it[g].a) {
				g++; /* fewer than k left in this domain */
				continue;
			}
			for (sum = 0, x = 0; x < k; x++)
				sum += it[g + x].b;
			units[nu].a = sum;
			units[nu].b = 0;
			units[nu].pos = it[g].pos;
			units[nu++].node = (int)g;
			g += k;
		}
		qsort(units, nu, sizeof(*units), cmp_item_cb);
		for (g = 0; g < nu; g++) {
			for (x = 0; x < k; x++) {
				s->unit_nodes[(total + g) * k + x] =
				    it[units[g].node + x].node;
				s->unit_pos[(total + g) * k + x] =
				    it[units[g].node + x].pos;
			}
			s->unit_cost[total + g] = units[g].a;
		}
		s->cap[i] = (int)nu;
		total += nu;
	}
	free(it);
	free(units);
}

/* Units are counted at leaves; a parent's capacity is its children's sum. */
static int
sel_cap(struct sel *s, int v)
{
	const struct topo_switch *sw = &s->t->switches[v];
	size_t i;

	if (sw->nchildren == 0)
		return s->cap[v];
	s->cap[v] = 0;
	for (i = 0; i < sw->nchildren; i++)
		s->cap[v] += sel_cap(s, sw->children[i]);
	return s->cap[v];
}

/* The last amount of each run of equal keys, per leaf count. */
static size_t
sel_steps(const plan_key *f, int n, int jdim, struct step *out)
{
	size_t m = 0;
	int j, a;

	for (j = 0; j < jdim; j++)
		for (a = 0; a <= n; a++) {
			if (f[j * (n + 1) + a] == KEY_INF)
				continue;
			if (a < n &&
			    f[j * (n + 1) + a + 1] == f[j * (n + 1) + a])
				continue;
			out[m].v = f[j * (n + 1) + a];
			out[m].a = a;
			out[m++].j = j;
		}
	return m;
}

/*
 * Fold child table ct into the prefix table pf (highest amount np), giving
 * q (highest amount *nq). With r, also note how each entry of q was made,
 * for the walk back down; without, the inner loop has no branches.
 */
static void
sel_combine(struct sel *s, const plan_key *pf, int np, const struct table *ct,
    plan_key *q, int *pnq, struct rec *r, const uint64_t *suffix)
{
	int jdim = s->jdim, need = s->c->need, nq, j, t, a1, j1, cshift;
	size_t nsp, nsf, x, y, idx, scratch;
	plan_key key, p, *e;

	nq = np + ct->n > need ? need : np + ct->n;
	scratch = (size_t)jdim * ((np > ct->n ? np : ct->n) + 1);
	if (scratch > s->nscratch) {
		s->nscratch = scratch;
		s->sp = xreallocarray(s->sp, scratch, sizeof(*s->sp));
		s->sf = xreallocarray(s->sf, scratch, sizeof(*s->sf));
	}
	nsp = sel_steps(pf, np, jdim, s->sp);
	nsf = sel_steps(ct->f, ct->n, jdim, s->sf);
	for (idx = 0; idx < (size_t)jdim * (nq + 1); idx++)
		q[idx] = KEY_INF;
	cshift = s->c->layout.count_shift[0];
	for (x = 0; x < nsp; x++) {
		p = s->sp[x].v;
		a1 = s->sp[x].a;
		j1 = s->sp[x].j;
		/* Skip what cannot be completed with the fewest switches. */
		if (suffix != NULL &&
		    (uint64_t)(p >> cshift) +
		            suffix[a1 < need ? need - a1 : 0] !=
		        s->cstar)
			continue;
		for (y = 0; y < nsf; y++) {
			j = j1 + s->sf[y].j;
			if (j >= jdim)
				continue;
			t = a1 + s->sf[y].a;
			t = t > need ? need : t;
			key = p + s->sf[y].v;
			e = &q[(size_t)j * (nq + 1) + t];
			if (r == NULL) {
				*e = key < *e ? key : *e;
				continue;
			}
			if (key < *e) {
				*e = key;
				idx = (size_t)j * (nq + 1) + t;
				r[idx].a1 = a1;
				r[idx].j1 = (int16_t)j1;
				r[idx].a2 = s->sf[y].a;
				r[idx].j2 = (int16_t)s->sf[y].j;
			}
		}
	}
	/* At least t: whatever holds t + 1 units holds t. */
	for (j = 0; j < jdim; j++)
		for (t = nq - 1; t >= 1; t--) {
			idx = (size_t)j * (nq + 1) + t;
			if (q[idx + 1] < q[idx]) {
				q[idx] = q[idx + 1];
				if (r != NULL)
					r[idx] = r[idx + 1];
			}
		}
	*pnq = nq;
}

/*
 * Switch counts only (the top bits of a key) of the best way to hold at
 * least r units in children i.. of v, for every i and r: (nkids + 1) rows
 * of need + 1. What lets a final fold skip hopeless prefixes.
 */
static uint64_t *
sel_suffix(struct sel *s, int v)
{
	const struct table *tv = &s->tab[v], *ct;
	int need = s->c->need, cshift = s->c->layout.count_shift[0], i, a, b, t;
	size_t row = (size_t)need + 1;
	uint64_t *suf, *cur, *next, fa, *steps, nsteps;

	suf = xreallocarray(NULL, (tv->nkids + 1) * row, sizeof(*suf));
	steps = xreallocarray(NULL, 2 * row, sizeof(*steps));
	next = suf + (size_t)tv->nkids * row;
	for (t = 0; t <= need; t++)
		next[t] = t == 0 ? 0 : SUF_INF;
	for (i = tv->nkids - 1; i >= 0; i--) {
		cur = suf + (size_t)i * row;
		ct = &s->tab[tv->kids[i]];
		for (t = 0; t <= need; t++)
			cur[t] = next[t];
		for (nsteps = 0, a = 1; a <= ct->n; a++) {
			fa = (uint64_t)(ct->f[a] >> cshift);
			if (a < ct->n &&
			    (uint64_t)(ct->f[a + 1] >> cshift) == fa)
				continue;
			steps[2 * nsteps] = (uint64_t)a;
			steps[2 * nsteps++ + 1] = fa;
		}
		for (b = 0; b <= need; b++) {
			if (next[b] == SUF_INF ||
			    (b < need && next[b + 1] == next[b]))
				continue;
			for (a = 0; a < (int)nsteps; a++) {
				t = b + (int)steps[2 * a];
				t = t > need ? need : t;
				if (next[b] + steps[2 * a + 1] < cur[t])
					cur[t] = next[b] + steps[2 * a + 1];
			}
		}
		for (t = need - 1; t >= 0; t--)
			if (cur[t + 1] < cur[t])
				cur[t] = cur[t + 1];
		next = cur;
	}
	free(steps);
	return suf;
}

/*
 * Run the folds of switch v's children; recs (one array per child, or
 * NULL) keeps how each entry was made. With prune (only where v's table is
 * wanted at the job's need alone), prefixes that cannot end with the
 * fewest switches are skipped. Returns the final prefix in a scratch
 * buffer, valid until the next call.
 */
static plan_key *
sel_fold(struct sel *s, int v, struct rec **recs, int *qn, int *pn, int prune)
{
	struct table *tv = &s->tab[v];
	size_t size = (size_t)s->jdim * (s->c->need + 1);
	plan_key *cur, *next, *tmp;
	uint64_t *suf = NULL;
	int i, j, n = 0;

	if (s->qa == NULL) {
		s->qa = xreallocarray(NULL, size, sizeof(*s->qa));
		s->qb = xreallocarray(NULL, size, sizeof(*s->qb));
	}
	if (prune && s->jdim == 1 && s->c->layout.count_bits <= 62) {
		suf = sel_suffix(s, v);
		s->cstar = suf[s->c->need];
	}
	cur = s->qa;
	next = s->qb;
	for (j = 0; j < s->jdim; j++)
		cur[j] = j == 0 ? 0 : KEY_INF;
	for (i = 0; i < tv->nkids; i++) {
		sel_combine(s, cur, n, &s->tab[tv->kids[i]], next, &n,
		    recs == NULL ? NULL : recs[i],
		    suf == NULL ? NULL : suf + (size_t)i * (s->c->need + 1));
		if (qn != NULL)
			qn[i] = n;
		tmp = cur;
		cur = next;
		next = tmp;
	}
	free(suf);
	*pn = n;
	return cur;
}

static plan_key
sel_weight(const struct sel *s, int v)
{
	const struct plan_layout *l = &s->c->layout;
	int lv = s->t->switches[v].level;
	plan_key w = (plan_key)1 << l->count_shift[lv];

	if (l->free_shift[lv] >= 0)
		w += (plan_key)s->cap[v] << l->free_shift[lv];
	return w;
}

static struct table *
sel_table(struct sel *s, int v)
{
	const struct topo_switch *sw = &s->t->switches[v];
	struct table *tv = &s->tab[v];
	int jdim = s->jdim, need = s->c->need, n, a, j, i;
	plan_key *f, w = sel_weight(s, v), sum;
	size_t idx;

	if (tv->done)
		return tv;
	tv->done = 1;
	if (sw->nchildren == 0) {
		n = s->cap[v] < need ? s->cap[v] : need;
		f = arena_alloc(s, (size_t)jdim * (n + 1) * sizeof(*f));
		for (idx = 0; idx < (size_t)jdim * (n + 1); idx++)
			f[idx] = KEY_INF;
		f[0] = 0;
		j = jdim > 1 ? 1 : 0;
		for (sum = w, a = 1; a <= n; a++) {
			sum += s->unit_cost[s->first[v] + a - 1];
			f[j * (n + 1) + a] = sum;
		}
		tv->f = f;
		tv->n = n;
		return tv;
	}
	tv->kids = arena_alloc(s, sw->nchildren * sizeof(int));
	for (i = 0; i < (int)sw->nchildren; i++)
		if (s->cap[sw->children[i]] > 0)
			tv->kids[tv->nkids++] = sw->children[i];
	for (i = 0; i < tv->nkids; i++)
		sel_table(s, tv->kids[i]);
	f = sel_fold(s, v, NULL, NULL, &n, 0);
	tv->f = arena_alloc(s, (size_t)jdim * (n + 1) * sizeof(*f));
	tv->f[0] = 0;
	for (idx = 1; idx < (size_t)jdim * (n + 1); idx++)
		tv->f[idx] = f[idx] == KEY_INF ? KEY_INF : f[idx] + w;
	tv->n = n;
	return tv;
}

/*
 * Walk back down from v, which is to hold a units on j leaves: fold v's
 * children again, this time noting how each entry was made.
 */
static void
sel_take(struct sel *s, int v, int j, int a, int prune)
{
	struct table *tv = &s->tab[v];
	struct rec **recs, *r;
	int i, n, *qn;

	if (s->t->switches[v].nchildren == 0) {
		s->take[v] = a;
		return;
	}
	recs = xreallocarray(NULL, tv->nkids + 1, sizeof(*recs));
	qn = xreallocarray(NULL, tv->nkids + 1, sizeof(*qn));
	/* Each fold's size follows from the capacities alone. */
	for (n = 0, i = 0; i < tv->nkids; i++) {
		n += s->tab[tv->kids[i]].n;
		n = n > s->c->need ? s->c->need : n;
		recs[i] = xreallocarray(
		    NULL, (size_t)s->jdim * (n + 1), sizeof(**recs));
	}
	sel_fold(s, v, recs, qn, &n, prune);
	for (i = tv->nkids - 1; i >= 0 && (a > 0 || j > 0); i--) {
		r = &recs[i][(size_t)j * (qn[i] + 1) + a];
		if (r->a2 > 0)
			sel_take(s, tv->kids[i], r->j2, r->a2, 0);
		j = r->j1;
		a = r->a1;
	}
	for (i = 0; i < tv->nkids; i++)
		free(recs[i]);
	free(recs);
	free(qn);
}

/*
 * Key of the best placement of the whole job under v. Without a leaf limit
 * any switch with the capacity holds the job, so its table is wanted at
 * the job's need alone and the fold may prune.
 */
static plan_key
sel_final(struct sel *s, int v)
{
	const struct topo_switch *sw = &s->t->switches[v];
	struct table *tv = &s->tab[v];
	plan_key *f, best = KEY_INF;
	int i, j, n, need = s->c->need;

	if (s->jdim > 1 || sw->nchildren == 0) {
		sel_table(s, v);
		for (j = s->jdim > 1 ? 1 : 0; j < s->jdim; j++)
			if (tv->f[(size_t)j * (tv->n + 1) + need] < best)
				best = tv->f[(size_t)j * (tv->n + 1) + need];
		return best;
	}
	tv->kids = arena_alloc(s, sw->nchildren * sizeof(int));
	for (i = 0; i < (int)sw->nchildren; i++)
		if (s->cap[sw->children[i]] > 0)
			tv->kids[tv->nkids++] = sw->children[i];
	for (i = 0; i < tv->nkids; i++)
		sel_table(s, tv->kids[i]);
	f = sel_fold(s, v, NULL, NULL, &n, 1);
	return f[need] == KEY_INF ? KEY_INF : f[need] + sel_weight(s, v);
}

static int
sel_pack(struct sel *s, struct plan_choice *ch)
{
	const struct topo *t = s->t;
	int need = s->c->need, level, v, j, best = -1, bestj = 0;
	plan_key key, bestkey = KEY_INF;
	struct table *tv;

	for (level = 0; level < t->nlevels && best == -1; level++) {
		for (v = 0; v < (int)t->nswitches; v++) {
			if (t->switches[v].level != level || s->cap[v] < need)
				continue;
			if (s->jdim == 1) {
				if ((key = sel_final(s, v)) < bestkey) {
					bestkey = key;
					best = v;
				}
				continue;
			}
			tv = sel_table(s, v);
			for (j = 1; j < s->jdim; j++) {
				key = tv->f[(size_t)j * (tv->n + 1) + need];
				if (key < bestkey) {
					bestkey = key;
					best = v;
					bestj = j;
				}
			}
		}
		if (best != -1)
			ch->level = level;
	}
	if (best == -1)
		return -1;
	ch->key = bestkey;
	sel_take(s, best, bestj, need, s->jdim == 1);
	return 0;
}

/* Drop units beyond the need, dearest first, never emptying a leaf. */
static void
sel_trim(struct sel *s, int surplus)
{
	const struct topo *t = s->t;
	uint64_t c, worst;
	size_t v;
	int pick;

	while (surplus > 0) {
		pick = -1;
		worst = 0;
		for (v = 0; v < t->nswitches; v++) {
			if (s->take[v] < 2)
				continue;
			c = s->unit_cost[s->first[v] + s->take[v] - 1];
			if (pick == -1 || c >= worst) {
				pick = (int)v;
				worst = c;
			}
		}
		if (pick == -1)
			for (v = t->nswitches; v-- > 0 && pick == -1;)
				if (s->take[v] > 0)
					pick = (int)v;
		s->take[pick]--;
		surplus--;
	}
}

static int
cmp_int_pair_cb(const void *x, const void *y)
{
	const int *a = x, *b = y;

	if (a[0] != b[0])
		return a[0] < b[0] ? -1 : 1;
	return a[1] - b[1];
}

/*
 * Nodes leaf by leaf in tree order; within a leaf by NVLink domain, then in
 * the leaf's own order, so each group of k nodes is one unit.
 */
static void
sel_order(struct sel *s, struct plan_choice *ch)
{
	const struct topo *t = s->t;
	int k = s->c->k, *leaves, *pairs, u, x, m;
	size_t n, i, total = 0;

	leaves = xreallocarray(NULL, t->nswitches + 1, sizeof(int));
	n = plan_leaves(t, leaves);
	for (i = 0; i < n; i++)
		total += (size_t)s->take[leaves[i]] * k;
	ch->nodes = xreallocarray(NULL, total + 1, sizeof(int));
	ch->nnodes = 0;
	pairs = xreallocarray(NULL, 3 * (total + 1), sizeof(int));
	for (i = 0; i < n; i++) {
		for (m = 0, u = 0; u < s->take[leaves[i]]; u++)
			for (x = 0; x < k; x++) {
				int at = (s->first[leaves[i]] + u) * k + x;
				int node = s->unit_nodes[at];

				pairs[2 * m] =
				    k > 1 ? t->nodes[node].nvlink_domain : 0;
				pairs[2 * m + 1] = s->unit_pos[at];
				m++;
			}
		qsort(pairs, m, 2 * sizeof(int), cmp_int_pair_cb);
		for (x = 0; x < m; x++)
			ch->nodes[ch->nnodes++] =
			    t->switches[leaves[i]].nodes[pairs[2 * x + 1]];
	}
	free(pairs);
	free(leaves);
}

int
plan_select(const struct plan_ctx *c, struct plan_choice *ch)
{
	const struct topo *t = c->t;
	struct sel s = { .c = c, .t = t };
	struct chunk *next;
	size_t v;
	int rc, taken;

	memset(ch, 0, sizeof(*ch));
	s.jdim = c->limit > 0 && c->policy == POLICY_PACK ? c->limit + 1 : 1;
	s.first = arena_alloc(&s, (t->nswitches + 1) * sizeof(int));
	s.cap = arena_alloc(&s, (t->nswitches + 1) * sizeof(int));
	s.take = arena_alloc(&s, (t->nswitches + 1) * sizeof(int));
	s.tab = arena_alloc(&s, (t->nswitches + 1) * sizeof(*s.tab));
	memset(s.take, 0, (t->nswitches + 1) * sizeof(int));
	memset(s.tab, 0, (t->nswitches + 1) * sizeof(*s.tab));
	sel_units(&s);
	sel_cap(&s, t->root);
	if (c->policy == POLICY_PACK)
		rc = sel_pack(&s, ch);
	else
		rc = plan_spread(t, s.cap, c->need, c->limit,
		    c->policy == POLICY_ANY, s.take);
	if (rc == 0) {
		for (taken = 0, v = 0; v < t->nswitches; v++)
			taken += s.take[v];
		sel_trim(&s, taken - c->need);
		sel_order(&s, ch);
	}
	while (s.arena != NULL) {
		next = s.arena->next;
		free(s.arena);
		s.arena = next;
	}
	free(s.sp);
	free(s.sf);
	free(s.qa);
	free(s.qb);
	return rc;
}
