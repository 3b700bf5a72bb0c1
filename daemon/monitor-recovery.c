/*
 * monitor-recovery: checkpoints, hangs and the restart policy.
 *
 * Checkpoints are scanned on the scan pool, as the job's user, while an
 * attempt runs and once more when it ends; the policy decides only after
 * that last scan, so a checkpoint finished in the attempt's last seconds
 * counts. The pool takes the job's uid as its key and each scan has a
 * deadline (scan_timeout), so one user's stopped or slow scan holds one
 * thread for a bounded time and never delays another user's decision. A
 * job whose attempt ended without a decision (the daemon died in between)
 * is found on the next tick and decided then: decisions are driven by
 * what the store says, never by what was in memory.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "checkpoint.h"
#include "conf.h"
#include "health.h"
#include "hostlist.h"
#include "llmctld.h"
#include "log.h"
#include "logdir.h"
#include "lifecycle.h"
#include "monitor.h"
#include "monitor-int.h"
#include "policy.h"
#include "pool.h"
#include "spec.h"
#include "spec-cache.h"
#include "store.h"
#include "topo.h"

#define SCAN_EVERY_MS 5000 /* checkpoint scans while a job runs */
#define LOG_MAX_FILES 100000 /* entries a log size scan looks at */
#define NODE_CHARS \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" \
	"0123456789._-"

/* One scan (and prune) on the scan pool; everything in it is its own. */
struct scan_task {
	struct monitor *m;
	int64_t job_id;
	char *dir;
	char *pattern;
	char *file; /* checkpoint.file, or NULL */
	int settle_s;
	int keep;
	uid_t uid;
	gid_t gid;
	int timeout_ms;
	struct ckpt *known; /* the store's, before this scan */
	size_t nknown;
	/* results, written on the pool thread */
	int rc;
	char *cause;
	struct ckpt *ckpts;
	size_t nckpts;
	int pruned;
};

static void decide_now(struct monitor *, int64_t);

static struct jobscan *
jobscan_get(struct monitor *m, int64_t job_id)
{
	struct jobscan *js;

	TAILQ_FOREACH(js, &m->scans, entry)
	if (js->job_id == job_id)
		return js;
	js = xcalloc(1, sizeof(*js));
	js->job_id = job_id;
	TAILQ_INSERT_TAIL(&m->scans, js, entry);
	return js;
}

/* The job's spec, parsed once (spec-cache.h); NULL: unreadable. */
static struct spec_ref *
job_spec(struct monitor *m, const struct job *job)
{
	return monitor_job_spec(m, job, NULL);
}

static const struct spec *
ref_spec(const struct spec_ref *ref)
{
	return ref != NULL ? ref->spec : NULL;
}

int64_t
recovery_newest_step(struct monitor *m, int64_t job_id)
{
	const struct ckpt *c;
	struct ckpt *ck;
	size_t n;
	int64_t step;

	ck = store_checkpoints_of(m->d->store, job_id, &n);
	c = checkpoint_newest(ck, n);
	step = c != NULL ? c->step : -1;
	checkpoint_free(ck, n);
	return step;
}

void
recovery_blame_down(struct monitor *m, struct attempt *a)
{
	struct hostlist hl = { 0 }, down = { 0 };
	const struct topo *t;
	size_t i;
	int k;

	if (m->d->cluster == NULL || a->nodes == NULL ||
	    hostlist_expand(&hl, a->nodes, NULL) != 0)
		goto out;
	t = m->d->cluster->live;
	for (i = 0; i < hl.n; i++) {
		k = topo_find_node(t, hl.names[i]);
		if (k >= 0 &&
		    (t->nodes[k].state == TOPO_DOWN ||
		        t->nodes[k].state == TOPO_DRAIN))
			hostlist_expand(&down, hl.names[i], NULL);
	}
	if (down.n > 0) {
		free(a->blamed);
		a->blamed = hostlist_join(&down);
	}
out:
	hostlist_clear(&hl);
	hostlist_clear(&down);
}

/*
 * Work on one attempt's log dir for the fs pool: reading preflight.failed
 * or sizing the logs. Results go back to the attempt's track by tag, as
 * the track may be gone by the time the work is done.
 */
struct attempt_fs {
	struct monitor *m;
	char *tag;
	char *state_dir;
	int64_t job_id;
	int attempt;
	uid_t uid;
	int64_t bytes; /* sizing */
	ssize_t got; /* preflight.failed */
	char buf[65536];
	ssize_t ffgot; /* first-failure */
	char ff[128];
};

static struct attempt_fs *
attempt_fs_create(struct monitor *m, const struct attempt *a, uid_t uid)
{
	struct attempt_fs *af = xcalloc(1, sizeof(*af));

	af->m = m;
	af->tag = xstrdup(a->tag);
	af->state_dir = xstrdup(m->d->conf->state_dir);
	af->job_id = a->job_id;
	af->attempt = a->attempt;
	af->uid = uid;
	return af;
}

static void
attempt_fs_free(struct attempt_fs *af)
{
	free(af->tag);
	free(af->state_dir);
	free(af);
}

/* One bounded read of a file the job's user owns in its log dir. */
static ssize_t
pf_read_file(int dfd, const char *name, uid_t uid, char *buf, size_t size)
{
	ssize_t got;
	int fd;

	if ((fd = logdir_open_file(dfd, name, uid)) == -1)
		return -1;
	got = read(fd, buf, size - 1);
	close(fd);
	return got;
}

/* On a pool thread: the files the batch script leaves when it fails. */
static void
pf_read_run(void *arg)
{
	struct attempt_fs *af = arg;
	int dfd;

	dfd = logdir_open(af->state_dir, af->job_id, af->attempt, af->uid);
	if (dfd == -1)
		return;
	af->got = pf_read_file(
	    dfd, "preflight.failed", af->uid, af->buf, sizeof(af->buf));
	af->ffgot =
	    pf_read_file(dfd, "first-failure", af->uid, af->ff, sizeof(af->ff));
	close(dfd);
}

/* Back on the loop: the node names, kept for the next poll. */
static void
pf_read_done(void *arg, int cancelled)
{
	struct attempt_fs *af = arg;
	struct hostlist hl = { 0 };
	struct track *t;
	char *line, *save;

	if (!cancelled && af->got > 0) {
		af->buf[af->got] = '\0';
		/* names that are not host names are skipped */
		for (line = strtok_r(af->buf, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save))
			if (!hostlist_contains(&hl, line))
				hostlist_expand(&hl, line, NULL);
	}
	if ((t = monitor_track_find(af->m, af->tag)) != NULL) {
		t->pf_state = cancelled ? PF_UNREAD : PF_READ;
		free(t->pf_nodes);
		t->pf_nodes = hl.n > 0 ? hostlist_join(&hl) : NULL;
		t->first_fail[0] = '\0';
		if (!cancelled && af->ffgot > 0) {
			af->ff[af->ffgot] = '\0';
			snprintf(
			    t->first_fail, sizeof(t->first_fail), "%s", af->ff);
		}
	}
	hostlist_clear(&hl);
	attempt_fs_free(af);
}

int
recovery_preflight_failed(struct monitor *m, const struct job *job,
    const struct attempt *a, char **nodes)
{
	struct track *t = monitor_track_get(m, a->tag);

	*nodes = NULL;
	if (t->pf_state == PF_UNREAD) {
		t->pf_state = PF_READING;
		monitor_fs_push(m, job->uid, pf_read_run, pf_read_done,
		    attempt_fs_create(m, a, job->uid));
	}
	if (t->pf_state != PF_READ)
		return 0;
	*nodes = t->pf_nodes != NULL ? xstrdup(t->pf_nodes) : NULL;
	return 1;
}

/* On a pool thread: the ended attempt's fence (logdir.h). */
static void
fence_run(void *arg)
{
	struct attempt_fs *af = arg;

	if (logdir_fence(af->state_dir, af->job_id, af->attempt) != 0)
		log_warn("job %lld: fence of attempt %d", (long long)af->job_id,
		    af->attempt);
}

static void
fence_done(void *arg, int cancelled)
{
	(void)cancelled;
	attempt_fs_free(arg);
}

void
recovery_fence(struct monitor *m, const struct attempt *a, uid_t uid)
{
	monitor_fs_push(
	    m, uid, fence_run, fence_done, attempt_fs_create(m, a, uid));
}

/*
 * The signal the job was warned with (the spec's, or the site's; 0: none)
 * and its world size.
 */
static int
warned_with(struct monitor *m, const struct job *job, int *world)
{
	struct spec_ref *ref = job_spec(m, job);
	const struct spec *sp = ref_spec(ref);
	int signo = 0;

	*world = sp != NULL ? spec_world_size(sp) : 1;
	if (sp != NULL && sp->resources.time_limit_s > 0)
		signo = sp->warning.signal != SPEC_SIG_NONE
		    ? spec_signal_number(sp->warning.signal)
		    : m->d->conf->warn_signo;
	spec_ref_put(ref);
	return signo;
}

/* "exited with code 7", "was killed by signal 9 (KILL, exit code 137)" */
static char *
status_words(int status)
{
	const char *name;

	if (status <= 128 || status >= 128 + 65)
		return xasprintf("exited with code %d", status);
	name = sigabbrev_np(status - 128);
	return xasprintf("was killed by signal %d (%s%sexit code %d)",
	    status - 128, name != NULL ? name : "", name != NULL ? ", " : "",
	    status);
}

/*
 * first-failure's "RANK NODE STATUS WARNED" (rank -1: the script); the
 * job's user wrote it, so anything malformed is refused.
 */
static int
first_fail_parse(const char *line, int world, int *rank, char *node,
    int *status, int *warned)
{
	if (sscanf(line, "%d %64s %d %d", rank, node, status, warned) != 4 ||
	    *rank < -1 || *rank >= world || *status < 1 || *status > 255 ||
	    node[strspn(node, NODE_CHARS)] != '\0')
		return -1;
	return 0;
}

char *
recovery_exit_reason(struct monitor *m, const struct job *job,
    const struct attempt *a, int exit_code, enum attempt_cause *cause)
{
	struct track *t = monitor_track_get(m, a->tag);
	char node[65], *words, *reason;
	int rank, status, warned, world, signo = warned_with(m, job, &world);
	const char *asked;

	if (first_fail_parse(
	        t->first_fail, world, &rank, node, &status, &warned) != 0) {
		status = exit_code;
		warned = 0;
		reason = xasprintf("exit code %d", exit_code);
	} else {
		words = status_words(status);
		if (rank == -1)
			reason = xasprintf("the script on %s %s", node, words);
		else
			reason = xasprintf("rank %d on %s %s%s", rank, node,
			    words, world > 1 ? ", the first rank to fail" : "");
		free(words);
	}
	if (signo != 0 && (warned || status == 128 + signo)) {
		*cause = CAUSE_TIMEOUT;
		asked = sigabbrev_np(signo);
		words = reason;
		reason = xasprintf("%s, after the time-limit warning (%s) it "
		                   "asked for",
		    words, asked != NULL ? asked : "?");
		free(words);
	}
	return reason;
}

/*
 * Bytes in the attempt's log directory (output is a sign of life): the
 * user's regular files among its first LOG_MAX_FILES entries. On a pool
 * thread, since a user decides how many entries there are.
 */
static void
log_size_run(void *arg)
{
	struct attempt_fs *af = arg;
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int dfd, n = 0;

	dfd = logdir_open(af->state_dir, af->job_id, af->attempt, af->uid);
	if (dfd == -1)
		return;
	if ((dir = fdopendir(dfd)) == NULL) {
		close(dfd);
		return;
	}
	while ((de = readdir(dir)) != NULL && n++ < LOG_MAX_FILES) {
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
		        0 &&
		    S_ISREG(st.st_mode) && st.st_uid == af->uid)
			af->bytes += st.st_size;
	}
	closedir(dir);
}

/* Back on the loop: the hang check uses it on its next poll. */
static void
log_size_done(void *arg, int cancelled)
{
	struct attempt_fs *af = arg;
	struct track *t;

	if ((t = monitor_track_find(af->m, af->tag)) != NULL) {
		t->sizing = 0;
		if (!cancelled)
			t->sized_bytes = af->bytes;
	}
	attempt_fs_free(af);
}

static void
scan_task_free(struct scan_task *t)
{
	free(t->dir);
	free(t->pattern);
	free(t->file);
	free(t->cause);
	checkpoint_free(t->known, t->nknown);
	checkpoint_free(t->ckpts, t->nckpts);
	free(t);
}

/*
 * On a pool thread: the blocking part, as the job's user. Scan, prune and
 * relist share one deadline, so a decision waiting for the task waits at
 * most scan_timeout.
 */
static void
scan_run(void *arg)
{
	struct scan_task *t = arg;
	int64_t end = mono_ms() + t->timeout_ms, left;

	t->rc = checkpoint_scan(t->dir, t->pattern, t->file, t->settle_s,
	    t->uid, t->gid, t->known, t->nknown, t->timeout_ms, &t->ckpts,
	    &t->nckpts, &t->cause);
	if (t->rc == 0 && t->keep > 0 && (left = end - mono_ms()) > 0)
		t->pruned = checkpoint_prune(t->dir, t->ckpts, t->nckpts,
		    t->keep, t->uid, t->gid, (int)left, NULL);
	/* out of time, the list keeps the pruned ones until the next scan */
	if (t->pruned > 0 && (left = end - mono_ms()) > 0) {
		/* list what is left; nothing is hashed again */
		checkpoint_free(t->known, t->nknown);
		t->known = t->ckpts;
		t->nknown = t->nckpts;
		t->ckpts = NULL;
		t->nckpts = 0;
		t->rc = checkpoint_scan(t->dir, t->pattern, t->file,
		    t->settle_s, t->uid, t->gid, t->known, t->nknown, (int)left,
		    &t->ckpts, &t->nckpts, &t->cause);
	}
}

/*
 * Record a scan; tell the user about newly verified or bad entries. A
 * summary (docs/design.md section 5): the results are not checked, a
 * failed write is logged by the store and the next scan replaces the
 * whole list again.
 */
static void
scan_record(struct monitor *m, int64_t job_id, const struct ckpt *c, size_t n)
{
	struct store *st = m->d->store;
	struct ckpt *old;
	const struct ckpt *newest, *oldest;
	size_t nold, i, k;
	int seen;

	old = store_checkpoints_of(st, job_id, &nold);
	newest = checkpoint_newest(c, n);
	oldest = checkpoint_newest(old, nold);
	store_begin(st);
	for (i = 0; i < n; i++) {
		if (c[i].problem == NULL)
			continue;
		for (seen = 0, k = 0; k < nold; k++)
			seen |= strcmp(old[k].path, c[i].path) == 0 &&
			    old[k].problem != NULL &&
			    strcmp(old[k].problem, c[i].problem) == 0;
		/* one being written is not news; anything else wrong is */
		if (!seen && !checkpoint_in_progress(c[i].problem))
			store_event_add(st, job_id, "checkpoint_bad",
			    "checkpoint %s is not usable: %s", c[i].path,
			    c[i].problem);
	}
	if (newest != NULL && (oldest == NULL || newest->step > oldest->step)) {
		store_event_add(st, job_id, "checkpoint",
		    "checkpoint step %lld %s (%s)", (long long)newest->step,
		    newest->verified ? "verified against its manifest"
		                     : "complete",
		    newest->path);
		goodput_checkpoint(st, job_id, newest->mtime);
	}
	store_checkpoints_replace(st, job_id, c, n);
	store_commit(st);
	checkpoint_free(old, nold);
}

static void
scan_done(void *arg, int cancelled)
{
	struct scan_task *t = arg;
	struct monitor *m = t->m;
	struct jobscan *js;
	size_t i;

	if (cancelled) {
		scan_task_free(t);
		return;
	}
	js = jobscan_get(m, t->job_id);
	js->busy = 0;
	if (t->rc == 0) {
		for (i = 0; i < t->nckpts; i++)
			if (t->ckpts[i].cached && !t->ckpts[i].verified)
				log_debug("job %lld: checkpoint %s not hashed "
				          "again: unchanged (%s)",
				    (long long)t->job_id, t->ckpts[i].path,
				    t->ckpts[i].problem != NULL
				        ? t->ckpts[i].problem
				        : "not verified");
		scan_record(m, t->job_id, t->ckpts, t->nckpts);
		/* it only narrates: a lost one is not written again */
		if (t->pruned > 0)
			(void)store_event_add(m->d->store, t->job_id, "pruned",
			    "deleted %d older checkpoints (checkpoint.keep)",
			    t->pruned);
	} else
		log_warnx("job %lld: checkpoint scan: %s", (long long)t->job_id,
		    t->cause);
	if (js->deciding) {
		js->deciding = 0;
		decide_now(m, t->job_id);
	}
	scan_task_free(t);
}

static void
scan_push(struct monitor *m, const struct job *job, const struct spec *sp)
{
	struct jobscan *js = jobscan_get(m, job->id);
	struct scan_task *t;

	if (js->busy)
		return; /* one scan per job at a time */
	t = xcalloc(1, sizeof(*t));
	t->m = m;
	t->job_id = job->id;
	t->dir = xstrdup(sp->checkpoint.dir);
	t->pattern = xstrdup(sp->checkpoint.pattern);
	t->file =
	    sp->checkpoint.file != NULL ? xstrdup(sp->checkpoint.file) : NULL;
	t->settle_s =
	    (int)(sp->checkpoint.settle_s < 86400 ? sp->checkpoint.settle_s
	                                          : 86400);
	t->keep = sp->checkpoint.keep;
	t->uid = job->uid;
	t->gid = job->gid;
	/* a day at most: conf allows longer durations than an int holds */
	t->timeout_ms = (int)(m->d->conf->scan_timeout_ms < 86400000
	        ? m->d->conf->scan_timeout_ms
	        : 86400000);
	t->known = store_checkpoints_of(m->d->store, job->id, &t->nknown);
	js->busy = 1;
	js->last_ms = mono_ms();
	pool_push(m->scanner, (uint64_t)job->uid, scan_run, scan_done, t);
}

/* The last attempt, if every attempt has ended and it awaits a decision. */
static struct attempt *
undecided_last(struct attempt **as, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (as[i]->ended_at == 0)
			return NULL; /* one still runs: nothing to decide */
	return n > 0 && !as[n - 1]->decided ? as[n - 1] : NULL;
}

/* The restart policy's call on a job, to be written and then acted on. */
struct decision {
	struct job *job;
	struct attempt **as, *last;
	size_t n;
	struct spec_ref *ref;
	struct policy_decision dec;
};

/*
 * The call on a job whose last attempt has ended, once: the attempt is
 * marked decided with it. -1: nothing to decide. Borrows job and as.
 */
static int
decision_make(struct monitor *m, struct job *job, struct attempt **as, size_t n,
    struct decision *dc)
{
	int64_t beat = -1;
	size_t i;

	*dc = (struct decision){ .job = job, .as = as, .n = n };
	if ((dc->last = undecided_last(as, n)) == NULL ||
	    job_state_final(job->state) || (dc->ref = job_spec(m, job)) == NULL)
		return -1;
	dc->last->ckpt_end = recovery_newest_step(m, job->id);
	dc->last->decided = 1;
	for (i = 0; i + 1 < n; i++)
		if (as[i]->last_step > beat)
			beat = as[i]->last_step;
	policy_decide(dc->ref->spec, job, dc->last, beat, &dc->dec);
	return 0;
}

/* Its writes, in the transaction open: a transition, all of it or none. */
static int
decision_write(struct monitor *m, struct decision *dc)
{
	struct store *st = m->d->store;
	const struct spec *sp = dc->ref->spec;
	struct job *job = dc->job;
	struct attempt *last = dc->last;
	int64_t job_id = job->id;
	int rc;

	rc = store_attempt_update(st, last);
	rc |= goodput_decided(st, job_id, last->attempt, wall_s(),
	    dc->dec.action == POLICY_RESTART ? wall_s() + dc->dec.delay_s : 0);
	switch (dc->dec.action) {
	case POLICY_COMPLETE:
		rc |= lifecycle_job_set(
		    st, job_id, job->state, JOB_COMPLETED, NULL);
		rc |= store_job_set_exit(st, job_id, 0);
		rc |= store_event_add(st, job_id, "state", "job COMPLETED");
		break;
	case POLICY_FAIL:
		rc |= lifecycle_job_set(
		    st, job_id, job->state, JOB_FAILED, dc->dec.reason);
		if (last->has_exit_code)
			rc |= store_job_set_exit(st, job_id, last->exit_code);
		rc |= store_event_add(
		    st, job_id, "state", "job FAILED: %s", dc->dec.reason);
		break;
	case POLICY_RESTART:
		job->not_before = wall_s() + dc->dec.delay_s;
		rc |= lifecycle_job_set(
		    st, job_id, job->state, JOB_RESTARTING, dc->dec.reason);
		rc |= store_event_add(st, job_id, "restart",
		    "%s in %llds "
		    "(restarts %d/%d, infra restarts %d/%d)",
		    dc->dec.reason, (long long)dc->dec.delay_s, job->restarts,
		    sp->recovery.max_restarts, job->infra_restarts,
		    sp->recovery.max_infra_restarts);
		break;
	case POLICY_CANCELLED:
		break;
	}
	if (dc->dec.action != POLICY_CANCELLED)
		rc |= goodput_alert(st, job_id, (int)m->d->conf->goodput_alert,
		    m->d->conf->goodput_alert_after_ms / 1000);
	rc |= store_job_update_policy(st, job);
	return rc != 0 ? -1 : 0;
}

/* Once committed: what follows from it. */
static void
decision_done(struct monitor *m, const struct decision *dc)
{
	int restart = dc->dec.action == POLICY_RESTART;

	log_job(dc->job->id, "decision: %s",
	    dc->dec.reason != NULL ? dc->dec.reason : "completed");
	spares_decided(m, dc->job, dc->last, restart);
	if (restart)
		monitor_kick(m);
}

static void
decision_clear(struct decision *dc)
{
	free(dc->dec.reason);
	spec_ref_put(dc->ref);
}

/* Apply the restart policy, in a transaction of its own. */
static void
decide(struct monitor *m, struct job *job, struct attempt **as, size_t n)
{
	struct store *st = m->d->store;
	struct decision dc;

	if (decision_make(m, job, as, n, &dc) == 0) {
		/* decided again on a later tick if not recorded */
		if (store_begin(st) != 0 || decision_write(m, &dc) != 0 ||
		    store_commit(st) != 0) {
			store_rollback(st); /* a failed commit rolled back */
			log_warnx("job %lld: decision not recorded; will "
			          "decide again",
			    (long long)job->id);
		} else
			decision_done(m, &dc);
	}
	decision_clear(&dc);
}

void
recovery_decision_free(struct decision *dc)
{
	if (dc == NULL)
		return;
	decision_clear(dc);
	attempt_list_free(dc->as, dc->n);
	job_free(dc->job);
	free(dc);
}

int
recovery_decide_in(struct monitor *m, int64_t job_id, struct decision **out)
{
	struct store *st = m->d->store;
	struct decision *dc;
	struct attempt **as;
	struct job *job;
	size_t n;
	int rc = 0, written = 0;

	*out = NULL;
	if ((job = store_job_get(st, job_id)) == NULL)
		return 0;
	if (job->state == JOB_CANCELLED) {
		job_free(job);
		return 0;
	}
	as = store_attempts_of(st, job_id, &n);
	dc = xmalloc(sizeof(*dc));
	/* with checkpoints: one last scan first, recovery_decide after */
	if (decision_make(m, job, as, n, dc) == 0 &&
	    dc->ref->spec->checkpoint.dir == NULL) {
		if (store_savepoint(st) != 0)
			rc = -1;
		else if (decision_write(m, dc) == 0)
			written = (rc = store_savepoint_release(st)) == 0;
		else if ((rc = store_savepoint_undo(st)) == 0)
			log_warnx("job %lld: decision not recorded with the "
			          "end; will decide again",
			    (long long)job_id);
	}
	if (written)
		*out = dc;
	else
		recovery_decision_free(dc);
	return rc;
}

void
recovery_decided(struct monitor *m, int64_t job_id, struct decision *dc)
{
	if (dc == NULL) {
		recovery_decide(m, job_id);
		return;
	}
	decision_done(m, dc);
	recovery_decision_free(dc);
}

/* decide() on the job and attempts as the store has them now. */
static void
decide_now(struct monitor *m, int64_t job_id)
{
	struct attempt **as;
	struct job *job;
	size_t n;

	if ((job = store_job_get(m->d->store, job_id)) == NULL)
		return;
	as = store_attempts_of(m->d->store, job_id, &n);
	decide(m, job, as, n);
	attempt_list_free(as, n);
	job_free(job);
}

void
recovery_decide(struct monitor *m, int64_t job_id)
{
	struct attempt **as;
	struct jobscan *js;
	struct spec_ref *ref;
	const struct spec *sp;
	struct job *job;
	size_t n;

	as = store_attempts_of(m->d->store, job_id, &n);
	if (undecided_last(as, n) == NULL ||
	    (job = store_job_get(m->d->store, job_id)) == NULL) {
		attempt_list_free(as, n);
		return;
	}
	ref = job->state != JOB_CANCELLED ? job_spec(m, job) : NULL;
	sp = ref_spec(ref);
	if (sp != NULL && sp->checkpoint.dir != NULL) {
		/* one last scan, then decide */
		js = jobscan_get(m, job_id);
		js->deciding = 1;
		scan_push(m, job, sp);
	} else if (job->state != JOB_CANCELLED)
		decide(m, job, as, n); /* what was just read */
	spec_ref_put(ref);
	attempt_list_free(as, n);
	job_free(job);
}

/*
 * Signs of life since the last poll: beats, output (only sized, and only
 * counted, while there are no beats; the size is the last scan's, a poll
 * old) and a newer checkpoint. The attempt's beat record, NULL: none.
 */
static const struct beat *
hang_progress(struct monitor *m, struct attempt *a, const struct job *job,
    struct track *t, int64_t now)
{
	const struct beat *b = health_get(m->d->health, a->token_hash);
	int64_t step;

	if (t->progress_ms == 0)
		t->progress_ms = now;
	if (b != NULL && b->count > t->beats) {
		t->beats = b->count;
		t->progress_ms = now;
		t->heard = 1;
	}
	if (b == NULL || b->count == 0) {
		if (!t->sizing) {
			t->sizing = 1;
			monitor_fs_push(m, job->uid, log_size_run,
			    log_size_done, attempt_fs_create(m, a, job->uid));
		}
		if (t->sized_bytes > t->log_bytes) {
			/* the first output: progress for the ledger */
			if (t->log_bytes == 0)
				(void)goodput_mark(m->d->store, a->job_id,
				    a->attempt, GP_MARK_LOG, wall_s());
			t->log_bytes = t->sized_bytes;
			t->progress_ms = now;
			t->heard = 1;
		}
	}
	if ((step = recovery_newest_step(m, a->job_id)) > t->ckpt_step &&
	    t->ckpt_known) {
		t->progress_ms = now;
		t->heard = 1;
	}
	t->ckpt_step = step;
	t->ckpt_known = 1;
	return b;
}

/* Why the attempt hangs, NULL if it does not. */
static char *
hang_reason(const struct spec *sp, const struct beat *b, const struct track *t,
    int64_t now)
{
	int64_t limit;

	if (b != NULL && b->count > 0) {
		/* a worker that beats and then stops hangs, whatever else */
		if (now - b->stalest_ms < sp->health.heartbeat_timeout_s * 1000)
			return NULL;
		return xasprintf("rank %d sent no heartbeat for %llds",
		    b->stalest_rank, (long long)((now - b->stalest_ms) / 1000));
	}
	limit = t->heard ? sp->health.heartbeat_timeout_s
	                 : sp->health.startup_timeout_s;
	if (limit == 0 || now - t->progress_ms < limit * 1000)
		return NULL;
	return xasprintf("no progress (heartbeat, output or checkpoint) for "
	                 "%llds",
	    (long long)((now - t->progress_ms) / 1000));
}

/*
 * The ledger's view of the heartbeat summary, a summary write (a lost one
 * is only logged): the first beat, and step stalls.
 */
static void
goodput_beats(struct store *st, const struct attempt *a, struct track *t,
    const struct beat *b)
{
	int64_t stall = goodput_stall_sample(&t->stall, wall_s(), b->step);

	if (a->beats == 0)
		(void)goodput_mark(
		    st, a->job_id, a->attempt, GP_MARK_BEAT, b->last_wall);
	if (stall > 0)
		(void)goodput_mark(
		    st, a->job_id, a->attempt, GP_MARK_STALL, stall);
}

/* Hang detection for one running attempt; 1 if it is being ended. */
static int
check_hang(struct monitor *m, struct attempt *a, const struct job *job,
    const struct spec *sp)
{
	struct store *st = m->d->store;
	struct track *t = monitor_track_get(m, a->tag);
	int64_t now = mono_ms();
	const struct beat *b = hang_progress(m, a, job, t, now);
	char *why;

	/*
	 * Heartbeats summarised to SQLite once per poll: a summary, so a
	 * failed write is only logged (by the store) and the next poll
	 * writes it again (docs/design.md section 5).
	 */
	if (b != NULL && b->count > 0)
		goodput_beats(st, a, t, b);
	if (b != NULL && b->count != a->beats) {
		a->beats = b->count;
		a->last_beat_at = b->last_wall;
		a->last_step = b->step;
		(void)store_attempt_update(st, a);
	}
	if (sp->health.heartbeat_timeout_s == 0 ||
	    (why = hang_reason(sp, b, t, now)) == NULL)
		return 0;
	monitor_set_str(&a->reason, why);
	free(why);
	/* a transition: if not recorded, the next poll finds the hang again */
	if (store_begin(st) != 0)
		goto fail;
	if (lifecycle_attempt_set(st, a, ATTEMPT_RUNNING, CAUSE_HANG, "hang",
	        "attempt %d: %s; ending it", a->attempt, a->reason) != 0 ||
	    goodput_mark(st, a->job_id, a->attempt, GP_MARK_FAILED,
	        wall_s() -
	            (now -
	                (b != NULL && b->count > 0 ? b->stalest_ms
	                                           : t->progress_ms)) /
	                1000) != 0) {
		store_rollback(st);
		goto fail;
	}
	if (store_commit(st) != 0)
		goto fail;
	log_job(a->job_id, "attempt %d hangs: %s", a->attempt, a->reason);
	monitor_cancel_attempt(m, a);
	return 1;
fail:
	log_warnx("job %lld: attempt %d hangs (%s), not recorded; checked "
	          "again on the next poll",
	    (long long)a->job_id, a->attempt, a->reason);
	return 0;
}

void
recovery_tick(struct monitor *m)
{
	static const enum job_state undecided[] = { JOB_QUEUED, JOB_SUBMITTED,
		JOB_RUNNING, JOB_RESTARTING };
	struct attempt **as;
	struct jobscan *js;
	struct job **jobs, *job;
	struct spec_ref *ref;
	const struct spec *sp;
	size_t n, i, k;

	as = store_attempts_active(m->d->store, &n);
	for (i = 0; i < n; i++) {
		if (as[i]->slurm_job_id == 0 || as[i]->ending ||
		    as[i]->state != ATTEMPT_RUNNING)
			continue;
		if ((job = store_job_get(m->d->store, as[i]->job_id)) == NULL)
			continue;
		if (job->state != JOB_CANCELLED &&
		    (ref = job_spec(m, job)) != NULL) {
			sp = ref->spec;
			js = jobscan_get(m, job->id);
			if (sp->checkpoint.dir != NULL &&
			    mono_ms() - js->last_ms >= SCAN_EVERY_MS)
				scan_push(m, job, sp);
			if (!check_hang(m, as[i], job, sp))
				straggler_check(m, as[i]);
			spec_ref_put(ref);
		}
		job_free(job);
	}
	attempt_list_free(as, n);

	/* attempts that ended without a decision (e.g. across a restart) */
	for (k = 0; k < nitems(undecided); k++) {
		jobs = store_jobs_in_state(m->d->store, undecided[k], &n);
		for (i = 0; i < n; i++) {
			js = jobscan_get(m, jobs[i]->id);
			if (jobs[i]->attempts > 0 && !js->deciding)
				recovery_decide(m, jobs[i]->id);
		}
		job_list_free(jobs, n);
	}
}

void
recovery_free(struct monitor *m)
{
	struct jobscan *js;

	while ((js = TAILQ_FIRST(&m->scans)) != NULL) {
		TAILQ_REMOVE(&m->scans, js, entry);
		free(js);
	}
}
