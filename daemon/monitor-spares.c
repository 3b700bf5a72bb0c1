/*
 * monitor-spares: restarts inside the allocation (docs/design.md 8,
 * "Spares"). A job with resources.spare_nodes holds its nodes and spares
 * in one Slurm job that outlives a failed node; its batch script
 * supervises the step. When the step fails the script writes step.end
 * and waits; the attempt ends here as any other (same causes, the same
 * policy), and the next attempt, if the policy restarts and enough
 * healthy nodes are left, is started as a new step of the same Slurm job:
 * its record first, then logs/<job>/<slurm job>.next for the script.
 * Otherwise the Slurm job is cancelled and the next attempt is submitted
 * as usual.
 */
#include "config.h"

#include <sys/stat.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "checkpoint.h"
#include "conf.h"
#include "health.h"
#include "hostlist.h"
#include "lifecycle.h"
#include "llmctld.h"
#include "log.h"
#include "logdir.h"
#include "monitor.h"
#include "monitor-int.h"
#include "pool.h"
#include "spec.h"
#include "spec-cache.h"
#include "store.h"
#include "topo.h"
#include "util.h"

static char *next_text(struct monitor *, const struct attempt *, json_t *,
    const char *, const struct ckpt *);
static struct ckpt *newest_ckpt(
    struct monitor *, const struct job *, struct ckpt **, size_t *);

/* Work on the fs pool for one attempt: read step.end, or put a file. */
struct spare_fs {
	struct monitor *m;
	char *tag;
	char *state_dir;
	int64_t job_id;
	int attempt;
	uid_t uid;
	gid_t gid;
	char *name; /* put: the file in logs/<job>/, its text and mode */
	char *text;
	mode_t mode;
	int rc; /* step.end's status; -1: none. put: 0 done */
};

static struct spare_fs *
spare_fs_new(struct monitor *m, const struct attempt *a, const struct job *job)
{
	struct spare_fs *f = xcalloc(1, sizeof(*f));

	f->m = m;
	f->tag = xstrdup(a->tag);
	f->state_dir = xstrdup(m->d->conf->state_dir);
	f->job_id = a->job_id;
	f->attempt = a->attempt;
	f->uid = job->uid;
	f->gid = job->gid;
	f->rc = -1;
	return f;
}

static void
spare_fs_free(struct spare_fs *f)
{
	free(f->tag);
	free(f->state_dir);
	free(f->name);
	if (f->text != NULL) /* may hold a heartbeat token */
		explicit_bzero(f->text, strlen(f->text));
	free(f->text);
	free(f);
}

/* On a pool thread: the status the script wrote when the step failed. */
static void
step_read_run(void *arg)
{
	struct spare_fs *f = arg;
	char buf[16];
	ssize_t got;
	int dfd, fd, rc;

	if ((dfd = logdir_open(f->state_dir, f->job_id, f->attempt, f->uid)) ==
	    -1)
		return;
	if ((fd = logdir_open_file(dfd, "step.end", f->uid)) != -1) {
		got = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (got > 0) {
			buf[got] = '\0';
			rc = atoi(buf);
			f->rc = rc > 0 && rc < 256 ? rc : 1;
		}
	}
	close(dfd);
}

static void
step_read_done(void *arg, int cancelled)
{
	struct spare_fs *f = arg;
	struct track *t;

	if ((t = monitor_track_find(f->m, f->tag)) != NULL) {
		t->step_state = STEP_UNREAD;
		if (!cancelled && f->rc > 0) {
			t->step_state = STEP_ENDED;
			t->step_rc = f->rc;
			/* applied on a poll: one now, not in a poll interval */
			f->m->list_wanted = 1;
			monitor_kick(f->m);
		}
	}
	spare_fs_free(f);
}

static void
put_run(void *arg)
{
	struct spare_fs *f = arg;
	char *cause = NULL;

	f->rc = logdir_put(f->state_dir, f->job_id, f->name, f->text, f->uid,
	    f->gid, f->mode, &cause);
	if (f->rc != 0) {
		log_warnx("job %lld: %s", (long long)f->job_id, cause);
		free(cause);
	}
}

static void
put_done(void *arg, int cancelled)
{
	struct spare_fs *f = arg;
	struct track *t;

	if ((t = monitor_track_find(f->m, f->tag)) != NULL &&
	    t->next_state == NEXT_WRITING)
		t->next_state =
		    !cancelled && f->rc == 0 ? NEXT_WRITTEN : NEXT_NONE;
	spare_fs_free(f);
}

/* Put a file of ours in logs/<job>/, on the fs pool. */
static void
spare_put(struct monitor *m, const struct attempt *a, const struct job *job,
    char *name, char *text, mode_t mode)
{
	struct spare_fs *f = spare_fs_new(m, a, job);

	f->name = name;
	f->text = text;
	f->mode = mode;
	monitor_fs_push(m, f->uid, put_run, put_done, f);
}

int
spares_planned(const struct attempt *a)
{
	return a->plan != NULL && strstr(a->plan, "\"spares\"") != NULL;
}

/*
 * The fence before the end (a hang): the batch script stops the step and
 * its ranks stop themselves; the end is recorded from step.end.
 */
void
spares_fence(struct monitor *m, const struct attempt *a)
{
	recovery_fence(m, a, geteuid());
}

/* The Slurm job as the last poll saw it, NULL: not there. */
static const struct bjob *
seen_job(const struct monitor *m, int64_t id)
{
	size_t i;

	for (i = 0; i < m->nseen; i++)
		if (m->seen[i].id == id)
			return &m->seen[i];
	return NULL;
}

/* Nodes of plan key (an array of {"name"}) into hl. */
static void
plan_names(json_t *pj, const char *key, struct hostlist *hl)
{
	json_t *arr = json_object_get(pj, key), *n;
	size_t i;

	json_array_foreach(arr, i, n)
	{
		const char *name =
		    json_string_value(json_object_get(n, "name"));

		if (name != NULL)
			hostlist_expand(hl, name, NULL);
	}
}

/*
 * Nodes no step should use: blamed for any attempt of the job, down or
 * drained in the newest snapshot, or no longer in the Slurm job (Slurm
 * takes a failed node out of a --no-kill job).
 */
static int
node_bad(struct monitor *m, const struct hostlist *blamed,
    const struct hostlist *alloc, const char *name)
{
	const struct topo *t =
	    m->d->cluster != NULL ? m->d->cluster->live : NULL;
	int k;

	if (hostlist_contains(blamed, name) ||
	    (alloc->n > 0 && !hostlist_contains(alloc, name)))
		return 1;
	if (t != NULL && (k = topo_find_node(t, name)) >= 0)
		return t->nodes[k].state == TOPO_DOWN ||
		    t->nodes[k].state == TOPO_DRAIN;
	return 0;
}

/*
 * Slurm keeps a --no-kill job whose batch host failed running on the other
 * nodes (section 10), with no script left to start a step: given up.
 */
static int
batch_host_lost(const struct bjob *b)
{
	struct hostlist hl = { 0 };
	int lost;

	if (b->batch_host == NULL || b->nodes == NULL ||
	    hostlist_expand(&hl, b->nodes, NULL) != 0) {
		hostlist_clear(&hl);
		return 0;
	}
	lost = !hostlist_contains(&hl, b->batch_host);
	hostlist_clear(&hl);
	return lost;
}

/*
 * The step ended with Slurm's job still running: end the attempt as the
 * job's end would be (a node gone from the step: node_failure, blaming
 * it; a hang llmctld fenced: hang; else the first failing rank's
 * status). 1: done or under way, the poll is not applied.
 */
static int
step_end(struct monitor *m, struct attempt *a, struct job *job,
    const struct bjob *b, int rc)
{
	struct hostlist work = { 0 }, alloc = { 0 }, bad = { 0 };
	enum attempt_cause cause = CAUSE_USER_ERROR;
	json_t *pj = json_loads(a->plan, 0, NULL);
	char *reason = NULL, *pf, *blamed;
	struct hostlist none = { 0 };
	size_t i;

	a->has_exit_code = 1;
	a->exit_code = rc;
	if (a->ending || job->state == JOB_CANCELLED) {
		monitor_finish(m, a, job,
		    a->ending ? ATTEMPT_FAILED : ATTEMPT_CANCELLED,
		    a->ending ? CAUSE_NONE : CAUSE_CANCELLED, NULL);
		json_decref(pj);
		return 1;
	}
	plan_names(pj, "nodes", &work);
	json_decref(pj);
	if (b->nodes != NULL)
		hostlist_expand(&alloc, b->nodes, NULL);
	for (i = 0; i < work.n; i++)
		if (node_bad(m, &none, &alloc, work.names[i]))
			hostlist_expand(&bad, work.names[i], NULL);
	if (bad.n > 0) {
		blamed = hostlist_join(&bad);
		monitor_set_str(&a->blamed, blamed);
		reason = xasprintf("node %s failed under the step", blamed);
		/* monitor_finish fences it: its ranks on a cut-off node stop */
		free(blamed);
		monitor_finish(
		    m, a, job, ATTEMPT_NODE_FAIL, CAUSE_NODE_FAILURE, reason);
	} else if (recovery_preflight_failed(m, job, a, &pf) != 0) {
		free(pf); /* the preflight runs once, before the first step */
		reason = recovery_exit_reason(m, job, a, rc, &cause);
		monitor_finish(m, a, job, ATTEMPT_FAILED, cause, reason);
	}
	free(reason);
	hostlist_clear(&work);
	hostlist_clear(&alloc);
	hostlist_clear(&bad);
	return 1;
}

/*
 * A step recorded before a restart of llmctld whose decision file may not
 * have been written: written again, with a fresh token (only its hash was
 * kept). The script ignores it if it started that attempt already.
 */
static void
next_again(struct monitor *m, struct attempt *a, struct job *job)
{
	json_t *pj = json_loads(a->plan, 0, NULL);
	struct ckpt *ck, *resume;
	char *token = NULL;
	size_t nck;

	if (pj == NULL)
		return;
	if (m->d->heartbeat_url != NULL) {
		token = monitor_plan_token(m, a, job);
		/* the new hash must be on record before the ranks use it */
		if (store_attempt_update(m->d->store, a) != 0) {
			free(token);
			json_decref(pj);
			return;
		}
	}
	resume = newest_ckpt(m, job, &ck, &nck);
	monitor_track_get(m, a->tag)->next_state = NEXT_WRITING;
	spare_put(m, a, job, xasprintf("%lld.next", (long long)a->slurm_job_id),
	    next_text(m, a, pj, token, resume), 0400);
	free(token);
	checkpoint_free(ck, nck);
	json_decref(pj);
}

int
spares_step(
    struct monitor *m, struct attempt *a, struct job *job, const struct bjob *b)
{
	struct track *t;
	char *reason;

	if (b->state != BJOB_RUNNING || !spares_planned(a))
		return 0;
	t = monitor_track_get(m, a->tag);
	if (batch_host_lost(b) && !a->ending) {
		/* its script is gone with the node: the attempt ends here */
		monitor_set_str(&a->blamed, b->batch_host);
		a->ended_at = wall_s();
		reason =
		    xasprintf("node %s (the batch host) failed", b->batch_host);
		monitor_finish(
		    m, a, job, ATTEMPT_NODE_FAIL, CAUSE_NODE_FAILURE, reason);
		free(reason);
		monitor_cancel_slurm(m, b->id);
		return 1;
	}
	if (a->state == ATTEMPT_PENDING && t->next_state == NEXT_NONE &&
	    strstr(a->plan, "\"step_of\"") != NULL)
		next_again(m, a, job);
	if (a->state != ATTEMPT_RUNNING)
		return 0;
	if (t->step_state == STEP_ENDED) {
		a->ended_at = wall_s();
		return step_end(m, a, job, b, t->step_rc);
	}
	if (t->step_state == STEP_UNREAD) {
		t->step_state = STEP_READING;
		monitor_fs_push(m, job->uid, step_read_run, step_read_done,
		    spare_fs_new(m, a, job));
	}
	return 0;
}

/* The previous attempt of the job, if it was planned with spares. */
static struct attempt *
prev_attempt(struct monitor *m, const struct attempt *a)
{
	struct attempt **as, *prev = NULL;
	size_t n, i;

	as = store_attempts_of(m->d->store, a->job_id, &n);
	for (i = 0; i < n; i++) {
		if (as[i]->attempt == a->attempt - 1) {
			prev = as[i];
			as[i] = NULL;
		}
	}
	attempt_list_free(as, n);
	if (prev != NULL &&
	    (prev->slurm_job_id == 0 || !spares_planned(prev))) {
		attempt_free(prev);
		return NULL;
	}
	return prev;
}

/*
 * The next step's plan: the previous one with every bad node replaced, in
 * its place in rank order, by the first good spare. NULL: not enough.
 */
static json_t *
next_plan(struct monitor *m, const struct attempt *prev, const struct job *job,
    const struct bjob *b, char **swaps)
{
	struct hostlist blamed = { 0 }, alloc = { 0 };
	json_t *pj = json_loads(prev->plan, 0, NULL), *nodes, *spares, *n;
	json_t *sp, *ranks, *r, *list;
	const char *name;
	char *jb, *tmp;
	size_t i, k;
	int ok = 1;

	if ((jb = store_job_blamed(m->d->store, job->id)) != NULL)
		hostlist_expand(&blamed, jb, NULL);
	free(jb);
	if (b->nodes != NULL)
		hostlist_expand(&alloc, b->nodes, NULL);
	nodes = json_object_get(pj, "nodes");
	spares = json_object_get(pj, "spares");
	/* spares that are bad themselves are dropped first */
	for (k = json_array_size(spares); k-- > 0;) {
		name = json_string_value(
		    json_object_get(json_array_get(spares, k), "name"));
		if (name == NULL || node_bad(m, &blamed, &alloc, name))
			json_array_remove(spares, k);
	}
	*swaps = xstrdup("");
	json_array_foreach(nodes, i, n)
	{
		name = json_string_value(json_object_get(n, "name"));
		if (name == NULL || !node_bad(m, &blamed, &alloc, name))
			continue;
		if (json_array_size(spares) == 0) {
			ok = 0;
			break;
		}
		sp = json_array_get(spares, 0);
		tmp = xasprintf("%s%s%s for %s", *swaps, **swaps ? ", " : "",
		    json_string_value(json_object_get(sp, "name")), name);
		free(*swaps);
		*swaps = tmp;
		json_object_update(n, sp);
		json_array_remove(spares, 0);
	}
	if (pj == NULL || !json_is_array(nodes) || !json_is_array(spares))
		ok = 0;
	if (ok) {
		ranks = json_object_get(pj, "ranks");
		json_array_foreach(ranks, i, r)
		{
			k = (size_t)json_integer_value(
			    json_object_get(r, "node_rank"));
			json_object_set(r, "node",
			    json_object_get(json_array_get(nodes, k), "name"));
		}
		list = json_string("");
		json_array_foreach(nodes, i, n)
		{
			tmp = xasprintf("%s%s%s", json_string_value(list),
			    i > 0 ? "," : "",
			    json_string_value(json_object_get(n, "name")));
			json_string_set(list, tmp);
			free(tmp);
		}
		json_object_set_new(pj, "nodelist", list);
		json_object_set_new(
		    pj, "step_of", json_integer(prev->slurm_job_id));
	}
	hostlist_clear(&blamed);
	hostlist_clear(&alloc);
	if (!ok) {
		json_decref(pj);
		return NULL;
	}
	return pj;
}

/* Comma list of the names in plan key. */
static char *
plan_list(json_t *pj, const char *key)
{
	struct hostlist hl = { 0 };
	char *s;

	plan_names(pj, key, &hl);
	s = hl.n > 0 ? hostlist_join(&hl) : xstrdup("");
	hostlist_clear(&hl);
	return s;
}

/* What the script sources for the next step (values quoted). */
static char *
next_text(struct monitor *m, const struct attempt *a, json_t *pj,
    const char *token, const struct ckpt *resume)
{
	const struct bcluster *cl = m->d->cluster;
	const char *first;
	char *order = plan_list(pj, "nodes"), *spares = plan_list(pj, "spares");
	char *dir, *oq, *sq, *dq, *aq, *tq, *rq = NULL, *text, *stepl;
	const char *addr = NULL;
	int k;

	first = json_string_value(json_object_get(
	    json_array_get(json_object_get(pj, "nodes"), 0), "name"));
	if (cl != NULL && cl->addr != NULL && first != NULL &&
	    (k = topo_find_node(cl->live, first)) >= 0)
		addr = cl->addr[k];
	dir = xasprintf("%s/logs/%lld/%d", m->d->conf->state_dir,
	    (long long)a->job_id, a->attempt);
	oq = sh_quote(order);
	sq = sh_quote(spares);
	dq = sh_quote(dir);
	aq = sh_quote(addr != NULL ? addr : "");
	tq = sh_quote(token != NULL ? token : "");
	if (resume != NULL) {
		rq = sh_quote(resume->path);
		stepl = xasprintf(
		    "LLMCTL_RESUME_FROM=%s\nLLMCTL_RESUME_STEP=%lld\n", rq,
		    (long long)resume->step);
	} else
		stepl = xstrdup("");
	text = xasprintf("LLMCTL_LOG_DIR=%s\nLLMCTL_NODE_ORDER=%s\n"
	                 "LLMCTL_SPARE_NODES=%s\nMASTER_ADDR=%s\n"
	                 "MASTER_PORT=%d\nLLMCTL_HEARTBEAT_TOKEN=%s\n%s"
	                 "LLMCTL_ATTEMPT=%d\n",
	    dq, oq, sq, aq, a->master_port, tq, stepl, a->attempt);
	free(order);
	free(spares);
	free(dir);
	free(oq);
	free(sq);
	free(dq);
	free(aq);
	free(tq);
	free(rq);
	free(stepl);
	return text;
}

/* The newest usable checkpoint of a job with checkpoint.dir, or NULL. */
static struct ckpt *
newest_ckpt(
    struct monitor *m, const struct job *job, struct ckpt **all, size_t *n)
{
	struct spec_ref *ref = monitor_job_spec(m, job, NULL);
	const struct ckpt *c = NULL;

	*all = store_checkpoints_of(m->d->store, job->id, n);
	if (ref != NULL && ref->spec->checkpoint.dir != NULL)
		c = checkpoint_newest(*all, *n);
	spec_ref_put(ref);
	return (struct ckpt *)c;
}

/* Stop the script waiting in Slurm job id: no further step there. */
static void
stop_allocation(struct monitor *m, const struct attempt *prev,
    const struct job *job, const char *why)
{
	spare_put(m, prev, job,
	    xasprintf("%lld.next", (long long)prev->slurm_job_id),
	    xstrdup("LLMCTL_ATTEMPT=stop\n"), 0444);
	monitor_cancel_slurm(m, prev->slurm_job_id);
	log_job(job->id, "Slurm job %lld given up: %s",
	    (long long)prev->slurm_job_id, why);
}

/* Record attempt a as a step of prev's Slurm job, then tell the script. */
static int
start_step(struct monitor *m, struct attempt *a, struct job *job,
    const struct attempt *prev, json_t *pj, const char *swaps)
{
	struct store *st = m->d->store;
	struct ckpt *ck, *resume;
	size_t nck;
	char *token, *text, *cause = NULL, *order, *spares;
	int rc;

	if (logdir_make(m->d->conf->state_dir, job->id, a->attempt, job->uid,
	        job->gid, &cause) != 0) {
		monitor_finish(
		    m, a, job, ATTEMPT_FAILED, CAUSE_LAUNCH_FAILED, cause);
		free(cause);
		return 1;
	}
	token =
	    m->d->heartbeat_url != NULL ? monitor_plan_token(m, a, job) : NULL;
	resume = newest_ckpt(m, job, &ck, &nck);
	a->ckpt_start = resume != NULL ? resume->step : -1;
	monitor_set_str(&a->plan, NULL);
	a->plan = json_dumps(pj, JSON_COMPACT);
	order = plan_list(pj, "nodes");
	spares = plan_list(pj, "spares");
	free(a->nodes);
	a->nodes = *spares ? xasprintf("%s,%s", order, spares) : xstrdup(order);
	a->slurm_job_id = prev->slurm_job_id;
	a->started_at = wall_s();
	rc = store_begin(st);
	if (rc == 0)
		rc = store_attempt_update(st, a) != 0 ||
		    (resume != NULL &&
		        store_event_add(st, job->id, "resume",
		            "attempt %d resumes from checkpoint step %lld (%s)",
		            a->attempt, (long long)resume->step,
		            resume->path) != 0) ||
		    lifecycle_attempt_set(st, a, ATTEMPT_PENDING, CAUSE_NONE,
		        "submitted",
		        "attempt %d starts inside Slurm job %lld on %s%s%s%s",
		        a->attempt, (long long)a->slurm_job_id, order,
		        *swaps ? " (spare " : "", swaps,
		        *swaps ? ")" : "") != 0 ||
		    (job->state == JOB_RESTARTING &&
		        lifecycle_job_set(
		            st, job->id, job->state, JOB_SUBMITTED, NULL) != 0);
	if (rc != 0 || store_commit(st) != 0) {
		store_rollback(st);
		log_warnx("job %lld: attempt %d: cannot record its step; tried "
		          "again on the next tick",
		    (long long)job->id, a->attempt);
		a->slurm_job_id = 0;
		health_unregister(m->d->health, a->token_hash);
		rc = 0;
	} else {
		log_job(job->id, "attempt %d is a step of Slurm job %lld on %s",
		    a->attempt, (long long)a->slurm_job_id, order);
		text = next_text(m, a, pj, token, resume);
		monitor_track_get(m, a->tag)->next_state = NEXT_WRITING;
		spare_put(m, a, job,
		    xasprintf("%lld.next", (long long)a->slurm_job_id), text,
		    0400);
		rc = 1;
	}
	if (token != NULL)
		explicit_bzero(token, strlen(token));
	free(token);
	free(order);
	free(spares);
	checkpoint_free(ck, nck);
	return rc;
}

int
spares_try(struct monitor *m, struct attempt *a, struct job *job)
{
	const struct bjob *b;
	struct attempt *prev;
	json_t *pj;
	char *swaps = NULL;
	int rc = 0;

	if (a->attempt < 2 || (prev = prev_attempt(m, a)) == NULL)
		return 0;
	if (m->seen_list == 0) {
		m->list_wanted = 1; /* no poll yet: is the allocation there? */
		attempt_free(prev);
		return 1;
	}
	/* the allocation is gone: a new Slurm job, as without spares */
	if ((b = seen_job(m, prev->slurm_job_id)) == NULL ||
	    b->state != BJOB_RUNNING)
		pj = NULL;
	else if (batch_host_lost(b)) {
		pj = NULL;
		stop_allocation(m, prev, job, "its batch host failed");
	} else if ((pj = next_plan(m, prev, job, b, &swaps)) == NULL)
		stop_allocation(m, prev, job, "no spare node left");
	else
		rc = start_step(m, a, job, prev, pj, swaps);
	json_decref(pj);
	free(swaps);
	attempt_free(prev);
	return rc;
}

void
spares_decided(struct monitor *m, const struct job *job,
    const struct attempt *last, int restart)
{
	const struct bjob *b;

	if (restart || last->slurm_job_id == 0 || !spares_planned(last))
		return;
	b = seen_job(m, last->slurm_job_id);
	if (b != NULL && !bjob_final(b->state))
		stop_allocation(m, last, job, "the job ends");
}
