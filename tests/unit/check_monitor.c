/*
 * check_monitor: the job state machine against the in-memory scheduler
 * (daemon/backend-fake.c), on a real event loop, store and worker thread:
 * submission is exactly once even while the scheduler is unreachable,
 * Slurm's states map onto the job's, and failures restart within budget.
 * The end-to-end tests do the same against a real Slurm; these run in a
 * second without one.
 */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <sqlite3.h>

#include "api.h"
#include "backend-fake.h"
#include "conf.h"
#include "health.h"
#include "llmctld.h"
#include "monitor.h"
#include "spec.h"
#include "spec-cache.h"
#include "store.h"
#include "users.h"
#include "unit.h"
#include "util.h"
#include "worker.h"

static struct llmctld d;
static char dir[64];

static void
setup(void)
{
	char *db;

	strcpy(dir, "/tmp/check_monitor.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	memset(&d, 0, sizeof(d));
	d.conf = conf_load(NULL, NULL);
	free(d.conf->state_dir);
	d.conf->state_dir = xstrdup(dir);
	d.conf->poll_interval_ms = 20;
	db = xasprintf("%s/db", dir);
	d.store = store_open(db, NULL);
	free(db);
	ck_assert_ptr_nonnull(d.store);
	fake_reset();
	d.backend = &backend_fake;
	evthread_use_pthreads();
	d.base = event_base_new();
	d.worker = worker_create(d.base, d.backend);
	d.health = health_create();
	d.specs = spec_cache_create();
	d.users = users_create();
	d.monitor = monitor_create(&d);
}

static void
teardown(void)
{
	char *cmd;

	worker_free(d.worker);
	monitor_free(d.monitor);
	spec_cache_free(d.specs);
	users_free(d.users);
	bcluster_free(d.cluster);
	health_free(d.health);
	event_base_free(d.base);
	store_close(d.store);
	conf_free(d.conf);
	cmd = xasprintf("rm -rf %s", dir);
	(void)!system(cmd);
	free(cmd);
}

static int64_t
submit(const char *yaml)
{
	struct api_request req = { .method = API_POST, .path = "/v1/jobs" };
	struct api_response resp;
	json_t *body;
	char *text;
	int64_t id;

	body = json_pack("{s:s, s:s, s:s}", "spec", yaml, "file", "t.yaml",
	    "workdir", "/tmp");
	text = json_dumps(body, 0);
	req.body = text;
	req.body_len = strlen(text);
	req.uid = getuid();
	req.gid = getgid();
	api_dispatch(&d, &req, &resp);
	ck_assert_msg(resp.status == 201, "submit: %d %s", resp.status,
	    json_string_value(json_object_get(resp.body, "error")));
	id = json_integer_value(json_object_get(resp.body, "id"));
	json_decref(resp.body);
	json_decref(body);
	free(text);
	return id;
}

static enum job_state
state_of(int64_t id)
{
	struct job *job = store_job_get(d.store, id);
	enum job_state s = job->state;

	job_free(job);
	return s;
}

/* Run the loop for 20 ms. */
static void
loop_turn(void)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = 20000 };

	event_base_loopexit(d.base, &tv);
	event_base_dispatch(d.base);
}

/* Run the loop until the job is in state, at most ms. */
static int
run_until(int64_t id, enum job_state want, int ms)
{
	int64_t end = mono_ms() + ms;

	while (mono_ms() < end) {
		if (state_of(id) == want)
			return 1;
		loop_turn();
	}
	return state_of(id) == want;
}

static int
attempt_count(int64_t id)
{
	struct attempt **as;
	size_t n;

	as = store_attempts_of(d.store, id, &n);
	attempt_list_free(as, n);
	return (int)n;
}

/*
 * The job is restarting, or has restarted already: Slurm's end times are
 * in whole seconds, so a 1 s backoff may be over by the decision, and the
 * job then passes RESTARTING within one tick.
 */
static int
run_until_restarted(int64_t id, int ms)
{
	int64_t end = mono_ms() + ms;

	while (mono_ms() < end) {
		if (run_until(id, JOB_RESTARTING, 20) || attempt_count(id) >= 2)
			return 1;
	}
	return 0;
}

static int64_t
slurm_id(int64_t id, int attempt)
{
	struct attempt **as;
	size_t n;
	int64_t sid = 0;

	as = store_attempts_of(d.store, id, &n);
	if ((size_t)attempt <= n)
		sid = as[attempt - 1]->slurm_job_id;
	attempt_list_free(as, n);
	return sid;
}

static const char JOB[] =
    "version: 1\nname: t\ncommand: \"true\"\nresources:\n  nodes: 2\n"
    "  gpus_per_node: 2\nrecovery:\n  max_restarts: 1\n  backoff: 1s\n";

START_TEST(test_lifecycle)
{
	int64_t id = submit(JOB), sid;

	ck_assert(run_until(id, JOB_SUBMITTED, 3000));
	sid = slurm_id(id, 1);
	ck_assert_int_ne(sid, 0);
	fake_set_state(sid, BJOB_RUNNING, 0);
	ck_assert(run_until(id, JOB_RUNNING, 3000));
	fake_set_state(sid, BJOB_COMPLETED, 0);
	ck_assert(run_until(id, JOB_COMPLETED, 3000));
	ck_assert_int_eq(fake_submit_count(), 1);
}
END_TEST

/*
 * Slurm unreachable: the job waits QUEUED saying so, then is submitted
 * once; the outage does not count as time its nodes were busy (re-plan).
 */
START_TEST(test_scheduler_down)
{
	struct attempt **as;
	struct job *job;
	size_t n;
	int64_t id;

	/* Slurm's times are whole seconds: an outage of 2.5 s, 1.5 s to go */
	d.conf->replan_after_ms = 1500;
	fake_set_down(1);
	id = submit(JOB);
	ck_assert(!run_until(id, JOB_SUBMITTED, 2500));
	ck_assert_int_eq(state_of(id), JOB_QUEUED);
	job = store_job_get(d.store, id);
	ck_assert_ptr_nonnull(job->reason);
	ck_assert_msg(strncmp(job->reason, "slurmctld unreachable: ", 23) == 0,
	    "reason: %s", job->reason);
	job_free(job);
	fake_set_down(0);
	ck_assert(run_until(id, JOB_SUBMITTED, 3000));
	ck_assert(!run_until(id, JOB_COMPLETED, 300)); /* keep polling */
	ck_assert_int_eq(fake_submit_count(), 1);
	as = store_attempts_of(d.store, id, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_msg(!as[0]->ending && as[0]->cause == CAUSE_NONE,
	    "re-planned at once: %s", as[0]->reason);
	attempt_list_free(as, n);
}
END_TEST

/*
 * Slurm refuses every submit for now (down, or its queue full): the job is
 * tried again after a back-off that doubles from the poll interval, not at
 * every poll (that made 20,653 submit RPCs for 600 jobs), and goes in once
 * Slurm takes jobs again.
 */
START_TEST(test_submit_backoff)
{
	int64_t id;
	int tries;

	/* the fake's submits are refused, its polls and loads work */
	fake_set_full(1);
	id = submit(JOB);
	ck_assert(!run_until(id, JOB_SUBMITTED, 2000));
	tries = fake_submit_tries_count();
	/* 20 ms doubling: 0, 20, 60, 140, 300, 620, 1260 ms; not ~100 */
	ck_assert_msg(tries >= 3 && tries <= 9, "%d submits in 2 s", tries);
	fake_set_full(0);
	ck_assert(run_until(id, JOB_SUBMITTED, 5000));
	ck_assert_int_eq(fake_submit_count(), 1);
}
END_TEST

/*
 * A job this daemon just made needs no look-up in Slurm's job table: with
 * that load failing it is still submitted, once.
 */
/* Run the loop for ms. */
static void
run_for(int ms)
{
	int64_t end = mono_ms() + ms;

	while (mono_ms() < end)
		loop_turn();
}

/* One statement on a connection of its own, as another process would. */
static void
sql_aside(const char *sql)
{
	sqlite3 *db;
	char *path = xasprintf("%s/db", dir);

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK,
	    "%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_close(db);
	free(path);
}

/*
 * A QUEUED job without an attempt, as an older llmctld stored it, gets
 * its first even when the first ticks cannot read the jobs: a failed read
 * is not "no job left without one".
 */
START_TEST(test_queued_read_fault)
{
	struct job job = { 0 };
	struct spec *sp;
	json_t *js;

	sp = spec_parse(JOB, strlen(JOB), "t.yaml", "/tmp", NULL);
	ck_assert_ptr_nonnull(sp);
	js = spec_to_json(sp);
	job.name = "old";
	job.uid = getuid();
	job.gid = getgid();
	job.user = "old";
	job.state = JOB_QUEUED;
	job.spec = json_dumps(js, JSON_COMPACT | JSON_SORT_KEYS);
	job.nodes = 2;
	job.gpus_per_node = 2;
	job.world_size = 4;
	ck_assert_int_eq(store_begin(d.store), 0);
	ck_assert_int_eq(store_job_insert(d.store, &job), 0);
	ck_assert_int_eq(store_commit(d.store), 0);
	sql_aside("ALTER TABLE jobs RENAME TO jobs_away");
	run_for(200); /* ten ticks that cannot read it */
	sql_aside("ALTER TABLE jobs_away RENAME TO jobs");
	ck_assert_msg(run_until(job.id, JOB_SUBMITTED, 3000),
	    "the old QUEUED job never got its first attempt");
	ck_assert_int_eq(attempt_count(job.id), 1);
	free(job.spec);
	json_decref(js);
	spec_free(sp);
}
END_TEST

START_TEST(test_fresh_needs_no_lookup)
{
	int64_t id;

	fake_set_list_down(1);
	id = submit(JOB);
	ck_assert(run_until(id, JOB_SUBMITTED, 3000));
	ck_assert_int_eq(fake_submit_count(), 1);
}
END_TEST

/*
 * Slurm took the job but the answer was lost: the attempt may be in Slurm,
 * so it is looked up by tag in a later poll and never submitted again; the
 * same after a restart of the daemon (monitor and worker made anew) right
 * after that submit.
 */
START_TEST(test_submit_answer_lost)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = 2000 };
	int64_t id, end;

	fake_lose_answers(1);
	id = submit(JOB);
	ck_assert(run_until(id, JOB_SUBMITTED, 3000));
	ck_assert_int_eq(fake_submit_count(), 1);
	ck_assert_int_ne(slurm_id(id, 1), 0);

	fake_lose_answers(1);
	id = submit(JOB);
	end = mono_ms() + 3000;
	while (fake_submit_count() < 2 && mono_ms() < end) {
		event_base_loopexit(d.base, &tv);
		event_base_dispatch(d.base);
	}
	ck_assert_int_eq(fake_submit_count(), 2);
	worker_free(d.worker);
	monitor_free(d.monitor);
	d.worker = worker_create(d.base, d.backend);
	d.monitor = monitor_create(&d);
	ck_assert(run_until(id, JOB_SUBMITTED, 3000));
	ck_assert(!run_until(id, JOB_COMPLETED, 200)); /* more polls */
	ck_assert_int_eq(fake_submit_count(), 2);
	ck_assert_int_ne(slurm_id(id, 1), 0);
}
END_TEST

/* The last submit's placement: pinned nodes, exclude list, switches. */
static void
last_placement(
    const char *req_nodes, const char *exc_nodes, int switches, int wait_s)
{
	char *rn, *en;
	int sw, w;

	fake_last_placement(&rn, &en, &sw, &w);
	if (req_nodes != NULL)
		ck_assert_str_eq(rn, req_nodes);
	else
		ck_assert_ptr_null(rn);
	if (exc_nodes != NULL)
		ck_assert_str_eq(en, exc_nodes);
	else
		ck_assert_ptr_null(en);
	ck_assert_int_eq(sw, switches);
	ck_assert_int_eq(w, wait_s);
	free(rn);
	free(en);
}

/* Did the last submit pin its nodes? */
static int
last_pinned(void)
{
	char *rn, *en;
	int sw, w, pinned;

	fake_last_placement(&rn, &en, &sw, &w);
	pinned = rn != NULL;
	free(en);
	free(rn);
	return pinned;
}

/*
 * Whole-node 2-node jobs on the fake's two leaves of two (gpu001-4):
 * the first two are pinned to a leaf each; for the third no node is free
 * (the holds), so it goes to Slurm with no nodes, --switches=1@max_wait
 * and its exclude list, and is never re-planned however long it pends,
 * while the pinned ones are (issue 12).
 */
START_TEST(test_busy_to_slurm)
{
	static const char big[] =
	    "version: 1\nname: b\ncommand: \"true\"\nresources:\n"
	    "  nodes: 2\n  gpus_per_node: 8\n";
	char *ex;
	int64_t id1, id2, id3;

	id1 = submit(big);
	ck_assert(run_until(id1, JOB_SUBMITTED, 3000));
	last_placement("gpu001,gpu002", NULL, 0, 0);
	id2 = submit(big);
	ck_assert(run_until(id2, JOB_SUBMITTED, 3000));
	last_placement("gpu003,gpu004", NULL, 0, 0);
	ex = xasprintf("%s  exclude: gpu004\n  max_wait: 90s\n",
	    "version: 1\nname: b\ncommand: \"true\"\nresources:\n"
	    "  nodes: 2\n  gpus_per_node: 8\nplacement:\n");
	id3 = submit(ex);
	free(ex);
	ck_assert(run_until(id3, JOB_SUBMITTED, 3000));
	last_placement(NULL, "gpu004", 1, 90);
	/*
	 * pending far past replan_after: only the pinned are re-planned (set
	 * now: a re-plan of the first before the third is placed frees its
	 * nodes, and the third is pinned there)
	 */
	d.conf->replan_after_ms = 50;
	ck_assert(!run_until(id3, JOB_QUEUED, 2500));
	ck_assert_int_eq(slurm_id(id3, 1), 1003);
	ck_assert_int_gt(slurm_id(id1, 1), 1003);
}
END_TEST

/*
 * Another user's job waits in Slurm's queue for nodes of partitions gpu and
 * debug: a job of either that fits now is not pinned ahead of it but
 * handed to Slurm, which keeps its queue's order; a job of another
 * partition is pinned; once the other job has started, so is the next.
 */
START_TEST(test_others_waiting)
{
	static const char one[] =
	    "version: 1\nname: o\ncommand: \"true\"\n"
	    "resources:\n  nodes: 1\n  gpus_per_node: 8\n";
	static const struct {
		const char *partition;
		int pinned;
	} cases[] = {
		{ "cpu", 1 }, { "debug", 0 },
		{ NULL, 0 }, /* the default: llmctld does not know which */
	};
	char *yaml;
	int64_t id;
	size_t i;

	fake_add_other(4242, "gpu,debug");
	run_for(200); /* a poll sees it, with no job of ours in flight */
	for (i = 0; i < nitems(cases); i++) {
		yaml = cases[i].partition != NULL
		    ? xasprintf("%s  partition: %s\n", one, cases[i].partition)
		    : xstrdup(one);
		id = submit(yaml);
		free(yaml);
		ck_assert(run_until(id, JOB_SUBMITTED, 3000));
		ck_assert_msg(last_pinned() == cases[i].pinned, "partition %s",
		    cases[i].partition);
		/* not one of ours waiting in Slurm's queue for the next */
		fake_set_state(slurm_id(id, 1), BJOB_COMPLETED, 0);
		ck_assert(run_until(id, JOB_COMPLETED, 3000));
	}
	fake_set_state(1001, BJOB_RUNNING, 0); /* the other job starts */
	run_for(200);
	id = submit(one);
	ck_assert(run_until(id, JOB_SUBMITTED, 3000));
	ck_assert(last_pinned());
}
END_TEST

/*
 * A job that waits for room in llmctld (one with spares: others go to
 * Slurm's queue) costs Slurm nothing more: while nothing changes
 * every poll and snapshot load is answered "no change" (the fake counts
 * only full answers); once the job holding the nodes ends, it is planned
 * again and submitted.
 */
START_TEST(test_waiting_no_load)
{
	struct job *job;
	int64_t big, id;
	int lists, loads;

	big = submit("version: 1\nname: big\ncommand: \"true\"\n"
	             "resources:\n  nodes: 4\n  gpus_per_node: 8\n");
	ck_assert(run_until(big, JOB_SUBMITTED, 3000));
	id = submit("version: 1\nname: w\ncommand: \"true\"\nresources:\n"
	            "  nodes: 1\n  gpus_per_node: 8\n  spare_nodes: 1\n");
	ck_assert(!run_until(id, JOB_SUBMITTED, 500));
	job = store_job_get(d.store, id);
	ck_assert_msg(job->reason != NULL &&
	        strncmp(job->reason, "waiting for resources", 21) == 0,
	    "reason: %s", job->reason);
	job_free(job);
	lists = fake_load_count(0);
	loads = fake_load_count(1);
	ck_assert(!run_until(id, JOB_SUBMITTED, 1000)); /* ~50 ticks */
	ck_assert_int_eq(fake_load_count(0), lists);
	ck_assert_int_eq(fake_load_count(1), loads);
	fake_set_state(slurm_id(big, 1), BJOB_COMPLETED, 0);
	ck_assert(run_until(id, JOB_SUBMITTED, 3000));
	ck_assert_int_gt(fake_load_count(0), lists); /* the end was seen */
	ck_assert_int_eq(fake_submit_count(), 2);
}
END_TEST

/* A failure restarts once (max_restarts: 1), the second ends the job. */
START_TEST(test_restart_budget)
{
	struct job *job;
	int64_t id = submit(JOB);

	ck_assert(run_until(id, JOB_SUBMITTED, 3000));
	fake_set_state(slurm_id(id, 1), BJOB_FAILED, 3);
	ck_assert(run_until_restarted(id, 3000));
	ck_assert(run_until(id, JOB_SUBMITTED, 4000)); /* after backoff */
	ck_assert_int_ne(slurm_id(id, 2), slurm_id(id, 1));
	fake_set_state(slurm_id(id, 2), BJOB_FAILED, 3);
	ck_assert(run_until(id, JOB_FAILED, 3000));
	job = store_job_get(d.store, id);
	ck_assert_int_eq(job->attempts, 2);
	ck_assert_int_eq(job->exit_code, 3);
	ck_assert_ptr_nonnull(strstr(job->reason, "max_restarts (1) used up"));
	job_free(job);
	ck_assert_int_eq(fake_submit_count(), 2);
}
END_TEST

/*
 * A restart whose attempt ends before Slurm has it (here: its log dir
 * cannot be made) gets a decision of its own, not a silent next attempt.
 */
START_TEST(test_restart_attempt_unlaunchable)
{
	struct job *job;
	char *path;
	int64_t id = submit(JOB);
	FILE *f;

	ck_assert(run_until(id, JOB_SUBMITTED, 3000));
	/* where attempt 2's log dir goes: a file, so it cannot be made */
	path = xasprintf("%s/logs/%lld/2", dir, (long long)id);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fclose(f);
	free(path);
	fake_set_state(slurm_id(id, 1), BJOB_FAILED, 3);
	ck_assert(run_until(id, JOB_FAILED, 5000));
	job = store_job_get(d.store, id);
	ck_assert_int_eq(job->attempts, 2);
	ck_assert_ptr_nonnull(job->reason);
	job_free(job);
	/* and it stays so: no attempt 3 */
	ck_assert(!run_until(id, JOB_SUBMITTED, 500));
	job = store_job_get(d.store, id);
	ck_assert_int_eq(job->attempts, 2);
	ck_assert_int_eq(job->state, JOB_FAILED);
	job_free(job);
	ck_assert_int_eq(fake_submit_count(), 1);
}
END_TEST

/* Cancel while pending: the Slurm job is killed, the job CANCELLED. */
START_TEST(test_cancel)
{
	struct api_request req = { .method = API_POST };
	struct api_response resp;
	int64_t id = submit(JOB);
	char *path;

	ck_assert(run_until(id, JOB_SUBMITTED, 3000));
	path = xasprintf("/v1/jobs/%lld/cancel", (long long)id);
	req.path = path;
	req.body = "";
	req.uid = getuid();
	api_dispatch(&d, &req, &resp);
	ck_assert_int_eq(resp.status, 200);
	json_decref(resp.body);
	free(path);
	ck_assert_int_eq(state_of(id), JOB_CANCELLED);
	/* the attempt ends once the scheduler says the job is gone */
	ck_assert(run_until(id, JOB_CANCELLED, 500));
	{
		struct attempt **as;
		size_t n;
		int64_t end = mono_ms() + 3000, ended = 0;

		while (mono_ms() < end && !ended) {
			run_until(id, JOB_COMPLETED, 100);
			as = store_attempts_of(d.store, id, &n);
			ended = as[0]->ended_at;
			attempt_list_free(as, n);
		}
		ck_assert_int_ne(ended, 0);
	}
}
END_TEST

/* GET the job's rank log with one query key; the reply's data, or NULL. */
static char *
get_log(int64_t id, const char *rank, const char *key, const char *value,
    json_int_t *offset)
{
	struct api_kv q[2] = { { .key = (char *)"rank", .value = (char *)rank },
		{ .key = (char *)key, .value = (char *)value } };
	struct api_request req = {
		.method = API_GET, .query = q, .nquery = 2, .body = ""
	};
	struct api_response resp;
	char *path, *data;

	path = xasprintf("/v1/jobs/%lld/logs", (long long)id);
	req.path = path;
	req.uid = getuid();
	api_dispatch(&d, &req, &resp);
	free(path);
	ck_assert_int_eq(resp.status, 200);
	data = xstrdup(json_string_value(json_object_get(resp.body, "data")));
	*offset = json_integer_value(json_object_get(resp.body, "offset"));
	json_decref(resp.body);
	return data;
}

/*
 * A 20 GiB sparse rank log: a tail of any length reads one window from
 * the end (holes skipped, their NULs never sent); a symlinked log is empty.
 */
START_TEST(test_logs_tail)
{
	static const char end[] = "a\nb\nlast\n";
	const off_t size = (off_t)20 << 30;
	int64_t id = submit(JOB), t0;
	json_int_t off;
	char *p, *data;
	int fd;

	ck_assert(run_until(id, JOB_SUBMITTED, 3000));
	p = xasprintf("%s/logs/%lld/1/rank-0.out", dir, (long long)id);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, size), 0);
	ck_assert_int_eq(pwrite(fd, end, strlen(end), size), strlen(end));
	close(fd);
	free(p);
	t0 = mono_ms();
	data = get_log(id, "0", "tail", "999999999", &off);
	ck_assert_str_eq(data, end);
	ck_assert_int_eq(off, size + (off_t)strlen(end));
	free(data);
	data = get_log(id, "0", "tail", "2", &off);
	ck_assert_str_eq(data, "b\nlast\n");
	free(data);
	/* an offset in the hole: the data after it, nothing before */
	data = get_log(id, "0", "offset", "4096", &off);
	ck_assert_str_eq(data, end);
	free(data);
	ck_assert_int_lt(mono_ms() - t0, 2000);
	/* NULs written, not a hole: skipped too, so the client goes on */
	p = xasprintf("%s/logs/%lld/1/rank-2.out", dir, (long long)id);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	data = xcalloc(1, 3 << 20);
	ck_assert_int_eq(write(fd, data, 3 << 20), 3 << 20);
	ck_assert_int_eq(write(fd, end, strlen(end)), strlen(end));
	close(fd);
	free(data);
	free(p);
	data = get_log(id, "2", "offset", "0", &off);
	ck_assert_str_eq(data, end);
	free(data);
	p = xasprintf("%s/logs/%lld/1/rank-1.out", dir, (long long)id);
	ck_assert_int_eq(symlink("rank-0.out", p), 0);
	free(p);
	data = get_log(id, "1", "tail", "10", &off);
	ck_assert_str_eq(data, "");
	free(data);
}
END_TEST

/*
 * How a failed attempt is classed and explained from the batch script's
 * first-failure line (the user's file, so a malformed one is ignored),
 * and a death by the warning signal the job asked for is a timeout.
 */
static const struct {
	const char *name;
	int warned_job; /* the spec asks for warning USR1 */
	const char *line; /* first-failure, NULL: none */
	int exit_code;
	const char *cause;
	const char *reason;
} fail_cases[] = {
	{ "first rank named", 0, "1 n2 7 0\n", 7, "user_error",
	    "rank 1 on n2 exited with code 7, the first rank to fail" },
	{ "killed by a signal", 0, "3 n2 137 0\n", 137, "user_error",
	    "rank 3 on n2 was killed by signal 9 (KILL, exit code 137), the "
	    "first rank to fail" },
	{ "warning asked for, rank warned", 1, "0 n1 3 1\n", 3, "timeout",
	    "rank 0 on n1 exited with code 3, the first rank to fail, after the "
	    "time-limit warning (USR1) it asked for" },
	{ "warning asked for, no line", 1, NULL, 138, "timeout",
	    "exit code 138, after the time-limit warning (USR1) it asked for" },
	{ "no warning asked: a forged warned is no timeout", 0, "0 n1 138 1\n",
	    138, "user_error",
	    "rank 0 on n1 was killed by signal 10 (USR1, "
	    "exit code 138), the first rank to fail" },
	{ "malformed node ignored", 0, "1 n;rm 7 0\n", 7, "user_error",
	    "exit code 7" },
	{ "status out of range ignored", 0, "1 n2 300 0\n", 7, "user_error",
	    "exit code 7" },
	{ "rank beyond the world ignored", 0, "4 n2 7 0\n", 7, "user_error",
	    "exit code 7" },
};

START_TEST(test_first_failure_reason)
{
	static const char warned[] =
	    "version: 1\nname: t\ncommand: \"true\"\nresources:\n  nodes: 2\n"
	    "  gpus_per_node: 2\n  time_limit: 10m\nwarning:\n  signal: USR1\n"
	    "recovery:\n  max_restarts: 0\n";
	struct attempt **as;
	char *path;
	size_t n;
	int64_t id;
	FILE *f;

	id = submit(fail_cases[_i].warned_job ? warned : JOB);
	ck_assert(run_until(id, JOB_SUBMITTED, 3000));
	if (fail_cases[_i].line != NULL) {
		path = xasprintf(
		    "%s/logs/%lld/1/first-failure", dir, (long long)id);
		ck_assert_ptr_nonnull(f = fopen(path, "w"));
		fputs(fail_cases[_i].line, f);
		fclose(f);
		free(path);
	}
	fake_set_state(slurm_id(id, 1), BJOB_FAILED, fail_cases[_i].exit_code);
	ck_assert(fail_cases[_i].warned_job ? run_until(id, JOB_FAILED, 3000)
	                                    : run_until_restarted(id, 3000));
	as = store_attempts_of(d.store, id, &n);
	ck_assert_uint_ge(n, 1);
	ck_assert_str_eq(
	    attempt_cause_name(as[0]->cause), fail_cases[_i].cause);
	ck_assert_str_eq(as[0]->reason, fail_cases[_i].reason);
	ck_assert_int_eq(as[0]->exit_code, fail_cases[_i].exit_code);
	attempt_list_free(as, n);
}
END_TEST

/* GET /v1/jobs?user=NAME by uid (admin or not): the status, and the jobs. */
static int
list_as(uid_t uid, int admin, const char *user, size_t *njobs)
{
	struct api_kv q = { .key = (char *)"user", .value = (char *)user };
	struct api_request req = { .method = API_GET,
		.path = "/v1/jobs",
		.query = &q,
		.nquery = 1,
		.body = "",
		.uid = uid,
		.admin = admin };
	struct api_response resp;
	int status;

	api_dispatch(&d, &req, &resp);
	status = resp.status;
	*njobs = json_array_size(json_object_get(resp.body, "jobs"));
	json_decref(resp.body);
	return status;
}

/*
 * user=: one's own name is answered from the users table, not NSS; a
 * user outside the admin group naming anyone else is refused before any
 * lookup (so an unknown name is 403, not "no such user"); an admin's
 * unknown name is 400.
 */
START_TEST(test_list_user)
{
	struct passwd *pw = getpwuid(getuid());
	char *me;
	size_t n, lookups;

	ck_assert_ptr_nonnull(pw);
	me = xstrdup(pw->pw_name);
	submit(JOB);
	ck_assert_int_eq(list_as(getuid(), 0, me, &n), 200);
	ck_assert_uint_eq(n, 1);
	lookups = users_lookups(d.users);
	ck_assert_int_eq(list_as(getuid(), 0, me, &n), 200);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(users_lookups(d.users), lookups);
	ck_assert_int_eq(list_as(getuid() + 4242, 0, me, &n), 403);
	ck_assert_int_eq(list_as(getuid(), 0, "no-such-user-llmctl", &n), 403);
	ck_assert_int_eq(list_as(getuid(), 1, "no-such-user-llmctl", &n), 400);
	ck_assert_int_eq(list_as(getuid() + 4242, 1, me, &n), 200);
	ck_assert_uint_eq(n, 1);
	free(me);
}
END_TEST

static int
count_in(const int64_t *ids, int n, enum job_state want)
{
	int i, k = 0;

	for (i = 0; i < n; i++)
		k += state_of(ids[i]) == want;
	return k;
}

/*
 * A poll that finds many attempts over (a mass cancel, a sweep ending)
 * records MONITOR_ENDS_MAX of them in one loop turn and the rest in the
 * next turns, each a batch at most, so that other answers go between; no
 * poll runs until all are recorded, and every job ends once.
 */
START_TEST(test_many_ends)
{
	static const char small[] =
	    "version: 1\nname: e\ncommand: \"true\"\n"
	    "resources:\n  nodes: 1\n  gpus_per_node: 0\n";
	enum { N = MONITOR_ENDS_MAX * 2 + 5 };
	int64_t ids[N];
	int i, done = 0, was, first = 0, turns = 0, loads = -1;

	for (i = 0; i < N; i++)
		ids[i] = submit(small);
	for (i = 0; i < N; i++)
		ck_assert(run_until(ids[i], JOB_SUBMITTED, 5000));
	for (i = 0; i < N; i++)
		fake_set_state(slurm_id(ids[i], 1), BJOB_COMPLETED, 0);
	while (done < N && turns < 10000) {
		event_base_loop(d.base, EVLOOP_ONCE);
		was = done;
		done = count_in(ids, N, JOB_COMPLETED);
		ck_assert_int_le(done - was, MONITOR_ENDS_MAX);
		if (was == 0 && done > 0) {
			first = done;
			loads = fake_load_count(0);
		}
		if (done > 0)
			turns++;
	}
	ck_assert_int_eq(done, N);
	ck_assert_int_eq(first, MONITOR_ENDS_MAX);
	ck_assert_int_ge(turns, 3);
	ck_assert_int_eq(fake_load_count(0), loads);
	ck_assert_int_eq(fake_submit_count(), N);
	for (i = 0; i < N; i++)
		ck_assert_int_eq(attempt_count(ids[i]), 1);
}
END_TEST

/*
 * user=UID (what llmctl sends for "mine", needing no NSS): one's own uid
 * without a lookup, anyone else's only for an admin, and a number that is
 * no uid is a name (none has it: 403 or 400).
 */
START_TEST(test_list_uid)
{
	char mine[16], other[16];
	size_t n, lookups;

	snprintf(mine, sizeof mine, "%u", (unsigned)getuid());
	snprintf(other, sizeof other, "%u", (unsigned)getuid() + 4242);
	submit(JOB);
	lookups = users_lookups(d.users);
	ck_assert_int_eq(list_as(getuid(), 0, mine, &n), 200);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(users_lookups(d.users), lookups);
	ck_assert_int_eq(list_as(getuid() + 4242, 0, mine, &n), 403);
	ck_assert_int_eq(list_as(getuid() + 4242, 0, other, &n), 200);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(list_as(getuid() + 4242, 1, mine, &n), 200);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(list_as(getuid(), 1, other, &n), 200);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(list_as(getuid(), 0, "4294967295", &n), 403);
	ck_assert_int_eq(list_as(getuid(), 1, "4294967295", &n), 400);
	ck_assert_int_eq(list_as(getuid(), 1, "00000000001", &n), 400);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("monitor");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_lifecycle);
	tcase_add_test(tc, test_scheduler_down);
	tcase_add_test(tc, test_submit_backoff);
	tcase_add_test(tc, test_fresh_needs_no_lookup);
	tcase_add_test(tc, test_queued_read_fault);
	tcase_add_test(tc, test_busy_to_slurm);
	tcase_add_test(tc, test_others_waiting);
	tcase_add_test(tc, test_submit_answer_lost);
	tcase_add_test(tc, test_waiting_no_load);
	tcase_add_test(tc, test_restart_budget);
	tcase_add_test(tc, test_restart_attempt_unlaunchable);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_logs_tail);
	tcase_add_test(tc, test_list_user);
	tcase_add_test(tc, test_list_uid);
	tcase_add_test(tc, test_many_ends);
	tcase_add_loop_test(
	    tc, test_first_failure_reason, 0, nitems(fail_cases));
	suite_add_tcase(s, tc);
	return unit_run(s);
}
