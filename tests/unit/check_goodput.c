/*
 * check_goodput: the ledger splits a job's wall-clock time into buckets
 * that add up to it, with the failure, checkpoint and recovery arithmetic
 * of docs/design.md ("Goodput") on synthetic timelines; the store keeps a
 * final job's ledger per day and the totals add both kinds of job.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "goodput.h"
#include "lifecycle.h"
#include "store.h"
#include "util.h"
#include "unit.h"

#define MAXA 3

static const struct {
	const char *name;
	int64_t ended_at, now;
	int cancelled;
	struct gp_attempt a[MAXA];
	size_t n;
	/* queue, startup, productive, lost, detect, backoff, requeue, restart,
	 * stall */
	int64_t b[GP_NBUCKETS];
	size_t nincidents;
	int64_t again0, recovery0; /* the first incident's */
} cases[] = {
	{
	    .name = "clean run",
	    .ended_at = 1000,
	    .a = { { .attempt = 1,
	        .started_at = 100,
	        .beat_at = 130,
	        .ended_at = 1000 } },
	    .n = 1,
	    .b = { 100, 30, 870 },
	},
	{
	    .name = "node failure after a checkpoint, restarted",
	    .ended_at = 2000,
	    .a = { { .attempt = 1,
	               .started_at = 10,
	               .beat_at = 20,
	               .ckpt_first_at = 300,
	               .ckpt_at = 500,
	               .ended_at = 700,
	               .cause = CAUSE_NODE_FAILURE,
	               .blamed = "n1",
	               .decided_at = 710,
	               .resume_at = 740 },
	        { .attempt = 2,
	            .started_at = 800,
	            .beat_at = 830,
	            .ended_at = 2000 } },
	    .n = 2,
	    .b = { 10, 10, 480 + 1170, 200, 10, 30, 60, 30 },
	    .nincidents = 1,
	    .again0 = 830,
	    .recovery0 = 130,
	},
	{
	    /* the hang began at the last beat: lost from there, detection
	     * until the decision */
	    .name = "hang without a checkpoint",
	    .ended_at = 1000,
	    .a = { { .attempt = 1,
	               .started_at = 10,
	               .beat_at = 20,
	               .failed_at = 600,
	               .ended_at = 650,
	               .cause = CAUSE_HANG,
	               .decided_at = 655,
	               .resume_at = 655 },
	        { .attempt = 2,
	            .started_at = 700,
	            .beat_at = 720,
	            .ended_at = 1000 } },
	    .n = 2,
	    .b = { 10, 10, 280, 580, 55, 0, 45, 20 },
	    .nincidents = 1,
	    .again0 = 720,
	    .recovery0 = 120,
	},
	{
	    /* a restart that fails in start-up: both incidents end when
	     * training resumes */
	    .name = "second failure before any progress",
	    .ended_at = 1000,
	    .a = { { .attempt = 1,
	               .started_at = 10,
	               .beat_at = 20,
	               .ckpt_at = 500,
	               .ended_at = 700,
	               .cause = CAUSE_NODE_FAILURE,
	               .decided_at = 700,
	               .resume_at = 700 },
	        { .attempt = 2,
	            .started_at = 720,
	            .ended_at = 760,
	            .cause = CAUSE_USER_ERROR,
	            .decided_at = 760,
	            .resume_at = 790 },
	        { .attempt = 3,
	            .started_at = 800,
	            .beat_at = 810,
	            .ended_at = 1000 } },
	    .n = 3,
	    .b = { 10, 10, 670, 200, 0, 30, 30, 50 },
	    .nincidents = 2,
	    .again0 = 810,
	    .recovery0 = 110,
	},
	{
	    .name = "running now",
	    .now = 100,
	    .a = { { .attempt = 1, .started_at = 10, .beat_at = 20 } },
	    .n = 1,
	    .b = { 10, 10, 80 },
	},
	{
	    .name = "a checkpoint stall",
	    .ended_at = 1000,
	    .a = { { .attempt = 1,
	        .started_at = 100,
	        .beat_at = 130,
	        .ended_at = 1000,
	        .stall_s = 50 } },
	    .n = 1,
	    .b = { 100, 30, 820, [GP_STALL] = 50 },
	},
	{
	    /* no restart: the incident never trains again */
	    .name = "final failure",
	    .ended_at = 705,
	    .a = { { .attempt = 1,
	        .started_at = 10,
	        .beat_at = 20,
	        .ckpt_at = 500,
	        .ended_at = 700,
	        .cause = CAUSE_TIMEOUT,
	        .decided_at = 705 } },
	    .n = 1,
	    .b = { 10, 10, 480, 200, 5 },
	    .nincidents = 1,
	    .recovery0 = 5,
	},
	{
	    .name = "cancelled by its user",
	    .ended_at = 500,
	    .cancelled = 1,
	    .a = { { .attempt = 1,
	        .started_at = 10,
	        .beat_at = 20,
	        .ended_at = 500,
	        .cause = CAUSE_CANCELLED } },
	    .n = 1,
	    .b = { 10, 10, 480 },
	},
	{
	    /* no heartbeats: the first output is the progress */
	    .name = "output only",
	    .ended_at = 1000,
	    .a = { { .attempt = 1,
	        .started_at = 10,
	        .log_at = 40,
	        .ended_at = 1000 } },
	    .n = 1,
	    .b = { 10, 30, 960 },
	},
	{
	    .name = "never started",
	    .now = 300,
	    .a = { { .attempt = 1 } },
	    .n = 1,
	    .b = { 300 },
	},
};

/* The stretches come in order, without gaps, from submission to the end. */
struct order {
	int64_t at;
	int64_t sum[GP_NBUCKETS];
};

static void
order_cb(void *arg, enum gp_bucket b, int64_t from, int64_t to)
{
	struct order *o = arg;

	ck_assert_int_eq(from, o->at);
	ck_assert_int_gt(to, from);
	o->at = to;
	o->sum[b] += to - from;
}

START_TEST(test_compute)
{
	struct gp_input in = { 0 };
	struct gp_ledger l;
	struct order o = { 0 };
	int64_t sum = 0, wall;
	int b;

	in.ended_at = cases[_i].ended_at;
	in.now = cases[_i].now;
	in.cancelled = cases[_i].cancelled;
	in.a = cases[_i].a;
	in.n = cases[_i].n;
	goodput_compute(&in, &l, order_cb, &o);
	wall = in.ended_at != 0 ? in.ended_at : in.now;
	ck_assert_msg(l.wall_s == wall, "%s: wall %lld", cases[_i].name,
	    (long long)l.wall_s);
	for (b = 0; b < GP_NBUCKETS; b++) {
		ck_assert_msg(l.b[b] == cases[_i].b[b], "%s: %s %lld, not %lld",
		    cases[_i].name, goodput_bucket_name(b), (long long)l.b[b],
		    (long long)cases[_i].b[b]);
		ck_assert_int_eq(o.sum[b], l.b[b]);
		sum += l.b[b];
	}
	ck_assert_int_eq(sum, l.wall_s);
	ck_assert_int_eq(o.at, wall);
	ck_assert_int_eq(l.recovery_s,
	    l.b[GP_RDETECT] + l.b[GP_RBACKOFF] + l.b[GP_RQUEUE] +
	        l.b[GP_RSTARTUP]);
	ck_assert(l.ettr >= (double)l.b[GP_PRODUCTIVE] / wall - 1e-9 &&
	    l.ettr <= (double)l.b[GP_PRODUCTIVE] / wall + 1e-9);
	ck_assert_uint_eq(l.nincidents, cases[_i].nincidents);
	if (l.nincidents > 0) {
		ck_assert_int_eq(l.incidents[0].attempt, 1);
		ck_assert_int_eq(l.incidents[0].cause, cases[_i].a[0].cause);
		ck_assert_int_eq(
		    l.incidents[0].training_again_at, cases[_i].again0);
		ck_assert_int_eq(
		    l.incidents[0].recovery_s, cases[_i].recovery0);
		ck_assert_int_eq(l.incidents[0].part[0] +
		        l.incidents[0].part[1] + l.incidents[0].part[2] +
		        l.incidents[0].part[3],
		    cases[_i].recovery0);
	}
	if (cases[_i].a[0].blamed != NULL)
		ck_assert_str_eq(l.incidents[0].nodes, cases[_i].a[0].blamed);
	goodput_ledger_clear(&l);
}
END_TEST

/* Steps once a second, then a 10 s save: 9 s beyond the usual. */
START_TEST(test_stall)
{
	struct gp_stall s = { 0 };
	int64_t t, step = 100, total = 0;

	for (t = 1000; t < 1010; t++)
		total += goodput_stall_sample(&s, t, step++);
	ck_assert_int_eq(total, 0);
	total += goodput_stall_sample(&s, 1019, step); /* saving: no step */
	total += goodput_stall_sample(&s, 1019, step++);
	ck_assert_int_eq(total, 9);
	/* back to normal, and a short hiccup is no stall */
	for (t = 1020; t < 1030; t++)
		total += goodput_stall_sample(&s, t, step++);
	total += goodput_stall_sample(&s, 1032, step++);
	ck_assert_int_eq(total, 9);
	/* a restart from an older step starts over, no stall */
	ck_assert_int_eq(goodput_stall_sample(&s, 1100, 50), 0);
	ck_assert_int_eq(goodput_stall_sample(&s, 1101, 51), 0);
}
END_TEST

static void
set_attempt(struct store *st, struct attempt *a, enum attempt_state to,
    enum attempt_cause cause)
{
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(
	    lifecycle_attempt_set(st, a, to, cause, NULL, NULL), 0);
	ck_assert_int_eq(store_commit(st), 0);
}

/*
 * Marks written at the transitions, the job's end storing its days, the
 * totals; and an unfinished job counted from now.
 */
START_TEST(test_store)
{
	char dir[] = "/tmp/check_goodput.XXXXXX", *db;
	struct job job = { 0 }, job2 = { 0 }, *got;
	struct attempt a = { 0 };
	struct gp_ledger l;
	struct gp_total *t;
	struct store *st;
	int64_t c, sum;
	size_t n;
	int b;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	db = xasprintf("%s/llmctld.db", dir);
	ck_assert_ptr_nonnull(st = store_open(db, NULL));
	job.name = (char *)"j";
	job.user = (char *)"alice";
	job.uid = 1000;
	job.spec = (char *)"{}";
	ck_assert_int_eq(store_job_insert(st, &job), 0);
	got = store_job_get(st, job.id);
	c = got->created_at;
	job_free(got);
	a.job_id = job.id;
	a.attempt = 1;
	a.tag = (char *)"t1";
	a.last_step = a.ckpt_start = a.ckpt_end = -1;
	ck_assert_int_eq(store_attempt_insert(st, &a), 0);
	set_attempt(st, &a, ATTEMPT_PENDING, CAUSE_NONE);
	a.started_at = c - 100; /* clocks differ: clamped to the submission */
	set_attempt(st, &a, ATTEMPT_RUNNING, CAUSE_NONE);
	a.started_at = c + 10;
	ck_assert_int_eq(store_attempt_update(st, &a), 0);
	ck_assert_int_eq(goodput_mark(st, job.id, 1, GP_MARK_BEAT, c + 20), 0);
	/* the first value stays; stalls add */
	ck_assert_int_eq(goodput_mark(st, job.id, 1, GP_MARK_BEAT, c + 25), 0);
	ck_assert_int_eq(goodput_mark(st, job.id, 1, GP_MARK_STALL, 3), 0);
	ck_assert_int_eq(goodput_mark(st, job.id, 1, GP_MARK_STALL, 4), 0);
	/* an earlier attempt's checkpoint is not this one's */
	ck_assert_int_eq(goodput_checkpoint(st, job.id, c - 50), 0);
	ck_assert_int_eq(goodput_checkpoint(st, job.id, c + 60), 0);
	a.ended_at = c + 100;
	set_attempt(st, &a, ATTEMPT_COMPLETED, CAUSE_NONE);
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(goodput_decided(st, job.id, 1, c + 101, 0), 0);
	ck_assert_int_eq(
	    lifecycle_job_set(st, job.id, JOB_QUEUED, JOB_COMPLETED, NULL), 0);
	ck_assert_int_eq(store_commit(st), 0);

	got = store_job_get(st, job.id);
	ck_assert_int_eq(goodput_of_job(st, got, c + 5000, &l), 0);
	ck_assert_int_eq(l.wall_s, 100);
	ck_assert_int_eq(l.b[GP_QUEUE], 10);
	ck_assert_int_eq(l.b[GP_STARTUP], 10);
	ck_assert_int_eq(l.b[GP_STALL], 7);
	ck_assert_int_eq(l.b[GP_PRODUCTIVE], 73);
	goodput_ledger_clear(&l);
	job_free(got);

	/* bob's job runs: counted from now, and only for him and admins */
	job2.name = (char *)"k";
	job2.user = (char *)"bob";
	job2.uid = 1001;
	job2.spec = (char *)"{}";
	ck_assert_int_eq(store_job_insert(st, &job2), 0);

	t = goodput_totals(st, GP_BY_USER, 1, 0, 0, c + 40, &n);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(t[0].key, "alice");
	ck_assert_int_eq(t[0].jobs, 1);
	ck_assert_int_eq(t[0].b[GP_PRODUCTIVE], 73);
	ck_assert_str_eq(t[1].key, "bob");
	for (sum = 0, b = 0; b < GP_NBUCKETS; b++)
		sum += t[1].b[b];
	ck_assert_int_ge(sum, 39); /* its queue so far */
	ck_assert_int_le(sum, 41);
	free(t);
	t = goodput_totals(st, GP_BY_USER, 0, 1000, 0, c + 40, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(t[0].key, "alice");
	free(t);
	t = goodput_totals(st, GP_BY_DAY, 0, 1000, 0, c + 40, &n);
	ck_assert_uint_ge(n, 1);
	ck_assert_uint_le(n, 2);
	ck_assert_int_eq(strlen(t[0].key), 10); /* YYYY-MM-DD */
	for (sum = 0; n > 0; n--)
		sum += t[n - 1].b[GP_PRODUCTIVE];
	ck_assert_int_eq(sum, 73);
	free(t);
	/* by job: a row each, keyed by its id */
	t = goodput_totals(st, GP_BY_JOB, 1, 0, 0, c + 40, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(atoll(t[0].key), job.id);
	ck_assert_int_eq(t[0].b[GP_PRODUCTIVE], 73);
	ck_assert_int_eq(atoll(t[1].key), job2.id);
	free(t);

	store_close(st);
	unit_rm_db(db);
	rmdir(dir);
	free(db);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("goodput");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_compute, 0, nitems(cases));
	tcase_add_test(tc, test_stall);
	tcase_add_test(tc, test_store);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
