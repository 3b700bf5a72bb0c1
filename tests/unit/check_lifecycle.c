/*
 * check_lifecycle: every legal job and attempt transition is in its table
 * and accepted, everything else (a final state left, a skipped step, the
 * wrong cause) is refused, the names stored and shown are as they were,
 * and docs/design.md section 5 lists exactly the tables.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lifecycle.h"
#include "store.h"
#include "util.h"
#include "unit.h"

#define NSTATES (JOB_CANCELLED + 1)
#define C(x) (1u << CAUSE_##x)

START_TEST(table_walk)
{
	const struct job_transition *t;
	size_t n, i;
	int from, to, listed, legal = 0;

	t = lifecycle_job_table(&n);
	ck_assert_uint_gt(n, 0);
	for (from = 0; from < NSTATES; from++)
		for (to = 0; to < NSTATES; to++) {
			for (listed = 0, i = 0; i < n; i++)
				listed |= (int)t[i].from == from &&
				    (int)t[i].to == to;
			ck_assert_int_eq(lifecycle_job_legal(from, to), listed);
			legal += listed;
			/* nothing leaves a final state */
			if (job_state_final(from))
				ck_assert_int_eq(listed, 0);
		}
	ck_assert_int_eq(legal, (int)n);
	/* a sample of illegal ones */
	ck_assert(!lifecycle_job_legal(JOB_QUEUED, JOB_RUNNING));
	ck_assert(!lifecycle_job_legal(JOB_RUNNING, JOB_QUEUED));
	ck_assert(!lifecycle_job_legal(JOB_COMPLETED, JOB_RESTARTING));
	ck_assert(!lifecycle_job_legal(JOB_CANCELLED, JOB_QUEUED));
	ck_assert(!lifecycle_job_legal(JOB_FAILED, JOB_CANCELLED));
	ck_assert(!lifecycle_job_legal(JOB_QUEUED, JOB_QUEUED));
}
END_TEST

START_TEST(set_refuses)
{
	char dir[] = "/tmp/check_lifecycle.XXXXXX", *db;
	struct job job = { 0 }, *got;
	struct store *st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	db = xasprintf("%s/llmctld.db", dir);
	ck_assert_ptr_nonnull(st = store_open(db, NULL));
	job.name = (char *)"j";
	job.user = (char *)"u";
	job.spec = (char *)"{}";
	job.state = JOB_QUEUED;
	ck_assert_int_eq(store_job_insert(st, &job), 0);
	ck_assert_int_eq(
	    lifecycle_job_set(st, job.id, JOB_QUEUED, JOB_RUNNING, NULL), -1);
	ck_assert_int_eq(
	    lifecycle_job_set(st, job.id, JOB_QUEUED, JOB_SUBMITTED, NULL), 0);
	got = store_job_get(st, job.id);
	ck_assert_int_eq(got->state, JOB_SUBMITTED);
	job_free(got);
	ck_assert_int_eq(
	    lifecycle_job_set(st, job.id, JOB_CANCELLED, JOB_QUEUED, NULL), -1);
	got = store_job_get(st, job.id);
	ck_assert_int_eq(got->state, JOB_SUBMITTED);
	job_free(got);
	store_close(st);
	unit_rm_db(db);
	rmdir(dir);
	free(db);
}
END_TEST

/* The rows between the markers in docs/design.md: "| FROM | TO |". */
START_TEST(doc_matches)
{
	const char *srcdir = getenv("srcdir");
	char *path, line[512], a[32], b[32];
	enum job_state from, to;
	const struct job_transition *t;
	size_t n, rows = 0;
	int in = 0, seen[NSTATES][NSTATES] = { { 0 } };
	FILE *f;

	path = xasprintf("%s/docs/design.md", srcdir != NULL ? srcdir : ".");
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, "<!-- transitions begin") != NULL)
			in = 1;
		else if (strstr(line, "<!-- transitions end") != NULL)
			in = 0;
		else if (in &&
		    sscanf(line, "| %31[A-Z] | %31[A-Z] |", a, b) == 2 &&
		    strcmp(a, "FROM") != 0) {
			ck_assert_msg(job_state_parse(a, &from) == 0, "%s", a);
			ck_assert_msg(job_state_parse(b, &to) == 0, "%s", b);
			ck_assert_msg(lifecycle_job_legal(from, to),
			    "docs list %s -> %s, the code does not", a, b);
			ck_assert(!seen[from][to]);
			seen[from][to] = 1;
			rows++;
		}
	}
	fclose(f);
	free(path);
	t = lifecycle_job_table(&n);
	ck_assert_msg(
	    rows == n, "docs list %zu transitions, the code %zu", rows, n);
	(void)t;
}
END_TEST

/* The names in SQLite and the API: they must not change. */
START_TEST(attempt_names)
{
	static const char *const states[ATTEMPT_NSTATES] = { "CREATED",
		"PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED",
		"TIMEOUT", "NODE_FAIL", "PREEMPTED", "LOST" };
	static const char *const causes[ATTEMPT_NCAUSES] = { NULL, "user_error",
		"preflight_failed", "node_failure", "hang", "timeout",
		"preempted", "lost", "cancelled", "submit_failed",
		"unplaceable", "launch_failed", "replan" };
	enum attempt_state st;
	enum attempt_cause c;
	int i;

	for (i = 0; i < ATTEMPT_NSTATES; i++) {
		ck_assert_str_eq(attempt_state_name(i), states[i]);
		ck_assert_int_eq(attempt_state_parse(states[i], &st), 0);
		ck_assert_int_eq(st, i);
		ck_assert_int_eq(
		    attempt_state_final(i), i >= ATTEMPT_COMPLETED);
	}
	for (i = 0; i < ATTEMPT_NCAUSES; i++) {
		ck_assert_pstr_eq(attempt_cause_name(i), causes[i]);
		ck_assert_int_eq(attempt_cause_parse(causes[i], &c), 0);
		ck_assert_int_eq(c, i);
	}
	ck_assert_int_eq(attempt_state_parse("running", &st), -1);
	ck_assert_int_eq(attempt_state_parse(NULL, &st), -1);
	ck_assert_int_eq(attempt_cause_parse("HANG", &c), -1);
	ck_assert_int_eq(attempt_cause_parse("", &c), -1);
}
END_TEST

static int
attempt_listed(int from, int ending, int to, int cause)
{
	const struct attempt_transition *t;
	size_t n, i;
	int listed = 0;

	t = lifecycle_attempt_table(&n);
	for (i = 0; i < n; i++)
		listed |= (int)t[i].from == from &&
		    t[i].from_ending == ending && (int)t[i].to == to &&
		    (t[i].causes & (1u << cause)) != 0;
	return listed;
}

/* Illegal ones, and legal ones the monitor relies on. */
static const struct {
	enum attempt_state from;
	int ending;
	enum attempt_state to;
	enum attempt_cause cause;
	int legal;
} samples[] = {
	{ ATTEMPT_CREATED, 0, ATTEMPT_RUNNING, CAUSE_NONE, 0 },
	{ ATTEMPT_RUNNING, 0, ATTEMPT_CREATED, CAUSE_NONE, 0 },
	{ ATTEMPT_RUNNING, 1, ATTEMPT_PENDING, CAUSE_HANG, 0 },
	{ ATTEMPT_RUNNING, 0, ATTEMPT_RUNNING, CAUSE_REPLAN, 0 },
	{ ATTEMPT_PENDING, 0, ATTEMPT_COMPLETED, CAUSE_HANG, 0 },
	{ ATTEMPT_CREATED, 0, ATTEMPT_FAILED, CAUSE_USER_ERROR, 0 },
	{ ATTEMPT_COMPLETED, 0, ATTEMPT_RUNNING, CAUSE_NONE, 0 },
	{ ATTEMPT_LOST, 0, ATTEMPT_LOST, CAUSE_LOST, 0 },
	{ ATTEMPT_RUNNING, 1, ATTEMPT_CANCELLED, CAUSE_HANG, 1 },
	{ ATTEMPT_PENDING, 1, ATTEMPT_CREATED, CAUSE_NONE, 1 },
	{ ATTEMPT_RUNNING, 0, ATTEMPT_COMPLETED, CAUSE_CANCELLED, 1 },
	{ ATTEMPT_RUNNING, 0, ATTEMPT_PENDING, CAUSE_NONE, 1 },
};

START_TEST(attempt_table_walk)
{
	const struct attempt_transition *t;
	size_t n, i;
	int from, ending, to, cause, listed, legal = 0;

	t = lifecycle_attempt_table(&n);
	ck_assert_uint_gt(n, 0);
	for (i = 0; i < n; i++) {
		/* one row per pair, a cause for each, none past the enum */
		ck_assert_uint_ne(t[i].causes, 0);
		ck_assert_uint_eq(t[i].causes >> ATTEMPT_NCAUSES, 0);
		ck_assert_int_eq(t[i].from_ending & ~1, 0);
	}
	for (from = 0; from < ATTEMPT_NSTATES; from++)
		for (ending = 0; ending < 2; ending++)
			for (to = 0; to < ATTEMPT_NSTATES; to++)
				for (cause = 0; cause < ATTEMPT_NCAUSES;
				     cause++) {
					listed = attempt_listed(
					    from, ending, to, cause);
					ck_assert_int_eq(
					    lifecycle_attempt_legal(
					        from, ending, to, cause),
					    listed);
					legal += listed;
					if (!listed)
						continue;
					/* nothing leaves a final state or ends a CREATED one */
					ck_assert(!attempt_state_final(from));
					ck_assert(!(
					    ending && from == ATTEMPT_CREATED));
					/* an ending attempt keeps its state until Slurm's end */
					if (!attempt_state_final(to) &&
					    cause != CAUSE_NONE)
						ck_assert_int_eq(to, from);
					if (ending && !attempt_state_final(to))
						ck_assert(
						    to == ATTEMPT_CREATED &&
						    cause == CAUSE_NONE);
					/* re-planning is never an end */
					if (attempt_state_final(to))
						ck_assert_int_ne(
						    cause, CAUSE_REPLAN);
				}
	ck_assert_int_gt(legal, (int)n);
	for (i = 0; i < nitems(samples); i++)
		ck_assert_msg(
		    lifecycle_attempt_legal(samples[i].from, samples[i].ending,
		        samples[i].to, samples[i].cause) == samples[i].legal,
		    "sample %zu", i);
}
END_TEST

/* One step inside a transaction, committed; what lifecycle returned. */
static int
step(struct store *st, struct attempt *a, enum attempt_state to,
    enum attempt_cause cause)
{
	int rc;

	ck_assert_int_eq(store_begin(st), 0);
	rc = lifecycle_attempt_set(
	    st, a, to, cause, "test", "to %s", attempt_state_name(to));
	if (rc == 0)
		ck_assert_int_eq(store_commit(st), 0);
	else
		store_rollback(st);
	return rc;
}

/* The stored row of attempt 1 of job 1. */
static struct attempt *
stored(struct store *st)
{
	struct attempt **as, *a;
	size_t n;

	as = store_attempts_of(st, 1, &n);
	ck_assert_uint_eq(n, 1);
	a = as[0];
	free(as);
	return a;
}

START_TEST(attempt_set)
{
	char dir[] = "/tmp/check_lifecycle.XXXXXX", *db;
	struct job job = { 0 };
	struct attempt a = { 0 }, *got;
	struct event_row *ev;
	struct store *st;
	size_t n;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	db = xasprintf("%s/llmctld.db", dir);
	ck_assert_ptr_nonnull(st = store_open(db, NULL));
	job.name = (char *)"j";
	job.user = (char *)"u";
	job.spec = (char *)"{}";
	ck_assert_int_eq(store_job_insert(st, &job), 0);
	a.job_id = job.id;
	a.attempt = 1;
	a.tag = (char *)"t1";
	a.last_step = a.ckpt_start = a.ckpt_end = -1;
	ck_assert_int_eq(store_attempt_insert(st, &a), 0);

	/* outside a transaction, or illegal: refused, nothing changes */
	ck_assert_int_eq(lifecycle_attempt_set(
	                     st, &a, ATTEMPT_PENDING, CAUSE_NONE, NULL, NULL),
	    -1);
	ck_assert_int_eq(step(st, &a, ATTEMPT_RUNNING, CAUSE_NONE), -1);
	ck_assert_int_eq(a.state, ATTEMPT_CREATED);
	ck_assert_int_eq(step(st, &a, ATTEMPT_PENDING, CAUSE_NONE), 0);
	got = stored(st);
	ck_assert_int_eq(got->state, ATTEMPT_PENDING);
	attempt_free(got);
	ev = store_events_of(st, job.id, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(ev[0].kind, "test");
	ck_assert_str_eq(ev[0].message, "to PENDING");
	event_list_free(ev, n);

	/* re-plan: ending, as the store tells it back, then CREATED again */
	ck_assert_int_eq(step(st, &a, ATTEMPT_PENDING, CAUSE_REPLAN), 0);
	ck_assert(a.ending);
	got = stored(st);
	ck_assert(got->ending);
	ck_assert_int_eq(got->cause, CAUSE_REPLAN);
	ck_assert_int_eq(step(st, got, ATTEMPT_RUNNING, CAUSE_NONE), -1);
	attempt_free(got);
	ck_assert_int_eq(step(st, &a, ATTEMPT_CREATED, CAUSE_NONE), 0);
	ck_assert(!a.ending);
	ck_assert_int_eq(a.cause, CAUSE_NONE);

	/* a hang, then Slurm's end: the cause stays, ended_at is set */
	ck_assert_int_eq(step(st, &a, ATTEMPT_PENDING, CAUSE_NONE), 0);
	ck_assert_int_eq(step(st, &a, ATTEMPT_RUNNING, CAUSE_NONE), 0);
	ck_assert_int_eq(step(st, &a, ATTEMPT_RUNNING, CAUSE_HANG), 0);
	ck_assert_int_eq(step(st, &a, ATTEMPT_CANCELLED, CAUSE_CANCELLED), -1);
	ck_assert_int_eq(a.state, ATTEMPT_RUNNING);
	ck_assert_int_eq(a.cause, CAUSE_HANG);
	ck_assert(a.ending);
	ck_assert_int_eq(a.ended_at, 0);
	ck_assert_int_eq(step(st, &a, ATTEMPT_CANCELLED, CAUSE_HANG), 0);
	ck_assert(!a.ending);
	ck_assert_int_ne(a.ended_at, 0);
	got = stored(st);
	ck_assert_int_eq(got->state, ATTEMPT_CANCELLED);
	ck_assert_int_eq(got->cause, CAUSE_HANG);
	ck_assert(!got->ending);
	attempt_free(got);
	ck_assert_int_eq(step(st, &a, ATTEMPT_FAILED, CAUSE_HANG), -1);
	ev = store_events_of(st, job.id, &n);
	ck_assert_uint_eq(n, 7);
	event_list_free(ev, n);
	store_close(st);
	unit_rm_db(db);
	rmdir(dir);
	free(db);
}
END_TEST

/* "NAME" or "NAME ending"; -1 if it is neither. */
static int
doc_state(char *cell, enum attempt_state *state, int *ending)
{
	char *sp = strchr(cell, ' ');

	*ending = 0;
	if (sp != NULL) {
		if (strcmp(sp, " ending") != 0)
			return -1;
		*sp = '\0';
		*ending = 1;
	}
	return attempt_state_parse(cell, state);
}

/* "-" (none) and cause names, comma separated, as a mask. */
static unsigned int
doc_causes(char *cell)
{
	enum attempt_cause c;
	unsigned int mask = 0;
	char *tok, *save;

	for (tok = strtok_r(cell, ", ", &save); tok != NULL;
	     tok = strtok_r(NULL, ", ", &save)) {
		c = CAUSE_NONE;
		ck_assert_msg(strcmp(tok, "-") == 0 ||
		        (attempt_cause_parse(tok, &c) == 0 && c != CAUSE_NONE),
		    "cause %s", tok);
		mask |= 1u << c;
	}
	return mask;
}

/* The cells of "| a | b | c |", trimmed, into cell[3]; their number. */
static int
doc_cells(char *line, char *cell[3])
{
	char *p = line, *end, *next;
	int n = 0;

	if (*p++ != '|')
		return 0;
	while (n < 3 && (end = strchr(p, '|')) != NULL) {
		next = end + 1;
		*end = '\0';
		while (*p == ' ')
			p++;
		cell[n++] = p;
		while (end > p && end[-1] == ' ')
			*--end = '\0';
		p = next;
	}
	return n;
}

/*
 * The rows between the attempt markers in docs/design.md:
 * "| FROM | TO | CAUSES |"; together exactly the code's table.
 */
START_TEST(attempt_doc_matches)
{
	const char *srcdir = getenv("srcdir");
	const struct attempt_transition *t;
	char *path, line[512], *cell[3];
	enum attempt_state from, to;
	unsigned int mask;
	size_t n, i, rows = 0;
	int in = 0, fe, te, found, seen[64] = { 0 };
	FILE *f;

	t = lifecycle_attempt_table(&n);
	ck_assert_uint_le(n, nitems(seen));
	path = xasprintf("%s/docs/design.md", srcdir != NULL ? srcdir : ".");
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strstr(line, "<!-- attempt transitions begin") != NULL) {
			in = 1;
			continue;
		}
		if (strstr(line, "<!-- attempt transitions end") != NULL)
			in = 0;
		if (!in || doc_cells(line, cell) != 3 ||
		    strcmp(cell[0], "FROM") == 0 || cell[0][0] == '-')
			continue;
		ck_assert_msg(
		    doc_state(cell[0], &from, &fe) == 0, "%s", cell[0]);
		ck_assert_msg(doc_state(cell[1], &to, &te) == 0, "%s", cell[1]);
		mask = doc_causes(cell[2]);
		/* "ending" on the right is what the cause makes it */
		ck_assert_int_eq(
		    te, !attempt_state_final(to) && (mask & C(NONE)) == 0);
		for (found = -1, i = 0; i < n; i++)
			if (t[i].from == from && t[i].from_ending == fe &&
			    t[i].to == to && t[i].causes == mask)
				found = (int)i;
		ck_assert_msg(found >= 0,
		    "docs list %s%s -> %s (%#x), the "
		    "code does not",
		    attempt_state_name(from), fe ? " ending" : "",
		    attempt_state_name(to), mask);
		ck_assert_msg(!seen[found], "docs list row %d twice", found);
		seen[found] = 1;
		rows++;
	}
	fclose(f);
	free(path);
	ck_assert_msg(rows == n,
	    "docs list %zu attempt transitions, the code "
	    "%zu",
	    rows, n);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("lifecycle");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, table_walk);
	tcase_add_test(tc, set_refuses);
	tcase_add_test(tc, doc_matches);
	tcase_add_test(tc, attempt_names);
	tcase_add_test(tc, attempt_table_walk);
	tcase_add_test(tc, attempt_set);
	tcase_add_test(tc, attempt_doc_matches);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
