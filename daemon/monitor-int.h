/*
 * monitor-int: what monitor.c (Slurm side), monitor-plan.c (its ops to the
 * worker) and monitor-recovery.c (checkpoints, hangs, the restart policy)
 * share. Not for other modules.
 */
#ifndef LLMCTLD_MONITOR_INT_H
#define LLMCTLD_MONITOR_INT_H

#include <sys/queue.h>

#include <stdint.h>
#include <stdlib.h>

#include "goodput.h"
#include "pool.h"
#include "store.h"
#include "util.h"

struct bjob;
struct spec_ref;
struct llmctld;

/* What the monitor remembers about an attempt between ticks. */
struct track {
	char *tag;
	int busy; /* an op is in flight */
	/* a submit Slurm refused for now (full queue, down): when again */
	int submit_fails;
	int64_t submit_retry_ms;
	/*
	 * Slurm cannot have the tag: the attempt was made by this process
	 * and never handed to OP_SUBMIT, or a poll after its last submit
	 * did not show it. Else list_after: only a poll pushed after
	 * that one may tell.
	 */
	int absent;
	uint64_t list_after;
	int misses; /* polls without it */
	int64_t last_kill_ms;
	/* progress, for hang detection */
	int64_t progress_ms; /* last sign of life */
	int heard; /* any progress since start */
	int64_t log_bytes;
	int64_t sized_bytes; /* the last log size scan's */
	int sizing; /* a log size scan in flight */
	enum { PF_UNREAD, PF_READING, PF_READ } pf_state; /* preflight.failed */
	char *pf_nodes; /* what it named, once read */
	char first_fail[128]; /* first-failure, read with it */
	int64_t beats;
	struct gp_stall stall; /* heartbeat step stalls (goodput.c) */
	int64_t ckpt_step;
	int ckpt_known; /* ckpt_step was read once */
	char *avoid; /* re-plan: the nodes that were busy */
	/* spares (monitor-spares.c): step.end, and the decision file */
	enum { STEP_UNREAD, STEP_READING, STEP_ENDED } step_state;
	int step_rc;
	enum { NEXT_NONE, NEXT_WRITING, NEXT_WRITTEN } next_state;
	/*
	 * The last plan found no room now: planned again once the cluster
	 * changed (monitor->changes moved on) or at replan_ms.
	 */
	int unplaced;
	uint64_t unplaced_changes;
	int64_t replan_ms; /* monotonic */
	TAILQ_ENTRY(track) entry;
	struct track *hnext; /* in its bucket of monitor->track_index */
};

/* What is known about a job's checkpoints between scans. */
struct jobscan {
	int64_t job_id;
	int busy; /* a scan in flight */
	int deciding; /* decide when the scan is done */
	int64_t last_ms;
	TAILQ_ENTRY(jobscan) entry;
};

struct pending_end {
	char *tag;
	int64_t id;
};

struct monitor {
	struct llmctld *d;
	struct timer *tick;
	int polling;
	double poll_started; /* metrics_now() when the list op was pushed */
	int poll_failing;
	int loading; /* an OP_CLUSTER in flight */
	int64_t loaded_ms; /* monotonic, when d->cluster came */
	int64_t load_pushed_ms; /* monotonic, when the newest load was pushed */
	int load_wanted; /* a plan waits for it: kick */
	char *load_cause; /* why the last load failed; NULL: ok */
	int64_t load_stamp; /* the backend's stamp of d->cluster's nodes */
	uint64_t load_fail_sum; /* and of the failures folded into it */
	char *poll_cause; /* why the last poll failed */
	uint64_t lists; /* OP_LISTs pushed, the newest's number */
	int64_t listed_ms; /* monotonic, when the newest was pushed */
	int list_wanted; /* an attempt waits for a poll: kick */
	int64_t swept_ms; /* monotonic, the last sweep of every attempt */
	int sweep_wanted; /* sweep on the next tick, not a poll interval on */
	struct bjob *seen; /* the last poll's jobs, owned */
	size_t nseen;
	/*
	 * The ends a poll found past its first MONITOR_ENDS_MAX, by tag and
	 * Slurm id in seen: applied MONITOR_ENDS_MAX a loop turn (ends_cb),
	 * and no poll until they are.
	 */
	struct pending_end *ends;
	size_t nends, ends_done;
	struct timer *ends_timer;
	uint64_t seen_list; /* and its number; 0: none yet */
	int64_t seen_stamp; /* the backend's stamp of seen */
	/* seen's jobs of others pending for nodes, by partition list */
	struct waiting {
		char *partition;
		int64_t n;
	} * waiting;
	size_t nwaiting;
	/*
	 * Bumped when what a plan sees may have changed: a new job table or
	 * node snapshot, an attempt ended. Attempts left unplaced wait for it.
	 */
	uint64_t changes;
	TAILQ_HEAD(, track) tracks;
	/* the tracks by tag: chained buckets, doubled past 2 a bucket */
	struct track **track_index;
	size_t track_buckets, ntracks;
	TAILQ_HEAD(, jobscan) scans;
	struct pool *scanner; /* checkpoint scans, by uid */
	int node_op; /* an OP_NODE (drain, resume) in flight */
	/* QUEUED jobs an older llmctld left without an attempt have theirs */
	int queued_made;
};

static inline void
monitor_set_str(char **dst, const char *src)
{
	char *copy = src != NULL ? xstrdup(src) : NULL;

	free(*dst);
	*dst = copy;
}

/* monitor.c */
struct track *monitor_track_get(struct monitor *, const char *tag);
struct track *monitor_track_find(struct monitor *, const char *tag);
void monitor_fs_push(
    struct monitor *, uid_t, pool_run_fn, pool_done_fn, void *arg);
void monitor_track_drop(struct monitor *, const char *tag);
/* Others' jobs waiting in Slurm's queue for the partition's nodes. */
int64_t monitor_waiting(const struct monitor *, const char *partition);
/* The job's spec, parsed once: spec_ref_put() it; NULL: unreadable. */
struct spec_ref *monitor_job_spec(
    struct monitor *, const struct job *, char **cause);
struct attempt *monitor_attempt_by_tag(
    struct monitor *, const char *tag, struct job **);
void monitor_cancel_attempt(struct monitor *, struct attempt *);
/*
 * End an attempt in state to: with cause, or (CAUSE_NONE) the one it is
 * being ended for; with reason, or the one it has.
 */
void monitor_finish(struct monitor *, struct attempt *, struct job *,
    enum attempt_state to, enum attempt_cause cause, const char *reason);

void monitor_attempt_in_slurm(struct monitor *, struct attempt *, struct job *,
    int64_t id, int submitted);
/*
 * Re-plans of attempts left waiting for room: due once the cluster changed
 * (or after REPLAN_IDLE poll intervals anyway); monitor_unplaced() marks
 * the attempt's plan as one that found none.
 */
int monitor_replan_due(const struct monitor *, const struct track *);
void monitor_unplaced(struct monitor *, const char *tag);

/* monitor-plan.c (and monitor_cancel_attempt above) */
void monitor_plan_attempt(struct monitor *, struct attempt *, struct job *);
void monitor_load_cluster(struct monitor *);
/* Kill a Slurm job (at most once per poll interval for an attempt). */
void monitor_cancel_slurm(struct monitor *, int64_t slurm_job_id);
/* A fresh heartbeat token for the attempt, registered; caller frees. */
char *monitor_plan_token(
    struct monitor *, struct attempt *, const struct job *);

/* monitor-spares.c */
/* The attempt was planned with spares (its plan lists them). */
int spares_planned(const struct attempt *);
/*
 * A poll shows the attempt's Slurm job in flight: 1 if its step ended and
 * the attempt is being ended here instead.
 */
int spares_step(
    struct monitor *, struct attempt *, struct job *, const struct bjob *);
/*
 * A new attempt: 1 if it starts (or waits to start) as a step of the last
 * attempt's Slurm job, 0 for a new Slurm job.
 */
int spares_try(struct monitor *, struct attempt *, struct job *);
/* Stop the attempt's step, not its Slurm job (a hang). */
void spares_fence(struct monitor *, const struct attempt *);
/* After a decision: a job that ends gives its waiting allocation up. */
void spares_decided(struct monitor *, const struct job *,
    const struct attempt *last, int restart);

/* monitor-recovery.c */
void recovery_tick(struct monitor *);
void recovery_decide(struct monitor *, int64_t job_id);
/*
 * In monitor_finish's transaction, after the end it wrote: the decision of
 * a job decided at once (not cancelled, no final checkpoint scan) is
 * written there too, so the end and the decision share one fsync (*dc);
 * one that cannot be written is undone alone (a savepoint) and made again
 * after the commit. -1: the transaction is broken, roll it back. Once the
 * commit is done, recovery_decided(dc) acts on the decision, or calls
 * recovery_decide (dc NULL); if it failed, recovery_decision_free(dc).
 */
struct decision;
int recovery_decide_in(struct monitor *, int64_t job_id, struct decision **);
void recovery_decided(struct monitor *, int64_t job_id, struct decision *);
void recovery_decision_free(struct decision *);
/* Newest verified checkpoint step on record, -1: none. */
int64_t recovery_newest_step(struct monitor *, int64_t job_id);
/* Blame the attempt's nodes that the newest snapshot shows down. */
/* Tell the ended attempt's ranks that still run to stop (logdir_fence). */
void recovery_fence(struct monitor *, const struct attempt *, uid_t);
void recovery_blame_down(struct monitor *, struct attempt *);
/*
 * The preflight's failed nodes from the attempt's log dir (*nodes, NULL:
 * none): 1 once read on the fs pool, 0 while the read is under way.
 */
int recovery_preflight_failed(
    struct monitor *, const struct job *, const struct attempt *, char **nodes);
/*
 * Why a failed attempt failed, once recovery_preflight_failed() has read
 * its log dir: the first rank that failed on its own, its node and exit
 * status; *cause becomes CAUSE_TIMEOUT if that was the time-limit warning
 * the job asked for. Caller frees.
 */
char *recovery_exit_reason(struct monitor *, const struct job *,
    const struct attempt *, int exit_code, enum attempt_cause *cause);
void recovery_free(struct monitor *);

/* monitor-nodes.c: drain and resume nodes in Slurm (node_drain_score) */
void nodes_tick(struct monitor *);

/* monitor-straggler.c */
void straggler_check(struct monitor *, const struct attempt *);
void straggler_forget(struct monitor *, const struct attempt *);

#endif
