/*
 * spec-env: the variables llmctl derives from the spec for every rank,
 * each only where the spec's own env does not set it, so that a user's
 * value always wins. The fabric section gives the usual NCCL and gloo
 * settings (no interface is ever guessed: *_SOCKET_IFNAME only when the
 * spec names one); OMP_NUM_THREADS comes from cpus_per_gpu when the spec
 * fixes the CPUs of a rank (otherwise the rank wrapper divides the node's
 * CPUs by its ranks at run time). The daemon puts them in the job's
 * environment and `llmctl plan` shows them.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "spec.h"
#include "util.h"

static int
env_given(const struct spec *sp, const char *key)
{
	size_t i;

	for (i = 0; i < sp->nenv; i++)
		if (strcmp(sp->env[i].key, key) == 0)
			return 1;
	return 0;
}

static void
add(const struct spec *sp, struct spec_kv **kv, size_t *n, const char *key,
    char *value)
{
	if (value == NULL)
		return;
	if (env_given(sp, key)) {
		free(value);
		return;
	}
	*kv = xreallocarray(*kv, *n + 1, sizeof(**kv));
	(*kv)[*n].key = xstrdup(key);
	(*kv)[*n].value = value;
	(*n)++;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

size_t
spec_rank_env(const struct spec *sp, struct spec_kv **out)
{
	struct spec_kv *kv = NULL;
	size_t n = 0;
	int cpus;

	if (sp->fabric.type == FABRIC_ETHERNET)
		add(sp, &kv, &n, "NCCL_IB_DISABLE", xstrdup("1"));
	else if (sp->fabric.type == FABRIC_INFINIBAND)
		add(sp, &kv, &n, "NCCL_IB_DISABLE", xstrdup("0"));
	add(sp, &kv, &n, "NCCL_IB_HCA", dup_or_null(sp->fabric.hca));
	add(sp, &kv, &n, "NCCL_SOCKET_IFNAME",
	    dup_or_null(sp->fabric.interface));
	add(sp, &kv, &n, "GLOO_SOCKET_IFNAME",
	    dup_or_null(sp->fabric.interface));
	/* as the Slurm backend asks: cpus_per_task per rank */
	if (sp->resources.cpus_per_gpu > 0 && sp->resources.gpus_per_node > 0 &&
	    sp->resources.tasks_per_node > 0) {
		cpus = sp->resources.cpus_per_gpu *
		    sp->resources.gpus_per_node / sp->resources.tasks_per_node;
		add(sp, &kv, &n, "OMP_NUM_THREADS",
		    xasprintf("%d", cpus > 0 ? cpus : 1));
	}
	*out = kv;
	return n;
}

void
spec_kv_free(struct spec_kv *kv, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}
