/*
 * api-metrics: GET /metrics (TCP, anyone) and GET /v1/metrics (Unix
 * socket, the caller's identity) in Prometheus' text format. Counts come
 * from the store at scrape time (bounded aggregates, so they survive a
 * restart) and from metrics.c (what only the running daemon saw). Over
 * TCP only label-free or cause/state/op/route-labelled series; the series
 * that name users or jobs are on the Unix socket, a user's own, all for
 * an admin (docs/design.md section 4, "Metrics"; SECURITY.md).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "goodput.h"
#include "health.h"
#include "llmctld.h"
#include "metrics.h"
#include "notify.h"
#include "store.h"
#include "util.h"

#define NODES_SHOWN 50 /* node failure series: the most failed first */

struct scrape {
	FILE *f;
	struct llmctld *d;
	int detail; /* per-user and per-job series */
	int all_users; /* else only uid's */
	uid_t uid;
	int64_t now;
	int64_t counts[ATTEMPT_NCAUSES]; /* by cause, from rows */
	const char *series; /* the row callback's metric */
	int failed;
};

static void render_goodput(struct scrape *);

/* A label value as the text format wants it: \, " and newline escaped. */
static void
put_label(FILE *f, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void
query(struct scrape *sc, const char *sql, const int64_t *binds, int nbind,
    void (*fn)(void *, int, const char *const *, const int64_t *))
{
	if (store_query_rows(sc->d->store, sql, binds, nbind, fn, sc) != 0)
		sc->failed = 1;
}

static void
cause_row(void *arg, int ncol, const char *const *text, const int64_t *num)
{
	struct scrape *sc = arg;
	enum attempt_cause c;

	(void)ncol;
	if (attempt_cause_parse(text[0], &c) == 0)
		sc->counts[c] += num[1];
}

/* One counter by cause; every cause shown, replan (not an end) aside. */
static void
render_by_cause(
    struct scrape *sc, const char *name, const char *help, const char *sql)
{
	int c;

	memset(sc->counts, 0, sizeof(sc->counts));
	query(sc, sql, NULL, 0, cause_row);
	metrics_type_line(sc->f, name, "counter", help);
	for (c = 0; c < ATTEMPT_NCAUSES; c++)
		if (c != CAUSE_REPLAN)
			fprintf(sc->f, "%s{cause=\"%s\"} %lld\n", name,
			    c == CAUSE_NONE ? "none" : attempt_cause_name(c),
			    (long long)sc->counts[c]);
}

static void
node_row(void *arg, int ncol, const char *const *text, const int64_t *num)
{
	struct scrape *sc = arg;

	(void)ncol;
	fprintf(sc->f, "llmctld_node_recent_failures{node=\"");
	put_label(sc->f, text[0]);
	fprintf(sc->f, "\"} %lld\n", (long long)num[1]);
}

static void
hist_row(void *arg, int ncol, const char *const *text, const int64_t *num)
{
	struct scrape *sc = arg;
	unsigned long long counts[STORE_ROW_COLS];
	int i;

	(void)text;
	for (i = 0; i < ncol - 2; i++)
		counts[i] = (unsigned long long)num[i];
	metrics_write_hist(sc->f, sc->series, "", metrics_job_buckets, ncol - 2,
	    counts, (double)num[ncol - 2], (unsigned long long)num[ncol - 1]);
}

/* A histogram of job durations over inner's column v, in one query. */
static void
render_job_hist(
    struct scrape *sc, const char *name, const char *help, const char *inner)
{
	char *sql = xstrdup("SELECT "), *tmp;
	int i;

	for (i = 0; i < metrics_job_nbuckets; i++) {
		tmp = xasprintf("%scoalesce(sum(v <= %g), 0), ", sql,
		    metrics_job_buckets[i]);
		free(sql);
		sql = tmp;
	}
	tmp =
	    xasprintf("%scoalesce(sum(v), 0), count(v) FROM (%s)", sql, inner);
	free(sql);
	metrics_type_line(sc->f, name, "histogram", help);
	sc->series = name;
	query(sc, tmp, NULL, 0, hist_row);
	free(tmp);
}

/* What anyone who reaches a listener may see: no user or job names. */
static void
render_aggregate(struct scrape *sc)
{
	int64_t counts[JOB_CANCELLED + 1];
	struct notify_stats ns = { 0 };
	FILE *f = sc->f;
	int k;

	metrics_type_line(f, "llmctld_build_info", "gauge",
	    "Always 1; the version of the running llmctld.");
	fprintf(f, "llmctld_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
	if (store_job_counts(sc->d->store, counts) != 0)
		sc->failed = 1;
	metrics_type_line(f, "llmctld_jobs", "gauge", "Jobs by state.");
	for (k = JOB_QUEUED; k <= JOB_CANCELLED; k++)
		fprintf(f, "llmctld_jobs{state=\"%s\"} %lld\n",
		    job_state_name((enum job_state)k), (long long)counts[k]);
	metrics_type_line(f, "llmctld_heartbeats_total", "counter",
	    "Heartbeats accepted since llmctld started.");
	fprintf(f, "llmctld_heartbeats_total %lld\n",
	    (long long)health_total(sc->d->health));
	render_by_cause(sc, "llmctld_attempts_total",
	    "Attempts that ended, by cause (none: the trainer exited on its "
	    "own); from the store, so kept across restarts.",
	    "SELECT cause, count(*) FROM attempts "
	    "WHERE ended_at IS NOT NULL GROUP BY cause");
	render_by_cause(sc, "llmctld_restarts_total",
	    "Attempts that ended and were followed by another attempt of "
	    "the same job, by the ended attempt's cause.",
	    "SELECT a.cause, count(*) FROM attempts a WHERE a.ended_at IS NOT "
	    "NULL AND EXISTS (SELECT 1 FROM attempts b WHERE b.job_id = "
	    "a.job_id AND b.attempt = a.attempt + 1) GROUP BY a.cause");
	metrics_type_line(f, "llmctld_node_recent_failures", "gauge",
	    "Failures blamed on a node in the planner's window (24 h); only "
	    "nodes that failed, at most 50, the most failed first.");
	query(sc,
	    "SELECT name, failures FROM nodes WHERE last_failure_at >= ?1 "
	    "ORDER BY failures DESC, name LIMIT 50",
	    (int64_t[]){ sc->now - 24 * 3600 }, 1, node_row);
	render_job_hist(sc, "llmctld_attempt_queue_wait_seconds",
	    "From an attempt's creation to Slurm starting it.",
	    "SELECT started_at - submitted_at AS v FROM attempts "
	    "WHERE started_at IS NOT NULL");
	render_job_hist(sc, "llmctld_attempt_duration_seconds",
	    "From an attempt's start to its end, for ended attempts.",
	    "SELECT ended_at - started_at AS v FROM attempts "
	    "WHERE started_at IS NOT NULL AND ended_at IS NOT NULL");
	render_job_hist(sc, "llmctld_recovery_seconds",
	    "From an attempt's end to the next attempt of its job running.",
	    "SELECT b.started_at - a.ended_at AS v FROM attempts a JOIN "
	    "attempts b ON b.job_id = a.job_id AND b.attempt = a.attempt + 1 "
	    "WHERE a.ended_at IS NOT NULL AND b.started_at IS NOT NULL");
	if (sc->d->notify != NULL) /* NULL without a notifier: tests */
		notify_get_stats(sc->d->notify, &ns);
	metrics_type_line(f, "llmctld_webhook_queue", "gauge",
	    "Webhook deliveries waiting or in progress.");
	fprintf(f, "llmctld_webhook_queue %zu\n", ns.queued);
	metrics_type_line(f, "llmctld_webhook_delivered_total", "counter",
	    "Webhook deliveries a receiver accepted.");
	fprintf(f, "llmctld_webhook_delivered_total %llu\n",
	    (unsigned long long)ns.delivered);
	metrics_type_line(f, "llmctld_webhook_dropped_total", "counter",
	    "Webhook deliveries dropped because the queue was full.");
	fprintf(f, "llmctld_webhook_dropped_total %llu\n",
	    (unsigned long long)ns.dropped);
	metrics_type_line(f, "llmctld_webhook_failed_total", "counter",
	    "Webhook deliveries that ran out of retries.");
	fprintf(f, "llmctld_webhook_failed_total %llu\n",
	    (unsigned long long)ns.failed);
	metrics_render(f);
	render_goodput(sc);
}

static void
goodput_row(void *arg, int ncol, const char *const *text, const int64_t *num)
{
	struct scrape *sc = arg;
	char name[32];
	int b;

	(void)text;
	for (b = 0; b < GP_NBUCKETS && b < ncol; b++) {
		/* "queue_s" -> "queue": the label is the bucket */
		snprintf(name, sizeof(name), "%s", goodput_bucket_name(b));
		name[strlen(name) - 2] = '\0';
		fprintf(sc->f,
		    "llmctld_goodput_seconds_total{bucket=\"%s\"} %lld\n", name,
		    (long long)num[b]);
	}
}

/*
 * Goodput (daemon/goodput.c): finished jobs' seconds per bucket, from the
 * stored ledger (one grouped read); 9 buckets, no job or user names.
 */
static void
render_goodput(struct scrape *sc)
{
	metrics_type_line(sc->f, "llmctld_goodput_seconds_total", "counter",
	    "Wall-clock seconds of finished jobs, by goodput bucket.");
	query(sc,
	    "SELECT coalesce(sum(queue_s), 0), coalesce(sum(startup_s), 0), "
	    "coalesce(sum(productive_s), 0), coalesce(sum(lost_s), 0), "
	    "coalesce(sum(detect_s), 0), coalesce(sum(backoff_s), 0), "
	    "coalesce(sum(requeue_s), 0), coalesce(sum(restart_s), 0), "
	    "coalesce(sum(ckpt_stall_s), 0) FROM goodput_days",
	    NULL, 0, goodput_row);
}

/* Each running job's ETTR so far, computed now (a job's attempts). */
static void
render_ettr(struct scrape *sc)
{
	struct job_filter f = { 0 };
	struct gp_ledger l;
	struct job **jobs;
	size_t n, i;

	metrics_type_line(sc->f, "llmctld_job_goodput_ratio", "gauge",
	    "A running job's ETTR so far: productive over wall-clock time.");
	f.all_users = sc->all_users;
	f.uid = sc->uid;
	f.states = 1u << JOB_RUNNING;
	f.limit = 10000;
	if ((jobs = store_job_list(sc->d->store, &f, &n)) == NULL)
		return;
	for (i = 0; i < n; i++) {
		if (goodput_of_job(sc->d->store, jobs[i], sc->now, &l) == 0)
			fprintf(sc->f,
			    "llmctld_job_goodput_ratio{job=\"%lld\"} "
			    "%.4f\n",
			    (long long)jobs[i]->id, l.ettr);
		goodput_ledger_clear(&l);
	}
	job_list_free(jobs, n);
}

static void
user_state_row(void *arg, int ncol, const char *const *text, const int64_t *num)
{
	struct scrape *sc = arg;

	(void)ncol;
	fprintf(sc->f, "llmctld_user_jobs{user=\"");
	put_label(sc->f, text[0]);
	fprintf(sc->f, "\",state=\"");
	put_label(sc->f, text[1]);
	fprintf(sc->f, "\"} %lld\n", (long long)num[2]);
}

/* Columns of the running-job query, in order. */
enum {
	RJ_ID,
	RJ_NAME,
	RJ_USER,
	RJ_BEAT,
	RJ_STEP,
	RJ_CKPT_STEP,
	RJ_CKPT_MTIME,
};

static const char *const job_series[] = {
	"llmctld_job_info",
	"llmctld_job_heartbeat_age_seconds",
	"llmctld_job_last_step",
	"llmctld_job_checkpoint_age_seconds",
	"llmctld_job_checkpoint_step",
};

static void
job_row(void *arg, int ncol, const char *const *text, const int64_t *num)
{
	struct scrape *sc = arg;
	FILE *f = sc->f;
	long long id = (long long)num[RJ_ID];

	(void)ncol;
	if (strcmp(sc->series, job_series[0]) == 0) {
		fprintf(f, "llmctld_job_info{job=\"%lld\",name=\"", id);
		put_label(f, text[RJ_NAME]);
		fprintf(f, "\",user=\"");
		put_label(f, text[RJ_USER]);
		fprintf(f, "\"} 1\n");
	} else if (strcmp(sc->series, job_series[1]) == 0 &&
	    text[RJ_BEAT] != NULL)
		fprintf(f, "%s{job=\"%lld\"} %lld\n", sc->series, id,
		    (long long)(sc->now - num[RJ_BEAT]));
	else if (strcmp(sc->series, job_series[2]) == 0 &&
	    text[RJ_STEP] != NULL)
		fprintf(f, "%s{job=\"%lld\"} %lld\n", sc->series, id,
		    (long long)num[RJ_STEP]);
	else if (strcmp(sc->series, job_series[3]) == 0 &&
	    text[RJ_CKPT_MTIME] != NULL)
		fprintf(f, "%s{job=\"%lld\"} %lld\n", sc->series, id,
		    (long long)(sc->now - num[RJ_CKPT_MTIME]));
	else if (strcmp(sc->series, job_series[4]) == 0 &&
	    text[RJ_CKPT_STEP] != NULL)
		fprintf(f, "%s{job=\"%lld\"} %lld\n", sc->series, id,
		    (long long)num[RJ_CKPT_STEP]);
}

static const char *const job_help[] = {
	"Always 1 per running job: its name and owner.",
	"Seconds since the running attempt's newest heartbeat (as stored).",
	"The newest step a heartbeat reported.",
	"Seconds since the newest usable checkpoint was written.",
	"The newest usable checkpoint's step.",
};

/*
 * The caller's (all for an admin) series that name users and jobs:
 * bounded by the users with jobs and by the running jobs.
 */
static void
render_detail(struct scrape *sc)
{
	/* ?1: all users, ?2: else only this uid */
	int64_t b[2] = { sc->all_users, (int64_t)sc->uid };
	size_t i;

	metrics_type_line(sc->f, "llmctld_user_jobs", "gauge",
	    "Jobs by owner and state (a user sees their own; Unix socket "
	    "only).");
	query(sc,
	    "SELECT user, state, count(*) FROM jobs WHERE ?1 OR uid = ?2 "
	    "GROUP BY user, state ORDER BY user, state",
	    b, 2, user_state_row);
	for (i = 0; i < nitems(job_series); i++) {
		metrics_type_line(sc->f, job_series[i], "gauge", job_help[i]);
		sc->series = job_series[i];
		query(sc,
		    "SELECT j.id, j.name, j.user, a.last_beat_at, "
		    "a.last_step, c.step, c.mtime FROM jobs j JOIN attempts a "
		    "ON a.job_id = j.id AND a.attempt = j.attempts "
		    "LEFT JOIN (SELECT job_id, max(step) AS step, mtime FROM "
		    "checkpoints WHERE complete AND problem IS NULL GROUP BY "
		    "job_id) c ON c.job_id = j.id WHERE j.state = 'RUNNING' "
		    "AND (?1 OR j.uid = ?2) ORDER BY j.id",
		    b, 2, job_row);
	}
	render_ettr(sc);
}

void
api_metrics(
    struct llmctld *d, const struct api_request *req, struct api_response *resp)
{
	struct scrape sc = { 0 };
	char *text = NULL;
	size_t len = 0;

	sc.d = d;
	sc.detail = !req->tcp;
	sc.all_users = req->admin;
	sc.uid = req->uid;
	sc.now = wall_s();
	if ((sc.f = open_memstream(&text, &len)) == NULL) {
		api_error(resp, 500, "internal", "out of memory");
		return;
	}
	render_aggregate(&sc);
	if (sc.detail)
		render_detail(&sc);
	fclose(sc.f);
	if (sc.failed) {
		free(text);
		api_error(resp, 503, "store_failed", "cannot read the store");
		return;
	}
	resp->status = 200;
	resp->text = text;
}
