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

struct monitor *monitor_create(struct llmctld *);
/* Run a tick on the next loop turn (after a submit or cancel). */
void monitor_kick(struct monitor *);
void monitor_kick_sweep(struct monitor *);
struct job;
/*
 * A job's next attempt, inserted in the transaction open (a submit makes
 * the first with the job: one fsync for both); its tag, or NULL. Once
 * committed, monitor_attempt_made(tag).
 */
char *monitor_create_attempt(struct monitor *, const struct job *);
void monitor_attempt_made(struct monitor *, const char *);
void monitor_free(struct monitor *);
/* The rank's node in an attempt's plan (JSON), "?" if none: for stragglers. */
struct json_t;
const char *monitor_rank_node(const struct json_t *plan, int rank);

#endif
