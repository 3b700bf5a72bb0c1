/*
 * check_topo: the cluster model is built and checked as documented,
 * snapshots read and write the same cluster, and a bad snapshot is
 * refused with the file, line and column of the mistake.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "topo.h"
#include "util.h"
#include "unit.h"

static const char example[] =
    "version: 1\n"
    "switches:\n"
    "  - { name: spine0, switches: [leaf0, leaf1] }\n"
    "  - { name: leaf0, nodes: \"gpu[001-032]\" }\n"
    "  - { name: leaf1, nodes: \"gpu[033-064]\" }\n"
    "nodes:\n"
    "  - { names: \"gpu[001-064]\", gpus: 8 }\n"
    "  - { names: \"gpu[001-010]\", free_gpus: 0 }\n"
    "  - { names: \"gpu020\", state: down }\n"
    "  - { names: \"gpu021\", free: [4, 5, 6, 7], nvlink_domain: 3, "
    "failures: 2 }\n";

static struct topo *
parse(const char *text, char **cause)
{
	return topo_from_yaml(text, strlen(text), "c.yaml", cause);
}

START_TEST(test_example)
{
	struct topo *t = parse(example, NULL);
	const struct topo_node *n;
	int i;

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(t->nnodes, 64);
	ck_assert_int_eq(t->nlevels, 2);
	ck_assert_str_eq(t->switches[t->root].name, "spine0");
	n = &t->nodes[topo_find_node(t, "gpu005")];
	ck_assert_uint_eq(n->free_gpus, 0);
	ck_assert_int_eq(n->gpus, 8);
	n = &t->nodes[topo_find_node(t, "gpu020")];
	ck_assert_int_eq(n->state, TOPO_DOWN);
	n = &t->nodes[topo_find_node(t, "gpu021")];
	ck_assert_uint_eq(n->free_gpus, 0xf0);
	ck_assert_int_eq(n->nvlink_domain, 3);
	ck_assert_int_eq(n->failures, 2);
	ck_assert_str_eq(t->switches[n->leaf].name, "leaf0");
	n = &t->nodes[topo_find_node(t, "gpu064")];
	ck_assert_uint_eq(n->free_gpus, 0xff);
	ck_assert_str_eq(t->switches[n->leaf].name, "leaf1");
	i = topo_find_switch(t, "leaf1");
	ck_assert_int_eq(t->switches[i].level, 0);
	ck_assert(topo_switch_contains(t, t->root, i));
	ck_assert(!topo_switch_contains(t, i, t->root));
	ck_assert_int_eq(topo_find_node(t, "gpu065"), -1);
	topo_free(t);
}
END_TEST

static const struct {
	const char *text;
	const char *error;
} bad[] = {
	{ "version: 2\nnodes: []\n",
	    "c.yaml:1:10: version: expected an integer from 1 to 1, got \"2\"" },
	{ "version: 1\nnodes:\n  - { names: n1, gpus: 8, stat: idle }\n",
	    "c.yaml:3:27: nodes[0]: unknown key \"stat\" (did you mean state?)" },
	{ "version: 1\nnodes:\n  - { names: n1, gpus: nine }\n",
	    "c.yaml:3:24: nodes[0]: expected an integer from 0 to 64, got "
	    "\"nine\"" },
	{ "version: 1\nnodes:\n  - { names: n1 }\n  - { names: n2, state: "
	  "dwn }\n",
	    "c.yaml:4:25: nodes[1]: unknown state \"dwn\" (idle, mixed, "
	    "allocated, down, drain, powered-down)" },
	{ "version: 1\nnodes:\n  - { names: \"n[1-\" }\n",
	    "c.yaml:3:14: nodes[0]: missing ] in \"n[1-\"" },
	{ "version: 1\nswitches:\n  - { name: s, nodes: \"n[1-3]\" }\n"
	  "nodes:\n  - { names: \"n[1-2]\" }\n",
	    "c.yaml:3:23: switches[0]: node n3 is not in nodes" },
	{ "version: 1\nswitches:\n  - { name: s, nodes: n1, switches: [t] }\n"
	  "nodes:\n  - { names: n1 }\n",
	    "c.yaml:3:5: switches[0]: needs exactly one of switches and nodes" },
	{ "version: 1\nswitches:\n  - { name: s, switches: [t] }\n"
	  "nodes:\n  - { names: n1 }\n",
	    "c.yaml: switch s: unknown switch t" },
	{ "version: 1\nnodes:\n  - { names: n1, gpus: 4, free: [5] }\n",
	    "c.yaml:3:33: nodes: n1 has 4 GPUs, fewer than its free ones" },
	{ "version: 1\nnodes:\n  - { names: n1, names: n2 }\n",
	    "c.yaml:3:18: nodes[0]: duplicate key \"names\"" },
	{ "version: 1\nnodes: [ { names: n1 }\n",
	    "c.yaml:3:1: did not find expected ',' or ']'" },
	{ "version: 1\nnodes:\n  - { names: n1 }\n---\nversion: 1\n",
	    "c.yaml:4:1: more than one document" },
	{ "", "c.yaml: empty file" },
	{ "version: 1\nnodes:\n  - { names: n1, gpus: x }\n"
	  "  - { names: n2, failures: -1 }\n",
	    "c.yaml:3:24: nodes[0]: expected an integer from 0 to 64, got "
	    "\"x\"\nc.yaml:4:28: nodes[1]: expected an integer from 0 to "
	    "1000000000, got \"-1\"" },
};

START_TEST(test_errors)
{
	char *cause = NULL;

	ck_assert_ptr_null(parse(bad[_i].text, &cause));
	ck_assert_str_eq(cause, bad[_i].error);
	free(cause);
}
END_TEST

static void
node(struct topo *t, const char *name)
{
	struct topo_node_info info = {
		.name = name, .gpus = 8, .free_gpus = 0xff, .nvlink_domain = -1
	};

	ck_assert_int_eq(topo_add_node(t, &info, NULL), 0);
}

/* Builder checks: what topo_finish() refuses, and the implicit switches. */
START_TEST(test_builder)
{
	struct topo *t;
	char *cause = NULL;
	struct topo_node_info info = { .name = "big", .gpus = 65 };

	t = topo_create();
	node(t, "a");
	node(t, "b");
	node(t, "c");
	ck_assert_int_eq(topo_add_switch(t, "l1", NULL, "a", NULL), 0);
	ck_assert_int_eq(topo_add_switch(t, "l2", NULL, "b", NULL), 0);
	ck_assert_int_eq(topo_finish(t, NULL), 0);
	/* c has no switch: implicit leaf; three tops: implicit root. */
	ck_assert_str_eq(t->switches[t->nodes[2].leaf].name, "(unswitched)");
	ck_assert_str_eq(t->switches[t->root].name, "(root)");
	ck_assert_int_eq(t->nlevels, 2);
	ck_assert_int_ne(topo_add_node(t, &info, &cause), 0);
	ck_assert_str_eq(cause, "topology is already finished");
	free(cause);
	topo_free(t);

	t = topo_create();
	ck_assert_int_ne(topo_add_node(t, &info, &cause), 0);
	ck_assert_str_eq(cause, "node big: 65 GPUs (at most 64)");
	free(cause);
	node(t, "a");
	node(t, "a");
	ck_assert_int_ne(topo_finish(t, &cause), 0);
	ck_assert_str_eq(cause, "node a is defined twice");
	free(cause);
	topo_free(t);

	t = topo_create();
	node(t, "a");
	topo_add_switch(t, "l1", NULL, "a", NULL);
	topo_add_switch(t, "l2", NULL, "a", NULL);
	ck_assert_int_ne(topo_finish(t, &cause), 0);
	ck_assert_str_eq(cause, "switch l2: node a is already under l1");
	free(cause);
	topo_free(t);

	t = topo_create();
	node(t, "a");
	topo_add_switch(t, "l1", NULL, "a", NULL);
	topo_add_switch(t, "x", "y", NULL, NULL);
	topo_add_switch(t, "y", "x", NULL, NULL);
	ck_assert_int_ne(topo_finish(t, &cause), 0);
	ck_assert_str_eq(cause, "switches form a loop (x)");
	free(cause);
	topo_free(t);

	t = topo_create();
	node(t, "a");
	ck_assert_int_eq(topo_finish(t, NULL), 0);
	ck_assert_str_eq(t->switches[t->root].name, "(all)");
	ck_assert_int_eq(t->nlevels, 1);
	topo_free(t);
}
END_TEST

START_TEST(test_generate)
{
	struct topo_gen g = { .leaves = 64,
		.nodes_per_leaf = 32,
		.spines = 8,
		.seed = 7,
		.busy = 0.8,
		.mixed = 0.1,
		.drain = 0.05,
		.failing = 0.02 };
	struct topo *t = topo_generate(&g, NULL), *t2, *t3;
	char *y1, *y2, *y3, *cause = NULL;
	size_t i, drained = 0, busy = 0;

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(t->nnodes, 2048);
	ck_assert_int_eq(t->nswitches, 64 + 8 + 1);
	ck_assert_int_eq(t->nlevels, 3);
	ck_assert_str_eq(t->switches[t->root].name, "core");
	for (i = 0; i < t->nnodes; i++) {
		drained += t->nodes[i].state == TOPO_DRAIN;
		busy += t->nodes[i].state == TOPO_ALLOCATED;
	}
	ck_assert_int_gt(drained, 50);
	ck_assert_int_gt(busy, 400);
	/* Same seed, same cluster; and the snapshot reads back the same. */
	t2 = topo_generate(&g, NULL);
	y1 = topo_to_yaml(t);
	y2 = topo_to_yaml(t2);
	ck_assert_str_eq(y1, y2);
	t3 = topo_from_yaml(y1, strlen(y1), "gen.yaml", &cause);
	ck_assert_msg(t3 != NULL, "%s", cause);
	y3 = topo_to_yaml(t3);
	ck_assert_str_eq(y1, y3);
	ck_assert(
	    strstr(y1, "{ name: \"leaf00\", nodes: \"gpu[0001-0032]\" }") !=
	    NULL);
	free(y1);
	free(y2);
	free(y3);
	topo_free(t);
	topo_free(t2);
	topo_free(t3);
	g.seed = 8;
	t = topo_generate(&g, NULL);
	y1 = topo_to_yaml(t);
	t2 = topo_generate(&(struct topo_gen){ .leaves = 64,
	                       .nodes_per_leaf = 32,
	                       .spines = 8,
	                       .seed = 7,
	                       .busy = 0.8,
	                       .mixed = 0.1,
	                       .drain = 0.05,
	                       .failing = 0.02 },
	    NULL);
	y2 = topo_to_yaml(t2);
	ck_assert_str_ne(y1, y2);
	free(y1);
	free(y2);
	topo_free(t);
	topo_free(t2);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("topo");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_example);
	tcase_add_loop_test(tc, test_errors, 0, nitems(bad));
	tcase_add_test(tc, test_builder);
	tcase_add_test(tc, test_generate);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
