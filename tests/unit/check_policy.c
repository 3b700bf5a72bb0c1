/*
 * check_policy: the restart policy charges the right budget, stops a crash
 * loop, backs off exponentially up to the cap, and never restarts what a
 * retry cannot fix.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "spec.h"
#include "store.h"
#include "util.h"
#include "unit.h"

static struct spec *
make_spec(int with_ckpt)
{
	struct spec *s = xcalloc(1, sizeof(*s));

	s->checkpoint.dir = with_ckpt ? xstrdup("/ck") : NULL;
	s->recovery.max_restarts = 2;
	s->recovery.max_infra_restarts = 3;
	s->recovery.backoff_s = 30;
	s->recovery.no_progress_limit = 3;
	return s;
}

static const struct {
	const char *name;
	int ckpt; /* spec has checkpoint.dir */
	const char *state;
	const char *cause;
	int restarts, infra, in_row, no_progress;
	int64_t ck_start, ck_end;
	enum policy_action action;
	int64_t delay;
	const char *reason; /* substring */
	int want_restarts, want_infra;
} cases[] = {
	{ "completed", 0, "COMPLETED", NULL, 0, 0, 0, 0, -1, -1,
	    POLICY_COMPLETE, 0, NULL, 0, 0 },
	{ "user error charges max_restarts", 0, "FAILED", "user_error", 0, 0, 0,
	    0, -1, -1, POLICY_RESTART, 30, "restarting", 1, 0 },
	{ "budget used up", 0, "FAILED", "user_error", 2, 0, 2, 0, -1, -1,
	    POLICY_FAIL, 0, "recovery.max_restarts (2) used up", 3, 0 },
	{ "node failure charges infra", 0, "NODE_FAIL", "node_failure", 2, 0, 0,
	    0, -1, -1, POLICY_RESTART, 30, "restarting", 2, 1 },
	{ "infra budget used up", 0, "FAILED", "hang", 0, 3, 0, 0, -1, -1,
	    POLICY_FAIL, 0, "max_infra_restarts (3) used up", 0, 4 },
	{ "backoff doubles", 0, "FAILED", "preflight_failed", 0, 0, 2, 0, -1,
	    -1, POLICY_RESTART, 120, "restarting", 0, 1 },
	{ "backoff capped", 0, "FAILED", "hang", 0, 0, 9, 0, -1, -1,
	    POLICY_RESTART, POLICY_BACKOFF_CAP, "restarting", 0, 1 },
	{ "progress: no backoff", 1, "FAILED", "node_failure", 0, 0, 4, 2, 10,
	    20, POLICY_RESTART, 0, "restarting", 0, 1 },
	{ "crash loop", 1, "FAILED", "hang", 0, 0, 2, 2, 20, 20, POLICY_FAIL, 0,
	    "crash loop: 3 attempts", 0, 1 },
	{ "timeout after progress continues", 1, "TIMEOUT", "timeout", 0, 0, 0,
	    0, 10, 30, POLICY_RESTART, 0, "restarting", 0, 1 },
	{ "timeout without checkpoints fails", 0, "TIMEOUT", "timeout", 0, 0, 0,
	    0, -1, -1, POLICY_FAIL, 0, "nothing to continue from", 0, 0 },
	{ "refused by Slurm: no retry", 0, "FAILED", "submit_failed", 0, 0, 0,
	    0, -1, -1, POLICY_FAIL, 0, "refused", 0, 0 },
	{ "unplaceable: no retry", 0, "FAILED", "unplaceable", 0, 0, 0, 0, -1,
	    -1, POLICY_FAIL, 0, "cannot be placed", 0, 0 },
	{ "cancelled outside llmctl", 0, "CANCELLED", "cancelled", 0, 0, 0, 0,
	    -1, -1, POLICY_FAIL, 0, "outside", 0, 0 },
};

START_TEST(test_decide)
{
	struct spec *s = make_spec(cases[_i].ckpt);
	struct job job = { .state = JOB_RUNNING };
	struct attempt a = { .attempt = 1 };
	struct policy_decision d;

	job.restarts = cases[_i].restarts;
	job.infra_restarts = cases[_i].infra;
	job.failures_in_row = cases[_i].in_row;
	job.no_progress = cases[_i].no_progress;
	ck_assert(attempt_state_parse(cases[_i].state, &a.state) == 0);
	ck_assert(attempt_cause_parse(cases[_i].cause, &a.cause) == 0);
	a.ckpt_start = cases[_i].ck_start;
	a.ckpt_end = cases[_i].ck_end;
	if (cases[_i].cause != NULL &&
	    strcmp(cases[_i].cause, "cancelled") == 0)
		a.reason = (char *)"cancelled outside llmctl";
	else if (cases[_i].cause != NULL &&
	    strcmp(cases[_i].cause, "submit_failed") == 0)
		a.reason = (char *)"Slurm refused the job: Invalid account";
	else if (cases[_i].cause != NULL &&
	    strcmp(cases[_i].cause, "unplaceable") == 0)
		a.reason = (char *)"cannot be placed on this cluster: ...";
	policy_decide(s, &job, &a, -1, &d);
	ck_assert_msg(d.action == cases[_i].action, "%s: action %d",
	    cases[_i].name, d.action);
	if (d.action == POLICY_RESTART)
		ck_assert_msg(d.delay_s == cases[_i].delay, "%s: delay %lld",
		    cases[_i].name, (long long)d.delay_s);
	if (cases[_i].reason != NULL)
		ck_assert_msg(d.reason != NULL &&
		        strstr(d.reason, cases[_i].reason) != NULL,
		    "%s: reason \"%s\"", cases[_i].name,
		    d.reason != NULL ? d.reason : "(null)");
	ck_assert_msg(job.restarts == cases[_i].want_restarts &&
	        job.infra_restarts == cases[_i].want_infra,
	    "%s: restarts %d infra %d", cases[_i].name, job.restarts,
	    job.infra_restarts);
	free(d.reason);
	free(s->checkpoint.dir);
	free(s);
}
END_TEST

/* A job that keeps failing at once stops after exactly max_restarts. */
START_TEST(test_no_loop)
{
	struct spec *s = make_spec(0);
	struct job job = { .state = JOB_RUNNING };
	struct attempt a = { .state = ATTEMPT_FAILED,
		.cause = CAUSE_USER_ERROR,
		.reason = (char *)"exit code 1" };
	struct policy_decision d;
	int restarts = 0;

	for (a.attempt = 1; a.attempt < 100; a.attempt++) {
		policy_decide(s, &job, &a, -1, &d);
		free(d.reason);
		if (d.action != POLICY_RESTART)
			break;
		restarts++;
	}
	ck_assert_int_eq(restarts, 2);
	ck_assert_int_eq(d.action, POLICY_FAIL);
	free(s);
}
END_TEST

/*
 * A trainer that resumes from checkpoints of its own (no layout llmctl
 * knows: no checkpoint step ever) beats steps 2, 5, 8, ...: progress, never
 * a crash loop. One that beats step 2 every time is one.
 */
START_TEST(test_heartbeat_progress)
{
	struct spec *s = make_spec(1);
	struct job job = { .state = JOB_RUNNING };
	struct attempt a = { .state = ATTEMPT_FAILED,
		.cause = CAUSE_HANG,
		.ckpt_start = -1,
		.ckpt_end = -1 };
	struct policy_decision d;
	int64_t beat = -1;

	s->recovery.max_infra_restarts = 100;
	for (a.attempt = 1; a.attempt <= 8; a.attempt++) {
		a.last_step = 3 * a.attempt - 1;
		policy_decide(s, &job, &a, beat, &d);
		ck_assert_msg(d.action == POLICY_RESTART, "attempt %d: %s",
		    a.attempt, d.reason);
		ck_assert_int_eq(d.delay_s, 0);
		ck_assert_int_eq(job.no_progress, 0);
		free(d.reason);
		beat = a.last_step;
	}
	for (a.attempt = 9; a.attempt < 20; a.attempt++) {
		policy_decide(s, &job, &a, beat, &d);
		free(d.reason);
		if (d.action != POLICY_RESTART)
			break;
	}
	/* the same step again: three in a row without progress */
	ck_assert_int_eq(a.attempt, 11);
	ck_assert_int_eq(d.action, POLICY_FAIL);
	free(s->checkpoint.dir);
	free(s);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_decide, 0, nitems(cases));
	tcase_add_test(tc, test_no_loop);
	tcase_add_test(tc, test_heartbeat_progress);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
