/*
 * check_placement: an attempt's plan on one snapshot. Busy best nodes hand
 * it to Slurm with a switch count, its candidates and an exclude list; a
 * request the idle cluster cannot hold never fits, and a re-plan goes to
 * Slurm, away from the old nodes when the idle cluster fits without them.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "placement.h"
#include "topo.h"
#include "unit.h"
#include "util.h"

/* Leaf la holds a1, a2; leaf lb holds b1, b2, busy unless all idle. */
static struct topo *
two_leaves(int all_idle)
{
	static const char *const names[] = { "a1", "a2", "b1", "b2" };
	struct topo_node_info info = { .gpus = 8, .nvlink_domain = -1 };
	struct topo *t = topo_create();
	size_t i;

	for (i = 0; i < 4; i++) {
		info.name = names[i];
		info.state = all_idle || i < 2 ? TOPO_IDLE : TOPO_ALLOCATED;
		info.free_gpus = all_idle || i < 2 ? 0xff : 0;
		ck_assert_int_eq(topo_add_node(t, &info, NULL), 0);
	}
	ck_assert_int_eq(topo_add_switch(t, "la", NULL, "a1,a2", NULL), 0);
	ck_assert_int_eq(topo_add_switch(t, "lb", NULL, "b1,b2", NULL), 0);
	ck_assert_int_eq(topo_add_switch(t, "top", "la,lb", NULL, NULL), 0);
	ck_assert_int_eq(topo_finish(t, NULL), 0);
	return t;
}

static const struct {
	const char *what;
	int nodes;
	const char *avoid; /* comma list, NULL: none */
	int rc;
	int transient; /* nothing fits now (not asked on a re-plan) */
	int never;
	const char *first; /* the plan's first node, NULL: Slurm places it */
	int switches; /* handed to Slurm: leaves to wait for */
	const char *order; /* and its candidates */
	const char *exclude;
	const char *exclude_req; /* the request's exclude list */
} cases[] = {
	{ .what = "fits on the idle leaf", .nodes = 2, .first = "a1" },
	{ .what = "busy leaf: Slurm places it on two leaves",
	    .nodes = 3,
	    .transient = 1,
	    .switches = 2,
	    .order = "a1,a2 b1,b2" },
	{ .what = "excluded nodes are excluded in Slurm too",
	    .nodes = 3,
	    .exclude_req = "b2",
	    .transient = 1,
	    .switches = 2,
	    .order = "a1,a2 b1",
	    .exclude = "b2" },
	{ .what = "never fits four nodes' worth of five",
	    .nodes = 5,
	    .rc = -1,
	    .never = 1 },
	{ .what = "re-plan: Slurm places it, away from the old node",
	    .nodes = 1,
	    .avoid = "a1",
	    .switches = 1,
	    .order = "a2 b1,b2",
	    .exclude = "a1" },
	{ .what = "re-plan: Slurm places it, anywhere if only the old fit",
	    .nodes = 4,
	    .avoid = "a1",
	    .switches = 2,
	    .order = "a1,a2 b1,b2" },
};

START_TEST(test_placement_core)
{
	struct bcluster cl = { .live = two_leaves(0), .ideal = two_leaves(1) };
	const char *avoid[4];
	struct placement pl = { 0 };
	const char *ex[1] = { cases[_i].exclude_req };
	char buf[64], *p, *save = NULL, *cause = NULL;
	int rc, transient = -1;

	pl.req = (struct plan_request){ .nodes = cases[_i].nodes,
		.gpus_per_node = 8 };
	if (ex[0] != NULL) {
		pl.req.exclude = ex;
		pl.req.nexclude = 1;
	}
	if (cases[_i].avoid != NULL) {
		snprintf(buf, sizeof(buf), "%s", cases[_i].avoid);
		for (p = strtok_r(buf, ",", &save); p != NULL;
		     p = strtok_r(NULL, ",", &save))
			avoid[pl.navoid++] = p;
		pl.avoid = avoid;
	}
	rc = placement_run(&pl, &cl, &cause, &transient);
	ck_assert_msg(rc == cases[_i].rc, "%s: rc %d", cases[_i].what, rc);
	ck_assert_int_eq(pl.never, cases[_i].never);
	ck_assert_int_eq(transient, cases[_i].transient);
	if (rc == 0 && cases[_i].first != NULL) {
		ck_assert_ptr_nonnull(pl.plan);
		ck_assert_ptr_null(cause);
		ck_assert_int_eq(pl.to_slurm, 0);
		ck_assert_str_eq(pl.plan->nodes[0].name, cases[_i].first);
	} else if (rc == 0) {
		ck_assert_msg(pl.plan == NULL && pl.to_slurm, "%s: pinned",
		    cases[_i].what);
		ck_assert_int_eq(pl.switches, cases[_i].switches);
		ck_assert_str_eq(pl.order, cases[_i].order);
		if (cases[_i].exclude != NULL)
			ck_assert_str_eq(pl.exclude, cases[_i].exclude);
		else
			ck_assert_ptr_null(pl.exclude);
		/* nothing fits now: the cause says why, for the log */
		ck_assert(cases[_i].transient == (cause != NULL));
	} else {
		ck_assert_ptr_null(pl.plan);
		ck_assert_ptr_nonnull(cause);
	}
	placement_clear(&pl);
	ck_assert_ptr_null(pl.plan);
	free(cause);
	topo_free(cl.live);
	topo_free(cl.ideal);
}
END_TEST

/*
 * A burst of 1-GPU jobs: each plan counts the GPUs of the ones planned
 * before it (the store's holds), so they spread instead of all landing on
 * the node that looked free (issue 12).
 */
START_TEST(test_placement_holds)
{
	struct bcluster cl = { .live = two_leaves(0), .ideal = two_leaves(1) };
	struct hold *held = NULL;
	struct placement pl;
	char tag[16], *cause = NULL;
	size_t nheld = 0, k;
	int i, transient, on_a1 = 0, on_a2 = 0;

	/* a1 and a2 have 8 GPUs each; 16 jobs of 1 GPU fill both exactly */
	for (i = 0; i <= 16; i++) {
		snprintf(tag, sizeof(tag), "t%d", i);
		pl = (struct placement){
			.req = { .nodes = 1, .gpus_per_node = 1 }, .tag = tag
		};
		for (k = 0; k < nheld; k++)
			placement_hold_add(&pl.held, &pl.nheld, held[k].tag,
			    held[k].node, held[k].gpus);
		if (i == 16) {
			/*
			 * the 17th: nothing free until Slurm runs some, so
			 * Slurm places it, anywhere it fits
			 */
			ck_assert_int_eq(
			    placement_run(&pl, &cl, &cause, &transient), 0);
			ck_assert_int_eq(transient, 1);
			ck_assert(pl.to_slurm && pl.plan == NULL);
			ck_assert_int_eq(pl.switches, 1);
			free(cause);
			placement_clear(&pl);
			break;
		}
		ck_assert_int_eq(
		    placement_run(&pl, &cl, &cause, &transient), 0);
		if (strcmp(pl.plan->nodes[0].name, "a1") == 0)
			on_a1++;
		else if (strcmp(pl.plan->nodes[0].name, "a2") == 0)
			on_a2++;
		placement_hold_add(
		    &held, &nheld, tag, pl.plan->nodes[0].name, 1);
		placement_clear(&pl);
	}
	ck_assert_int_eq(on_a1, 8);
	ck_assert_int_eq(on_a2, 8);
	for (k = 0; k < nheld; k++) {
		free(held[k].tag);
		free(held[k].node);
	}
	free(held);
	cause = NULL;
	/* a node partly held: the job that needs all of one goes elsewhere */
	pl = (struct placement){ .req = { .nodes = 1, .gpus_per_node = 8 },
		.tag = "big" };
	placement_hold_add(&pl.held, &pl.nheld, "other", "a1", 4);
	ck_assert_int_eq(placement_run(&pl, &cl, &cause, &transient), 0);
	ck_assert_str_eq(pl.plan->nodes[0].name, "a2");
	placement_clear(&pl);
	/* an attempt's own hold (a re-plan) never stands in its way */
	pl = (struct placement){ .req = { .nodes = 2, .gpus_per_node = 8 },
		.tag = "self" };
	placement_hold_add(&pl.held, &pl.nheld, "self", "a1", 8);
	ck_assert_int_eq(placement_run(&pl, &cl, &cause, &transient), 0);
	ck_assert_ptr_nonnull(pl.plan);
	placement_clear(&pl);
	topo_free(cl.live);
	/*
	 * one free node on each leaf, a whole leaf would do once free: not
	 * pinned across two leaves, Slurm waits for one (issue 12)
	 */
	cl.live = two_leaves(1);
	pl = (struct placement){ .req = { .nodes = 2, .gpus_per_node = 8 },
		.tag = "two" };
	placement_hold_add(&pl.held, &pl.nheld, "other", "a2", 8);
	placement_hold_add(&pl.held, &pl.nheld, "other", "b2", 8);
	ck_assert_int_eq(placement_run(&pl, &cl, &cause, &transient), 0);
	ck_assert_int_eq(transient, 0);
	ck_assert_ptr_null(cause);
	ck_assert(pl.to_slurm && pl.plan == NULL);
	ck_assert_int_eq(pl.switches, 1);
	ck_assert_str_eq(pl.order, "a1,a2 b1,b2");
	ck_assert_ptr_null(pl.exclude);
	placement_clear(&pl);
	/* one of ours waits in Slurm's queue: a job that fits joins it */
	pl = (struct placement){ .req = { .nodes = 1, .gpus_per_node = 8 },
		.tag = "behind",
		.queued = 1 };
	ck_assert_int_eq(placement_run(&pl, &cl, &cause, &transient), 0);
	ck_assert(pl.to_slurm && pl.plan == NULL);
	ck_assert_int_eq(transient, 0);
	placement_clear(&pl);
	/* policy spread: Slurm places it without a switch count */
	pl = (struct placement){ .req = { .nodes = 3,
		                     .gpus_per_node = 8,
		                     .policy = POLICY_SPREAD },
		.tag = "spread" };
	placement_hold_add(&pl.held, &pl.nheld, "other", "a2", 8);
	ck_assert_int_eq(placement_run(&pl, &cl, &cause, &transient), 0);
	ck_assert_ptr_nonnull(pl.plan);
	placement_clear(&pl);
	topo_free(cl.live);
	topo_free(cl.ideal);
}
END_TEST

/*
 * A job with spares is pinned on free nodes or waits in llmctld (which of
 * its nodes are spares is llmctl's to know): never handed to Slurm.
 */
START_TEST(test_placement_spares)
{
	struct bcluster cl = { .live = two_leaves(0), .ideal = two_leaves(1) };
	struct placement pl;
	char *cause = NULL;
	int transient;

	/* 1 + 1 on the free leaf, even with one of ours in Slurm's queue */
	pl = (struct placement){
		.req = { .nodes = 1, .gpus_per_node = 8, .spares = 1 },
		.tag = "s1",
		.queued = 1
	};
	ck_assert_int_eq(placement_run(&pl, &cl, &cause, &transient), 0);
	ck_assert_ptr_nonnull(pl.plan);
	ck_assert_int_eq(pl.to_slurm, 0);
	ck_assert_uint_eq(pl.plan->nspares, 1);
	placement_clear(&pl);
	/* 2 + 1 with two nodes free: waits, not to Slurm */
	pl = (struct placement){
		.req = { .nodes = 2, .gpus_per_node = 8, .spares = 1 },
		.tag = "s2"
	};
	ck_assert_int_eq(placement_run(&pl, &cl, &cause, &transient), -1);
	ck_assert_int_eq(pl.never, 0);
	ck_assert_int_eq(transient, 1);
	ck_assert_int_eq(pl.to_slurm, 0);
	ck_assert_ptr_null(pl.plan);
	ck_assert_ptr_nonnull(cause);
	free(cause);
	cause = NULL;
	placement_clear(&pl);
	/* 4 + 1 fits no idle cluster of four */
	pl = (struct placement){
		.req = { .nodes = 4, .gpus_per_node = 8, .spares = 1 },
		.tag = "s3"
	};
	ck_assert_int_eq(placement_run(&pl, &cl, &cause, &transient), -1);
	ck_assert_int_eq(pl.never, 1);
	free(cause);
	placement_clear(&pl);
	topo_free(cl.live);
	topo_free(cl.ideal);
}
END_TEST

/*
 * Quarantined nodes (nodehealth.h): never planned on now nor handed to
 * Slurm; a job that needs one waits in llmctld until its quarantine ends.
 */
START_TEST(test_placement_quarantined)
{
	struct bcluster cl = { .live = two_leaves(1), .ideal = two_leaves(1) };
	const char *q[] = { "a1" };
	struct placement pl;
	char *cause = NULL;
	int transient;

	/* one node: a2, not the quarantined a1 */
	pl = (struct placement){ .req = { .nodes = 1, .gpus_per_node = 8 },
		.tag = "q1",
		.quarantined = q,
		.nquarantined = 1 };
	ck_assert_int_eq(placement_run(&pl, &cl, &cause, &transient), 0);
	ck_assert_str_eq(pl.plan->nodes[0].name, "a2");
	placement_clear(&pl);
	/* three: b1, b2 and a2 only across leaves, so to Slurm, without a1 */
	pl = (struct placement){ .req = { .nodes = 3, .gpus_per_node = 8 },
		.tag = "q3",
		.quarantined = q,
		.nquarantined = 1 };
	ck_assert_int_eq(placement_run(&pl, &cl, &cause, &transient), 0);
	if (pl.to_slurm)
		ck_assert_str_eq(pl.exclude, "a1");
	placement_clear(&pl);
	free(cause);
	cause = NULL;
	/* all four: needs a1, so it waits here */
	pl = (struct placement){ .req = { .nodes = 4, .gpus_per_node = 8 },
		.tag = "q4",
		.quarantined = q,
		.nquarantined = 1 };
	ck_assert_int_eq(placement_run(&pl, &cl, &cause, &transient), -1);
	ck_assert_int_eq(pl.never, 0);
	ck_assert_int_eq(transient, 1);
	ck_assert_int_eq(pl.to_slurm, 0);
	ck_assert_ptr_nonnull(cause);
	free(cause);
	placement_clear(&pl);
	topo_free(cl.live);
	topo_free(cl.ideal);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("placement");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(
	    tc, test_placement_core, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_placement_holds);
	tcase_add_test(tc, test_placement_spares);
	tcase_add_test(tc, test_placement_quarantined);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
