/*
 * metrics: in-memory counters and histograms behind one mutex. Writers
 * are the worker thread (backend ops) and the loop's thread (polls, API,
 * store commits); the loop's thread renders. Every label value comes from
 * a fixed table here or from the caller's static strings (route templates),
 * so no client input ever becomes a label.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "util.h"
#include "worker.h"

/* Latencies of calls: 1 ms .. 30 s (a Slurm RPC times out at tens). */
static const double lat_buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 };
#define NLAT ((int)nitems(lat_buckets))

/* Durations of jobs: 1 s .. 1 day. */
const double metrics_job_buckets[] = { 1, 5, 15, 30, 60, 120, 300, 600, 1800,
	3600, 7200, 21600, 86400 };
const int metrics_job_nbuckets = (int)nitems(metrics_job_buckets);

struct hist {
	unsigned long long b[NLAT]; /* per bucket, not cumulative */
	double sum;
	unsigned long long count;
};

/* enum op_kind's names; a kind added later shows as "other". */
static const char *const op_names[] = {
	[OP_SUBMIT] = "submit",
	[OP_LIST] = "list",
	[OP_CANCEL] = "cancel",
	[OP_CLUSTER] = "cluster",
	[OP_NODE] = "node",
};
#define NOPS ((int)nitems(op_names) + 1) /* + other */

/* Status codes the API answers with; any other counts as "other". */
static const int codes[] = { 200, 201, 202, 400, 401, 403, 404, 405, 409, 413,
	429, 500, 503 };
#define CODE_OTHER ((int)nitems(codes))
#define CODE_DEFERRED (CODE_OTHER + 1) /* answered later, off the loop */
#define NCODES (CODE_DEFERRED + 1)

#define MAX_ROUTES 32 /* more than api.c has; past it: dropped */

struct route {
	const char *name; /* a static string from api.c */
	int tcp;
	unsigned long long by_code[NCODES];
	struct hist h;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct hist op_hist[NOPS];
static unsigned long long op_errors[NOPS];
static struct hist poll_hist;
static struct hist commit_hist;
static unsigned long long commit_errors;
static unsigned long long stragglers_total; /* ranks flagged */
static long long stragglers_now; /* flagged and not cleared */
static struct route routes[MAX_ROUTES];
static int nroutes;

double
metrics_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Under mu. */
static void
hist_add(struct hist *h, double s)
{
	int i;

	if (s < 0)
		s = 0;
	for (i = 0; i < NLAT && s > lat_buckets[i]; i++)
		;
	if (i < NLAT)
		h->b[i]++;
	h->sum += s;
	h->count++;
}

void
metrics_backend_op(int kind, double s, int failed)
{
	int k = kind >= 0 && kind < NOPS - 1 && op_names[kind] != NULL
	    ? kind
	    : NOPS - 1;

	pthread_mutex_lock(&mu);
	hist_add(&op_hist[k], s);
	if (failed)
		op_errors[k]++;
	pthread_mutex_unlock(&mu);
}

void
metrics_poll(double s)
{
	pthread_mutex_lock(&mu);
	hist_add(&poll_hist, s);
	pthread_mutex_unlock(&mu);
}

void
metrics_store_commit(double s, int failed)
{
	pthread_mutex_lock(&mu);
	hist_add(&commit_hist, s);
	if (failed)
		commit_errors++;
	pthread_mutex_unlock(&mu);
}

void
metrics_straggler(int flagged)
{
	pthread_mutex_lock(&mu);
	if (flagged > 0) {
		stragglers_total++;
		stragglers_now++;
	} else if (stragglers_now > 0)
		stragglers_now--;
	pthread_mutex_unlock(&mu);
}

/* Under mu: the route's slot, or NULL when the table is full. */
static struct route *
route_slot(const char *name, int tcp)
{
	int i;

	for (i = 0; i < nroutes; i++)
		if (routes[i].tcp == tcp && strcmp(routes[i].name, name) == 0)
			return &routes[i];
	if (nroutes == MAX_ROUTES)
		return NULL;
	routes[nroutes].name = name;
	routes[nroutes].tcp = tcp;
	return &routes[nroutes++];
}

void
metrics_api(const char *route, int tcp, int status, double s)
{
	struct route *r;
	int c;

	for (c = 0; c < CODE_OTHER && codes[c] != status; c++)
		;
	if (status == METRICS_DEFERRED)
		c = CODE_DEFERRED;
	pthread_mutex_lock(&mu);
	if ((r = route_slot(route, tcp)) != NULL) {
		r->by_code[c]++;
		hist_add(&r->h, s);
	}
	pthread_mutex_unlock(&mu);
}

void
metrics_write_hist(FILE *f, const char *name, const char *labels,
    const double *bounds, int nbounds, const unsigned long long *counts,
    double sum, unsigned long long count)
{
	const char *sep = labels[0] != '\0' ? "," : "";
	int i;

	for (i = 0; i < nbounds; i++)
		fprintf(f, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
		    bounds[i], counts[i]);
	fprintf(
	    f, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, count);
	if (labels[0] != '\0') {
		fprintf(f, "%s_sum{%s} %.6f\n", name, labels, sum);
		fprintf(f, "%s_count{%s} %llu\n", name, labels, count);
	} else {
		fprintf(f, "%s_sum %.6f\n", name, sum);
		fprintf(f, "%s_count %llu\n", name, count);
	}
}

/* Under mu. */
static void
hist_write(FILE *f, const char *name, const char *labels, const struct hist *h)
{
	unsigned long long cum[NLAT], run = 0;
	int i;

	for (i = 0; i < NLAT; i++)
		cum[i] = run += h->b[i];
	metrics_write_hist(
	    f, name, labels, lat_buckets, NLAT, cum, h->sum, h->count);
}

void
metrics_type_line(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Under mu. */
static void
render_backend(FILE *f)
{
	char labels[64];
	int k;

	metrics_type_line(f, "llmctld_backend_op_duration_seconds", "histogram",
	    "Backend (Slurm) operations on the worker thread, by op; plan "
	    "includes the placement search.");
	for (k = 0; k < NOPS; k++) {
		snprintf(labels, sizeof(labels), "op=\"%s\"",
		    k < NOPS - 1 ? op_names[k] : "other");
		hist_write(f, "llmctld_backend_op_duration_seconds", labels,
		    &op_hist[k]);
	}
	metrics_type_line(f, "llmctld_backend_op_errors_total", "counter",
	    "Backend operations that failed, by op.");
	for (k = 0; k < NOPS; k++)
		fprintf(f, "llmctld_backend_op_errors_total{op=\"%s\"} %llu\n",
		    k < NOPS - 1 ? op_names[k] : "other", op_errors[k]);
}

/* Under mu. */
static void
render_api(FILE *f)
{
	char labels[128];
	int i, c;

	metrics_type_line(f, "llmctld_api_requests_total", "counter",
	    "API requests by route template, listener (unix or tcp) and "
	    "status code (a fixed list, else other).");
	for (i = 0; i < nroutes; i++)
		for (c = 0; c < NCODES; c++) {
			if (routes[i].by_code[c] == 0)
				continue;
			if (c < CODE_OTHER)
				snprintf(
				    labels, sizeof(labels), "%d", codes[c]);
			else
				snprintf(labels, sizeof(labels), "%s",
				    c == CODE_OTHER ? "other" : "deferred");
			fprintf(f,
			    "llmctld_api_requests_total{route=\"%s\","
			    "listener=\"%s\",code=\"%s\"} %llu\n",
			    routes[i].name, routes[i].tcp ? "tcp" : "unix",
			    labels, routes[i].by_code[c]);
		}
	metrics_type_line(f, "llmctld_api_request_duration_seconds",
	    "histogram",
	    "Time to answer an API request, by route template and listener; "
	    "a deferred answer counts until it was handed to its thread.");
	for (i = 0; i < nroutes; i++) {
		snprintf(labels, sizeof(labels), "route=\"%s\",listener=\"%s\"",
		    routes[i].name, routes[i].tcp ? "tcp" : "unix");
		hist_write(f, "llmctld_api_request_duration_seconds", labels,
		    &routes[i].h);
	}
}

void
metrics_render(FILE *f)
{
	pthread_mutex_lock(&mu);
	render_backend(f);
	metrics_type_line(f, "llmctld_poll_duration_seconds", "histogram",
	    "Slurm polls, from queueing the list op to applying its answer.");
	hist_write(f, "llmctld_poll_duration_seconds", "", &poll_hist);
	render_api(f);
	metrics_type_line(f, "llmctld_store_commit_duration_seconds",
	    "histogram", "SQLite commits (fsync included).");
	hist_write(
	    f, "llmctld_store_commit_duration_seconds", "", &commit_hist);
	metrics_type_line(f, "llmctld_store_commit_errors_total", "counter",
	    "SQLite commits that failed (rolled back).");
	fprintf(f, "llmctld_store_commit_errors_total %llu\n", commit_errors);
	metrics_type_line(f, "llmctld_stragglers_total", "counter",
	    "Ranks flagged as stragglers since llmctld started.");
	fprintf(f, "llmctld_stragglers_total %llu\n", stragglers_total);
	metrics_type_line(f, "llmctld_stragglers", "gauge",
	    "Ranks of running attempts flagged as stragglers now.");
	fprintf(f, "llmctld_stragglers %lld\n", stragglers_now);
	pthread_mutex_unlock(&mu);
}
