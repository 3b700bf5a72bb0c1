/*
 * store: SQLite persistence. The schema is versioned with PRAGMA
 * user_version and migrated one step per transaction; a database written by
 * a newer llmctld is refused rather than guessed at.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>
#include <unistd.h>

#include "backend.h"
#include "checkpoint.h"
#include "log.h"
#include "metrics.h"
#include "sha256.h"
#include "store-int.h"
#include "store.h"
#include "util.h"

/*
 * Prepared statements are kept by their SQL text: parsing and planning a
 * statement cost more than running it (a third of the daemon's CPU per
 * submitted job before they were kept). An entry handed out is busy until
 * released, so a statement used again while its rows are still being read
 * gets a fresh one of its own; past STMT_CACHE_MAX entries statements are
 * finalized on release.
 */
#define STMT_CACHE_MAX 96

struct stmt_entry {
	char *sql;
	uint32_t hash;
	sqlite3_stmt *stmt;
	int busy;
};

struct store {
	sqlite3 *db;
	int in_tx;
	int failed; /* a write failed since the last checkpoint */
	uint64_t faults; /* statements that failed, ever (store_faults) */
	struct stmt_entry cache[STMT_CACHE_MAX];
	int ncache;
	int sync_full; /* the connection's synchronous is FULL */
	/*
	 * The recoverable transactions of a loop turn, each a savepoint in
	 * one SQLite transaction open until store_flush() (store_set_flush).
	 */
	int batch;
	void (*kick)(void *); /* asks the loop for a store_flush() */
	void *kick_arg;
};

/* migrations[i] takes the schema from version i to i + 1. */
static const char *const migrations[] = {
	"CREATE TABLE jobs ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL,"
	"  user TEXT NOT NULL, state TEXT NOT NULL, reason TEXT,"
	"  spec TEXT NOT NULL, created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
	"  nodes INTEGER NOT NULL, gpus_per_node INTEGER NOT NULL,"
	"  world_size INTEGER NOT NULL, exit_code INTEGER);"
	"CREATE INDEX jobs_state ON jobs(state);"
	"CREATE INDEX jobs_uid ON jobs(uid, id);"
	"CREATE TABLE attempts ("
	"  job_id INTEGER NOT NULL REFERENCES jobs(id),"
	"  attempt INTEGER NOT NULL, tag TEXT NOT NULL UNIQUE,"
	"  state TEXT NOT NULL, slurm_job_id INTEGER, nodes TEXT,"
	"  master_port INTEGER NOT NULL, submitted_at INTEGER NOT NULL,"
	"  started_at INTEGER, ended_at INTEGER, exit_code INTEGER,"
	"  cause TEXT, reason TEXT, PRIMARY KEY (job_id, attempt));"
	"CREATE INDEX attempts_active ON attempts(ended_at);",

	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  job_id INTEGER NOT NULL REFERENCES jobs(id),"
	"  at INTEGER NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL);"
	"CREATE INDEX events_job ON events(job_id, id);"
	"CREATE TABLE nodes ("
	"  name TEXT PRIMARY KEY, failures INTEGER NOT NULL DEFAULT 0,"
	"  last_failure_at INTEGER);",

	"ALTER TABLE attempts ADD COLUMN plan TEXT;",

	"ALTER TABLE attempts ADD COLUMN token TEXT;"
	"ALTER TABLE attempts ADD COLUMN last_beat_at INTEGER;"
	"ALTER TABLE attempts ADD COLUMN last_step INTEGER;"
	"ALTER TABLE attempts ADD COLUMN beats INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE attempts ADD COLUMN blamed TEXT;"
	"ALTER TABLE attempts ADD COLUMN ckpt_start INTEGER;"
	"ALTER TABLE attempts ADD COLUMN ckpt_end INTEGER;"
	"ALTER TABLE jobs ADD COLUMN not_before INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE jobs ADD COLUMN restarts INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE jobs ADD COLUMN infra_restarts INTEGER NOT NULL "
	"  DEFAULT 0;"
	"ALTER TABLE jobs ADD COLUMN failures_in_row INTEGER NOT NULL "
	"  DEFAULT 0;"
	"ALTER TABLE jobs ADD COLUMN no_progress INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE checkpoints ("
	"  job_id INTEGER NOT NULL REFERENCES jobs(id),"
	"  step INTEGER NOT NULL, path TEXT NOT NULL, bytes INTEGER NOT NULL,"
	"  complete INTEGER NOT NULL, verified INTEGER NOT NULL,"
	"  problem TEXT, mtime INTEGER NOT NULL,"
	"  PRIMARY KEY (job_id, path));",

	/* heartbeat tokens: only their hash is kept (issue: a stolen db) */
	"ALTER TABLE attempts RENAME COLUMN token TO token_hash;"
	"UPDATE attempts SET token_hash = llmctl_sha256(token_hash)"
	"  WHERE token_hash IS NOT NULL;",

	/*
	 * The restart policy ran for this attempt: the job's state alone
	 * cannot say so (a RESTARTING job's next attempt may end before it
	 * reaches Slurm, and needs a decision of its own).
	 */
	"ALTER TABLE attempts ADD COLUMN decided INTEGER NOT NULL DEFAULT 0;"
	"UPDATE attempts SET decided = 1 WHERE ended_at IS NOT NULL AND job_id"
	"  IN (SELECT id FROM jobs WHERE state IN ('COMPLETED', 'FAILED',"
	"  'CANCELLED', 'RESTARTING'));",

	/*
	 * A client's Idempotency-Key: a submit repeated after a lost reply
	 * finds the job the first one made instead of making a second.
	 */
	"ALTER TABLE jobs ADD COLUMN idem_key TEXT;"
	"CREATE UNIQUE INDEX jobs_idem ON jobs(uid, idem_key)"
	"  WHERE idem_key IS NOT NULL;",

	/*
	 * Where a reader of the events table (feed.c: the notifier) got to,
	 * so a restart neither sends every event again nor skips any.
	 */
	"CREATE TABLE cursors (name TEXT PRIMARY KEY,"
	"  event_id INTEGER NOT NULL);",

	/*
	 * The goodput ledger (goodput.c): what each attempt's transitions
	 * saw that the attempts table does not keep, and each final job's
	 * buckets per UTC day (day = unix time / 86400).
	 */
	"CREATE TABLE goodput_marks ("
	"  job_id INTEGER NOT NULL REFERENCES jobs(id),"
	"  attempt INTEGER NOT NULL,"
	"  beat_at INTEGER NOT NULL DEFAULT 0, log_at INTEGER NOT NULL"
	"  DEFAULT 0, ckpt_first_at INTEGER NOT NULL DEFAULT 0,"
	"  ckpt_at INTEGER NOT NULL DEFAULT 0, failed_at INTEGER NOT NULL"
	"  DEFAULT 0, decided_at INTEGER NOT NULL DEFAULT 0,"
	"  resume_at INTEGER NOT NULL DEFAULT 0, stall_s INTEGER NOT NULL"
	"  DEFAULT 0, PRIMARY KEY (job_id, attempt));"
	"CREATE TABLE goodput_days ("
	"  job_id INTEGER NOT NULL REFERENCES jobs(id), day INTEGER NOT NULL,"
	"  queue_s INTEGER NOT NULL, startup_s INTEGER NOT NULL,"
	"  productive_s INTEGER NOT NULL, lost_s INTEGER NOT NULL,"
	"  detect_s INTEGER NOT NULL, backoff_s INTEGER NOT NULL,"
	"  requeue_s INTEGER NOT NULL, restart_s INTEGER NOT NULL,"
	"  ckpt_stall_s INTEGER NOT NULL, incidents INTEGER NOT NULL,"
	"  PRIMARY KEY (job_id, day));"
	"CREATE INDEX goodput_days_day ON goodput_days(day);",

	/*
	 * Node health shared across jobs (store-nodes.c): every failure a
	 * node was blamed for, a decaying score, quarantine and probation.
	 */
	"CREATE TABLE node_failures ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT, node TEXT NOT NULL,"
	"  at INTEGER NOT NULL, cause TEXT, job_id INTEGER, attempt INTEGER);"
	"CREATE INDEX node_failures_node ON node_failures(node, id);"
	"ALTER TABLE nodes ADD COLUMN score REAL NOT NULL DEFAULT 0;"
	"ALTER TABLE nodes ADD COLUMN score_at INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE nodes ADD COLUMN quarantines INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE nodes ADD COLUMN quarantined_until INTEGER NOT NULL"
	"  DEFAULT 0;"
	"ALTER TABLE nodes ADD COLUMN probation_until INTEGER NOT NULL"
	"  DEFAULT 0;"
	"ALTER TABLE nodes ADD COLUMN drained INTEGER NOT NULL DEFAULT 0;"
	"UPDATE nodes SET score = failures, score_at = last_failure_at"
	"  WHERE last_failure_at IS NOT NULL;",

	/*
	 * The attempts not in Slurm yet, which every tick plans: found
	 * without reading every attempt in flight.
	 */
	"CREATE INDEX attempts_unsubmitted ON attempts(job_id, attempt)"
	"  WHERE ended_at IS NULL AND slurm_job_id IS NULL;"
	/* and a port in use, looked up by each new attempt */
	"CREATE INDEX attempts_port ON attempts(master_port)"
	"  WHERE ended_at IS NULL;"
	/* and those waiting for nodes, which every plan counts or adds up */
	"CREATE INDEX attempts_waiting ON attempts(state, nodes)"
	"  WHERE ended_at IS NULL AND cause IS NULL;"
	"CREATE INDEX attempts_started ON attempts(started_at)"
	"  WHERE ended_at IS NULL AND cause IS NULL AND state = 'RUNNING';",
};

static const char *const state_names[] = {
	[JOB_QUEUED] = "QUEUED",
	[JOB_SUBMITTED] = "SUBMITTED",
	[JOB_RUNNING] = "RUNNING",
	[JOB_RESTARTING] = "RESTARTING",
	[JOB_COMPLETED] = "COMPLETED",
	[JOB_FAILED] = "FAILED",
	[JOB_CANCELLED] = "CANCELLED",
};

static const char *const attempt_state_names[] = {
	[ATTEMPT_CREATED] = "CREATED",
	[ATTEMPT_PENDING] = "PENDING",
	[ATTEMPT_RUNNING] = "RUNNING",
	[ATTEMPT_COMPLETED] = "COMPLETED",
	[ATTEMPT_FAILED] = "FAILED",
	[ATTEMPT_CANCELLED] = "CANCELLED",
	[ATTEMPT_TIMEOUT] = "TIMEOUT",
	[ATTEMPT_NODE_FAIL] = "NODE_FAIL",
	[ATTEMPT_PREEMPTED] = "PREEMPTED",
	[ATTEMPT_LOST] = "LOST",
};

static const char *const cause_names[] = {
	[CAUSE_NONE] = NULL,
	[CAUSE_USER_ERROR] = "user_error",
	[CAUSE_PREFLIGHT_FAILED] = "preflight_failed",
	[CAUSE_NODE_FAILURE] = "node_failure",
	[CAUSE_HANG] = "hang",
	[CAUSE_TIMEOUT] = "timeout",
	[CAUSE_PREEMPTED] = "preempted",
	[CAUSE_LOST] = "lost",
	[CAUSE_CANCELLED] = "cancelled",
	[CAUSE_SUBMIT_FAILED] = "submit_failed",
	[CAUSE_UNPLACEABLE] = "unplaceable",
	[CAUSE_LAUNCH_FAILED] = "launch_failed",
	[CAUSE_REPLAN] = "replan",
};

#define JOB_COLUMNS \
	"id, name, uid, gid, user, state, reason, spec, created_at, " \
	"updated_at, attempts, nodes, gpus_per_node, world_size, exit_code, " \
	"not_before, restarts, infra_restarts, failures_in_row, no_progress"
#define ATTEMPT_COLUMNS \
	"job_id, attempt, tag, state, slurm_job_id, nodes, master_port, " \
	"submitted_at, started_at, ended_at, exit_code, cause, reason, plan, " \
	"token_hash, last_beat_at, last_step, beats, blamed, ckpt_start, " \
	"ckpt_end, decided"

static int store_exec(struct store *, const char *);

/* The index of s in names[n], -1 if it is not there (or is NULL). */
static int
name_index(const char *const *names, size_t n, const char *s, int nocase)
{
	size_t i;

	for (i = 0; s != NULL && i < n; i++)
		if (names[i] != NULL &&
		    (nocase ? strcasecmp(s, names[i]) : strcmp(s, names[i])) ==
		        0)
			return (int)i;
	return -1;
}

const char *
job_state_name(enum job_state state)
{
	return state_names[state];
}

int
job_state_parse(const char *s, enum job_state *state)
{
	int i = name_index(state_names, nitems(state_names), s, 1);

	if (i < 0)
		return -1;
	*state = (enum job_state)i;
	return 0;
}

int
job_state_final(enum job_state state)
{
	return state == JOB_COMPLETED || state == JOB_FAILED ||
	    state == JOB_CANCELLED;
}

const char *
attempt_state_name(enum attempt_state state)
{
	return attempt_state_names[state];
}

int
attempt_state_parse(const char *s, enum attempt_state *state)
{
	int i =
	    name_index(attempt_state_names, nitems(attempt_state_names), s, 0);

	if (i < 0)
		return -1;
	*state = (enum attempt_state)i;
	return 0;
}

int
attempt_state_final(enum attempt_state state)
{
	return state >= ATTEMPT_COMPLETED;
}

const char *
attempt_cause_name(enum attempt_cause cause)
{
	return cause_names[cause];
}

int
attempt_cause_parse(const char *s, enum attempt_cause *cause)
{
	int i = s != NULL ? name_index(cause_names, nitems(cause_names), s, 0)
	                  : CAUSE_NONE;

	if (i < 0)
		return -1;
	*cause = (enum attempt_cause)i;
	return 0;
}

static int
store_exec(struct store *st, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_warnx("store: %s", err != NULL ? err : "unknown error");
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static uint32_t
sql_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/*
 * A write outside any transaction of ours would land in the loop turn's
 * batch of recoverable ones, unsynced: commit that batch first.
 */
static sqlite3_stmt *
store_unbatched(struct store *st, sqlite3_stmt *stmt)
{
	if (st->batch && !st->in_tx && !sqlite3_stmt_readonly(stmt))
		(void)store_flush(st);
	return stmt;
}

sqlite3_stmt *
store_prepare(struct store *st, const char *sql)
{
	struct stmt_entry *e;
	sqlite3_stmt *stmt;
	uint32_t h = sql_hash(sql);
	int i;

	for (i = 0; i < st->ncache; i++) {
		e = &st->cache[i];
		if (e->hash == h && !e->busy && strcmp(e->sql, sql) == 0) {
			e->busy = 1;
			return store_unbatched(st, e->stmt);
		}
	}
	if (sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
		log_warnx("store: prepare: %s", sqlite3_errmsg(st->db));
		st->faults++;
		return NULL;
	}
	if (st->ncache < STMT_CACHE_MAX) {
		e = &st->cache[st->ncache++];
		e->sql = xstrdup(sql);
		e->hash = h;
		e->stmt = stmt;
		e->busy = 1;
	}
	return store_unbatched(st, stmt);
}

/* Give back a statement from store_prepare(), its bindings cleared. */
void
store_release(struct store *st, sqlite3_stmt *stmt)
{
	int i;

	for (i = 0; i < st->ncache; i++) {
		if (st->cache[i].stmt == stmt) {
			/* the last step's error, if any: a read cut short */
			if (sqlite3_reset(stmt) != SQLITE_OK)
				st->faults++;
			sqlite3_clear_bindings(stmt);
			st->cache[i].busy = 0;
			return;
		}
	}
	if (sqlite3_finalize(stmt) != SQLITE_OK)
		st->faults++;
}

uint64_t
store_faults(const struct store *st)
{
	return st->faults;
}

/* Run a statement that returns no rows, release it; 0 or -1. */
int
store_step_done(struct store *st, sqlite3_stmt *stmt)
{
	int rc;

	rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE) {
		log_warnx("store: %s", sqlite3_errmsg(st->db));
		st->failed = 1;
	}
	store_release(st, stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* One statement of no rows and no parameters, prepared once. */
static int
store_run(struct store *st, const char *sql)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((stmt = store_prepare(st, sql)) == NULL)
		return -1;
	if ((rc = sqlite3_step(stmt)) != SQLITE_DONE)
		log_warnx("store: %s", sqlite3_errmsg(st->db));
	store_release(st, stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Rows the last statement changed. */
int
store_changes(struct store *st)
{
	return sqlite3_changes(st->db);
}

void
bind_text(sqlite3_stmt *stmt, int i, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(stmt, i);
	else
		sqlite3_bind_text(stmt, i, s, -1, SQLITE_TRANSIENT);
}

static void
bind_opt_int(sqlite3_stmt *stmt, int i, int has, int64_t v)
{
	if (has)
		sqlite3_bind_int64(stmt, i, v);
	else
		sqlite3_bind_null(stmt, i);
}

char *
column_text(sqlite3_stmt *stmt, int i)
{
	const unsigned char *s = sqlite3_column_text(stmt, i);

	return s != NULL ? xstrdup((const char *)s) : NULL;
}

static int
store_migrate(struct store *st, const char *path, char **cause)
{
	sqlite3_stmt *stmt;
	char *sql;
	int version;

	if ((stmt = store_prepare(st, "PRAGMA user_version")) == NULL)
		return set_cause(cause, "%s: %s", path, sqlite3_errmsg(st->db));
	if (sqlite3_step(stmt) != SQLITE_ROW) {
		store_release(st, stmt);
		return set_cause(cause, "%s: %s", path, sqlite3_errmsg(st->db));
	}
	version = sqlite3_column_int(stmt, 0);
	store_release(st, stmt);
	if (version > STORE_SCHEMA_VERSION)
		return set_cause(cause,
		    "%s: database schema %d is newer than "
		    "this llmctld understands (%d); refusing to touch it",
		    path, version, STORE_SCHEMA_VERSION);
	for (; version < STORE_SCHEMA_VERSION; version++) {
		sql = xasprintf("BEGIN IMMEDIATE; %s PRAGMA user_version = %d; "
		                "COMMIT;",
		    migrations[version], version + 1);
		if (store_exec(st, sql) != 0) {
			free(sql);
			store_exec(st, "ROLLBACK");
			return set_cause(cause,
			    "%s: migration to schema %d "
			    "failed: %s",
			    path, version + 1, sqlite3_errmsg(st->db));
		}
		free(sql);
		log_info("store: %s migrated to schema %d", path, version + 1);
	}
	return 0;
}

/*
 * The database holds every job's spec (with its env: API keys) and the
 * token hashes: owner-only, whatever the umask. SQLite gives the -wal and
 * -shm files the main file's mode, so the main file is made 0600 before
 * SQLite opens it; files left wider by an older llmctld are tightened.
 */
static int
store_secure(const char *path, char **cause)
{
	static const char *const suffixes[] = { "", "-wal", "-shm",
		"-journal" };
	struct stat sb;
	char *p;
	size_t i;
	int fd, flags;

	for (i = 0; i < nitems(suffixes); i++) {
		p = xasprintf("%s%s", path, suffixes[i]);
		flags =
		    O_RDWR | O_NOFOLLOW | O_CLOEXEC | (i == 0 ? O_CREAT : 0);
		if ((fd = open(p, flags, 0600)) == -1) {
			if (errno == ENOENT && i > 0) {
				free(p);
				continue;
			}
			set_cause(cause, "%s: %s", p, strerror(errno));
			free(p);
			return -1;
		}
		if (fstat(fd, &sb) == 0 && (sb.st_mode & 077) != 0) {
			if (fchmod(fd, 0600) == -1) {
				set_cause(
				    cause, "chmod %s: %s", p, strerror(errno));
				close(fd);
				free(p);
				return -1;
			}
			log_info("store: %s was mode %04o, now 0600", p,
			    (unsigned)(sb.st_mode & 07777));
		}
		close(fd);
		free(p);
	}
	return 0;
}

/* llmctl_sha256(text): lower-case hex, for migrating tokens to hashes. */
static void
sql_sha256(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	uint8_t d[SHA256_LEN];
	char hex[SHA256_HEXLEN + 1];
	const unsigned char *text;

	(void)argc;
	if ((text = sqlite3_value_text(argv[0])) == NULL) {
		sqlite3_result_null(ctx);
		return;
	}
	sha256_buf(text, (size_t)sqlite3_value_bytes(argv[0]), d);
	sha256_hex(d, hex);
	sqlite3_result_text(ctx, hex, -1, SQLITE_TRANSIENT);
}

struct store *
store_open(const char *path, char **cause)
{
	struct store *st;

	if (store_secure(path, cause) != 0)
		return NULL;
	st = xcalloc(1, sizeof(*st));
	if (sqlite3_open_v2(path, &st->db,
	        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	            SQLITE_OPEN_FULLMUTEX,
	        NULL) != SQLITE_OK) {
		set_cause(cause, "%s: %s", path,
		    st->db != NULL ? sqlite3_errmsg(st->db) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 5000);
	sqlite3_create_function(st->db, "llmctl_sha256", 1,
	    SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, sql_sha256, NULL, NULL);
	/*
	 * The WAL is checkpointed every 1000 pages (SQLite's default, kept
	 * on purpose: ~4 MiB between fsyncs of the database) and cut back to
	 * STORE_WAL_LIMIT after each checkpoint, so that space a full disk
	 * gave back is not kept by a WAL that once grew (store_maintain()).
	 * A page cache of 32 MiB, not SQLite's 2 MiB: a few thousand jobs'
	 * rows and indexes outgrow 2 MiB (3.7 MB at 2,600 jobs), and
	 * statements then read pages back from the file (accept-bench's
	 * reads/job at 2,000 active while the daemon plans a backlog: 7.5
	 * with 2 MiB, 5.8 with 32).
	 * Pages stay SQLite's 4 KiB. A submit's commit writes about 20 of
	 * them (the job, attempt and event rows and their indexes), but
	 * 1 KiB pages, a quarter of the bytes, did not make submits faster
	 * (submit-bench, sequential 436 against 449 jobs/s): the fsync, not
	 * the bytes, is the cost.
	 */
	if (store_exec(st,
	        "PRAGMA journal_mode = WAL; PRAGMA cache_size = -32768; "
	        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; "
	        "PRAGMA wal_autocheckpoint = 1000; "
	        "PRAGMA journal_size_limit = " STORE_WAL_LIMIT ";") != 0) {
		set_cause(cause, "%s: %s", path, sqlite3_errmsg(st->db));
		goto fail;
	}
	st->sync_full = 1;
	if (store_migrate(st, path, cause) != 0)
		goto fail;
	return st;
fail:
	store_close(st); /* its kept statements too, or the close fails */
	return NULL;
}

void
store_close(struct store *st)
{
	int i;

	if (st == NULL)
		return;
	(void)store_flush(st);
	for (i = 0; i < st->ncache; i++) {
		sqlite3_finalize(st->cache[i].stmt);
		free(st->cache[i].sql);
	}
	sqlite3_close(st->db);
	free(st);
}

/*
 * SQLite refuses to change synchronous inside a transaction, so a
 * transaction's level is set before its BEGIN, and a recoverable one's
 * NORMAL is set back to FULL after its COMMIT: no other write runs at it.
 */
static int
store_set_sync(struct store *st, int full)
{
	if (full == st->sync_full)
		return 0;
	if (store_run(st,
	        full ? "PRAGMA synchronous = FULL"
	             : "PRAGMA synchronous = NORMAL") != 0)
		return -1;
	st->sync_full = full;
	return 0;
}

static int
store_begin_sync(struct store *st, int full)
{
	if (store_set_sync(st, full) != 0 ||
	    store_run(st, "BEGIN IMMEDIATE") != 0) {
		st->failed = 1;
		return -1;
	}
	st->in_tx = 1;
	return 0;
}

int
store_begin(struct store *st)
{
	/* what was batched first, unsynced: this commit syncs it too */
	if (store_flush(st) != 0)
		return -1;
	return store_begin_sync(st, 1);
}

/*
 * A transaction whose commit has no fsync of its own (synchronous=NORMAL in
 * WAL mode): on a power loss it may be lost, never torn, with what followed
 * it; the next durable commit makes it durable with itself (the WAL is
 * synced in order). Only for what a poll of Slurm tells again if lost: a
 * Slurm id (found by its tag), an attempt PENDING or RUNNING.
 */
int
store_begin_recoverable(struct store *st)
{
	if (st->kick == NULL)
		return store_begin_sync(st, 0);
	if (!st->batch) {
		if (store_begin_sync(st, 0) != 0)
			return -1;
		st->batch = 1;
		st->kick(st->kick_arg);
	}
	if (store_run(st, "SAVEPOINT recoverable") != 0) {
		st->failed = 1;
		return -1;
	}
	st->in_tx = 1;
	return 0;
}

void
store_set_flush(struct store *st, void (*kick)(void *), void *arg)
{
	/* no loop to flush a batch from now on: commit the one open */
	if (kick == NULL)
		(void)store_flush(st);
	st->kick = kick;
	st->kick_arg = arg;
}

int
store_flush(struct store *st)
{
	double t0 = metrics_now();
	int rc = 0;

	if (!st->batch || st->in_tx)
		return 0;
	st->batch = 0;
	if (store_run(st, "COMMIT") != 0) {
		st->failed = 1;
		if (!sqlite3_get_autocommit(st->db))
			store_run(st, "ROLLBACK");
		log_warnx("store: the recoverable writes of a loop turn are "
		          "lost (polls of Slurm tell them again)");
		rc = -1;
	}
	metrics_store_commit(metrics_now() - t0, rc != 0);
	(void)store_set_sync(st, 1);
	return rc;
}

int
store_commit(struct store *st)
{
	double t0 = metrics_now();

	if (st->batch) {
		/* into the turn's transaction, committed by store_flush() */
		if (store_run(st, "RELEASE recoverable") == 0) {
			st->in_tx = 0;
			return 0;
		}
		st->failed = 1;
		store_rollback(st);
		return -1;
	}
	st->in_tx = 0;
	if (store_run(st, "COMMIT") != 0) {
		st->failed = 1;
		store_rollback(st);
		(void)store_set_sync(st, 1);
		metrics_store_commit(metrics_now() - t0, 1);
		return -1;
	}
	metrics_store_commit(metrics_now() - t0, 0);
	/* a failure leaves NORMAL: the next store_begin() sets FULL again */
	(void)store_set_sync(st, 1);
	return 0;
}

int
store_savepoint(struct store *st)
{
	return store_run(st, "SAVEPOINT part");
}

int
store_savepoint_undo(struct store *st)
{
	if (store_run(st, "ROLLBACK TO part") != 0) {
		st->failed = 1;
		return -1;
	}
	return store_savepoint_release(st);
}

int
store_savepoint_release(struct store *st)
{
	if (store_run(st, "RELEASE part") != 0) {
		st->failed = 1;
		return -1;
	}
	return 0;
}

int
store_in_transaction(const struct store *st)
{
	return st->in_tx;
}

/* SQLite rolls back by itself on SQLITE_FULL or IOERR: then say nothing. */
void
store_rollback(struct store *st)
{
	/* a recoverable one alone: the turn's others stay */
	if (st->batch && st->in_tx) {
		st->in_tx = 0;
		if (store_run(st, "ROLLBACK TO recoverable") == 0 &&
		    store_run(st, "RELEASE recoverable") == 0)
			return;
	}
	st->in_tx = 0;
	st->batch = 0;
	if (!sqlite3_get_autocommit(st->db))
		store_run(st, "ROLLBACK");
}

/*
 * Called at quiet times (a timer on the loop): after a failed write, and
 * otherwise now and then, checkpoint the WAL into the database and truncate
 * it, so a disk that filled up and was freed again is usable at once and the
 * WAL does not keep the space. A checkpoint that fails (still full) is tried
 * again next time; it loses nothing, the WAL still holds every commit.
 */
int
store_maintain(struct store *st)
{
	int logged, moved, rc;

	if (st->in_tx || store_flush(st) != 0)
		return 0;
	rc = sqlite3_wal_checkpoint_v2(
	    st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &logged, &moved);
	if (rc != SQLITE_OK) {
		if (!st->failed)
			log_warnx(
			    "store: checkpoint: %s", sqlite3_errmsg(st->db));
		st->failed = 1;
		return -1;
	}
	if (st->failed)
		log_info("store: writes work again; the WAL (%d pages) is "
		         "checkpointed and truncated",
		    logged);
	st->failed = 0;
	return 0;
}

static struct job *
job_from_row(sqlite3_stmt *stmt)
{
	struct job *job;

	job = xcalloc(1, sizeof(*job));
	job->id = sqlite3_column_int64(stmt, 0);
	job->name = column_text(stmt, 1);
	job->uid = (uid_t)sqlite3_column_int64(stmt, 2);
	job->gid = (gid_t)sqlite3_column_int64(stmt, 3);
	job->user = column_text(stmt, 4);
	if (job_state_parse(
	        (const char *)sqlite3_column_text(stmt, 5), &job->state) != 0)
		job->state = JOB_FAILED;
	job->reason = column_text(stmt, 6);
	job->spec = column_text(stmt, 7);
	job->created_at = sqlite3_column_int64(stmt, 8);
	job->updated_at = sqlite3_column_int64(stmt, 9);
	job->attempts = sqlite3_column_int(stmt, 10);
	job->nodes = sqlite3_column_int(stmt, 11);
	job->gpus_per_node = sqlite3_column_int(stmt, 12);
	job->world_size = sqlite3_column_int(stmt, 13);
	job->has_exit_code = sqlite3_column_type(stmt, 14) != SQLITE_NULL;
	job->exit_code = sqlite3_column_int(stmt, 14);
	job->not_before = sqlite3_column_int64(stmt, 15);
	job->restarts = sqlite3_column_int(stmt, 16);
	job->infra_restarts = sqlite3_column_int(stmt, 17);
	job->failures_in_row = sqlite3_column_int(stmt, 18);
	job->no_progress = sqlite3_column_int(stmt, 19);
	return job;
}

int
store_job_insert(struct store *st, struct job *job)
{
	sqlite3_stmt *stmt;

	stmt = store_prepare(st,
	    "INSERT INTO jobs (name, uid, gid, user, "
	    "state, reason, spec, created_at, updated_at, nodes, "
	    "gpus_per_node, world_size, idem_key) "
	    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)");
	if (stmt == NULL)
		return -1;
	job->created_at = job->updated_at = wall_s();
	bind_text(stmt, 1, job->name);
	sqlite3_bind_int64(stmt, 2, job->uid);
	sqlite3_bind_int64(stmt, 3, job->gid);
	bind_text(stmt, 4, job->user);
	bind_text(stmt, 5, job_state_name(job->state));
	bind_text(stmt, 6, job->reason);
	bind_text(stmt, 7, job->spec);
	sqlite3_bind_int64(stmt, 8, job->created_at);
	sqlite3_bind_int64(stmt, 9, job->updated_at);
	sqlite3_bind_int(stmt, 10, job->nodes);
	sqlite3_bind_int(stmt, 11, job->gpus_per_node);
	sqlite3_bind_int(stmt, 12, job->world_size);
	bind_text(stmt, 13, job->idem_key);
	if (store_step_done(st, stmt) != 0)
		return -1;
	job->id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

int64_t
store_job_by_key(struct store *st, uid_t uid, const char *key)
{
	sqlite3_stmt *stmt;
	int64_t id;
	int rc;

	stmt = store_prepare(st,
	    "SELECT id FROM jobs WHERE uid = ? AND "
	    "idem_key = ?");
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, uid);
	bind_text(stmt, 2, key);
	rc = sqlite3_step(stmt);
	id = rc == SQLITE_ROW   ? sqlite3_column_int64(stmt, 0)
	    : rc == SQLITE_DONE ? 0
	                        : -1;
	if (id == -1)
		log_warnx("store: %s", sqlite3_errmsg(st->db));
	store_release(st, stmt);
	return id;
}

/* Run a SELECT of JOB_COLUMNS and collect every row. */
static struct job **
store_job_rows(struct store *st, sqlite3_stmt *stmt, size_t *n)
{
	struct job **jobs = NULL;
	size_t cap = 0;

	*n = 0;
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			jobs = xreallocarray(jobs, cap, sizeof(*jobs));
		}
		jobs[(*n)++] = job_from_row(stmt);
	}
	store_release(st, stmt);
	return jobs;
}

struct job *
store_job_get(struct store *st, int64_t id)
{
	sqlite3_stmt *stmt;
	struct job **jobs, *job;
	size_t n;

	stmt = store_prepare(st,
	    "SELECT " JOB_COLUMNS " FROM jobs "
	    "WHERE id = ?");
	if (stmt == NULL)
		return NULL;
	sqlite3_bind_int64(stmt, 1, id);
	jobs = store_job_rows(st, stmt, &n);
	job = n == 1 ? jobs[0] : NULL;
	free(jobs);
	return job;
}

/*
 * The list endpoint's query, filtered here and not in the client: each
 * filter is a bound parameter, so one statement serves them all and the
 * LIMIT bounds what a 100k-job store returns. The three final states are
 * those of job_state_final().
 */
struct job **
store_job_list(struct store *st, const struct job_filter *f, size_t *n)
{
	sqlite3_stmt *stmt;
	int i;

	stmt = store_prepare(st,
	    "SELECT " JOB_COLUMNS " FROM jobs "
	    "WHERE (?1 OR uid = ?2) "
	    "AND (?3 = 0 OR state IN (?6, ?7, ?8, ?9, ?10, ?11, ?12)) "
	    "AND (?4 = 0 OR id < ?4) "
	    "AND (updated_at >= ?13 OR "
	    "state NOT IN ('COMPLETED', 'FAILED', 'CANCELLED')) "
	    "AND (?14 IS NULL OR name = ?14) ORDER BY id DESC LIMIT ?5");
	*n = 0;
	if (stmt == NULL)
		return NULL;
	sqlite3_bind_int(stmt, 1, f->all_users);
	sqlite3_bind_int64(stmt, 2, f->uid);
	sqlite3_bind_int(stmt, 3, f->states != 0);
	sqlite3_bind_int64(stmt, 4, f->after);
	sqlite3_bind_int(stmt, 5, f->limit > 0 ? f->limit : 100);
	/* an unbound parameter is NULL, which matches no state */
	for (i = JOB_QUEUED; i <= JOB_CANCELLED; i++) {
		if (f->states & (1u << i))
			bind_text(
			    stmt, 6 + i, job_state_name((enum job_state)i));
	}
	sqlite3_bind_int64(stmt, 13, f->since);
	bind_text(stmt, 14, f->name);
	return store_job_rows(st, stmt, n);
}

struct job **
store_jobs_in_state(struct store *st, enum job_state state, size_t *n)
{
	sqlite3_stmt *stmt;

	stmt = store_prepare(st,
	    "SELECT " JOB_COLUMNS " FROM jobs j "
	    "WHERE state = ? AND NOT EXISTS (SELECT 1 FROM attempts a "
	    "WHERE a.job_id = j.id AND a.ended_at IS NULL) ORDER BY id");
	*n = 0;
	if (stmt == NULL)
		return NULL;
	bind_text(stmt, 1, job_state_name(state));
	return store_job_rows(st, stmt, n);
}

int
store_job_set_state(
    struct store *st, int64_t id, enum job_state state, const char *reason)
{
	sqlite3_stmt *stmt;

	stmt = store_prepare(st,
	    "UPDATE jobs SET state = ?, reason = ?, "
	    "updated_at = ? WHERE id = ?");
	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, job_state_name(state));
	bind_text(stmt, 2, reason);
	sqlite3_bind_int64(stmt, 3, wall_s());
	sqlite3_bind_int64(stmt, 4, id);
	return store_step_done(st, stmt);
}

int
store_job_set_exit(struct store *st, int64_t id, int exit_code)
{
	sqlite3_stmt *stmt;

	stmt = store_prepare(st, "UPDATE jobs SET exit_code = ? WHERE id = ?");
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int(stmt, 1, exit_code);
	sqlite3_bind_int64(stmt, 2, id);
	return store_step_done(st, stmt);
}

void
job_free(struct job *job)
{
	if (job == NULL)
		return;
	free(job->name);
	free(job->user);
	free(job->reason);
	free(job->spec);
	free(job);
}

void
job_list_free(struct job **jobs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		job_free(jobs[i]);
	free(jobs);
}

static struct attempt *
attempt_from_row(sqlite3_stmt *stmt)
{
	struct attempt *a;

	a = xcalloc(1, sizeof(*a));
	a->job_id = sqlite3_column_int64(stmt, 0);
	a->attempt = sqlite3_column_int(stmt, 1);
	a->tag = column_text(stmt, 2);
	/* only llmctld writes these: an unknown name is a damaged row */
	if (attempt_state_parse(
	        (const char *)sqlite3_column_text(stmt, 3), &a->state) != 0)
		a->state = ATTEMPT_FAILED;
	a->slurm_job_id = sqlite3_column_int64(stmt, 4);
	a->nodes = column_text(stmt, 5);
	a->master_port = sqlite3_column_int(stmt, 6);
	a->submitted_at = sqlite3_column_int64(stmt, 7);
	a->started_at = sqlite3_column_int64(stmt, 8);
	a->ended_at = sqlite3_column_int64(stmt, 9);
	a->has_exit_code = sqlite3_column_type(stmt, 10) != SQLITE_NULL;
	a->exit_code = sqlite3_column_int(stmt, 10);
	if (attempt_cause_parse(
	        (const char *)sqlite3_column_text(stmt, 11), &a->cause) != 0)
		a->cause = CAUSE_LAUNCH_FAILED; /* no retry, as before enums */
	a->reason = column_text(stmt, 12);
	a->plan = column_text(stmt, 13);
	a->token_hash = column_text(stmt, 14);
	a->last_beat_at = sqlite3_column_int64(stmt, 15);
	a->last_step = sqlite3_column_type(stmt, 16) == SQLITE_NULL
	    ? -1
	    : sqlite3_column_int64(stmt, 16);
	a->beats = sqlite3_column_int64(stmt, 17);
	a->blamed = column_text(stmt, 18);
	a->ckpt_start = sqlite3_column_type(stmt, 19) == SQLITE_NULL
	    ? -1
	    : sqlite3_column_int64(stmt, 19);
	a->ckpt_end = sqlite3_column_type(stmt, 20) == SQLITE_NULL
	    ? -1
	    : sqlite3_column_int64(stmt, 20);
	a->decided = sqlite3_column_int(stmt, 21);
	a->ending = a->cause != CAUSE_NONE && a->ended_at == 0;
	return a;
}

/* Bind every column of ATTEMPT_COLUMNS, in order, from index 1. */
static void
bind_attempt(sqlite3_stmt *stmt, const struct attempt *a)
{
	sqlite3_bind_int64(stmt, 1, a->job_id);
	sqlite3_bind_int(stmt, 2, a->attempt);
	bind_text(stmt, 3, a->tag);
	bind_text(stmt, 4, attempt_state_name(a->state));
	bind_opt_int(stmt, 5, a->slurm_job_id != 0, a->slurm_job_id);
	bind_text(stmt, 6, a->nodes);
	sqlite3_bind_int(stmt, 7, a->master_port);
	sqlite3_bind_int64(stmt, 8, a->submitted_at);
	bind_opt_int(stmt, 9, a->started_at != 0, a->started_at);
	bind_opt_int(stmt, 10, a->ended_at != 0, a->ended_at);
	bind_opt_int(stmt, 11, a->has_exit_code, a->exit_code);
	bind_text(stmt, 12, attempt_cause_name(a->cause));
	bind_text(stmt, 13, a->reason);
	bind_text(stmt, 14, a->plan);
	bind_text(stmt, 15, a->token_hash);
	bind_opt_int(stmt, 16, a->last_beat_at != 0, a->last_beat_at);
	bind_opt_int(stmt, 17, a->last_step >= 0, a->last_step);
	sqlite3_bind_int64(stmt, 18, a->beats);
	bind_text(stmt, 19, a->blamed);
	bind_opt_int(stmt, 20, a->ckpt_start >= 0, a->ckpt_start);
	bind_opt_int(stmt, 21, a->ckpt_end >= 0, a->ckpt_end);
	sqlite3_bind_int(stmt, 22, a->decided);
}

int
store_attempt_insert(struct store *st, struct attempt *a)
{
	sqlite3_stmt *stmt;

	stmt = store_prepare(st,
	    "INSERT INTO attempts (" ATTEMPT_COLUMNS
	    ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
	if (stmt == NULL)
		return -1;
	bind_attempt(stmt, a);
	if (store_step_done(st, stmt) != 0)
		return -1;
	stmt = store_prepare(st,
	    "UPDATE jobs SET attempts = ?, "
	    "updated_at = ? WHERE id = ?");
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int(stmt, 1, a->attempt);
	sqlite3_bind_int64(stmt, 2, wall_s());
	sqlite3_bind_int64(stmt, 3, a->job_id);
	return store_step_done(st, stmt);
}

int
store_attempt_update(struct store *st, const struct attempt *a)
{
	sqlite3_stmt *stmt;

	/*
	 * Not the key (job_id, attempt), which never changes: an UPDATE that
	 * sets a column of an index rewrites its entry, and the key is in
	 * two (the primary key's, attempts_unsubmitted) and a foreign key to
	 * check; a page more in the WAL for every commit with an attempt.
	 */
	stmt = store_prepare(st,
	    "UPDATE attempts SET "
	    "tag = ?3, state = ?4, slurm_job_id = ?5, "
	    "nodes = ?6, master_port = ?7, submitted_at = ?8, "
	    "started_at = ?9, ended_at = ?10, exit_code = ?11, cause = ?12, "
	    "reason = ?13, plan = ?14, token_hash = ?15, last_beat_at = ?16, "
	    "last_step = ?17, beats = ?18, blamed = ?19, ckpt_start = ?20, "
	    "ckpt_end = ?21, decided = ?22 WHERE job_id = ?1 AND attempt = ?2");
	if (stmt == NULL)
		return -1;
	bind_attempt(stmt, a);
	return store_step_done(st, stmt);
}

/* The rows of stmt (ATTEMPT_COLUMNS) but those skip(arg, tag) refuses. */
static struct attempt **
store_attempt_rows_but(struct store *st, sqlite3_stmt *stmt,
    int (*skip)(void *, const char *), void *arg, size_t *n)
{
	struct attempt **list = NULL;
	size_t cap = 0;

	*n = 0;
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		if (skip != NULL &&
		    skip(arg, (const char *)sqlite3_column_text(stmt, 2)))
			continue;
		if (*n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			list = xreallocarray(list, cap, sizeof(*list));
		}
		list[(*n)++] = attempt_from_row(stmt);
	}
	store_release(st, stmt);
	return list;
}

static struct attempt **
store_attempt_rows(struct store *st, sqlite3_stmt *stmt, size_t *n)
{
	return store_attempt_rows_but(st, stmt, NULL, NULL, n);
}

/* Every row of sql, a query of ATTEMPT_COLUMNS without parameters. */
static struct attempt **
store_attempt_query(struct store *st, const char *sql, size_t *n)
{
	sqlite3_stmt *stmt = store_prepare(st, sql);

	*n = 0;
	return stmt != NULL ? store_attempt_rows(st, stmt, n) : NULL;
}

struct attempt **
store_attempts_of(struct store *st, int64_t job_id, size_t *n)
{
	sqlite3_stmt *stmt;

	stmt = store_prepare(st,
	    "SELECT " ATTEMPT_COLUMNS " FROM attempts "
	    "WHERE job_id = ? ORDER BY attempt");
	*n = 0;
	if (stmt == NULL)
		return NULL;
	sqlite3_bind_int64(stmt, 1, job_id);
	return store_attempt_rows(st, stmt, n);
}

int
store_attempts_holding(struct store *st, int64_t since,
    void (*fn)(void *, const char *, const char *, int), void *arg)
{
	sqlite3_stmt *stmt;
	int rc;

	stmt = store_prepare(st,
	    "SELECT a.tag, a.nodes, j.gpus_per_node FROM attempts a "
	    "INDEXED BY attempts_waiting JOIN jobs j ON j.id = a.job_id "
	    "WHERE a.ended_at IS NULL AND a.cause IS NULL AND a.state IN "
	    "('CREATED', 'PENDING') AND a.nodes IS NOT NULL AND "
	    "j.gpus_per_node > 0 "
	    "UNION ALL "
	    "SELECT a.tag, a.nodes, j.gpus_per_node FROM attempts a "
	    "INDEXED BY attempts_started JOIN jobs j ON j.id = a.job_id "
	    "WHERE a.ended_at IS NULL AND a.cause IS NULL AND a.state = "
	    "'RUNNING' AND a.started_at >= ?1 AND a.nodes IS NOT NULL AND "
	    "j.gpus_per_node > 0");
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, since);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		fn(arg, (const char *)sqlite3_column_text(stmt, 0),
		    (const char *)sqlite3_column_text(stmt, 1),
		    sqlite3_column_int(stmt, 2));
	store_release(st, stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

int64_t
store_attempts_queued(struct store *st)
{
	sqlite3_stmt *stmt;
	int64_t n = -1;

	stmt = store_prepare(st,
	    "SELECT EXISTS (SELECT 1 FROM attempts INDEXED BY "
	    "attempts_waiting WHERE ended_at IS NULL AND cause IS NULL AND "
	    "state = 'PENDING' AND nodes IS NULL)");
	if (stmt == NULL)
		return -1;
	if (sqlite3_step(stmt) == SQLITE_ROW)
		n = sqlite3_column_int64(stmt, 0);
	store_release(st, stmt);
	return n;
}

struct attempt **
store_attempts_active(struct store *st, size_t *n)
{
	return store_attempt_query(st,
	    "SELECT " ATTEMPT_COLUMNS " FROM attempts "
	    "WHERE ended_at IS NULL ORDER BY job_id, attempt",
	    n);
}

/* Whether an attempt in flight has port as its MASTER_PORT; -1: error. */
int
store_port_in_use(struct store *st, int port)
{
	sqlite3_stmt *stmt;
	int rc;

	stmt = store_prepare(st,
	    "SELECT 1 FROM attempts INDEXED BY attempts_port "
	    "WHERE ended_at IS NULL AND master_port = ?");
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int(stmt, 1, port);
	rc = sqlite3_step(stmt);
	store_release(st, stmt);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/*
 * The attempts in flight that Slurm has no job for yet (a partial index),
 * but those skip(arg, tag) refuses before they are read in whole: the
 * monitor skips the thousands whose submit is queued on the worker.
 */
struct attempt **
store_attempts_unsubmitted(
    struct store *st, int (*skip)(void *, const char *), void *arg, size_t *n)
{
	sqlite3_stmt *stmt = store_prepare(st,
	    "SELECT " ATTEMPT_COLUMNS " FROM attempts "
	    "INDEXED BY attempts_unsubmitted "
	    "WHERE ended_at IS NULL AND slurm_job_id IS NULL "
	    "ORDER BY job_id, attempt");

	*n = 0;
	return stmt != NULL ? store_attempt_rows_but(st, stmt, skip, arg, n)
	                    : NULL;
}

struct attempt *
store_attempt_active_by_tag(struct store *st, const char *tag)
{
	struct attempt **list, *a = NULL;
	sqlite3_stmt *stmt;
	size_t n;

	stmt = store_prepare(st,
	    "SELECT " ATTEMPT_COLUMNS " FROM attempts "
	    "WHERE tag = ? AND ended_at IS NULL");
	if (stmt == NULL)
		return NULL;
	bind_text(stmt, 1, tag);
	list = store_attempt_rows(st, stmt, &n);
	if (n > 0)
		a = list[0];
	free(list);
	return a;
}

void
attempt_free(struct attempt *a)
{
	if (a == NULL)
		return;
	free(a->tag);
	free(a->nodes);
	free(a->reason);
	free(a->plan);
	free(a->token_hash);
	free(a->blamed);
	free(a);
}

void
attempt_list_free(struct attempt **list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		attempt_free(list[i]);
	free(list);
}

int
store_event_add(
    struct store *st, int64_t job_id, const char *kind, const char *fmt, ...)
{
	sqlite3_stmt *stmt;
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	stmt = store_prepare(st,
	    "INSERT INTO events (job_id, at, kind, "
	    "message) VALUES (?,?,?,?)");
	if (stmt == NULL) {
		free(msg);
		return -1;
	}
	sqlite3_bind_int64(stmt, 1, job_id);
	sqlite3_bind_int64(stmt, 2, wall_s());
	bind_text(stmt, 3, kind);
	bind_text(stmt, 4, msg);
	free(msg);
	return store_step_done(st, stmt);
}

/* Failures older than this no longer count against a node. */
#define NODE_FAILURE_TTL (24 * 3600)

int
store_node_failure_add(struct store *st, const char *name)
{
	sqlite3_stmt *stmt;

	stmt = store_prepare(st,
	    "INSERT INTO nodes (name, failures, "
	    "last_failure_at) VALUES (?1, 1, ?2) ON CONFLICT(name) DO UPDATE "
	    "SET failures = CASE WHEN last_failure_at < ?2 - ?3 THEN 1 "
	    "ELSE failures + 1 END, last_failure_at = ?2");
	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, name);
	sqlite3_bind_int64(stmt, 2, wall_s());
	sqlite3_bind_int64(stmt, 3, NODE_FAILURE_TTL);
	return store_step_done(st, stmt);
}

struct bfailure *
store_node_failures(struct store *st, size_t *n)
{
	sqlite3_stmt *stmt;
	struct bfailure *f = NULL;
	size_t cap = 0;

	*n = 0;
	stmt = store_prepare(st,
	    "SELECT name, failures FROM nodes "
	    "WHERE last_failure_at >= ? ORDER BY name");
	if (stmt == NULL)
		return NULL;
	sqlite3_bind_int64(stmt, 1, wall_s() - NODE_FAILURE_TTL);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			f = xreallocarray(f, cap, sizeof(*f));
		}
		f[*n].name = column_text(stmt, 0);
		f[(*n)++].failures = sqlite3_column_int(stmt, 1);
	}
	store_release(st, stmt);
	return f;
}

struct event_row *
store_events_of(struct store *st, int64_t job_id, size_t *n)
{
	sqlite3_stmt *stmt;
	struct event_row *ev = NULL;
	size_t cap = 0;

	*n = 0;
	stmt = store_prepare(st,
	    "SELECT id, at, kind, message FROM events "
	    "WHERE job_id = ? ORDER BY id");
	if (stmt == NULL)
		return NULL;
	sqlite3_bind_int64(stmt, 1, job_id);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			ev = xreallocarray(ev, cap, sizeof(*ev));
		}
		memset(&ev[*n], 0, sizeof(ev[*n]));
		ev[*n].job_id = job_id;
		ev[*n].id = sqlite3_column_int64(stmt, 0);
		ev[*n].at = sqlite3_column_int64(stmt, 1);
		ev[*n].kind = column_text(stmt, 2);
		ev[(*n)++].message = column_text(stmt, 3);
	}
	store_release(st, stmt);
	return ev;
}

struct event_row *
store_events_match(struct store *st, const struct event_filter *flt, size_t *n)
{
	sqlite3_stmt *stmt;
	struct event_row *ev = NULL;
	size_t cap = 0;
	char *sql;

	*n = 0;
	/* a job's events through events_job(job_id, id), else the id range */
	sql = xasprintf(
	    "SELECT e.id, e.at, e.kind, e.message, e.job_id, "
	    "j.uid, j.name FROM events e JOIN jobs j ON j.id = e.job_id "
	    "WHERE e.id > ?1 AND e.id <= ?2 %s %s ORDER BY e.id %s LIMIT ?5",
	    flt->job_id != 0 ? "AND e.job_id = ?4" : "",
	    flt->all_users ? "" : "AND j.uid = ?3", flt->newest ? "DESC" : "");
	stmt = store_prepare(st, sql);
	free(sql);
	if (stmt == NULL)
		return NULL;
	sqlite3_bind_int64(stmt, 1, flt->after);
	sqlite3_bind_int64(stmt, 2, flt->upto);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)flt->uid);
	sqlite3_bind_int64(stmt, 4, flt->job_id);
	sqlite3_bind_int64(stmt, 5, (sqlite3_int64)flt->limit);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			ev = xreallocarray(ev, cap, sizeof(*ev));
		}
		memset(&ev[*n], 0, sizeof(ev[*n]));
		ev[*n].id = sqlite3_column_int64(stmt, 0);
		ev[*n].at = sqlite3_column_int64(stmt, 1);
		ev[*n].kind = column_text(stmt, 2);
		ev[*n].message = column_text(stmt, 3);
		ev[*n].job_id = sqlite3_column_int64(stmt, 4);
		ev[*n].uid = (uid_t)sqlite3_column_int64(stmt, 5);
		ev[(*n)++].job = column_text(stmt, 6);
	}
	store_release(st, stmt);
	return ev;
}

int64_t
store_events_last(struct store *st)
{
	sqlite3_stmt *stmt;
	int64_t id = -1;

	if ((stmt = store_prepare(st,
	         "SELECT COALESCE(MAX(id), 0) FROM "
	         "events")) == NULL)
		return -1;
	if (sqlite3_step(stmt) == SQLITE_ROW)
		id = sqlite3_column_int64(stmt, 0);
	store_release(st, stmt);
	return id;
}

int64_t
store_cursor_get(struct store *st, const char *name)
{
	sqlite3_stmt *stmt;
	int64_t id = -1;

	if ((stmt = store_prepare(st,
	         "SELECT event_id FROM cursors WHERE "
	         "name = ?")) == NULL)
		return -1;
	bind_text(stmt, 1, name);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		id = sqlite3_column_int64(stmt, 0);
	store_release(st, stmt);
	return id;
}

int
store_cursor_set(struct store *st, const char *name, int64_t event_id)
{
	sqlite3_stmt *stmt;

	stmt = store_prepare(st,
	    "INSERT INTO cursors (name, event_id) "
	    "VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET event_id = ?2");
	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, name);
	sqlite3_bind_int64(stmt, 2, event_id);
	return store_step_done(st, stmt);
}

int
store_in_tx(const struct store *st)
{
	return st->in_tx;
}

void
event_list_free(struct event_row *ev, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(ev[i].kind);
		free(ev[i].message);
		free(ev[i].job);
	}
	free(ev);
}

int
store_job_update_policy(struct store *st, const struct job *job)
{
	sqlite3_stmt *stmt;

	stmt = store_prepare(st,
	    "UPDATE jobs SET not_before = ?, "
	    "restarts = ?, infra_restarts = ?, failures_in_row = ?, "
	    "no_progress = ?, updated_at = ? WHERE id = ?");
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, job->not_before);
	sqlite3_bind_int(stmt, 2, job->restarts);
	sqlite3_bind_int(stmt, 3, job->infra_restarts);
	sqlite3_bind_int(stmt, 4, job->failures_in_row);
	sqlite3_bind_int(stmt, 5, job->no_progress);
	sqlite3_bind_int64(stmt, 6, wall_s());
	sqlite3_bind_int64(stmt, 7, job->id);
	return store_step_done(st, stmt);
}

int
store_checkpoints_replace(
    struct store *st, int64_t job_id, const struct ckpt *c, size_t n)
{
	sqlite3_stmt *stmt;
	size_t i;

	if ((stmt = store_prepare(st,
	         "DELETE FROM checkpoints WHERE "
	         "job_id = ?")) == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, job_id);
	if (store_step_done(st, stmt) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		stmt = store_prepare(st,
		    "INSERT INTO checkpoints (job_id, "
		    "step, path, bytes, complete, verified, problem, mtime) "
		    "VALUES (?,?,?,?,?,?,?,?)");
		if (stmt == NULL)
			return -1;
		sqlite3_bind_int64(stmt, 1, job_id);
		sqlite3_bind_int64(stmt, 2, c[i].step);
		bind_text(stmt, 3, c[i].path);
		sqlite3_bind_int64(stmt, 4, (int64_t)c[i].bytes);
		sqlite3_bind_int(stmt, 5, c[i].complete);
		sqlite3_bind_int(stmt, 6, c[i].verified);
		bind_text(stmt, 7, c[i].problem);
		sqlite3_bind_int64(stmt, 8, c[i].mtime);
		if (store_step_done(st, stmt) != 0)
			return -1;
	}
	return 0;
}

struct ckpt *
store_checkpoints_of(struct store *st, int64_t job_id, size_t *n)
{
	sqlite3_stmt *stmt;
	struct ckpt *c = NULL;
	size_t cap = 0;

	*n = 0;
	stmt = store_prepare(st,
	    "SELECT step, path, bytes, complete, "
	    "verified, problem, mtime FROM checkpoints WHERE job_id = ? "
	    "ORDER BY step, path");
	if (stmt == NULL)
		return NULL;
	sqlite3_bind_int64(stmt, 1, job_id);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			c = xreallocarray(c, cap, sizeof(*c));
		}
		c[*n].step = sqlite3_column_int64(stmt, 0);
		c[*n].path = column_text(stmt, 1);
		c[*n].bytes = (uint64_t)sqlite3_column_int64(stmt, 2);
		c[*n].complete = sqlite3_column_int(stmt, 3);
		c[*n].verified = sqlite3_column_int(stmt, 4);
		c[*n].problem = column_text(stmt, 5);
		c[(*n)++].mtime = sqlite3_column_int64(stmt, 6);
	}
	store_release(st, stmt);
	return c;
}

char *
store_job_blamed(struct store *st, int64_t job_id)
{
	sqlite3_stmt *stmt;
	char *s;

	stmt = store_prepare(st,
	    "SELECT group_concat(blamed, ',') FROM "
	    "attempts WHERE job_id = ? AND blamed IS NOT NULL AND "
	    "blamed != ''");
	if (stmt == NULL)
		return NULL;
	sqlite3_bind_int64(stmt, 1, job_id);
	s = sqlite3_step(stmt) == SQLITE_ROW ? column_text(stmt, 0) : NULL;
	store_release(st, stmt);
	return s;
}

int
store_attempt_retag(
    struct store *st, const struct attempt *a, const char *old_tag)
{
	sqlite3_stmt *stmt;

	stmt = store_prepare(st,
	    "UPDATE attempts SET tag = ? WHERE "
	    "job_id = ? AND attempt = ? AND tag = ?");
	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, a->tag);
	sqlite3_bind_int64(stmt, 2, a->job_id);
	sqlite3_bind_int(stmt, 3, a->attempt);
	bind_text(stmt, 4, old_tag);
	return store_step_done(st, stmt);
}

int
store_query_rows(struct store *st, const char *sql, const int64_t *binds,
    int nbind,
    void (*fn)(void *, int ncol, const char *const *text, const int64_t *num),
    void *arg)
{
	const char *text[STORE_ROW_COLS];
	int64_t num[STORE_ROW_COLS];
	sqlite3_stmt *stmt;
	int i, ncol, rc;

	if ((stmt = store_prepare(st, sql)) == NULL)
		return -1;
	for (i = 0; i < nbind; i++)
		sqlite3_bind_int64(stmt, i + 1, binds[i]);
	ncol = sqlite3_column_count(stmt);
	if (ncol > STORE_ROW_COLS)
		ncol = STORE_ROW_COLS;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		for (i = 0; i < ncol; i++) {
			text[i] = (const char *)sqlite3_column_text(stmt, i);
			num[i] = sqlite3_column_int64(stmt, i);
		}
		fn(arg, ncol, text, num);
	}
	if (rc != SQLITE_DONE)
		log_warnx("store: %s", sqlite3_errmsg(st->db));
	store_release(st, stmt);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_exec_binds(
    struct store *st, const char *sql, const int64_t *binds, int nbind)
{
	sqlite3_stmt *stmt;
	int i;

	if ((stmt = store_prepare(st, sql)) == NULL)
		return -1;
	for (i = 0; i < nbind; i++)
		sqlite3_bind_int64(stmt, i + 1, binds[i]);
	return store_step_done(st, stmt);
}

int
store_job_counts(struct store *st, int64_t counts[JOB_CANCELLED + 1])
{
	sqlite3_stmt *stmt;
	enum job_state s;

	memset(counts, 0, sizeof(int64_t) * (JOB_CANCELLED + 1));
	stmt = store_prepare(st,
	    "SELECT state, count(*) FROM jobs "
	    "GROUP BY state");
	if (stmt == NULL)
		return -1;
	while (sqlite3_step(stmt) == SQLITE_ROW)
		if (job_state_parse(
		        (const char *)sqlite3_column_text(stmt, 0), &s) == 0)
			counts[s] = sqlite3_column_int64(stmt, 1);
	store_release(st, stmt);
	return 0;
}
