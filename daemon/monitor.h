/*
 * monitor: the job state machine. On every tick it turns QUEUED jobs into
 * attempts (committed with a random tag before Slurm hears of them), hands
 * attempts without a Slurm id to the worker (find by tag, else submit),
 * kills attempts of cancelled jobs, and polls Slurm once for all attempts
 * in flight, recording what it says.
 */
#ifndef LLMCTLD_MONITOR_H
#define LLMCTLD_MONITOR_H

struct llmctld;
struct monitor;

/*
 * Attempt ends a poll records in one loop turn, each its own durable
 * commit and decision (1-4 ms here); the rest wait for the next turns, so
 * that a user's mass cancel does not hold every other answer.
 */
#define MONITOR_ENDS_MAX 16

struct monitor *monitor_create(struct llmctld *);
/* Run a tick on the next loop turn (after a submit or cancel). */
void monitor_kick(struct monitor *);
void monitor_kick_sweep(struct monitor *);
struct job;
struct attempt;
struct submit_data;
/*
 * A job's next attempt, inserted in the transaction open (a submit makes
 * the first with the job: one fsync for both); it (attempt_free() it), or
 * NULL. Once committed, monitor_attempt_made(its tag).
 */
struct attempt *monitor_create_attempt(struct monitor *, const struct job *);
void monitor_attempt_made(struct monitor *, const char *);
/*
 * A submit's first attempt planned, built and recorded in the same open
 * transaction, so that a job costs one commit, not two: 0 and *out once
 * recorded; after the commit monitor_plan_sent() hands it to Slurm; after
 * a rollback monitor_plan_undo() forgets the attempt, planned (*out) or
 * not (NULL). 1: left to the tick (no
 * fresh snapshot, no room now, no launch: the paths that write their own
 * reason or end); -1: the store failed, roll back.
 */
int monitor_plan_first(
    struct monitor *, struct attempt *, struct job *, struct submit_data **out);
void monitor_plan_sent(struct monitor *, struct submit_data *,
    const struct attempt *, const struct job *);
void monitor_plan_undo(
    struct monitor *, struct submit_data *, const struct attempt *);
void monitor_free(struct monitor *);
/* The rank's node in an attempt's plan (JSON), "?" if none: for stragglers. */
struct json_t;
const char *monitor_rank_node(const struct json_t *plan, int rank);

#endif
