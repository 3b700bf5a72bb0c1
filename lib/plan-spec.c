/*
 * plan-spec: a plan request from a parsed job spec. Kept apart from plan.c
 * so that the planner and its tests link without the spec parser.
 */
#include "config.h"

#include <stdlib.h>

#include "plan.h"
#include "spec.h"
#include "util.h"

int
plan_request_from_spec(const struct spec *sp, const char *const *extra,
    size_t nextra, struct plan_request *req, const char ***names_out,
    char **cause)
{
	const char **names;
	size_t i, n = 0;

	if (sp == NULL)
		return set_cause(cause, "no spec");
	names = xreallocarray(
	    NULL, sp->placement.nexclude + nextra + 1, sizeof(*names));
	for (i = 0; i < sp->placement.nexclude; i++)
		names[n++] = sp->placement.exclude[i];
	for (i = 0; i < nextra; i++)
		names[n++] = extra[i];
	names[n] = NULL;
	req->nodes = sp->resources.nodes;
	req->tasks_per_node = sp->resources.tasks_per_node;
	req->gpus_per_node = sp->resources.gpus_per_node;
	req->tensor = sp->parallel.tensor;
	req->pipeline = sp->parallel.pipeline;
	req->data = sp->parallel.data;
	req->policy = sp->placement.policy;
	req->max_leaf_switches = sp->placement.max_leaf_switches;
	req->exclude = names;
	req->nexclude = n;
	req->gpu_type = sp->resources.gpu_type;
	req->spares = sp->resources.spare_nodes;
	*names_out = names;
	return 0;
}
