/*
 * check_plan: the planner is optimal, keeps its hard rules and explains
 * itself. Hand-made trees where a greedy choice is wrong; rank layout,
 * NVLink groups, policies, failure messages and JSON. The cross-check
 * against exhaustive search is in check_plan-brute.c.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan-test.h"
#include "plan.h"
#include "topo.h"
#include "util.h"
#include "unit.h"

/* A leaf named name with nodes prefix1..: nfree idle ones, then nbusy. */
static void
leaf(struct topo *t, const char *name, const char *prefix, int nfree, int nbusy)
{
	struct topo_node_info info = { .gpus = 8, .nvlink_domain = -1 };
	char list[4096] = "", node[64];
	int i;

	for (i = 0; i < nfree + nbusy; i++) {
		snprintf(node, sizeof(node), "%s%d", prefix, i + 1);
		info.name = node;
		info.state = i < nfree ? TOPO_IDLE : TOPO_ALLOCATED;
		info.free_gpus = i < nfree ? 0xff : 0;
		ck_assert_int_eq(topo_add_node(t, &info, NULL), 0);
		if (i > 0)
			strcat(list, ",");
		strcat(list, node);
	}
	ck_assert_int_eq(topo_add_switch(t, name, NULL, list, NULL), 0);
}

static struct plan *
place(const struct topo *t, int nodes, int max_leaf, char **cause)
{
	struct plan_request r = { .nodes = nodes,
		.gpus_per_node = 8,
		.max_leaf_switches = max_leaf };

	return plan_make(t, &r, cause);
}

static int
uses_leaf(const struct plan *p, const char *leafname)
{
	size_t i;
	int n = 0;

	for (i = 0; i < p->nnodes; i++)
		n += strcmp(p->nodes[i].leaf, leafname) == 0;
	return n;
}

/*
 * Spares are planned with the nodes (the same leaf when it holds them
 * all, else as few more switches as can be), carry no ranks, and the ranks
 * keep the request's TP/PP/DP; with TP spanning two nodes, an odd number
 * of spares is planned without the groups and the ranks still have them.
 */
START_TEST(test_spares)
{
	struct topo *t = topo_create();
	struct plan_request r = { .nodes = 4, .gpus_per_node = 8, .spares = 1 };
	struct plan *p;
	json_t *j;
	char *list;
	size_t i;

	leaf(t, "l0", "a", 3, 0);
	leaf(t, "l1", "b", 5, 0);
	leaf(t, "l2", "c", 8, 0);
	topo_add_switch(t, "spa", "l0,l1", NULL, NULL);
	topo_add_switch(t, "spb", "l2", NULL, NULL);
	topo_add_switch(t, "core", "spa,spb", NULL, NULL);
	ck_assert_int_eq(topo_finish(t, NULL), 0);
	p = plan_make(t, &r, NULL);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(p->nnodes, 4);
	ck_assert_int_eq(p->nspares, 1);
	ck_assert_int_eq(p->nranks, 32);
	ck_assert_int_eq(p->data, 32);
	/* 5 nodes fit leaf l1 exactly: the spare shares the working leaf */
	ck_assert_str_eq(p->spares[0].leaf, "l1");
	ck_assert_int_eq(uses_leaf(p, "l1"), 4);
	list = plan_sparelist(p);
	ck_assert_str_eq(list, p->spares[0].name);
	free(list);
	for (i = 0; i < p->nnodes; i++)
		ck_assert_str_ne(p->nodes[i].name, p->spares[0].name);
	j = plan_to_json(p, t);
	ck_assert_int_eq(json_array_size(json_object_get(j, "spares")), 1);
	ck_assert_int_eq(json_array_size(json_object_get(j, "nodes")), 4);
	json_decref(j);
	plan_free(p);

	r.tensor = 16; /* two nodes per TP group; 4 + 1 nodes do not tile */
	p = plan_make(t, &r, NULL);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(p->nspares, 1);
	ck_assert_int_eq(p->tensor, 16);
	ck_assert_int_eq(p->data, 2);
	ck_assert_int_eq(p->ranks[17].tp, 1);
	ck_assert_int_eq(p->ranks[17].dp, 1);
	plan_free(p);
	/* without spares no plan has them */
	r.spares = 0;
	r.tensor = 0;
	p = plan_make(t, &r, NULL);
	ck_assert_int_eq(p->nspares, 0);
	ck_assert_ptr_null(plan_sparelist(p));
	plan_free(p);
	topo_free(t);
}
END_TEST

/* Largest-first takes 32 + 30; the best fit is 32 + 10 exactly. */
START_TEST(test_greedy_fit)
{
	struct topo *t = topo_create();
	struct plan *p;

	leaf(t, "l0", "a", 32, 0);
	leaf(t, "l1", "b", 30, 2);
	leaf(t, "l2", "c", 12, 20);
	leaf(t, "l3", "d", 10, 22);
	ck_assert_int_eq(topo_add_switch(t, "top", "l[0-3]", NULL, NULL), 0);
	ck_assert_int_eq(topo_finish(t, NULL), 0);
	p = place(t, 42, 0, NULL);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(p->switches_per_level[0], 2);
	ck_assert_int_eq(uses_leaf(p, "l0"), 32);
	ck_assert_int_eq(uses_leaf(p, "l3"), 10);
	ck_assert_int_eq(p->ring_leaf_crossings, 2);
	plan_free(p);
	/* 12 nodes: the 12-node leaf, not a slice of a whole free one. */
	p = place(t, 12, 0, NULL);
	ck_assert_int_eq(uses_leaf(p, "l2"), 12);
	ck_assert_int_eq(p->levels_spanned, 1);
	plan_free(p);
	topo_free(t);
}
END_TEST

/* Fewest leaves crosses the core; one spine holds the job in two leaves. */
START_TEST(test_greedy_spine)
{
	struct topo *t = topo_create();
	struct plan *p;

	leaf(t, "la1", "a", 20, 0);
	leaf(t, "la2", "b", 5, 0);
	leaf(t, "lb1", "c", 15, 0);
	leaf(t, "lb2", "d", 15, 0);
	topo_add_switch(t, "spa", "la1,la2", NULL, NULL);
	topo_add_switch(t, "spb", "lb1,lb2", NULL, NULL);
	topo_add_switch(t, "core", "spa,spb", NULL, NULL);
	ck_assert_int_eq(topo_finish(t, NULL), 0);
	p = place(t, 30, 0, NULL);
	ck_assert_str_eq(p->spanning_switch, "spb");
	ck_assert_int_eq(p->levels_spanned, 2);
	ck_assert_int_eq(p->switches_per_level[2], 0);
	ck_assert_int_eq(p->switches_per_level[1], 1);
	plan_free(p);
	topo_free(t);
}
END_TEST

/* The leaf limit trades a spine for fewer leaves only when it must. */
START_TEST(test_leaf_limit)
{
	struct topo *t = topo_create();
	struct plan *p;
	char *cause = NULL;

	leaf(t, "la1", "a", 4, 0);
	leaf(t, "la2", "b", 4, 0);
	leaf(t, "la3", "c", 4, 0);
	leaf(t, "la4", "d", 4, 0);
	leaf(t, "lb", "e", 10, 0);
	leaf(t, "lc", "f", 10, 0);
	topo_add_switch(t, "spa", "la[1-4]", NULL, NULL);
	topo_add_switch(t, "spb", "lb", NULL, NULL);
	topo_add_switch(t, "spc", "lc", NULL, NULL);
	topo_add_switch(t, "core", "sp[a-c]", NULL, NULL);
	ck_assert_int_ne(topo_finish(t, &cause), 0); /* sp[a-c] is bad */
	free(cause);
	topo_free(t);

	t = topo_create();
	leaf(t, "la1", "a", 4, 0);
	leaf(t, "la2", "b", 4, 0);
	leaf(t, "la3", "c", 4, 0);
	leaf(t, "la4", "d", 4, 0);
	leaf(t, "lb", "e", 10, 0);
	leaf(t, "lc", "f", 10, 0);
	topo_add_switch(t, "spa", "la[1-4]", NULL, NULL);
	topo_add_switch(t, "spb", "lb", NULL, NULL);
	topo_add_switch(t, "spc", "lc", NULL, NULL);
	topo_add_switch(t, "core", "spa,spb,spc", NULL, NULL);
	ck_assert_int_eq(topo_finish(t, NULL), 0);
	p = place(t, 16, 0, NULL);
	ck_assert_str_eq(p->spanning_switch, "spa");
	ck_assert_int_eq(p->switches_per_level[0], 4);
	plan_free(p);
	p = place(t, 16, 2, NULL);
	ck_assert_str_eq(p->spanning_switch, "core");
	ck_assert_int_eq(p->switches_per_level[0], 2);
	ck_assert_int_eq(uses_leaf(p, "lb") + uses_leaf(p, "lc"), 16);
	plan_free(p);
	ck_assert_ptr_null(place(t, 12, 1, &cause));
	ck_assert_str_eq(cause,
	    "needs 12 nodes with 8 free GPUs under one "
	    "leaf; largest leaf has 10");
	free(cause);
	ck_assert_ptr_null(place(t, 21, 2, &cause));
	ck_assert_str_eq(cause,
	    "needs 21 nodes with 8 free GPUs under at "
	    "most 2 leaf switches; the 2 largest leaves have 20");
	free(cause);
	ck_assert_ptr_null(place(t, 37, 0, &cause));
	ck_assert_str_eq(cause,
	    "needs 37 nodes with 8 free GPUs; 36 have "
	    "them (0 busy or unsuitable, 0 down or drained, 0 excluded)");
	free(cause);
	topo_free(t);
}
END_TEST

/* Plan r on t and check the nodes, in rank order. */
static void
expect_nodes(
    const struct topo *t, const struct plan_request *r, const char *want)
{
	char *cause = NULL, *list;
	struct plan *p;

	p = plan_make(t, r, &cause);
	ck_assert_msg(p != NULL, "%s", cause);
	list = plan_nodelist(p);
	ck_assert_str_eq(list, want);
	free(list);
	plan_free(p);
}

static struct topo *
small(int nodes, const char *const *states, const uint64_t *free_gpus,
    const int *domains, const int *failures)
{
	struct topo *t = topo_create();
	struct topo_node_info info = { .gpus = 8 };
	char name[16];
	int i;

	for (i = 0; i < nodes; i++) {
		snprintf(name, sizeof(name), "n%d", i + 1);
		info.name = name;
		info.state = TOPO_IDLE;
		if (states != NULL)
			topo_state_from_name(states[i], &info.state);
		info.free_gpus = free_gpus != NULL ? free_gpus[i] : 0xff;
		info.nvlink_domain = domains != NULL ? domains[i] : -1;
		info.failures = failures != NULL ? failures[i] : 0;
		ck_assert_int_eq(topo_add_node(t, &info, NULL), 0);
	}
	ck_assert_int_eq(topo_finish(t, NULL), 0);
	return t;
}

/* rank = (dp * PP + pp) * TP + tp; nodes hold consecutive ranks. */
START_TEST(test_ranks)
{
	struct topo *t = small(4, NULL, NULL, NULL, NULL);
	struct plan_request r = {
		.nodes = 4, .gpus_per_node = 8, .tensor = 4, .pipeline = 2
	};
	struct plan *p = plan_make(t, &r, NULL);
	const struct plan_rank *rk;

	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->spanning_switch, "(all)");
	ck_assert_int_eq(p->nranks, 32);
	ck_assert_int_eq(p->data, 4);
	rk = &p->ranks[13];
	ck_assert_int_eq(rk->tp, 1);
	ck_assert_int_eq(rk->pp, 1);
	ck_assert_int_eq(rk->dp, 1);
	ck_assert_int_eq(rk->node, 1);
	ck_assert_int_eq(rk->local_rank, 5);
	ck_assert_int_eq(rk->gpu, 5);
	rk = &p->ranks[31];
	ck_assert_int_eq(rk->dp, 3);
	ck_assert_int_eq(rk->node, 3);
	ck_assert_int_eq(p->nodes[3].first_rank, 24);
	ck_assert_int_eq(p->ring_leaf_crossings, 0);
	plan_free(p);
	topo_free(t);
}
END_TEST

/* Partial nodes share GPU indices; mixed nodes go before whole ones. */
START_TEST(test_partial)
{
	static const char *const st[] = { "mixed", "mixed", "mixed", "idle" };
	static const uint64_t fr[] = { 0x0f, 0x3c, 0xcc, 0xff };
	struct topo *t = small(4, st, fr, NULL, NULL);
	struct plan_request r = { .nodes = 3, .gpus_per_node = 2 };
	struct plan *p = plan_make(t, &r, NULL);
	char *cause = NULL, *list;

	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(p->gpu_mask, 0x0c);
	list = plan_nodelist(p);
	ck_assert_str_eq(list, "n1,n2,n3");
	ck_assert_int_eq(p->ranks[1].gpu, 3);
	free(list);
	plan_free(p);
	r.nodes = 4;
	r.gpus_per_node = 4;
	ck_assert_ptr_null(plan_make(t, &r, &cause));
	ck_assert_str_eq(cause,
	    "needs 4 nodes with the same 4 free GPU "
	    "indices; at most 2 nodes share a set");
	free(cause);
	topo_free(t);
}
END_TEST

/* 64 GPUs per node, all of them: the whole mask (a shift by 64 is UB). */
START_TEST(test_gpus_64)
{
	struct topo *t = topo_create();
	struct topo_node_info info = { .gpus = 64,
		.state = TOPO_IDLE,
		.free_gpus = ~(uint64_t)0,
		.nvlink_domain = -1 };
	struct plan_request r = { .nodes = 2, .gpus_per_node = 64 };
	struct plan *p;

	info.name = "big1";
	ck_assert_int_eq(topo_add_node(t, &info, NULL), 0);
	info.name = "big2";
	ck_assert_int_eq(topo_add_node(t, &info, NULL), 0);
	ck_assert_int_eq(topo_finish(t, NULL), 0);
	p = plan_make(t, &r, NULL);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(p->gpu_mask, ~(uint64_t)0);
	ck_assert_int_eq(p->nranks, 128);
	ck_assert_int_eq(p->ranks[127].gpu, 63);
	plan_free(p);
	topo_free(t);
}
END_TEST

/* Tensor 16 over 8-GPU nodes: pairs of nodes in one NVLink domain. */
START_TEST(test_nvlink)
{
	static const int dom[] = { 0, 1, 1, 0, 2, 1 };
	struct topo *t = small(6, NULL, NULL, dom, NULL);
	struct plan_request r = {
		.nodes = 4, .gpus_per_node = 8, .tensor = 16
	};
	struct plan *p = plan_make(t, &r, NULL);
	char *cause = NULL, *list;
	size_t i;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < p->nnodes; i += 2)
		ck_assert_int_eq(t->nodes[p->nodes[i].topo_index].nvlink_domain,
		    t->nodes[p->nodes[i + 1].topo_index].nvlink_domain);
	list = plan_nodelist(p);
	ck_assert_str_eq(list, "n1,n4,n2,n3");
	ck_assert_int_eq(p->ranks[15].tp, 15);
	ck_assert_int_eq(p->ranks[15].node, 1);
	free(list);
	plan_free(p);
	r.nodes = 6;
	ck_assert_ptr_null(plan_make(t, &r, &cause));
	ck_assert_str_eq(cause,
	    "needs 3 groups of 2 nodes in one NVLink "
	    "domain under one leaf for tensor 16; not enough such groups are "
	    "free");
	free(cause);
	r.nodes = 3;
	ck_assert_ptr_null(plan_make(t, &r, &cause));
	ck_assert_str_eq(cause,
	    "tensor 16 spans 2 nodes, but 3 nodes is not "
	    "a multiple of 2");
	free(cause);
	topo_free(t);
}
END_TEST

/* Failed nodes are avoided; down, drained and excluded never used. */
START_TEST(test_avoid)
{
	static const char *const st[] = { "idle", "drain", "idle", "down",
		"idle", "idle", "allocated" };
	static const int fail[] = { 0, 0, 3, 0, 0, 0, 0 };
	const char *ex[] = { "n6" };
	struct topo *t = small(7, st, NULL, NULL, fail);
	struct plan_request r = {
		.nodes = 2, .gpus_per_node = 8, .exclude = ex, .nexclude = 1
	};
	struct plan *p = plan_make(t, &r, NULL);
	char *cause = NULL, *list = plan_nodelist(p);

	ck_assert_str_eq(list, "n1,n5");
	ck_assert_int_eq(p->failures, 0);
	free(list);
	plan_free(p);
	r.nodes = 3;
	p = plan_make(t, &r, NULL);
	ck_assert_int_eq(p->failures, 3);
	plan_free(p);
	r.nodes = 4;
	ck_assert_ptr_null(plan_make(t, &r, &cause));
	ck_assert_str_eq(cause,
	    "needs 4 nodes with 8 free GPUs; 3 have them "
	    "(1 busy or unsuitable, 2 down or drained, 1 excluded)");
	free(cause);
	/* CPU-only: one task per node on idle or mixed nodes. */
	r.gpus_per_node = 0;
	r.nodes = 3;
	p = plan_make(t, &r, NULL);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(p->nranks, 3);
	ck_assert_int_eq(p->ranks[2].gpu, -1);
	plan_free(p);
	topo_free(t);
}
END_TEST

START_TEST(test_policies)
{
	struct topo *t = topo_create();
	struct plan_request r = { .nodes = 4, .gpus_per_node = 8 };
	struct plan *p;
	char *list;

	leaf(t, "l1", "a", 4, 0);
	leaf(t, "l2", "b", 4, 0);
	leaf(t, "l3", "c", 4, 0);
	leaf(t, "l4", "d", 2, 2);
	topo_add_switch(t, "top", "l[1-4]", NULL, NULL);
	ck_assert_int_eq(topo_finish(t, NULL), 0);
	r.policy = POLICY_SPREAD;
	p = plan_make(t, &r, NULL);
	ck_assert_int_eq(p->switches_per_level[0], 4);
	list = plan_nodelist(p);
	ck_assert_str_eq(list, "a1,b1,c1,d1");
	free(list);
	plan_free(p);
	r.nodes = 10;
	expect_nodes(t, &r, "a1,a2,a3,b1,b2,b3,c1,c2,d1,d2");
	r.policy = POLICY_ANY;
	r.nodes = 6;
	expect_nodes(t, &r, "a1,a2,a3,a4,b1,b2");
	r.policy = POLICY_PACK;
	r.nodes = 2;
	expect_nodes(t, &r, "d1,d2");
	topo_free(t);
}
END_TEST

static const struct {
	struct plan_request r;
	const char *error;
} bad[] = {
	{ .r = { .nodes = 0, .gpus_per_node = 8 },
	    .error = "nodes must be 1 to 65536, not 0" },
	{ .r = { .nodes = 2, .gpus_per_node = 8, .tensor = 3 },
	    .error = "tensor 3 does not divide 8 tasks per node" },
	{ .r = { .nodes = 2, .gpus_per_node = 8, .tensor = 8, .data = 3 },
	    .error = "tensor 8 x pipeline 1 x data 3 is 24, but the world size "
	             "is 16" },
	{ .r = { .nodes = 2, .gpus_per_node = 8, .tasks_per_node = 3 },
	    .error = "8 GPUs per node do not split evenly over 3 tasks" },
	{ .r = { .nodes = 2, .gpus_per_node = 8, .tensor = 12 },
	    .error = "tensor 12 is not a multiple of 8 tasks per node" },
	{ .r = { .nodes = 2, .gpus_per_node = 16 },
	    .error = "needs 2 nodes with 16 free GPUs; 0 have them (4 busy or "
	             "unsuitable, 0 down or drained, 0 excluded)" },
	{ .r = { .nodes = 2, .gpus_per_node = 8, .gpu_type = "h100" },
	    .error = "needs 2 nodes with 8 free GPUs of type h100; 0 have them "
	             "(4 busy or unsuitable, 0 down or drained, 0 excluded)" },
};

START_TEST(test_errors)
{
	struct topo *t = small(4, NULL, NULL, NULL, NULL);
	char *cause = NULL;

	ck_assert_ptr_null(plan_make(t, &bad[_i].r, &cause));
	ck_assert_str_eq(cause, bad[_i].error);
	free(cause);
	topo_free(t);
}
END_TEST

START_TEST(test_json)
{
	struct topo *t = topo_create();
	struct plan_request r = { .nodes = 3, .gpus_per_node = 8 };
	struct plan *p;
	json_t *j, *nodes, *m;

	leaf(t, "l1", "a", 2, 0);
	leaf(t, "l2", "b", 1, 3);
	topo_add_switch(t, "top", "l1,l2", NULL, NULL);
	ck_assert_int_eq(topo_finish(t, NULL), 0);
	p = plan_make(t, &r, NULL);
	j = plan_to_json(p, t);
	nodes = json_object_get(j, "nodes");
	ck_assert_int_eq(json_array_size(nodes), 3);
	ck_assert_str_eq(json_string_value(
	                     json_object_get(json_array_get(nodes, 2), "name")),
	    "b1");
	ck_assert_str_eq(
	    json_string_value(json_array_get(
	        json_object_get(json_array_get(nodes, 2), "path"), 0)),
	    "top");
	ck_assert_int_eq(json_integer_value(json_object_get(
	                     json_array_get(nodes, 1), "node_rank")),
	    1);
	ck_assert_str_eq(
	    json_string_value(json_object_get(j, "nodelist")), "a1,a2,b1");
	m = json_object_get(j, "metrics");
	ck_assert_int_eq(
	    json_integer_value(json_object_get(m, "ring_leaf_crossings")), 2);
	ck_assert_int_eq(
	    json_integer_value(json_object_get(m, "levels_spanned")), 2);
	ck_assert_int_eq(json_array_size(json_object_get(j, "ranks")), 24);
	json_decref(j);
	plan_free(p);
	topo_free(t);
}
END_TEST

/* Generated clusters: deterministic, spine counts at their lower bound. */
START_TEST(test_generated)
{
	struct topo_gen g = { .leaves = 64,
		.nodes_per_leaf = 32,
		.spines = 8,
		.seed = 42,
		.busy = 0.9,
		.drain = 0.02,
		.failing = 0.05 };
	struct topo *t = topo_generate(&g, NULL);
	struct plan *p, *p2;
	char *a, *b;

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(t->nnodes, 2048);
	ck_assert_int_eq(t->nlevels, 3);
	p = place(t, 512, 0, NULL);
	p2 = place(t, 512, 0, NULL);
	ck_assert_ptr_nonnull(p);
	a = plan_nodelist(p);
	b = plan_nodelist(p2);
	ck_assert_str_eq(a, b);
	ck_assert_int_eq(p->ring_leaf_crossings, p->switches_per_level[0]);
	free(a);
	free(b);
	plan_free(p);
	plan_free(p2);
	topo_free(t);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("plan");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_greedy_fit);
	tcase_add_test(tc, test_gpus_64);
	tcase_add_test(tc, test_greedy_spine);
	tcase_add_test(tc, test_leaf_limit);
	tcase_add_test(tc, test_ranks);
	tcase_add_test(tc, test_partial);
	tcase_add_test(tc, test_nvlink);
	tcase_add_test(tc, test_avoid);
	tcase_add_test(tc, test_policies);
	tcase_add_loop_test(tc, test_errors, 0, nitems(bad));
	tcase_add_test(tc, test_json);
	tcase_add_test(tc, test_generated);
	tcase_add_test(tc, test_spares);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, plan_exhaustive_tcase());
	return unit_run(s);
}
