/*
 * plan-spread: policies spread and any, simple rules over the units each
 * leaf switch can give, and the tree order of leaves every policy uses.
 */
#include "config.h"

#include <stdlib.h>

#include "plan-int.h"
#include "util.h"

/* Leaves in tree order (depth first, children in order). */
size_t
plan_leaves(const struct topo *t, int *out)
{
	int *stack = xreallocarray(NULL, t->nswitches + 1, sizeof(int));
	int top = 0, v;
	size_t n = 0, i;

	stack[top++] = t->root;
	while (top > 0) {
		v = stack[--top];
		if (t->switches[v].nchildren == 0) {
			out[n++] = v;
			continue;
		}
		for (i = t->switches[v].nchildren; i-- > 0;)
			stack[top++] = t->switches[v].children[i];
	}
	free(stack);
	return n;
}

int
plan_spread(const struct topo *t, const int *cap, int need, int limit, int any,
    int *take)
{
	int *leaves, lo, hi, mid;
	size_t n, i, j, m;
	long sum;

	leaves = xreallocarray(NULL, t->nswitches + 1, sizeof(int));
	n = plan_leaves(t, leaves);
	for (i = m = 0; i < n; i++)
		if (cap[leaves[i]] > 0)
			leaves[m++] = leaves[i];
	if (limit > 0 && (size_t)limit < m) {
		/* The largest leaves, kept in tree order among equals. */
		for (i = 1; i < m; i++)
			for (j = i;
			     j > 0 && cap[leaves[j]] > cap[leaves[j - 1]];
			     j--) {
				mid = leaves[j];
				leaves[j] = leaves[j - 1];
				leaves[j - 1] = mid;
			}
		m = (size_t)limit;
	}
	for (sum = 0, i = 0; i < m; i++)
		sum += cap[leaves[i]];
	if (sum < need) {
		free(leaves);
		return -1;
	}
	if (any) {
		for (i = 0; i < m && need > 0; i++) {
			take[leaves[i]] =
			    cap[leaves[i]] < need ? cap[leaves[i]] : need;
			need -= take[leaves[i]];
		}
		free(leaves);
		return 0;
	}
	/* The fewest units per leaf that still hold the job. */
	for (lo = 1, hi = need; lo < hi;) {
		mid = lo + (hi - lo) / 2;
		for (sum = 0, i = 0; i < m; i++)
			sum += cap[leaves[i]] < mid ? cap[leaves[i]] : mid;
		if (sum >= need)
			hi = mid;
		else
			lo = mid + 1;
	}
	for (i = 0; i < m; i++) {
		take[leaves[i]] =
		    cap[leaves[i]] < lo - 1 ? cap[leaves[i]] : lo - 1;
		need -= take[leaves[i]];
	}
	for (i = 0; i < m && need > 0; i++)
		if (cap[leaves[i]] >= lo) {
			take[leaves[i]]++;
			need--;
		}
	free(leaves);
	return 0;
}
