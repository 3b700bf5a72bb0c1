/*
 * store: all of llmctld's state in one SQLite file (WAL, synchronous=FULL).
 * Only this module includes <sqlite3.h>. Every function runs on the event
 * loop's thread. Rows come back as structs the caller owns and frees with
 * the matching _free function.
 */
#ifndef LLMCTLD_STORE_H
#define LLMCTLD_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STORE_SCHEMA_VERSION 11
#define STORE_WAL_LIMIT "4194304" /* bytes the WAL keeps after a checkpoint */

enum job_state {
	JOB_QUEUED,
	JOB_SUBMITTED,
	JOB_RUNNING,
	JOB_RESTARTING,
	JOB_COMPLETED,
	JOB_FAILED,
	JOB_CANCELLED,
};

struct job {
	int64_t id;
	char *name;
	uid_t uid;
	gid_t gid;
	char *user;
	enum job_state state;
	char *reason; /* NULL: none */
	char *spec; /* canonical spec JSON */
	int64_t created_at;
	int64_t updated_at;
	int attempts; /* attempts created so far */
	int nodes;
	int gpus_per_node;
	int world_size;
	int has_exit_code;
	int exit_code;
	/* restart policy (docs/design.md section 8) */
	int64_t not_before; /* next attempt no earlier than this */
	int restarts; /* charged to recovery.max_restarts */
	int infra_restarts; /* to max_infra_restarts */
	int failures_in_row; /* for the backoff */
	int no_progress; /* attempts in a row, no new checkpoint */
	const char *idem_key; /* insert only: the client's key, or NULL */
};

/*
 * An attempt's state, stored by name (attempt_state_name()): CREATED, then
 * Slurm's (PENDING, RUNNING, its end), or LOST. The final ones, from
 * ATTEMPT_COMPLETED on, mean ended_at != 0. docs/design.md section 5.
 */
enum attempt_state {
	ATTEMPT_CREATED, /* committed, not in Slurm (yet) */
	ATTEMPT_PENDING,
	ATTEMPT_RUNNING,
	ATTEMPT_COMPLETED,
	ATTEMPT_FAILED,
	ATTEMPT_CANCELLED,
	ATTEMPT_TIMEOUT,
	ATTEMPT_NODE_FAIL,
	ATTEMPT_PREEMPTED,
	ATTEMPT_LOST, /* Slurm no longer knows it */
};
#define ATTEMPT_NSTATES (ATTEMPT_LOST + 1)

/*
 * Why an attempt ended (or is being ended), stored by name, NULL for
 * CAUSE_NONE. The policy reads them (section 5, "End causes").
 */
enum attempt_cause {
	CAUSE_NONE,
	CAUSE_USER_ERROR,
	CAUSE_PREFLIGHT_FAILED,
	CAUSE_NODE_FAILURE,
	CAUSE_HANG,
	CAUSE_TIMEOUT,
	CAUSE_PREEMPTED,
	CAUSE_LOST,
	CAUSE_CANCELLED,
	CAUSE_SUBMIT_FAILED,
	CAUSE_UNPLACEABLE,
	CAUSE_LAUNCH_FAILED,
	CAUSE_REPLAN, /* not an end: the attempt starts over */
};
#define ATTEMPT_NCAUSES (CAUSE_REPLAN + 1)

/* One try of a job in Slurm; ended_at != 0 once it is over for good. */
struct attempt {
	int64_t job_id;
	int attempt; /* 1, 2, ... */
	char *tag; /* random; also in the Slurm job's comment */
	enum attempt_state state; /* changed only by lifecycle.c */
	int64_t slurm_job_id; /* 0: not known to be in Slurm yet */
	char *nodes; /* NULL until Slurm allocates */
	int master_port;
	int64_t submitted_at;
	int64_t started_at;
	int64_t ended_at;
	int has_exit_code;
	int exit_code;
	enum attempt_cause cause; /* changed only by lifecycle.c */
	/*
	 * llmctld is ending it (hang, re-plan): its state stays as it is
	 * until Slurm's job is final. Stored as a cause without ended_at.
	 */
	int ending;
	char *reason;
	char *plan; /* placement JSON, NULL until planned */
	char *token_hash; /* sha256 hex of the heartbeat token */
	int64_t last_beat_at; /* heartbeat summary, 0: none yet */
	int64_t last_step; /* -1: none */
	int64_t beats;
	char *blamed; /* nodes blamed for its end, comma list */
	int64_t ckpt_start; /* newest verified step at start, -1: none */
	int64_t ckpt_end; /* and at its end */
	int decided; /* ended, and the restart policy has run */
};

struct job_filter {
	int all_users; /* else only uid */
	uid_t uid;
	unsigned states; /* 1 << enum job_state; 0: any */
	int64_t after; /* ids below this (paging), 0: none */
	int limit; /* 0: default 100 */
	/* final jobs last updated (ended) before this are left out */
	int64_t since; /* 0: none left out */
	const char *name; /* exact job name, NULL: any */
};

struct store;

struct store *store_open(const char *path, char **cause);
void store_close(struct store *);

/* Group the writes that follow into one durable transaction. */
int store_begin(struct store *);
/* One only a power loss can undo (no fsync), for what Slurm tells again. */
int store_begin_recoverable(struct store *);
int store_commit(struct store *);
void store_rollback(struct store *);
/*
 * With a kick, the recoverable transactions of a loop turn share one: each
 * is a savepoint in it (its rollback undoes it alone), the first calls
 * kick(arg), and the loop then calls store_flush() to commit them all, as
 * every store_begin(), store_maintain() and store_close() does first.
 * Without (a NULL kick commits the batch open), each commits on its own.
 */
void store_set_flush(struct store *, void (*kick)(void *), void *arg);
/* -1: the batch could not be committed, and is lost. */
int store_flush(struct store *);
/*
 * A savepoint in the transaction open, so that the writes after it can be
 * undone alone (the transaction stays open) or released into it.
 */
int store_savepoint(struct store *);
int store_savepoint_undo(struct store *);
int store_savepoint_release(struct store *);
/* 1 between store_begin() and its commit or rollback. */
int store_in_transaction(const struct store *);
/* Checkpoint and truncate the WAL; sooner after a failed write. */
int store_maintain(struct store *);
#define STORE_MAINTAIN_MS 60000 /* how often, when all is well */
#define STORE_RETRY_MS 5000 /* and after a failed write */

int store_job_insert(struct store *, struct job *); /* sets id, times */
/* The id of uid's job submitted with this Idempotency-Key; 0: none, -1. */
int64_t store_job_by_key(struct store *, uid_t, const char *key);
struct job *store_job_get(struct store *, int64_t id);
struct job **store_job_list(
    struct store *, const struct job_filter *, size_t *n);
/* Jobs in state with no attempt in flight (QUEUED or RESTARTING). */
struct job **store_jobs_in_state(struct store *, enum job_state, size_t *n);
/* Jobs per state, counts[JOB_QUEUED..JOB_CANCELLED]. */
int store_job_counts(struct store *, int64_t counts[JOB_CANCELLED + 1]);
int store_job_set_state(
    struct store *, int64_t id, enum job_state, const char *reason);
int store_job_set_exit(struct store *, int64_t id, int exit_code);
void job_free(struct job *);
void job_list_free(struct job **, size_t);

int store_attempt_insert(struct store *, struct attempt *);
int store_attempt_update(struct store *, const struct attempt *);
/*
 * Give an attempt a new tag (it starts over in Slurm); only the tag: the
 * caller writes the rest of the row (lifecycle_attempt_set()).
 */
int store_attempt_retag(
    struct store *, const struct attempt *, const char *old_tag);
struct attempt **store_attempts_of(struct store *, int64_t job_id, size_t *n);
/* Every attempt not yet ended, of any job. */
struct attempt **store_attempts_active(struct store *, size_t *n);
struct attempt **store_attempts_unsubmitted(
    struct store *, int (*skip)(void *, const char *tag), void *, size_t *);
int store_port_in_use(struct store *, int);
/* The attempt in flight (not ended) with this tag, by its index; or NULL. */
struct attempt *store_attempt_active_by_tag(struct store *, const char *tag);
/*
 * For each attempt of a job with GPUs whose GPUs a snapshot loaded at
 * since may show free: planned or pending (CREATED, PENDING with nodes, not
 * being ended), or RUNNING since then: fn(arg, tag, nodes, gpus_per_node).
 */
int store_attempts_holding(struct store *, int64_t since,
    void (*fn)(void *, const char *, const char *, int), void *arg);
/*
 * Whether any attempt waits in Slurm's queue for Slurm to pick its nodes
 * (PENDING without nodes, not being ended): 1 or 0, without counting
 * them all; -1 on error.
 */
int64_t store_attempts_queued(struct store *);
void attempt_free(struct attempt *);
void attempt_list_free(struct attempt **, size_t);

int store_job_update_policy(struct store *, const struct job *);

/* A checkpoint as recorded (see checkpoint.h for what the fields mean). */
struct ckpt;
int store_checkpoints_replace(
    struct store *, int64_t job_id, const struct ckpt *, size_t);
struct ckpt *store_checkpoints_of(struct store *, int64_t job_id, size_t *n);
/* Comma list of every node blamed in the job's attempts, or NULL. */
char *store_job_blamed(struct store *, int64_t job_id);

/* Node failure history the planner avoids (recent = since ttl_s ago). */
struct bfailure;
int store_node_failure_add(struct store *, const char *name);
struct bfailure *store_node_failures(struct store *, size_t *n);

/* store-nodes.c: node health records (nodehealth.h) */
struct node_record;
int store_node_failure_log(struct store *, const char *name, const char *cause,
    int64_t job_id, int attempt);
/* 0 with *r filled (and its newest nfail failures), 1: no record, -1. */
int store_node_get(
    struct store *, const char *name, struct node_record *, size_t nfail);
int store_node_put(struct store *, const struct node_record *);
/* Every node with a record, by name, each with its newest nfail failures. */
struct node_record *store_node_list(struct store *, size_t nfail, size_t *n);
/* Forget the score and quarantine (the log stays); 1: no record. */
int store_node_clear(struct store *, const char *name);
/* Names of the nodes quarantined at now; the caller frees them. */
char **store_nodes_quarantined(struct store *, int64_t now, size_t *n);

struct event_row {
	int64_t id;
	int64_t at;
	char *kind;
	char *message;
	int64_t job_id;
	uid_t uid; /* the job's owner (store_events_match) */
	char *job; /* the job's name (store_events_match) */
};
struct event_row *store_events_of(struct store *, int64_t job_id, size_t *n);
/* What an event stream shows: (after, upto], one user's or all, a job. */
struct event_filter {
	int64_t after;
	int64_t upto;
	int all_users; /* else only uid's jobs */
	uid_t uid;
	int64_t job_id; /* 0: every job */
	size_t limit;
	int newest; /* newest first, else oldest first */
};
struct event_row *store_events_match(
    struct store *, const struct event_filter *, size_t *n);
/* The newest event's id, 0: none, -1: error. */
int64_t store_events_last(struct store *);
/* A reader's saved place in the events table; -1: none saved. */
int64_t store_cursor_get(struct store *, const char *name);
int store_cursor_set(struct store *, const char *name, int64_t event_id);
/* Inside store_begin() .. store_commit(): rows seen may not be committed. */
int store_in_tx(const struct store *);
/*
 * Statements that failed so far, reads included: a caller that must tell
 * "no rows" from "the read failed" compares it before and after.
 */
uint64_t store_faults(const struct store *);
void event_list_free(struct event_row *, size_t);

/*
 * Run a read-only query (the metrics' scrape-time aggregates) with
 * int64 parameters; fn gets each row's columns as text (NULL for NULL)
 * and as int64. At most STORE_ROW_COLS columns; 0 or -1.
 */
#define STORE_ROW_COLS 16
int store_query_rows(struct store *, const char *sql, const int64_t *binds,
    int nbind,
    void (*fn)(void *, int ncol, const char *const *text, const int64_t *num),
    void *arg);

/* Run one write with int64 parameters (goodput.c's ledger); 0 or -1. */
int store_exec_binds(
    struct store *, const char *sql, const int64_t *binds, int nbind);

int store_event_add(struct store *, int64_t job_id, const char *kind,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

const char *job_state_name(enum job_state);
int job_state_parse(const char *, enum job_state *);
int job_state_final(enum job_state);
const char *attempt_state_name(enum attempt_state);
int attempt_state_parse(const char *, enum attempt_state *);
int attempt_state_final(enum attempt_state);
/* NULL for CAUSE_NONE; parsing NULL gives CAUSE_NONE. */
const char *attempt_cause_name(enum attempt_cause);
int attempt_cause_parse(const char *, enum attempt_cause *);

#endif
