/*
 * plan-json: a plan as JSON for the API and `llmctl plan -o json`, and as
 * the node list handed to Slurm. "nodes" is in rank order.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "plan.h"
#include "util.h"

static json_t *plan_path_json(const struct topo *, const char *);

/* Switch names from the top down to the node's leaf. */
static json_t *
plan_path_json(const struct topo *t, const char *name)
{
	json_t *a = json_array();
	int n, s, path[TOPO_MAX_DEPTH + 1], np = 0;

	if (t == NULL || (n = topo_find_node(t, name)) == -1)
		return a;
	for (s = t->nodes[n].leaf; s != -1 && np <= TOPO_MAX_DEPTH;
	     s = t->switches[s].parent)
		path[np++] = s;
	while (np-- > 0)
		json_array_append_new(
		    a, json_string(t->switches[path[np]].name));
	return a;
}

json_t *
plan_to_json(const struct plan *p, const struct topo *t)
{
	json_t *o = json_object(), *nodes = json_array(), *ranks = json_array();
	json_t *gpus = json_array(), *levels = json_array(), *m, *n, *nr, *sp;
	size_t i, r;
	char *list;
	int b;

	for (b = 0; b < TOPO_MAX_GPUS; b++)
		if (p->gpu_mask & ((uint64_t)1 << b))
			json_array_append_new(gpus, json_integer(b));
	for (i = 0; i < p->nnodes; i++) {
		nr = json_array();
		for (r = p->nodes[i].first_rank;
		     r < p->nodes[i].first_rank + (size_t)p->tasks_per_node;
		     r++)
			json_array_append_new(nr, json_integer((json_int_t)r));
		n = json_pack("{s:s, s:s, s:o, s:i, s:o, s:i}", "name",
		    p->nodes[i].name, "leaf", p->nodes[i].leaf, "path",
		    plan_path_json(t, p->nodes[i].name), "node_rank", (int)i,
		    "ranks", nr, "failures", p->nodes[i].failures);
		json_array_append_new(nodes, n);
	}
	for (r = 0; r < p->nranks; r++)
		json_array_append_new(ranks,
		    json_pack("{s:i, s:s, s:i, s:i, s:i, s:i, s:i, s:i}",
		        "rank", (int)r, "node", p->nodes[p->ranks[r].node].name,
		        "node_rank", p->ranks[r].node, "local_rank",
		        p->ranks[r].local_rank, "gpu", p->ranks[r].gpu, "tp",
		        p->ranks[r].tp, "pp", p->ranks[r].pp, "dp",
		        p->ranks[r].dp));
	for (b = 0; b < p->nlevels; b++)
		json_array_append_new(
		    levels, json_integer(p->switches_per_level[b]));
	m = json_pack("{s:s, s:i, s:o, s:i, s:i, s:i}", "spanning_switch",
	    p->spanning_switch, "levels_spanned", p->levels_spanned,
	    "switches_per_level", levels, "leaf_switches",
	    p->nlevels > 0 ? p->switches_per_level[0] : 0,
	    "ring_leaf_crossings", p->ring_leaf_crossings, "failures",
	    p->failures);
	list = plan_nodelist(p);
	json_object_set_new(
	    o, "policy", json_string(plan_policy_name(p->policy)));
	json_object_set_new(
	    o, "world_size", json_integer((json_int_t)p->nranks));
	json_object_set_new(
	    o, "tasks_per_node", json_integer(p->tasks_per_node));
	json_object_set_new(o, "gpus_per_node", json_integer(p->gpus_per_node));
	json_object_set_new(o, "tensor", json_integer(p->tensor));
	json_object_set_new(o, "pipeline", json_integer(p->pipeline));
	json_object_set_new(o, "data", json_integer(p->data));
	json_object_set_new(o, "gpus", gpus);
	json_object_set_new(o, "nodelist", json_string(list));
	json_object_set_new(o, "nodes", nodes);
	if (p->nspares > 0) {
		sp = json_array();
		for (i = 0; i < p->nspares; i++)
			json_array_append_new(sp,
			    json_pack("{s:s, s:s, s:o, s:i}", "name",
			        p->spares[i].name, "leaf", p->spares[i].leaf,
			        "path", plan_path_json(t, p->spares[i].name),
			        "failures", p->spares[i].failures));
		json_object_set_new(o, "spares", sp);
	}
	json_object_set_new(o, "ranks", ranks);
	json_object_set_new(o, "metrics", m);
	free(list);
	return o;
}

char *
plan_nodelist(const struct plan *p)
{
	size_t i, len = 1, off = 0;
	char *s;

	for (i = 0; i < p->nnodes; i++)
		len += strlen(p->nodes[i].name) + 1;
	s = xmalloc(len);
	s[0] = '\0';
	for (i = 0; i < p->nnodes; i++)
		off += (size_t)snprintf(s + off, len - off, "%s%s",
		    i == 0 ? "" : ",", p->nodes[i].name);
	return s;
}

char *
plan_sparelist(const struct plan *p)
{
	struct plan q = { .nodes = p->spares, .nnodes = p->nspares };

	return p->nspares > 0 ? plan_nodelist(&q) : NULL;
}
