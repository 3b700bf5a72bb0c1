/*
 * pool: a few threads for blocking work on files that users control (log
 * reads, log sizes, checkpoint scans), so that neither the event loop nor
 * the Slurm worker ever waits on them; and, one thread with one key, the
 * Slurm worker itself (worker.c). A task's run() is called on a pool
 * thread, then its done() back on the loop's thread.
 *
 * Fairness: tasks carry a key (the job's uid, say). Tasks of one key run
 * one at a time, and after a key is served its other tasks go to the back
 * of the queue, so keys take turns: one user's slow tasks hold at most one
 * thread and never starve another user's.
 *
 * Each thread is named after the pool (top -H, /proc/PID/task/TID/comm).
 *
 * The pool owns a task from pool_push() until done() returns; pool_free()
 * calls done() with cancelled set for tasks that never ran.
 */
#ifndef LLMCTLD_POOL_H
#define LLMCTLD_POOL_H

#include <stdint.h>

struct event_base;
struct pool;

typedef void (*pool_run_fn)(void *arg);
typedef void (*pool_done_fn)(void *arg, int cancelled);

struct pool *pool_create(struct event_base *, const char *name, int nthreads);
void pool_push(
    struct pool *, uint64_t key, pool_run_fn, pool_done_fn, void *arg);
/* Tasks pushed whose done() has not run yet. */
int pool_busy(const struct pool *);
void pool_free(struct pool *);

#endif
