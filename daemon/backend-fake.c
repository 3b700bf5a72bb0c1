/*
 * backend-fake: an in-memory scheduler for unit tests of the monitor and
 * the API. Jobs stay PENDING until a test moves them with fake_set_state().
 */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "backend-fake.h"
#include "topo.h"
#include "util.h"

static pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bjob *fake_jobs;
static size_t fake_n;
static int fake_down; /* 1: every call fails as if unreachable */
static int fake_submits;
static int fake_submit_tries; /* refused ones too */
static int fake_full; /* 1: submits refused for now, as by MaxJobCount */
static int fake_list_down; /* 1: only the job-table load fails */
static int fake_lost; /* submits to take but answer as unreachable */
/* the last submit's placement */
static char *fake_req_nodes, *fake_exc_nodes;
static int fake_switches, fake_switch_wait;
static int64_t fake_stamp = 1; /* the job table's, bumped by each change */
static int64_t fake_node_stamp = 1; /* the nodes' */
static int fake_loads[2]; /* [0] list, [1] cluster: full answers */
static struct fake_drain {
	char *name;
	char *reason;
} * fake_drains; /* nodes drained, as Slurm would keep them */
static size_t fake_ndrains;

static int
fake_init(const char *conf, char **cause)
{
	(void)conf;
	(void)cause;
	return 0;
}

/*
 * For benchmarks on the fake (tests/bench/heartbeat-bench.sh): with
 * LLMCTLD_FAKE_TOKENS=FILE set, each submitted job's heartbeat token and
 * world size are appended to FILE (0600), as the ranks would have them.
 */
static void
fake_keep_token(const struct bjob_request *r)
{
	const char *path = getenv("LLMCTLD_FAKE_TOKENS");
	const char *k = "LLMCTL_HEARTBEAT_TOKEN=";
	size_t i;
	FILE *f;
	int fd;

	if (path == NULL)
		return;
	for (i = 0; i < r->nenv; i++) {
		if (strncmp(r->env[i], k, strlen(k)) != 0)
			continue;
		fd = open(path,
		    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
		    0600);
		if (fd == -1 || (f = fdopen(fd, "a")) == NULL) {
			if (fd != -1)
				close(fd);
			return;
		}
		fprintf(f, "%s %d\n", r->env[i] + strlen(k), r->tasks);
		fclose(f);
	}
}

static int
fake_submit(
    const struct bjob_request *r, int64_t *id, char **cause, int *transient)
{
	struct bjob *b;
	int rc = 0;

	pthread_mutex_lock(&fake_lock);
	fake_submit_tries++;
	if (fake_down) {
		*transient = 1;
		rc = set_cause(cause, "Unable to contact slurm controller");
	} else if (fake_full) {
		*transient = 1;
		rc = set_cause(cause,
		    "Slurm temporarily unable to accept job, "
		    "sleeping and retrying");
	} else if (r->nodes > 64) {
		*transient = 0;
		rc = set_cause(cause,
		    "Requested node configuration is not "
		    "available");
	} else {
		fake_jobs =
		    xreallocarray(fake_jobs, fake_n + 1, sizeof(*fake_jobs));
		b = &fake_jobs[fake_n++];
		memset(b, 0, sizeof(*b));
		b->id = 1000 + (int64_t)fake_n;
		b->tag = xstrdup(r->tag);
		b->uid = r->uid;
		b->state = BJOB_PENDING;
		b->submit_time = wall_s();
		*id = b->id;
		fake_submits++;
		free(fake_req_nodes);
		free(fake_exc_nodes);
		fake_req_nodes =
		    r->req_nodes != NULL ? xstrdup(r->req_nodes) : NULL;
		fake_exc_nodes =
		    r->exc_nodes != NULL ? xstrdup(r->exc_nodes) : NULL;
		fake_switches = r->switches;
		fake_switch_wait = r->switch_wait_s;
		fake_stamp++;
		fake_keep_token(r);
		if (fake_lost > 0) {
			fake_lost--;
			*transient = 1;
			rc = set_cause(cause, "Socket timed out");
		}
	}
	pthread_mutex_unlock(&fake_lock);
	return rc;
}

static int
fake_list(int64_t *stamp, struct bjob **out, size_t *n, char **cause)
{
	struct bjob *b;
	size_t i, k;

	pthread_mutex_lock(&fake_lock);
	if (fake_down || fake_list_down) {
		pthread_mutex_unlock(&fake_lock);
		return set_cause(cause, "Unable to contact slurm controller");
	}
	if (*stamp == fake_stamp) {
		pthread_mutex_unlock(&fake_lock);
		return 1;
	}
	*stamp = fake_stamp;
	fake_loads[0]++;
	*out = xcalloc(fake_n + 1, sizeof(**out));
	for (i = k = 0; i < fake_n; i++) {
		/* as Slurm's: another user's job only while it waits */
		if (fake_jobs[i].tag == NULL &&
		    fake_jobs[i].state != BJOB_PENDING)
			continue;
		b = &(*out)[k++];
		*b = fake_jobs[i];
		b->tag =
		    fake_jobs[i].tag != NULL ? xstrdup(fake_jobs[i].tag) : NULL;
		b->partition = fake_jobs[i].partition != NULL
		    ? xstrdup(fake_jobs[i].partition)
		    : NULL;
		b->nodes = fake_jobs[i].nodes != NULL
		    ? xstrdup(fake_jobs[i].nodes)
		    : NULL;
		b->reason = NULL;
	}
	*n = k;
	pthread_mutex_unlock(&fake_lock);
	return 0;
}

static int
fake_cancel(int64_t id, char **cause)
{
	(void)cause;
	fake_set_state(id, BJOB_CANCELLED, 0);
	return 0;
}

/* Two leaves of two 8-GPU nodes under one spine, all idle. */
static int
fake_cluster(int64_t *stamp, const struct bfailure *fail, size_t nfail,
    struct bcluster **out, char **cause)
{
	struct topo_gen g = { .leaves = 2,
		.nodes_per_leaf = 2,
		.spines = 1,
		.gpus = 8,
		.seed = 1 };
	struct bcluster *c;
	size_t i;

	(void)fail;
	(void)nfail;
	pthread_mutex_lock(&fake_lock);
	if (fake_down) {
		pthread_mutex_unlock(&fake_lock);
		return set_cause(cause, "Unable to contact slurm controller");
	}
	if (*stamp == fake_node_stamp) {
		pthread_mutex_unlock(&fake_lock);
		return 1;
	}
	*stamp = fake_node_stamp;
	fake_loads[1]++;
	pthread_mutex_unlock(&fake_lock);
	c = xcalloc(1, sizeof(*c));
	if ((c->live = topo_generate(&g, cause)) == NULL ||
	    (c->ideal = topo_generate(&g, cause)) == NULL) {
		bcluster_free(c);
		return -1;
	}
	c->addr = xcalloc(c->live->nnodes, sizeof(*c->addr));
	for (i = 0; i < c->live->nnodes; i++)
		c->addr[i] = xstrdup("127.0.0.1");
	c->loaded_at = (int64_t)time(NULL);
	*out = c;
	return 0;
}

static int
fake_node(const char *name, const char *reason, char **cause)
{
	size_t i;

	pthread_mutex_lock(&fake_lock);
	if (fake_down) {
		pthread_mutex_unlock(&fake_lock);
		return set_cause(cause, "Unable to contact slurm controller");
	}
	for (i = 0; i < fake_ndrains; i++)
		if (strcmp(fake_drains[i].name, name) == 0)
			break;
	if (i == fake_ndrains && reason != NULL) {
		fake_drains = xreallocarray(
		    fake_drains, fake_ndrains + 1, sizeof(*fake_drains));
		fake_drains[fake_ndrains].name = xstrdup(name);
		fake_drains[fake_ndrains++].reason = NULL;
	}
	if (i < fake_ndrains) {
		free(fake_drains[i].reason);
		fake_drains[i].reason = reason != NULL ? xstrdup(reason) : NULL;
	}
	pthread_mutex_unlock(&fake_lock);
	return 0;
}

char *
fake_node_reason(const char *name)
{
	char *r = NULL;
	size_t i;

	pthread_mutex_lock(&fake_lock);
	for (i = 0; i < fake_ndrains; i++)
		if (strcmp(fake_drains[i].name, name) == 0 &&
		    fake_drains[i].reason != NULL)
			r = xstrdup(fake_drains[i].reason);
	pthread_mutex_unlock(&fake_lock);
	return r;
}

static void
fake_fini(void)
{
	fake_reset();
}

const struct backend backend_fake = {
	.name = "fake",
	.init = fake_init,
	.submit = fake_submit,
	.list = fake_list,
	.cancel = fake_cancel,
	.cluster = fake_cluster,
	.node = fake_node,
	.fini = fake_fini,
};

void
fake_set_state(int64_t id, enum bjob_state state, int exit_code)
{
	size_t i;

	pthread_mutex_lock(&fake_lock);
	for (i = 0; i < fake_n; i++) {
		if (fake_jobs[i].id != id)
			continue;
		fake_jobs[i].state = state;
		fake_jobs[i].exit_code = exit_code;
		fake_stamp++;
		if (state != BJOB_PENDING && fake_jobs[i].nodes == NULL)
			fake_jobs[i].nodes = xstrdup("n1,n2");
	}
	pthread_mutex_unlock(&fake_lock);
}

void
fake_add_other(uid_t uid, const char *partition)
{
	struct bjob *b;

	pthread_mutex_lock(&fake_lock);
	fake_jobs = xreallocarray(fake_jobs, fake_n + 1, sizeof(*fake_jobs));
	b = &fake_jobs[fake_n++];
	memset(b, 0, sizeof(*b));
	b->id = 1000 + (int64_t)fake_n;
	b->uid = uid;
	b->state = BJOB_PENDING;
	b->partition = xstrdup(partition);
	fake_stamp++;
	pthread_mutex_unlock(&fake_lock);
}

void
fake_set_down(int down)
{
	pthread_mutex_lock(&fake_lock);
	fake_down = down;
	pthread_mutex_unlock(&fake_lock);
}

void
fake_set_list_down(int down)
{
	pthread_mutex_lock(&fake_lock);
	fake_list_down = down;
	pthread_mutex_unlock(&fake_lock);
}

void
fake_lose_answers(int n)
{
	pthread_mutex_lock(&fake_lock);
	fake_lost = n;
	pthread_mutex_unlock(&fake_lock);
}

void
fake_nodes_changed(void)
{
	pthread_mutex_lock(&fake_lock);
	fake_node_stamp++;
	pthread_mutex_unlock(&fake_lock);
}

int
fake_load_count(int cluster)
{
	int n;

	pthread_mutex_lock(&fake_lock);
	n = fake_loads[cluster != 0];
	pthread_mutex_unlock(&fake_lock);
	return n;
}

int
fake_submit_count(void)
{
	int n;

	pthread_mutex_lock(&fake_lock);
	n = fake_submits;
	pthread_mutex_unlock(&fake_lock);
	return n;
}

void
fake_set_full(int full)
{
	pthread_mutex_lock(&fake_lock);
	fake_full = full;
	pthread_mutex_unlock(&fake_lock);
}

int
fake_submit_tries_count(void)
{
	int n;

	pthread_mutex_lock(&fake_lock);
	n = fake_submit_tries;
	pthread_mutex_unlock(&fake_lock);
	return n;
}

void
fake_last_placement(
    char **req_nodes, char **exc_nodes, int *switches, int *wait_s)
{
	pthread_mutex_lock(&fake_lock);
	*req_nodes = fake_req_nodes != NULL ? xstrdup(fake_req_nodes) : NULL;
	*exc_nodes = fake_exc_nodes != NULL ? xstrdup(fake_exc_nodes) : NULL;
	*switches = fake_switches;
	*wait_s = fake_switch_wait;
	pthread_mutex_unlock(&fake_lock);
}

void
fake_reset(void)
{
	pthread_mutex_lock(&fake_lock);
	free(fake_req_nodes);
	free(fake_exc_nodes);
	fake_req_nodes = fake_exc_nodes = NULL;
	fake_switches = fake_switch_wait = 0;
	bjob_list_free(fake_jobs, fake_n);
	fake_jobs = NULL;
	fake_n = 0;
	fake_submits = 0;
	fake_submit_tries = 0;
	fake_full = 0;
	fake_down = 0;
	fake_lost = 0;
	fake_list_down = 0;
	fake_stamp++;
	fake_node_stamp++;
	fake_loads[0] = fake_loads[1] = 0;
	while (fake_ndrains > 0) {
		free(fake_drains[--fake_ndrains].name);
		free(fake_drains[fake_ndrains].reason);
	}
	free(fake_drains);
	fake_drains = NULL;
	pthread_mutex_unlock(&fake_lock);
}
