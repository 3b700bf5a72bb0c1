/* backend: lookup by name and the helpers every backend shares. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "topo.h"
#include "util.h"

static const struct backend *const backends[] = {
	&backend_slurm,
	&backend_fake,
};

const struct backend *
backend_find(const char *name)
{
	size_t i;

	for (i = 0; i < nitems(backends); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

void
bjob_list_free(struct bjob *jobs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(jobs[i].tag);
		free(jobs[i].nodes);
		free(jobs[i].batch_host);
		free(jobs[i].reason);
		free(jobs[i].partition);
	}
	free(jobs);
}

int
bjob_final(enum bjob_state state)
{
	return state != BJOB_PENDING && state != BJOB_RUNNING;
}

const char *
bjob_state_name(enum bjob_state state)
{
	static const char *const names[] = {
		[BJOB_PENDING] = "PENDING",
		[BJOB_RUNNING] = "RUNNING",
		[BJOB_COMPLETED] = "COMPLETED",
		[BJOB_FAILED] = "FAILED",
		[BJOB_CANCELLED] = "CANCELLED",
		[BJOB_TIMEOUT] = "TIMEOUT",
		[BJOB_NODE_FAIL] = "NODE_FAIL",
		[BJOB_PREEMPTED] = "PREEMPTED",
		[BJOB_OTHER] = "FAILED",
	};

	return names[state];
}

void
bcluster_free(struct bcluster *c)
{
	size_t i;

	if (c == NULL)
		return;
	if (c->addr != NULL && c->live != NULL)
		for (i = 0; i < c->live->nnodes; i++)
			free(c->addr[i]);
	free(c->addr);
	topo_free(c->live);
	topo_free(c->ideal);
	free(c);
}

void
bfailure_list_free(struct bfailure *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(f[i].name);
	free(f);
}

int
bfailure_lookup(const struct bfailure *f, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(f[i].name, name) == 0)
			return f[i].failures;
	return 0;
}
