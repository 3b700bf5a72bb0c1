/*
 * goodput: where a job's time went. goodput_compute() walks the timeline
 * once, attempt by attempt, moving a cursor from the job's submission to
 * its end (or now) and giving each stretch to one bucket, so the buckets
 * add up to the wall-clock time by construction. The marks it needs that
 * the attempts table lacks are written at the transitions that see them;
 * a final job's totals are stored per UTC day, once, when it ends.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "goodput.h"
#include "log.h"
#include "store.h"
#include "util.h"

static const char *const bucket_names[] = {
	[GP_QUEUE] = "queue_s",
	[GP_STARTUP] = "startup_s",
	[GP_PRODUCTIVE] = "productive_s",
	[GP_LOST] = "lost_s",
	[GP_RDETECT] = "detect_s",
	[GP_RBACKOFF] = "backoff_s",
	[GP_RQUEUE] = "requeue_s",
	[GP_RSTARTUP] = "restart_s",
	[GP_STALL] = "ckpt_stall_s",
};

const char *
goodput_bucket_name(enum gp_bucket b)
{
	return b < GP_NBUCKETS ? bucket_names[b] : "?";
}

/* The cursor of goodput_compute(). */
struct walk {
	int64_t cur, end;
	enum gp_bucket label;
	int recovering; /* an incident is open: waits count as recovery */
	struct gp_ledger *l;
	void (*fn)(void *, enum gp_bucket, int64_t, int64_t);
	void *arg;
};

/* Give [cur, t) to the current bucket, then switch to next. */
static void
walk_to(struct walk *w, int64_t t, enum gp_bucket next)
{
	struct gp_incident *in;
	size_t i;

	if (t < w->cur)
		t = w->cur;
	if (t > w->end)
		t = w->end;
	if (t > w->cur) {
		w->l->b[w->label] += t - w->cur;
		for (i = 0; GP_RECOVERY(w->label) && i < w->l->nincidents;
		     i++) {
			in = &w->l->incidents[i];
			if (in->training_again_at == 0)
				in->part[w->label - GP_RDETECT] += t - w->cur;
		}
		if (w->fn != NULL)
			w->fn(w->arg, w->label, w->cur, t);
	}
	w->cur = t;
	w->label = next;
}

/* The first sign of progress: a heartbeat, else output, else a save. */
static int64_t
progress_at(const struct gp_attempt *a)
{
	int64_t p = a->beat_at != 0 ? a->beat_at
	    : a->log_at != 0        ? a->log_at
	                            : a->ckpt_first_at;

	return p != 0 && p < a->started_at ? a->started_at : p;
}

/* An end the job did not want: the next attempt must recover from it. */
static int
is_failure(const struct gp_input *in, const struct gp_attempt *a)
{
	if (a->ended_at == 0 || a->cause == CAUSE_NONE)
		return 0;
	return !(a->cause == CAUSE_CANCELLED && in->cancelled);
}

static void
incident_open(struct walk *w, const struct gp_attempt *a, int64_t failed_at)
{
	struct gp_ledger *l = w->l;
	struct gp_incident *in;

	l->incidents = xreallocarray(
	    l->incidents, l->nincidents + 1, sizeof(*l->incidents));
	in = &l->incidents[l->nincidents++];
	memset(in, 0, sizeof(*in));
	in->attempt = a->attempt;
	in->cause = a->cause;
	in->nodes = a->blamed != NULL && a->blamed[0] != '\0'
	    ? xstrdup(a->blamed)
	    : NULL;
	in->failed_at = failed_at;
	w->recovering = 1;
}

/* One attempt: start-up, progress, and what its end throws away. */
static void
walk_attempt(
    struct walk *w, const struct gp_input *in, const struct gp_attempt *a)
{
	int64_t p = progress_at(a), e = a->ended_at != 0 ? a->ended_at : w->end;
	int64_t f, keep, stall;
	size_t i;
	int failed = is_failure(in, a);

	if (a->started_at != 0)
		walk_to(
		    w, a->started_at, w->recovering ? GP_RSTARTUP : GP_STARTUP);
	f = failed && a->failed_at != 0 && a->failed_at < e ? a->failed_at : e;
	if (a->started_at != 0 && p != 0 && p <= f) {
		/* what is kept: up to its newest checkpoint, or all if no failure */
		keep = !failed       ? e
		    : a->ckpt_at > p ? (a->ckpt_at < f ? a->ckpt_at : f)
		                     : p;
		stall = a->stall_s < keep - p ? a->stall_s : keep - p;
		if (stall < 0)
			stall = 0;
		walk_to(w, p, stall > 0 ? GP_STALL : GP_PRODUCTIVE);
		for (i = 0; i < w->l->nincidents; i++)
			if (w->l->incidents[i].training_again_at == 0)
				w->l->incidents[i].training_again_at = w->cur;
		w->recovering = 0;
		if (stall > 0)
			walk_to(w, p + stall, GP_PRODUCTIVE);
		walk_to(w, keep, failed ? GP_LOST : GP_QUEUE);
	}
	if (!failed) {
		if (a->ended_at != 0)
			walk_to(w, e, w->recovering ? GP_RQUEUE : GP_QUEUE);
		return;
	}
	walk_to(w, f, GP_RDETECT);
	incident_open(w, a, w->cur);
	if (a->decided_at == 0)
		return;
	walk_to(w, a->decided_at,
	    a->resume_at > a->decided_at ? GP_RBACKOFF : GP_RQUEUE);
	if (a->resume_at > a->decided_at)
		walk_to(w, a->resume_at, GP_RQUEUE);
}

void
goodput_compute(const struct gp_input *in, struct gp_ledger *l,
    void (*fn)(void *, enum gp_bucket, int64_t, int64_t), void *arg)
{
	struct walk w = { 0 };
	struct gp_incident *inc;
	size_t i;
	int b;

	memset(l, 0, sizeof(*l));
	w.cur = in->created_at;
	w.end = in->ended_at != 0 ? in->ended_at : in->now;
	if (w.end < w.cur)
		w.end = w.cur;
	w.label = GP_QUEUE;
	w.l = l;
	w.fn = fn;
	w.arg = arg;
	for (i = 0; i < in->n; i++)
		walk_attempt(&w, in, &in->a[i]);
	walk_to(&w, w.end, GP_QUEUE);
	l->wall_s = w.end - in->created_at;
	for (b = GP_RDETECT; b <= GP_RSTARTUP; b++)
		l->recovery_s += l->b[b];
	l->ettr = l->wall_s > 0 ? (double)l->b[GP_PRODUCTIVE] / l->wall_s : 0;
	for (i = 0; i < l->nincidents; i++) {
		inc = &l->incidents[i];
		inc->recovery_s =
		    (inc->training_again_at != 0 ? inc->training_again_at
		                                 : w.end) -
		    inc->failed_at;
	}
}

void
goodput_ledger_clear(struct gp_ledger *l)
{
	size_t i;

	for (i = 0; i < l->nincidents; i++)
		free(l->incidents[i].nodes);
	free(l->incidents);
	memset(l, 0, sizeof(*l));
}

int64_t
goodput_stall_sample(struct gp_stall *s, int64_t now, int64_t step)
{
	int64_t gap, extra = 0;

	if (step < 0)
		return 0;
	if (s->at == 0 || step < s->step) {
		/* first sight, or a restart from an older step */
		s->step = step;
		s->at = now;
		return 0;
	}
	if (step == s->step)
		return 0;
	gap = now - s->at;
	if (s->usual > 0 && gap > 3 * s->usual && gap >= GP_STALL_MIN_S)
		extra = gap - s->usual;
	else
		/* a running mean that a stall does not drag up */
		s->usual = s->usual == 0 ? gap : (3 * s->usual + gap) / 4;
	if (s->usual == 0)
		s->usual = 1; /* sampled once per tick: a second at least */
	s->step = step;
	s->at = now;
	return extra;
}

/* --- the store side --------------------------------------------------- */

static const char *const mark_columns[] = {
	[GP_MARK_BEAT] = "beat_at",
	[GP_MARK_LOG] = "log_at",
	[GP_MARK_FAILED] = "failed_at",
	[GP_MARK_STALL] = "stall_s",
};

static int
marks_row(struct store *st, int64_t job_id, int attempt)
{
	int64_t binds[2] = { job_id, attempt };

	return store_exec_binds(st,
	    "INSERT OR IGNORE INTO goodput_marks (job_id, attempt) "
	    "VALUES (?, ?)",
	    binds, 2);
}

int
goodput_mark(struct store *st, int64_t job_id, int attempt, enum gp_mark mark,
    int64_t value)
{
	int64_t binds[3] = { value, job_id, attempt };
	char sql[160];

	if (marks_row(st, job_id, attempt) != 0)
		return -1;
	if (mark == GP_MARK_STALL)
		snprintf(sql, sizeof(sql),
		    "UPDATE goodput_marks SET stall_s = stall_s + ? "
		    "WHERE job_id = ? AND attempt = ?");
	else
		snprintf(sql, sizeof(sql),
		    "UPDATE goodput_marks SET %s = ? "
		    "WHERE job_id = ? AND attempt = ? AND %s = 0",
		    mark_columns[mark], mark_columns[mark]);
	return store_exec_binds(st, sql, binds, 3);
}

int
goodput_checkpoint(struct store *st, int64_t job_id, int64_t mtime)
{
	struct attempt **as, *a;
	int64_t binds[4];
	size_t n;
	int rc = 0;

	as = store_attempts_of(st, job_id, &n);
	a = n > 0 ? as[n - 1] : NULL;
	/* one saved by an earlier attempt is its resume point, not progress */
	if (a != NULL && a->started_at != 0 && mtime >= a->started_at &&
	    (a->ended_at == 0 || mtime <= a->ended_at)) {
		binds[0] = binds[1] = mtime;
		binds[2] = job_id;
		binds[3] = a->attempt;
		rc = marks_row(st, job_id, a->attempt) != 0 ||
		    store_exec_binds(st,
		        "UPDATE goodput_marks SET ckpt_at = max(ckpt_at, ?), "
		        "ckpt_first_at = CASE ckpt_first_at WHEN 0 THEN ? "
		        "ELSE ckpt_first_at END "
		        "WHERE job_id = ? AND attempt = ?",
		        binds, 4) != 0;
	}
	attempt_list_free(as, n);
	return rc ? -1 : 0;
}

int
goodput_decided(struct store *st, int64_t job_id, int attempt,
    int64_t decided_at, int64_t resume_at)
{
	int64_t binds[4] = { decided_at, resume_at, job_id, attempt };

	if (marks_row(st, job_id, attempt) != 0)
		return -1;
	return store_exec_binds(st,
	    "UPDATE goodput_marks SET decided_at = ?, resume_at = ? "
	    "WHERE job_id = ? AND attempt = ?",
	    binds, 4);
}

/* The marks of a job's attempts, onto the ledger's input. */
struct marks_read {
	struct gp_attempt *a;
	size_t n;
};

static void
marks_cb(void *arg, int ncol, const char *const *text, const int64_t *v)
{
	struct marks_read *r = arg;
	size_t i;

	(void)text;
	if (ncol < 10)
		return;
	for (i = 0; i < r->n; i++)
		if (r->a[i].attempt == v[0]) {
			r->a[i].beat_at = v[1];
			r->a[i].log_at = v[2];
			r->a[i].ckpt_first_at = v[3];
			r->a[i].ckpt_at = v[4];
			r->a[i].failed_at = v[5];
			r->a[i].decided_at = v[6];
			r->a[i].resume_at = v[7];
			r->a[i].stall_s = v[8];
		}
}

/* When a final job ended: its last attempt's end, or the decision after. */
static int64_t
job_end(const struct job *job, struct attempt **as, size_t n,
    const struct gp_attempt *ga)
{
	int64_t end = job->updated_at;
	size_t i;

	if (n > 0 && as[n - 1]->state == ATTEMPT_COMPLETED &&
	    as[n - 1]->cause == CAUSE_NONE)
		return as[n - 1]->ended_at;
	for (i = 0; i < n; i++) {
		if (as[i]->ended_at > end)
			end = as[i]->ended_at;
		if (ga[i].decided_at > end)
			end = ga[i].decided_at;
	}
	return end;
}

/* --- the alert ----------------------------------------------------------- */

static void
count_cb(void *arg, int ncol, const char *const *text, const int64_t *v)
{
	(void)text;
	if (ncol > 0)
		*(int64_t *)arg = v[0];
}

int
goodput_alert(struct store *st, int64_t job_id, int pct, int64_t after_s)
{
	int64_t binds[1] = { job_id }, told = 0;
	struct gp_ledger l;
	struct job *job;
	int rc = 0;

	if (pct <= 0 || (job = store_job_get(st, job_id)) == NULL)
		return pct <= 0 ? 0 : -1;
	if (goodput_of_job(st, job, wall_s(), &l) != 0 ||
	    store_query_rows(st,
	        "SELECT count(*) FROM events WHERE job_id = ? AND "
	        "kind = 'goodput'",
	        binds, 1, count_cb, &told) != 0)
		rc = -1;
	else if (told == 0 && l.wall_s >= after_s && l.ettr * 100 < pct)
		rc = store_event_add(st, job_id, "goodput",
		    "ETTR %.1f%% is below goodput_alert %d%%: productive "
		    "%llds of %llds, lost %llds, recovery %llds, %zu "
		    "incident%s",
		    l.ettr * 100, pct, (long long)l.b[GP_PRODUCTIVE],
		    (long long)l.wall_s, (long long)l.b[GP_LOST],
		    (long long)l.recovery_s, l.nincidents,
		    l.nincidents == 1 ? "" : "s");
	goodput_ledger_clear(&l);
	job_free(job);
	return rc;
}

/* --- per-day totals ----------------------------------------------------- */

#define DAY_S 86400

/* Stretches split at UTC midnights, summed per day. */
struct day_split {
	int64_t first; /* day number of days[0] */
	size_t n;
	int64_t (*days)[GP_NBUCKETS];
};

static void
day_split_cb(void *arg, enum gp_bucket b, int64_t from, int64_t to)
{
	struct day_split *ds = arg;
	int64_t day, cut;
	size_t k;

	while (from < to) {
		day = from / DAY_S;
		cut = (day + 1) * DAY_S < to ? (day + 1) * DAY_S : to;
		if (ds->n == 0)
			ds->first = day;
		k = (size_t)(day - ds->first);
		if (k >= ds->n) {
			ds->days =
			    xreallocarray(ds->days, k + 1, sizeof(*ds->days));
			memset(ds->days + ds->n, 0,
			    (k + 1 - ds->n) * sizeof(*ds->days));
			ds->n = k + 1;
		}
		ds->days[k][b] += cut - from;
		from = cut;
	}
}

/*
 * The ledger of a job and, with ds, its stretches split per day (ds->days
 * the caller frees).
 */
static int
job_days(struct store *st, const struct job *job, int64_t now,
    struct day_split *ds, struct gp_ledger *l)
{
	struct marks_read r;
	struct attempt **as;
	struct gp_input in;
	int64_t binds[1] = { job->id };
	size_t n, i;
	int rc;

	if (ds != NULL)
		memset(ds, 0, sizeof(*ds));
	as = store_attempts_of(st, job->id, &n);
	r.a = xcalloc(n > 0 ? n : 1, sizeof(*r.a));
	r.n = n;
	for (i = 0; i < n; i++) {
		r.a[i].attempt = as[i]->attempt;
		r.a[i].started_at = as[i]->started_at;
		r.a[i].ended_at = as[i]->ended_at;
		r.a[i].cause = as[i]->cause;
		r.a[i].blamed = as[i]->blamed;
	}
	rc = store_query_rows(st,
	    "SELECT attempt, beat_at, log_at, ckpt_first_at, ckpt_at, "
	    "failed_at, decided_at, resume_at, stall_s, 0 FROM goodput_marks "
	    "WHERE job_id = ?",
	    binds, 1, marks_cb, &r);
	memset(&in, 0, sizeof(in));
	in.created_at = job->created_at;
	in.ended_at =
	    job_state_final(job->state) ? job_end(job, as, n, r.a) : 0;
	in.cancelled = job->state == JOB_CANCELLED;
	in.now = now;
	in.a = r.a;
	in.n = n;
	goodput_compute(&in, l, ds != NULL ? day_split_cb : NULL, ds);
	free(r.a);
	attempt_list_free(as, n);
	return rc;
}

int
goodput_of_job(
    struct store *st, const struct job *job, int64_t now, struct gp_ledger *l)
{
	return job_days(st, job, now, NULL, l);
}

int
goodput_job_final(struct store *st, int64_t job_id)
{
	struct day_split ds;
	struct gp_ledger l;
	struct job *job;
	int64_t binds[2 + GP_NBUCKETS + 1];
	size_t k;
	int b, rc = 0;

	if ((job = store_job_get(st, job_id)) == NULL)
		return -1;
	if (!job_state_final(job->state)) {
		job_free(job);
		return 0;
	}
	if (job_days(st, job, wall_s(), &ds, &l) != 0)
		rc = -1;
	binds[0] = job_id;
	if (rc == 0)
		rc = store_exec_binds(
		    st, "DELETE FROM goodput_days WHERE job_id = ?", binds, 1);
	for (k = 0; rc == 0 && k < ds.n; k++) {
		binds[1] = ds.first + (int64_t)k;
		for (b = 0; b < GP_NBUCKETS; b++)
			binds[2 + b] = ds.days[k][b];
		/* incidents count on the day the job ended */
		binds[2 + GP_NBUCKETS] =
		    k + 1 == ds.n ? (int64_t)l.nincidents : 0;
		rc = store_exec_binds(st,
		    "INSERT INTO goodput_days (job_id, day, queue_s, "
		    "startup_s, productive_s, lost_s, detect_s, backoff_s, "
		    "requeue_s, restart_s, ckpt_stall_s, incidents) "
		    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		    binds, 2 + GP_NBUCKETS + 1);
	}
	free(ds.days);
	goodput_ledger_clear(&l);
	job_free(job);
	return rc;
}

/* Totals, keyed and kept sorted by key. */
struct totals {
	struct gp_total *t;
	size_t n;
	int64_t last_job; /* counting jobs: rows come per (job, day) */
	char last_key[64];
};

static struct gp_total *
totals_get(struct totals *to, const char *key)
{
	size_t i;

	for (i = 0; i < to->n; i++)
		if (strcmp(to->t[i].key, key) == 0)
			return &to->t[i];
	to->t = xreallocarray(to->t, to->n + 1, sizeof(*to->t));
	memset(&to->t[to->n], 0, sizeof(*to->t));
	snprintf(to->t[to->n].key, sizeof(to->t[to->n].key), "%s", key);
	return &to->t[to->n++];
}

static void
day_key(int64_t day, char *buf, size_t len)
{
	time_t t = (time_t)(day * DAY_S);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d", &tm);
}

/* A job's counted once per key: its rows come together (ORDER BY). */
static void
totals_count_job(struct totals *to, struct gp_total *t, int64_t job_id)
{
	if (to->last_job == job_id && strcmp(to->last_key, t->key) == 0)
		return;
	to->last_job = job_id;
	snprintf(to->last_key, sizeof(to->last_key), "%s", t->key);
	t->jobs++;
}

struct totals_read {
	struct totals *to;
	enum gp_by by;
};

/* Rows: job_id, day, user, the buckets, incidents. */
static void
totals_cb(void *arg, int ncol, const char *const *text, const int64_t *v)
{
	struct totals_read *r = arg;
	struct gp_total *t;
	char key[64];
	int b;

	if (ncol < 3 + GP_NBUCKETS + 1 || text[2] == NULL)
		return;
	if (r->by == GP_BY_DAY)
		day_key(v[1], key, sizeof(key));
	else if (r->by == GP_BY_JOB)
		snprintf(key, sizeof(key), "%lld", (long long)v[0]);
	else
		snprintf(key, sizeof(key), "%s", text[2]);
	t = totals_get(r->to, key);
	totals_count_job(r->to, t, v[0]);
	for (b = 0; b < GP_NBUCKETS; b++)
		t->b[b] += v[3 + b];
	t->incidents += v[3 + GP_NBUCKETS];
}

/* By key; job ids (digits only) by number. */
static int
total_cmp(const void *x, const void *y)
{
	const char *a = ((const struct gp_total *)x)->key;
	const char *b = ((const struct gp_total *)y)->key;
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && lb > 0 && strspn(a, "0123456789") == la &&
	    strspn(b, "0123456789") == lb && la != lb)
		return la < lb ? -1 : 1;
	return strcmp(a, b);
}

struct gp_total *
goodput_totals(struct store *st, enum gp_by by, int all, uid_t uid,
    int64_t since, int64_t now, size_t *n)
{
	struct totals to = { 0 };
	struct totals_read r = { &to, by };
	struct job_filter f = { 0 };
	struct day_split ds;
	struct gp_ledger l;
	struct gp_total *t;
	struct job **jobs;
	int64_t binds[3] = { all, (int64_t)uid, since / DAY_S };
	char key[64];
	size_t nj, i, k;
	int b, rc;

	/* final jobs: their stored days, one grouped read */
	rc = store_query_rows(st,
	    "SELECT g.job_id, g.day, j.user, g.queue_s, g.startup_s, "
	    "g.productive_s, g.lost_s, g.detect_s, g.backoff_s, g.requeue_s, "
	    "g.restart_s, g.ckpt_stall_s, g.incidents FROM goodput_days g "
	    "JOIN jobs j ON j.id = g.job_id WHERE (? OR j.uid = ?) AND "
	    "g.day >= ? ORDER BY g.job_id, g.day",
	    binds, 3, totals_cb, &r);
	/* unfinished ones: computed now (they are few: those in flight) */
	f.all_users = all;
	f.uid = uid;
	f.limit = 10000;
	f.states = 1u << JOB_QUEUED | 1u << JOB_SUBMITTED | 1u << JOB_RUNNING |
	    1u << JOB_RESTARTING;
	jobs = rc == 0 ? store_job_list(st, &f, &nj) : NULL;
	for (i = 0; jobs != NULL && i < nj; i++) {
		if (job_days(st, jobs[i], now, &ds, &l) != 0)
			rc = -1;
		for (k = 0; k < ds.n; k++) {
			if ((ds.first + (int64_t)k) < since / DAY_S)
				continue;
			if (by == GP_BY_DAY)
				day_key(
				    ds.first + (int64_t)k, key, sizeof(key));
			else if (by == GP_BY_JOB)
				snprintf(key, sizeof(key), "%lld",
				    (long long)jobs[i]->id);
			else
				snprintf(key, sizeof(key), "%s", jobs[i]->user);
			t = totals_get(&to, key);
			totals_count_job(&to, t, jobs[i]->id);
			for (b = 0; b < GP_NBUCKETS; b++)
				t->b[b] += ds.days[k][b];
			if (k + 1 == ds.n)
				t->incidents += (int64_t)l.nincidents;
		}
		free(ds.days);
		goodput_ledger_clear(&l);
	}
	if (jobs != NULL)
		job_list_free(jobs, nj);
	if (rc != 0) {
		free(to.t);
		*n = 0;
		return NULL;
	}
	if (to.n > 1)
		qsort(to.t, to.n, sizeof(*to.t), total_cmp);
	*n = to.n;
	return to.t != NULL ? to.t : xcalloc(1, sizeof(*to.t));
}
