/*
 * goodput: the ledger of where a job's wall-clock time went (queue,
 * start-up, productive, lost work, recovery, checkpoint stalls) and its
 * effective training time ratio, docs/design.md section 8 "Goodput".
 *
 * The core, goodput_compute(), is a pure function of a job's timeline: the
 * attempts' Slurm start and end, the marks recorded at transitions (first
 * progress, newest checkpoint, the decision) and now. The rest keeps those
 * marks in the store (table goodput_marks, written in the transition's
 * transaction) and each final job's per-day totals (goodput_days), so that
 * totals are one grouped query and a restart loses nothing.
 */
#ifndef LLMCTLD_GOODPUT_H
#define LLMCTLD_GOODPUT_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* One attempt as the ledger sees it; times are unix seconds, 0: none. */
struct gp_attempt {
	int attempt;
	int64_t started_at; /* Slurm's start */
	int64_t ended_at; /* Slurm's end */
	enum attempt_cause cause;
	const char *blamed; /* borrowed; NULL: none */
	int64_t beat_at; /* first heartbeat */
	int64_t log_at; /* first output seen, before any heartbeat */
	int64_t ckpt_first_at; /* mtime of its first new checkpoint */
	int64_t ckpt_at; /* mtime of its newest complete checkpoint */
	int64_t failed_at; /* hang: the last sign of progress */
	int64_t decided_at; /* the restart policy ran */
	int64_t resume_at; /* restart: next attempt not before */
	int64_t stall_s; /* heartbeat step stalls */
};

struct gp_input {
	int64_t created_at; /* the job's submission */
	int64_t ended_at; /* the job's end; 0: not final, counts to now */
	int cancelled; /* the job was cancelled: a cancelled end is no failure */
	int64_t now;
	const struct gp_attempt *a; /* in attempt order */
	size_t n;
};

/* Where time went, GP_* below; the four GP_R* make up recovery. */
enum gp_bucket {
	GP_QUEUE,
	GP_STARTUP,
	GP_PRODUCTIVE,
	GP_LOST,
	GP_RDETECT,
	GP_RBACKOFF,
	GP_RQUEUE,
	GP_RSTARTUP,
	GP_STALL,
	GP_NBUCKETS,
};
/* "queue_s", ..., the names the API and the store use. */
const char *goodput_bucket_name(enum gp_bucket);
#define GP_RECOVERY(b) ((b) >= GP_RDETECT && (b) <= GP_RSTARTUP)

struct gp_incident {
	int attempt;
	enum attempt_cause cause;
	char *nodes; /* blamed, owned; NULL: none */
	int64_t failed_at;
	int64_t training_again_at; /* 0: not (yet) */
	int64_t recovery_s; /* failed_at to training again (or the end) */
	int64_t part[4]; /* detection, backoff, queue, start-up */
};

/* The buckets partition wall_s. */
struct gp_ledger {
	int64_t wall_s;
	int64_t b[GP_NBUCKETS];
	int64_t recovery_s; /* the sum of the GP_R* buckets */
	double ettr; /* productive / wall, 0 while wall_s is 0 */
	struct gp_incident *incidents; /* owned */
	size_t nincidents;
};

/*
 * Fill *l from the timeline; fn, if not NULL, is given every stretch in
 * time order. Free with goodput_ledger_clear().
 */
void goodput_compute(const struct gp_input *, struct gp_ledger *,
    void (*fn)(void *, enum gp_bucket, int64_t from, int64_t to), void *arg);
void goodput_ledger_clear(struct gp_ledger *);

/*
 * Step stalls seen in the heartbeat summary, sampled once per tick: a
 * step that advances after more than 3 times its usual interval (and at
 * least GP_STALL_MIN_S) adds the excess. Returns the seconds to add.
 */
#define GP_STALL_MIN_S 3
struct gp_stall { /* all zero: nothing seen yet */
	int64_t step;
	int64_t at; /* when it last advanced, 0: never */
	int64_t usual; /* running mean of the intervals, 0: none yet */
};
int64_t goodput_stall_sample(struct gp_stall *, int64_t now, int64_t step);

/* --- the store side: marks, each inside the caller's transaction --- */
enum gp_mark {
	GP_MARK_BEAT,
	GP_MARK_LOG,
	GP_MARK_FAILED,
	GP_MARK_STALL, /* adds */
};
/* Set a mark once (the first value wins; stalls add up). 0 or -1. */
int goodput_mark(
    struct store *, int64_t job_id, int attempt, enum gp_mark, int64_t value);
/* A new newest complete checkpoint of the job, written at mtime. */
int goodput_checkpoint(struct store *, int64_t job_id, int64_t mtime);
/* The restart policy ran for the attempt; resume_at 0 unless restarting. */
int goodput_decided(struct store *, int64_t job_id, int attempt,
    int64_t decided_at, int64_t resume_at);
/* The job may have become final: store its per-day totals. 0 or -1. */
int goodput_job_final(struct store *, int64_t job_id);

/*
 * After a decision: an event "goodput" (a notification) the first time
 * the job's ETTR so far is below pct percent, once its wall reaches
 * after_s. 0 or -1.
 */
int goodput_alert(struct store *, int64_t job_id, int pct, int64_t after_s);

/* A job's ledger now (0) or -1; clear it with goodput_ledger_clear(). */
int goodput_of_job(
    struct store *, const struct job *, int64_t now, struct gp_ledger *);

/* One total: a user, a day (YYYY-MM-DD, UTC) or a job. */
struct gp_total {
	char key[64];
	int64_t jobs;
	int64_t b[GP_NBUCKETS]; /* seconds per bucket */
	int64_t incidents;
};
enum gp_by {
	GP_BY_USER,
	GP_BY_DAY,
	GP_BY_JOB, /* key: the job's id */
};
/*
 * Totals of final jobs from goodput_days and of unfinished ones computed
 * now; only uid's jobs unless all. Sorted by key; caller frees.
 */
struct gp_total *goodput_totals(struct store *, enum gp_by, int all, uid_t uid,
    int64_t since, int64_t now, size_t *n);

#endif
