/*
 * llmctl nodes: the cluster as llmctld's planner sees it: the switch tree
 * with the free and total GPUs under each switch, and under each leaf its
 * nodes with their state and recent failures; then each node's health
 * record (cmd-nodes-health.c). `llmctl nodes clear NODE` clears one.
 *
 * Down and drained nodes count as having no free GPUs: nothing can be
 * placed on them. -o yaml prints the daemon's snapshot file untouched, so
 * that `llmctl plan --cluster` can plan on exactly this cluster later or
 * elsewhere.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "job.h"
#include "llmctl.h"
#include "nodes.h"
#include "output.h"
#include "util.h"

#define NODES_MAX_DEPTH 32 /* a longer path is a loop in a bad reply */
#define FIELD_MAX 256

struct nodes_name {
	const char *name;
	size_t index;
};

struct nodes_view {
	const json_t *switches;
	const json_t *nodes;
	struct nodes_name *sw_by_name;
	struct nodes_name *node_by_name;
	long long *sw_free; /* per switch: free GPUs below it */
	long long *sw_total;
	int *sw_state; /* 0: not visited, 1: summing, 2: summed */
	int *sw_shown;
	int *node_shown;
	struct table *table;
};

static int cmd_nodes_exec(struct llmctl *, struct args *);
static int name_cmp(const void *, const void *);
static struct nodes_name *name_index(const json_t *, size_t);
static long long name_find(const struct nodes_name *, size_t, const char *);
static long long node_free(const json_t *);
static void switch_sum(struct nodes_view *, size_t, int);
static void switch_rows(struct nodes_view *, size_t, int);
static void node_row(struct nodes_view *, size_t, int);
static void nodes_print(const json_t *);
static void nodes_summary(const json_t *);

const struct cmd_entry cmd_nodes_entry = {
	.name = "nodes",
	.usage = "[-o json|yaml] [clear node]",
	.about = "The cluster as the planner sees it: switches, nodes, GPUs, "
	         "health.",
	.args = { .template = "o:",
	    .lower = 0,
	    .upper = 2,
	    .operand = "clear node",
	    .longs =
	        (const struct args_long[]){
	            { .ch = 'o',
	                .name = "output",
	                .has_arg = 1,
	                .arg = "format",
	                .help = "table, json or yaml (the snapshot plan "
	                        "--cluster reads)" },
	            { 0 } } },
	.exec = cmd_nodes_exec,
};

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct nodes_name *)a)->name,
	    ((const struct nodes_name *)b)->name);
}

/* The objects of arr sorted by "name" (unnamed ones left out). */
static struct nodes_name *
name_index(const json_t *arr, size_t n)
{
	struct nodes_name *idx;
	const char *name;
	size_t i, k = 0;

	idx = xcalloc(n + 1, sizeof *idx);
	for (i = 0; i < n; i++) {
		name = json_string_value(
		    json_object_get(json_array_get(arr, i), "name"));
		if (name == NULL)
			name = ""; /* never matches a lookup */
		idx[k].name = name;
		idx[k++].index = i;
	}
	qsort(idx, k, sizeof *idx, name_cmp);
	return idx;
}

/* Index of name in the array idx was built from, or -1. */
static long long
name_find(const struct nodes_name *idx, size_t n, const char *name)
{
	struct nodes_name key = { .name = name }, *hit;

	if (name == NULL || *name == '\0')
		return -1;
	hit = bsearch(&key, idx, n, sizeof *idx, name_cmp);
	return hit != NULL ? (long long)hit->index : -1;
}

static long long
node_free(const json_t *node)
{
	const char *state = json_string_value(json_object_get(node, "state"));

	if (state != NULL &&
	    (strcmp(state, "down") == 0 || strcmp(state, "drain") == 0))
		return 0;
	return json_integer_value(json_object_get(node, "free_gpus"));
}

/* Fill sw_free/sw_total of switch s from its nodes and children. */
static void
switch_sum(struct nodes_view *v, size_t s, int depth)
{
	size_t nsw = json_array_size(v->switches);
	size_t nn = json_array_size(v->nodes);
	const json_t *sw, *name;
	long long k;
	size_t i;

	if (v->sw_state[s] != 0 || depth > NODES_MAX_DEPTH)
		return;
	v->sw_state[s] = 1;
	sw = json_array_get(v->switches, s);
	json_array_foreach(json_object_get(sw, "nodes"), i, name)
	{
		k = name_find(v->node_by_name, nn, json_string_value(name));
		if (k == -1)
			continue;
		v->sw_free[s] += node_free(json_array_get(v->nodes, k));
		v->sw_total[s] += json_integer_value(
		    json_object_get(json_array_get(v->nodes, k), "gpus"));
	}
	json_array_foreach(json_object_get(sw, "children"), i, name)
	{
		k = name_find(v->sw_by_name, nsw, json_string_value(name));
		if (k == -1 || v->sw_state[k] == 1)
			continue;
		switch_sum(v, (size_t)k, depth + 1);
		v->sw_free[s] += v->sw_free[k];
		v->sw_total[s] += v->sw_total[k];
	}
	v->sw_state[s] = 2;
}

static void
node_row(struct nodes_view *v, size_t k, int depth)
{
	const json_t *node = json_array_get(v->nodes, k);
	char b[FIELD_MAX], *s;

	v->node_shown[k] = 1;
	s = xasprintf(
	    "%*s%s", 2 * depth, "", output_field(node, "name", b, sizeof b));
	table_add(v->table, s);
	free(s);
	table_add(v->table, output_field(node, "state", b, sizeof b));
	s = xasprintf("%lld/%" JSON_INTEGER_FORMAT, node_free(node),
	    json_integer_value(json_object_get(node, "gpus")));
	table_add(v->table, s);
	free(s);
	table_add(v->table, output_field(node, "gpu_type", b, sizeof b));
	table_add(v->table, output_field(node, "failures", b, sizeof b));
}

/* Switch s, then its children, then (for a leaf) its nodes, indented. */
static void
switch_rows(struct nodes_view *v, size_t s, int depth)
{
	size_t nsw = json_array_size(v->switches);
	size_t nn = json_array_size(v->nodes);
	const json_t *sw, *name;
	char b[FIELD_MAX], *str;
	long long k;
	size_t i;

	if (v->sw_shown[s] || depth > NODES_MAX_DEPTH)
		return;
	v->sw_shown[s] = 1;
	sw = json_array_get(v->switches, s);
	str = xasprintf(
	    "%*s%s", 2 * depth, "", output_field(sw, "name", b, sizeof b));
	table_add(v->table, str);
	free(str);
	table_add(v->table, "-");
	str = xasprintf("%lld/%lld", v->sw_free[s], v->sw_total[s]);
	table_add(v->table, str);
	free(str);
	table_add(v->table, "-");
	table_add(v->table, "-");
	json_array_foreach(json_object_get(sw, "children"), i, name)
	{
		k = name_find(v->sw_by_name, nsw, json_string_value(name));
		if (k != -1)
			switch_rows(v, (size_t)k, depth + 1);
	}
	json_array_foreach(json_object_get(sw, "nodes"), i, name)
	{
		k = name_find(v->node_by_name, nn, json_string_value(name));
		if (k != -1 && !v->node_shown[k])
			node_row(v, (size_t)k, depth + 1);
	}
}

/* "64 nodes: 30 idle, 2 down; 130/512 GPUs free; 3 with failures". */
static void
nodes_summary(const json_t *nodes)
{
	static const char *const states[] = { "idle", "mixed", "allocated",
		"down", "drain", "powered-down" };
	size_t count[nitems(states) + 1] = { 0 }, i, j, failing = 0;
	long long free_gpus = 0, total = 0;
	const json_t *node;
	const char *state;
	int sep = 0;

	json_array_foreach(nodes, i, node)
	{
		state = json_string_value(json_object_get(node, "state"));
		for (j = 0; j < nitems(states); j++) {
			if (state != NULL && strcmp(state, states[j]) == 0)
				break;
		}
		count[j]++;
		free_gpus += node_free(node);
		total += json_integer_value(json_object_get(node, "gpus"));
		if (json_integer_value(json_object_get(node, "failures")) > 0)
			failing++;
	}
	printf("%zu nodes", json_array_size(nodes));
	for (j = 0; j <= nitems(states); j++) {
		if (count[j] == 0)
			continue;
		printf("%s %zu %s", sep++ ? "," : ":", count[j],
		    j < nitems(states) ? states[j] : "other");
	}
	printf("; %lld/%lld GPUs free", free_gpus, total);
	if (failing > 0)
		printf("; %zu with recent failures", failing);
	putchar('\n');
}

static void
nodes_print(const json_t *reply)
{
	static const char *const headers[] = { "NAME", "STATE", "FREE/GPUS",
		"GPU_TYPE", "FAILURES" };
	struct nodes_view v = { .switches = NULL };
	size_t nsw, nn, i, k;
	const json_t *name;
	int *is_child;

	v.switches = json_object_get(reply, "switches");
	v.nodes = json_object_get(reply, "nodes");
	nsw = json_array_size(v.switches);
	nn = json_array_size(v.nodes);
	v.sw_by_name = name_index(v.switches, nsw);
	v.node_by_name = name_index(v.nodes, nn);
	v.sw_free = xcalloc(nsw + 1, sizeof *v.sw_free);
	v.sw_total = xcalloc(nsw + 1, sizeof *v.sw_total);
	v.sw_state = xcalloc(nsw + 1, sizeof *v.sw_state);
	v.sw_shown = xcalloc(nsw + 1, sizeof *v.sw_shown);
	v.node_shown = xcalloc(nn + 1, sizeof *v.node_shown);
	is_child = xcalloc(nsw + 1, sizeof *is_child);
	v.table = table_create(nitems(headers), headers);

	/* Roots are the switches no other switch names as a child. */
	for (i = 0; i < nsw; i++) {
		json_array_foreach(
		    json_object_get(json_array_get(v.switches, i), "children"),
		    k, name)
		{
			long long c = name_find(
			    v.sw_by_name, nsw, json_string_value(name));
			if (c != -1)
				is_child[c] = 1;
		}
	}
	for (i = 0; i < nsw; i++)
		switch_sum(&v, i, 0);
	for (i = 0; i < nsw; i++) {
		if (!is_child[i])
			switch_rows(&v, i, 0);
	}
	/* A loop of switches has no root: show what is left all the same. */
	for (i = 0; i < nsw; i++)
		switch_rows(&v, i, 0);
	/* Nodes under no switch (a cluster without topology.conf). */
	for (i = 0; i < nn; i++) {
		if (!v.node_shown[i])
			node_row(&v, i, 0);
	}
	table_print(v.table, stdout, OUTPUT_WIDTH);
	nodes_summary(v.nodes);
	nodes_health_print(json_object_get(reply, "health"));

	table_free(v.table);
	free(is_child);
	free(v.node_shown);
	free(v.sw_shown);
	free(v.sw_state);
	free(v.sw_total);
	free(v.sw_free);
	free(v.node_by_name);
	free(v.sw_by_name);
}

static int
cmd_nodes_exec(struct llmctl *ctx, struct args *args)
{
	enum output_format fmt;
	const char *snap;
	json_t *reply;
	char *cause = NULL;
	size_t len;
	int rc = CMD_OK;

	if (job_output_format(args, &fmt) != 0)
		return CMD_USAGE;
	if (args->argc == 2 && strcmp(args->argv[0], "clear") == 0)
		return nodes_clear(ctx, args->argv[1], fmt);
	if (args->argc != 0)
		return cmd_usage(&cmd_nodes_entry);
	if (client_request(llmctl_client(ctx), "GET", "/v1/nodes", NULL, &reply,
	        &cause) != CLIENT_OK) {
		fprintf(stderr, "llmctl: %s\n", cause);
		free(cause);
		return CMD_FAILED;
	}
	/* YAML is the snapshot itself, not the reply: plan --cluster reads it */
	if (fmt == OUTPUT_YAML) {
		/* The snapshot goes to a file as it is: no sanitising. */
		snap = json_string_value(json_object_get(reply, "snapshot"));
		if (snap == NULL) {
			fprintf(stderr, "llmctl: llmctld sent no snapshot\n");
			rc = CMD_FAILED;
		} else {
			len = json_string_length(
			    json_object_get(reply, "snapshot"));
			fwrite(snap, 1, len, stdout);
			if (len > 0 && snap[len - 1] != '\n')
				putchar('\n');
		}
	} else if (fmt == OUTPUT_JSON)
		output_json(stdout, reply);
	else if (!json_is_array(json_object_get(reply, "nodes"))) {
		fprintf(stderr, "llmctl: llmctld sent no node list\n");
		rc = CMD_FAILED;
	} else
		nodes_print(reply);
	json_decref(reply);
	return rc;
}
