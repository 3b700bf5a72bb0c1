/*
 * check_store: the schema is created, migrated from older versions and a
 * newer one refused; jobs and attempts round-trip; filters hold.
 */
#include "config.h"

#include <sys/stat.h>

#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "util.h"
#include "unit.h"

static char dbpath[64];

static void
setup(void)
{
	int fd;

	strcpy(dbpath, "/tmp/check_store.XXXXXX");
	fd = mkstemp(dbpath);
	ck_assert_int_ge(fd, 0);
	close(fd);
	unlink(dbpath);
}

static void
teardown(void)
{
	unit_rm_db(dbpath);
}

static int
user_version(void)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int v;

	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void
raw_exec(const char *sql)
{
	sqlite3 *db;

	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static struct job
sample_job(const char *name, uid_t uid)
{
	struct job j = { 0 };

	j.name = (char *)name;
	j.uid = uid;
	j.gid = uid;
	j.user = (char *)"alice";
	j.state = JOB_QUEUED;
	j.spec = (char *)"{}";
	j.nodes = 2;
	j.gpus_per_node = 4;
	j.world_size = 8;
	return j;
}

/* Attempt n of job 1, on port 29500 + n. */
static struct attempt
sample_attempt(int n, const char *tag, enum attempt_state state)
{
	struct attempt a = { 0 };

	a.job_id = 1;
	a.attempt = n;
	a.tag = (char *)tag;
	a.state = state;
	a.master_port = 29500 + n;
	return a;
}

START_TEST(test_create)
{
	struct store *st;
	char *cause = NULL;

	st = store_open(dbpath, &cause);
	ck_assert_msg(st != NULL, "%s", cause);
	store_close(st);
	ck_assert_int_eq(user_version(), STORE_SCHEMA_VERSION);
	/* reopening an up-to-date database changes nothing */
	st = store_open(dbpath, &cause);
	ck_assert_ptr_nonnull(st);
	store_close(st);
	ck_assert_int_eq(user_version(), STORE_SCHEMA_VERSION);
}
END_TEST

START_TEST(test_migrate_from_v1)
{
	struct store *st;
	struct job *job;
	char *cause = NULL;

	/* a version-1 database with a job in it, as an older llmctld left */
	raw_exec(
	    "CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT,"
	    " name TEXT NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL,"
	    " user TEXT NOT NULL, state TEXT NOT NULL, reason TEXT,"
	    " spec TEXT NOT NULL, created_at INTEGER NOT NULL,"
	    " updated_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
	    " nodes INTEGER NOT NULL, gpus_per_node INTEGER NOT NULL,"
	    " world_size INTEGER NOT NULL, exit_code INTEGER);"
	    "CREATE TABLE attempts (job_id INTEGER NOT NULL, attempt INTEGER"
	    " NOT NULL, tag TEXT NOT NULL UNIQUE, state TEXT NOT NULL,"
	    " slurm_job_id INTEGER, nodes TEXT, master_port INTEGER NOT NULL,"
	    " submitted_at INTEGER NOT NULL, started_at INTEGER, ended_at"
	    " INTEGER, exit_code INTEGER, cause TEXT, reason TEXT,"
	    " PRIMARY KEY (job_id, attempt));"
	    "INSERT INTO jobs (name, uid, gid, user, state, spec, created_at,"
	    " updated_at, nodes, gpus_per_node, world_size) VALUES"
	    " ('old', 7, 7, 'bob', 'RUNNING', '{}', 1, 1, 1, 0, 1);"
	    "PRAGMA user_version = 1;");
	st = store_open(dbpath, &cause);
	ck_assert_msg(st != NULL, "%s", cause);
	ck_assert_int_eq(user_version(), STORE_SCHEMA_VERSION);
	job = store_job_get(st, 1);
	ck_assert_ptr_nonnull(job);
	ck_assert_str_eq(job->name, "old");
	ck_assert_int_eq(job->state, JOB_RUNNING);
	/* the table version 2 added is there and works */
	ck_assert_int_eq(
	    store_event_add(st, 1, "note", "after %s", "upgrade"), 0);
	job_free(job);
	store_close(st);
}
END_TEST

START_TEST(test_refuse_newer)
{
	struct store *st;
	char *cause = NULL, *want;

	raw_exec("CREATE TABLE future (x); PRAGMA user_version = 99;");
	st = store_open(dbpath, &cause);
	ck_assert_ptr_null(st);
	want = xasprintf("%s: database schema 99 is newer than this llmctld "
	                 "understands (%d); refusing to touch it",
	    dbpath, STORE_SCHEMA_VERSION);
	ck_assert_str_eq(cause, want);
	free(want);
	free(cause);
	/* and it was not touched */
	ck_assert_int_eq(user_version(), 99);
}
END_TEST

START_TEST(test_jobs_and_attempts)
{
	struct store *st;
	struct job j1 = sample_job("one", 1000), j2 = sample_job("two", 1001);
	struct job **list, *got;
	struct attempt a = { 0 }, **as;
	struct job_filter f = { 0 };
	size_t n;

	st = store_open(dbpath, NULL);
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(store_job_insert(st, &j1), 0);
	ck_assert_int_eq(store_job_insert(st, &j2), 0);
	ck_assert_int_eq(j1.id, 1);
	ck_assert_int_eq(j2.id, 2);

	/* a user sees only their own; an admin filter sees all */
	f.uid = 1000;
	list = store_job_list(st, &f, &n);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(list[0]->name, "one");
	job_list_free(list, n);
	f.all_users = 1;
	list = store_job_list(st, &f, &n);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(list[0]->name, "two"); /* newest first */
	job_list_free(list, n);

	/* QUEUED without an attempt in flight, then with one */
	list = store_jobs_in_state(st, JOB_QUEUED, &n);
	ck_assert_int_eq(n, 2);
	job_list_free(list, n);
	a.job_id = 1;
	a.attempt = 1;
	a.tag = (char *)"abc";
	a.state = ATTEMPT_CREATED;
	a.master_port = 29501;
	a.submitted_at = 5;
	ck_assert_int_eq(store_attempt_insert(st, &a), 0);
	list = store_jobs_in_state(st, JOB_QUEUED, &n);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(list[0]->id, 2);
	job_list_free(list, n);

	/* a duplicate tag is refused: a tag names one Slurm job */
	a.job_id = 2;
	ck_assert_int_eq(store_attempt_insert(st, &a), -1);

	as = store_attempts_active(st, &n);
	ck_assert_int_eq(n, 1);
	as[0]->slurm_job_id = 77;
	as[0]->ended_at = 9;
	as[0]->has_exit_code = 1;
	as[0]->exit_code = 3;
	as[0]->state = ATTEMPT_FAILED;
	as[0]->cause = CAUSE_USER_ERROR;
	ck_assert_int_eq(store_attempt_update(st, as[0]), 0);
	attempt_list_free(as, n);
	as = store_attempts_active(st, &n);
	ck_assert_int_eq(n, 0);
	free(as);
	as = store_attempts_of(st, 1, &n);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(as[0]->slurm_job_id, 77);
	ck_assert_int_eq(as[0]->exit_code, 3);
	ck_assert_int_eq(as[0]->state, ATTEMPT_FAILED);
	ck_assert_int_eq(as[0]->cause, CAUSE_USER_ERROR);
	ck_assert_int_eq(as[0]->ending, 0);
	attempt_list_free(as, n);

	ck_assert_int_eq(
	    store_job_set_state(st, 1, JOB_FAILED, "exit code 3"), 0);
	ck_assert_int_eq(store_job_set_exit(st, 1, 3), 0);
	got = store_job_get(st, 1);
	ck_assert_int_eq(got->state, JOB_FAILED);
	ck_assert_str_eq(got->reason, "exit code 3");
	ck_assert_int_eq(got->attempts, 1);
	ck_assert(got->has_exit_code && got->exit_code == 3);
	job_free(got);
	ck_assert_ptr_null(store_job_get(st, 99));
	store_close(st);
}
END_TEST

static unsigned
file_mode(const char *suffix)
{
	struct stat sb;
	char *p = xasprintf("%s%s", dbpath, suffix);

	ck_assert_int_eq(stat(p, &sb), 0);
	free(p);
	return (unsigned)(sb.st_mode & 07777);
}

/* ids of store_job_list(f), newest first, as "3 1" */
static char *
list_ids(struct store *st, const struct job_filter *f)
{
	struct job **list;
	char *s = xstrdup(""), *t;
	size_t n, i;

	list = store_job_list(st, f, &n);
	for (i = 0; i < n; i++) {
		t = xasprintf(
		    "%s%s%lld", s, i > 0 ? " " : "", (long long)list[i]->id);
		free(s);
		s = t;
	}
	job_list_free(list, n);
	return s;
}

/*
 * The filters of GET /v1/jobs, each in the query: states, name, and
 * since, which leaves out only final jobs that ended before it.
 */
START_TEST(test_list_filters)
{
	static const struct {
		unsigned states;
		const char *name;
		int64_t since; /* from now */
		const char *want;
	} cases[] = {
		{ 0, NULL, 0, "4 3 2 1" },
		{ 1u << JOB_QUEUED, NULL, 0, "2" },
		{ 1u << JOB_FAILED | 1u << JOB_CANCELLED, NULL, 0, "4 3" },
		{ 1u << JOB_RUNNING, NULL, 0, "" },
		{ 0, "two", 0, "2" },
		{ 0, "one", 0, "4 1" },
		{ 1u << JOB_COMPLETED, "one", 0, "1" },
		/* ended an hour from now: only the unfinished job is left */
		{ 0, NULL, 3600, "2" },
		{ 1u << JOB_COMPLETED, NULL, 3600, "" },
		{ 0, NULL, -3600, "4 3 2 1" },
	};
	struct job j[] = { sample_job("one", 1000), sample_job("two", 1000),
		sample_job("three", 1000), sample_job("one", 1000) };
	static const enum job_state states[] = { JOB_COMPLETED, JOB_QUEUED,
		JOB_FAILED, JOB_CANCELLED };
	struct job_filter f = { .uid = 1000 };
	struct store *st;
	size_t i;
	char *got;

	st = store_open(dbpath, NULL);
	ck_assert_ptr_nonnull(st);
	for (i = 0; i < nitems(j); i++) {
		ck_assert_int_eq(store_job_insert(st, &j[i]), 0);
		ck_assert_int_eq(
		    store_job_set_state(st, j[i].id, states[i], NULL), 0);
	}
	for (i = 0; i < nitems(cases); i++) {
		f.states = cases[i].states;
		f.name = cases[i].name;
		f.since = cases[i].since != 0 ? wall_s() + cases[i].since : 0;
		got = list_ids(st, &f);
		ck_assert_msg(strcmp(got, cases[i].want) == 0,
		    "case %zu: got \"%s\", want \"%s\"", i, got, cases[i].want);
		free(got);
	}
	store_close(st);
}
END_TEST

/* Specs and token hashes: owner-only whatever the umask, and tightened. */
START_TEST(test_owner_only)
{
	struct store *st;
	struct job j = sample_job("secret", 1000);
	mode_t old = umask(0);

	st = store_open(dbpath, NULL);
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(store_job_insert(st, &j), 0); /* WAL and SHM now */
	ck_assert_uint_eq(file_mode(""), 0600);
	ck_assert_uint_eq(file_mode("-wal"), 0600);
	ck_assert_uint_eq(file_mode("-shm"), 0600);
	store_close(st);
	/* as an older llmctld left them */
	ck_assert_int_eq(chmod(dbpath, 0644), 0);
	st = store_open(dbpath, NULL);
	ck_assert_ptr_nonnull(st);
	ck_assert_uint_eq(file_mode(""), 0600);
	store_close(st);
	umask(old);
}
END_TEST

/* Schema 5 keeps only the hash of the heartbeat tokens in flight. */
START_TEST(test_migrate_tokens)
{
	struct store *st;
	struct job j = sample_job("beats", 1000);
	struct attempt a = sample_attempt(1, "t1", ATTEMPT_RUNNING), **as;
	size_t n;

	st = store_open(dbpath, NULL);
	ck_assert_int_eq(store_job_insert(st, &j), 0);
	ck_assert_int_eq(store_attempt_insert(st, &a), 0);
	store_close(st);
	/* back to schema 4: the raw token "abc" in the token column */
	raw_exec("DROP INDEX attempts_unsubmitted; DROP INDEX attempts_port;"
	         "DROP INDEX attempts_waiting; DROP INDEX attempts_started;"
	         "DROP TABLE node_failures;"
	         "ALTER TABLE nodes DROP COLUMN score;"
	         "ALTER TABLE nodes DROP COLUMN score_at;"
	         "ALTER TABLE nodes DROP COLUMN quarantines;"
	         "ALTER TABLE nodes DROP COLUMN quarantined_until;"
	         "ALTER TABLE nodes DROP COLUMN probation_until;"
	         "ALTER TABLE nodes DROP COLUMN drained;"
	         "DROP TABLE goodput_days; DROP TABLE goodput_marks;"
	         "DROP TABLE cursors;"
	         "DROP INDEX jobs_idem; ALTER TABLE jobs DROP COLUMN idem_key;"
	         "ALTER TABLE attempts DROP COLUMN decided;"
	         "ALTER TABLE attempts RENAME COLUMN token_hash TO token;"
	         "UPDATE attempts SET token = 'abc'; PRAGMA user_version = 4;");
	st = store_open(dbpath, NULL);
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(user_version(), STORE_SCHEMA_VERSION);
	as = store_attempts_of(st, 1, &n);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(as[0]->token_hash,
	    "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	attempt_list_free(as, n);
	store_close(st);
}
END_TEST

/*
 * Schema 11's partial indexes: the attempts not in Slurm yet, the ports in
 * use and the waiting attempts, each as the full scan would answer, and
 * the statements kept by store_prepare() answer again after a change.
 */
START_TEST(test_active_indexes)
{
	struct store *st;
	struct job j = sample_job("idx", 1000);
	struct attempt a = sample_attempt(1, "u1", ATTEMPT_CREATED), **as;
	size_t n;

	st = store_open(dbpath, NULL);
	ck_assert_int_eq(store_job_insert(st, &j), 0);
	ck_assert_int_eq(store_attempt_insert(st, &a), 0);
	a.attempt = 2;
	a.tag = (char *)"u2";
	a.master_port = 29502;
	a.slurm_job_id = 77;
	a.state = ATTEMPT_PENDING;
	ck_assert_int_eq(store_attempt_insert(st, &a), 0);
	as = store_attempts_unsubmitted(st, NULL, NULL, &n);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(as[0]->tag, "u1");
	attempt_list_free(as, n);
	ck_assert_int_eq(store_port_in_use(st, 29501), 1);
	ck_assert_int_eq(store_port_in_use(st, 29502), 1);
	ck_assert_int_eq(store_port_in_use(st, 29503), 0);
	/* handed to Slurm without nodes: counted as queued */
	ck_assert_int_eq(store_attempts_queued(st), 1);
	/* the first attempt ends: its port is free, nothing is unsubmitted */
	as = store_attempts_of(st, 1, &n);
	as[0]->ended_at = 100;
	as[0]->state = ATTEMPT_FAILED;
	ck_assert_int_eq(store_attempt_update(st, as[0]), 0);
	attempt_list_free(as, n);
	ck_assert_int_eq(store_port_in_use(st, 29501), 0);
	as = store_attempts_unsubmitted(st, NULL, NULL, &n);
	ck_assert_int_eq(n, 0);
	free(as);
	/* a recoverable commit is kept like any other (short of power loss) */
	as = store_attempts_of(st, 1, &n);
	as[1]->state = ATTEMPT_RUNNING;
	ck_assert_int_eq(store_begin_recoverable(st), 0);
	ck_assert_int_eq(store_attempt_update(st, as[1]), 0);
	ck_assert_int_eq(store_commit(st), 0);
	/* and a durable one after it */
	as[1]->started_at = 1234;
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_attempt_update(st, as[1]), 0);
	ck_assert_int_eq(store_commit(st), 0);
	attempt_list_free(as, n);
	store_close(st);
	st = store_open(dbpath, NULL);
	as = store_attempts_of(st, 1, &n);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(as[1]->state, ATTEMPT_RUNNING);
	ck_assert_int_eq(as[1]->started_at, 1234);
	attempt_list_free(as, n);
	store_close(st);
}
END_TEST

static int kicks;

static void
count_kick(void *arg)
{
	(void)arg;
	kicks++;
}

/* an attempt's Slurm id as another connection sees it (committed only) */
static int64_t
committed_id(int attempt)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	int64_t v = -1;

	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	sqlite3_prepare_v2(db,
	    "SELECT IFNULL(slurm_job_id, 0) FROM attempts WHERE job_id = 1 "
	    "AND attempt = ?",
	    -1, &q, NULL);
	sqlite3_bind_int(q, 1, attempt);
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return v;
}

/* a's Slurm id set to id in a recoverable transaction, kept or not */
static void
set_id(struct store *st, struct attempt *a, int64_t id, int keep)
{
	a->slurm_job_id = id;
	ck_assert_int_eq(store_begin_recoverable(st), 0);
	ck_assert_int_eq(store_attempt_update(st, a), 0);
	if (keep)
		ck_assert_int_eq(store_commit(st), 0);
	else
		store_rollback(st);
}

/*
 * The recoverable transactions of a loop turn share one: each is kept or
 * undone alone, the loop is kicked once, and they reach the file at the
 * flush, or before a durable one or any write outside them.
 */
START_TEST(test_recoverable_batch)
{
	struct store *st;
	struct job j = sample_job("batch", 1000);
	struct attempt a1 = sample_attempt(1, "b1", ATTEMPT_PENDING),
	               a2 = sample_attempt(2, "b2", ATTEMPT_PENDING);
	struct attempt **as;
	size_t n;

	st = store_open(dbpath, NULL);
	ck_assert_int_eq(store_job_insert(st, &j), 0);
	ck_assert_int_eq(store_attempt_insert(st, &a1), 0);
	ck_assert_int_eq(store_attempt_insert(st, &a2), 0);
	store_set_flush(st, count_kick, NULL);
	kicks = 0;
	set_id(st, &a1, 11, 1);
	set_id(st, &a2, 12, 0); /* undone alone */
	ck_assert_int_eq(kicks, 1);
	ck_assert_int_eq(store_in_tx(st), 0);
	/* not in the file yet; this connection sees its own writes */
	ck_assert_int_eq(committed_id(1), 0);
	as = store_attempts_of(st, 1, &n);
	ck_assert_int_eq(as[0]->slurm_job_id, 11);
	ck_assert_int_eq(as[1]->slurm_job_id, 0);
	attempt_list_free(as, n);
	ck_assert_int_eq(store_flush(st), 0);
	ck_assert_int_eq(committed_id(1), 11);
	ck_assert_int_eq(committed_id(2), 0);
	/* a durable transaction commits the batch before its own */
	set_id(st, &a2, 12, 1);
	ck_assert_int_eq(kicks, 2);
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(committed_id(2), 12);
	store_rollback(st);
	/* so does a write outside any transaction */
	set_id(st, &a2, 22, 1);
	ck_assert_int_eq(store_cursor_set(st, "t", 5), 0);
	ck_assert_int_eq(committed_id(2), 22);
	/* and closing */
	set_id(st, &a1, 21, 1);
	ck_assert_int_eq(committed_id(1), 11);
	store_close(st);
	ck_assert_int_eq(committed_id(1), 21);
}
END_TEST

START_TEST(test_state_names)
{
	enum job_state s;

	ck_assert_int_eq(job_state_parse("running", &s), 0);
	ck_assert_int_eq(s, JOB_RUNNING);
	ck_assert_int_eq(job_state_parse("bogus", &s), -1);
	ck_assert(job_state_final(JOB_CANCELLED));
	ck_assert(!job_state_final(JOB_RESTARTING));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_create);
	tcase_add_test(tc, test_migrate_from_v1);
	tcase_add_test(tc, test_refuse_newer);
	tcase_add_test(tc, test_jobs_and_attempts);
	tcase_add_test(tc, test_list_filters);
	tcase_add_test(tc, test_state_names);
	tcase_add_test(tc, test_owner_only);
	tcase_add_test(tc, test_migrate_tokens);
	tcase_add_test(tc, test_active_indexes);
	tcase_add_test(tc, test_recoverable_batch);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
