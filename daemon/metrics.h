/*
 * metrics: the daemon's own counters and histograms, kept in memory for
 * GET /metrics (api-metrics.c renders them with what it reads from the
 * store at scrape time). Process-wide, like the log: the worker thread,
 * the store and the server record into it without a context to pass.
 * Safe from any thread (one mutex); every label set is fixed at compile
 * time or bounded by a table here (docs/design.md section 4, "Metrics").
 */
#ifndef LLMCTLD_METRICS_H
#define LLMCTLD_METRICS_H

#include <stdio.h>

/* Seconds from CLOCK_MONOTONIC, with sub-millisecond resolution. */
double metrics_now(void);

/* One backend op (worker.h's enum op_kind) took s seconds; failed: rc != 0. */
void metrics_backend_op(int kind, double s, int failed);
/* One Slurm poll, from pushing the list op to applying its answer. */
void metrics_poll(double s);
/*
 * One API request: its route template (a static string), the listener,
 * the status (METRICS_DEFERRED: answered later) and the time it took.
 */
#define METRICS_DEFERRED (-1)
void metrics_api(const char *route, int tcp, int status, double s);
/* A rank flagged as a straggler (1), or cleared, its attempt ended (0). */
void metrics_straggler(int flagged);
/* One store commit. */
void metrics_store_commit(double s, int failed);

/* Buckets for durations of jobs (queue wait, attempts, recovery). */
extern const double metrics_job_buckets[];
extern const int metrics_job_nbuckets;

/* Write HELP/TYPE and the series of everything recorded in memory. */
void metrics_render(FILE *);

/* Write a family's HELP and TYPE lines. */
void metrics_type_line(
    FILE *, const char *name, const char *type, const char *help);

/*
 * Write one histogram from cumulative bucket counts (counts[i] for
 * bounds[i], then +Inf = count), with optional extra labels ("a=\"b\"").
 */
void metrics_write_hist(FILE *, const char *name, const char *labels,
    const double *bounds, int nbounds, const unsigned long long *counts,
    double sum, unsigned long long count);

#endif
