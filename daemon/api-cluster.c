/*
 * api-cluster: the cluster as the planner sees it. Both endpoints answer
 * from the newest snapshot the monitor loaded (at most a poll interval
 * old), so they never wait on slurmctld.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "backend.h"
#include "llmctld.h"
#include "plan.h"
#include "spec.h"
#include "store.h"
#include "topo.h"
#include "util.h"

static int
have_cluster(struct llmctld *d, struct api_response *resp)
{
	if (d->cluster != NULL)
		return 1;
	api_error(resp, 503, "no_cluster",
	    "llmctld has not loaded the "
	    "cluster topology from Slurm yet (is slurmctld up?)");
	return 0;
}

/* Plan spec on topo without the nodes in ex; NULL with *cause. */
static struct plan *
plan_spec(const struct topo *t, const struct spec *spec, const char *const *ex,
    size_t nex, char **cause)
{
	struct plan_request req;
	const char **names = NULL;
	struct plan *p = NULL;

	if (plan_request_from_spec(spec, ex, nex, &req, &names, cause) == 0)
		p = plan_make(t, &req, cause);
	free(names);
	return p;
}

int
api_check_placeable(
    struct llmctld *d, const struct spec *spec, struct api_response *resp)
{
	struct plan *p;
	char *cause = NULL;

	if (d->cluster == NULL)
		return 0; /* Slurm unknown yet: the attempt will tell */
	if ((p = plan_spec(d->cluster->ideal, spec, NULL, 0, &cause)) != NULL) {
		plan_free(p);
		return 0;
	}
	api_error(resp, 400, "unplaceable",
	    "%s: cannot be placed on this "
	    "cluster even when it is idle: %s",
	    spec->name, cause);
	free(cause);
	return -1;
}

void
api_plan(
    struct llmctld *d, const struct api_request *req, struct api_response *resp)
{
	struct spec *spec;
	struct plan *p;
	char *cause = NULL, **q;
	size_t nq, i;

	if ((spec = api_parse_spec_body(req, resp)) == NULL)
		return;
	if (!have_cluster(d, resp)) {
		spec_free(spec);
		return;
	}
	/* live, as an attempt is planned: quarantined nodes left out */
	q = store_nodes_quarantined(d->store, wall_s(), &nq);
	p = plan_spec(
	    d->cluster->live, spec, (const char *const *)q, nq, &cause);
	for (i = 0; i < nq; i++)
		free(q[i]);
	free(q);
	if (p == NULL) {
		api_error(resp, 409, "unplaceable", "%s", cause);
		free(cause);
	} else {
		resp->status = 200;
		resp->body = json_pack("{s:o, s:I}", "plan",
		    plan_to_json(p, d->cluster->live), "cluster_loaded_at",
		    (json_int_t)d->cluster->loaded_at);
		plan_free(p);
	}
	spec_free(spec);
}

static json_t *
names_of(const struct topo *t, const int *idx, size_t n, int switches)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a,
		    json_string(switches ? t->switches[idx[i]].name
		                         : t->nodes[idx[i]].name));
	return a;
}

void
api_nodes(
    struct llmctld *d, const struct api_request *req, struct api_response *resp)
{
	const struct topo *t;
	const struct topo_node *n;
	const struct topo_switch *sw;
	json_t *sws, *nodes;
	char *yaml;
	size_t i;

	if (!have_cluster(d, resp))
		return;
	t = d->cluster->live;
	sws = json_array();
	for (i = 0; i < t->nswitches; i++) {
		sw = &t->switches[i];
		if (sw->implicit)
			continue;
		json_array_append_new(sws,
		    json_pack("{s:s, s:i, s:o, s:o}", "name", sw->name, "level",
		        sw->level, "children",
		        names_of(t, sw->children, sw->nchildren, 1), "nodes",
		        names_of(t, sw->nodes, sw->nnodes, 0)));
	}
	nodes = json_array();
	for (i = 0; i < t->nnodes; i++) {
		n = &t->nodes[i];
		json_array_append_new(nodes,
		    json_pack("{s:s, s:i, s:i, s:o, "
		              "s:s, s:o, s:i}",
		        "name", n->name, "gpus", n->gpus, "free_gpus",
		        topo_popcount(n->free_gpus), "gpu_type",
		        n->gpu_type != NULL ? json_string(n->gpu_type)
		                            : json_null(),
		        "state", topo_state_name(n->state), "leaf",
		        t->switches[n->leaf].implicit
		            ? json_null()
		            : json_string(t->switches[n->leaf].name),
		        "failures", n->failures));
	}
	yaml = topo_to_yaml(t);
	resp->status = 200;
	resp->body = json_pack("{s:I, s:s, s:o, s:o, s:o}", "loaded_at",
	    (json_int_t)d->cluster->loaded_at, "snapshot", yaml, "switches",
	    sws, "nodes", nodes, "health", api_node_health_json(d, req));
	free(yaml);
}
