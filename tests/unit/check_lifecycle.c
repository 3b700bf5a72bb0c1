/*
 * check_lifecycle: every legal job transition is in the table and accepted,
 * everything else (a final state left, a skipped step) is refused, and
 * docs/design.md section 5 lists exactly the table.
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
	ck_assert_int_eq(lifecycle_job_set(st, job.id, JOB_QUEUED,
	    JOB_RUNNING, NULL), -1);
	ck_assert_int_eq(lifecycle_job_set(st, job.id, JOB_QUEUED,
	    JOB_SUBMITTED, NULL), 0);
	got = store_job_get(st, job.id);
	ck_assert_int_eq(got->state, JOB_SUBMITTED);
	job_free(got);
	ck_assert_int_eq(lifecycle_job_set(st, job.id, JOB_CANCELLED,
	    JOB_QUEUED, NULL), -1);
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
		else if (in && sscanf(line, "| %31[A-Z] | %31[A-Z] |", a,
		    b) == 2 && strcmp(a, "FROM") != 0) {
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
	ck_assert_msg(rows == n, "docs list %zu transitions, the code %zu",
	    rows, n);
	(void)t;
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
	suite_add_tcase(s, tc);
	return unit_run(s);
}
