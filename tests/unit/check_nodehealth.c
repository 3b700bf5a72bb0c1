/*
 * nodehealth: a node's record across jobs. The score decays with its
 * half-life; a node is quarantined once its score reaches the threshold,
 * for twice as long each time (up to the maximum); after the quarantine it
 * is on probation, where one failure quarantines it again; the store keeps
 * the failures, lists quarantined nodes for the planner and clears a node.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "conf.h"
#include "nodehealth.h"
#include "store.h"
#include "unit.h"
#include "util.h"

static const struct nodehealth_conf NC = {
	.half_life_s = 3600,
	.quarantine_score = 1.5,
	.quarantine_s = 600,
	.quarantine_max_s = 2000,
	.probation_s = 3600,
};

/* Failures at these times (seconds); what the record is at check_at. */
static const struct rule_case {
	const char *name;
	int64_t at[6];
	int n;
	int64_t check_at;
	enum node_health state;
	int quarantines;
	int64_t until; /* nodehealth_until at check_at */
} rule_cases[] = {
	{ .name = "one failure: avoided, not quarantined",
	    .at = { 0 },
	    .n = 1,
	    .check_at = 1,
	    .state = NODE_OK },
	{ .name = "two close together: quarantined",
	    .at = { 0, 60 },
	    .n = 2,
	    .check_at = 61,
	    .state = NODE_QUARANTINED,
	    .quarantines = 1,
	    .until = 660 },
	{ .name = "two a day apart: the first has decayed",
	    .at = { 0, 86400 },
	    .n = 2,
	    .check_at = 86401,
	    .state = NODE_OK },
	{ .name = "quarantine over: probation",
	    .at = { 0, 60 },
	    .n = 2,
	    .check_at = 700,
	    .state = NODE_PROBATION,
	    .quarantines = 1,
	    .until = 4260 },
	{ .name = "probation over: ok",
	    .at = { 0, 60 },
	    .n = 2,
	    .check_at = 4300,
	    .state = NODE_OK,
	    .quarantines = 1 },
	{ .name = "a failure on probation: twice as long",
	    .at = { 0, 60, 700 },
	    .n = 3,
	    .check_at = 701,
	    .state = NODE_QUARANTINED,
	    .quarantines = 2,
	    .until = 1900 },
	{ .name = "during quarantine: counted, no longer",
	    .at = { 0, 60, 100 },
	    .n = 3,
	    .check_at = 101,
	    .state = NODE_QUARANTINED,
	    .quarantines = 1,
	    .until = 660 },
	{ .name = "third time: capped at the maximum",
	    .at = { 0, 60, 700, 1900 },
	    .n = 4,
	    .check_at = 1901,
	    .state = NODE_QUARANTINED,
	    .quarantines = 3,
	    .until = 3900 },
};

START_TEST(test_nodehealth_rules)
{
	const struct rule_case *c = &rule_cases[_i];
	struct node_record r = { 0 };
	int k;

	for (k = 0; k < c->n; k++)
		nodehealth_fail(&r, &NC, c->at[k]);
	ck_assert_msg(nodehealth_state(&r, c->check_at) == c->state,
	    "%s: state %s", c->name,
	    nodehealth_state_name(nodehealth_state(&r, c->check_at)));
	ck_assert_int_eq(r.quarantines, c->quarantines);
	ck_assert_int_eq(nodehealth_until(&r, c->check_at), c->until);
}
END_TEST

START_TEST(test_nodehealth_decay)
{
	struct node_record r = { .score = 2, .score_at = 100 };

	ck_assert_double_eq_tol(nodehealth_score(&r, 100, 3600), 2, 1e-9);
	ck_assert_double_eq_tol(nodehealth_score(&r, 3700, 3600), 1, 1e-9);
	ck_assert_double_eq_tol(nodehealth_score(&r, 7300, 3600), 0.5, 1e-9);
	r.score = 0;
	ck_assert_double_eq_tol(nodehealth_score(&r, 7300, 3600), 0, 1e-9);
}
END_TEST

START_TEST(test_nodehealth_store)
{
	char path[] = "/tmp/check_nodehealth.XXXXXX", *cause = NULL;
	struct conf *conf = conf_load(NULL, NULL);
	struct node_record r = { 0 }, *v;
	struct store *st;
	int64_t q;
	char **names;
	size_t n, i;
	int fd;

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	unlink(path);
	st = store_open(path, &cause);
	ck_assert_msg(st != NULL, "%s", cause);
	ck_assert_int_eq(store_node_get(st, "n1", &r, 5), 1);
	ck_assert_int_eq(nodehealth_blame(st, conf, "n1", "hang", 3, 1, &q), 0);
	ck_assert_int_eq(q, 0);
	ck_assert_int_eq(nodehealth_blame(st, conf, "n2", NULL, 4, 2, &q), 0);
	ck_assert_int_eq(
	    nodehealth_blame(st, conf, "n1", "node_failure", 5, 1, &q), 0);
	ck_assert_int_eq(q, conf->node_quarantine_ms / 1000);
	ck_assert_int_eq(store_node_get(st, "n1", &r, 5), 0);
	ck_assert_int_eq(r.nfail, 2);
	ck_assert_int_eq(r.nfail_total, 2);
	ck_assert_str_eq(r.fail[0].cause, "node_failure"); /* newest first */
	ck_assert_int_eq(r.fail[0].job_id, 5);
	ck_assert_int_eq(r.fail[1].job_id, 3);
	ck_assert_int_eq(r.quarantines, 1);
	node_record_free(&r);
	names = store_nodes_quarantined(st, wall_s(), &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(names[0], "n1");
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	v = store_node_list(st, 1, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(v[0].name, "n1");
	ck_assert_uint_eq(v[0].nfail, 1);
	ck_assert_ptr_null(v[1].fail[0].cause);
	node_record_list_free(v, n);
	ck_assert_int_eq(store_node_clear(st, "n1"), 0);
	ck_assert_int_eq(store_node_clear(st, "n9"), 1);
	names = store_nodes_quarantined(st, wall_s(), &n);
	ck_assert_uint_eq(n, 0);
	free(names);
	ck_assert_int_eq(store_node_get(st, "n1", &r, 5), 0);
	ck_assert_int_eq(r.quarantines, 0);
	ck_assert_int_eq(r.nfail, 2); /* the history stays */
	node_record_free(&r);
	store_close(st);
	unit_rm_db(path);
	conf_free(conf);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("nodehealth");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(
	    tc, test_nodehealth_rules, 0, (int)nitems(rule_cases));
	tcase_add_test(tc, test_nodehealth_decay);
	tcase_add_test(tc, test_nodehealth_store);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
