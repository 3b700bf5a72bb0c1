/*
 * llmctl plan: where a job would run, without submitting it.
 *
 * Against the live cluster the spec goes to llmctld (POST /v1/plan, the
 * same body as submit) and nothing is stored. With --cluster the plan is
 * made here, on a snapshot file such as `llmctl nodes -o yaml` writes, by
 * the same lib/ planner the daemon runs, so no daemon is needed. Either way
 * the plan JSON of plan_to_json() is what gets printed: as a tree of
 * switches, nodes and ranks, or as it is with -o json.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "job.h"
#include "llmctl.h"
#include "output.h"
#include "plan.h"
#include "spec.h"
#include "topo.h"
#include "util.h"

/* Snapshots of the largest clusters are a few MiB: leave room. */
#define PLAN_SNAPSHOT_MAX (64 * 1024 * 1024)
#define PLAN_GAP 3 /* spaces between the columns of a node line */

struct plan_line {
	char *col[4]; /* indented name, ranks, gpus, tp/pp/dp */
	char *extra; /* "failures N" or NULL */
	size_t depth;
};

static int cmd_plan_exec(struct llmctl *, struct args *);
static json_t *plan_local(const char *, const char *, const char *);
static json_t *plan_remote(struct llmctl *, const char *, const char *);
static int int_cmp(const void *, const void *);
static char *plan_ranges(long long *, size_t);
static char *plan_field_ranges(const json_t *, const json_t *, const char *);
static const json_t *plan_rank(const json_t *, json_int_t);
static void plan_print(const json_t *);
static void plan_add_env(json_t *, const char *, const char *);

const struct cmd_entry cmd_plan_entry = {
	.name = "plan",
	.usage = "[-o json|yaml] [--cluster snapshot] file",
	.about = "Show where a job would run, without submitting it.",
	.args = { .template = "o:",
	    .lower = 1,
	    .upper = 1,
	    .operand = "file",
	    .longs = (const struct args_long[]){ ARGS_OUTPUT,
	        { .ch = 'c',
	            .name = "cluster",
	            .has_arg = 1,
	            .arg = "snapshot",
	            .help = "plan here on this snapshot file, no "
	                    "daemon" },
	        { 0 } } },
	.exec = cmd_plan_exec,
};

/* The plan made here on the snapshot file; NULL after printing why not. */
static json_t *
plan_local(const char *file, const char *snapshot, const char *cwd)
{
	struct plan_request req;
	struct spec *spec = NULL;
	struct topo *topo = NULL;
	struct plan *p = NULL;
	const char **names = NULL;
	char *buf = NULL, *cause = NULL;
	json_t *j = NULL;
	size_t len;

	if ((spec = job_spec_read(file, cwd, &buf, &len)) == NULL)
		goto out;
	free(buf);
	buf = NULL;
	if (read_file(snapshot, PLAN_SNAPSHOT_MAX, &buf, &len, &cause) != 0) {
		fprintf(stderr, "llmctl: %s\n", cause);
		goto out;
	}
	if ((topo = topo_from_yaml(buf, len, snapshot, &cause)) == NULL) {
		fprintf(stderr, "%s\n", cause);
		goto out;
	}
	if (plan_request_from_spec(spec, NULL, 0, &req, &names, &cause) != 0 ||
	    (p = plan_make(topo, &req, &cause)) == NULL) {
		fprintf(stderr, "llmctl: %s\n", cause);
		goto out;
	}
	j = plan_to_json(p, topo);
out:
	plan_free(p);
	free(names);
	topo_free(topo);
	spec_free(spec);
	free(cause);
	free(buf);
	return j;
}

/* The daemon's plan on the live cluster; NULL after printing why not. */
static json_t *
plan_remote(struct llmctl *ctx, const char *file, const char *cwd)
{
	json_t *body, *reply = NULL, *plan = NULL;
	char *cause = NULL;

	/* Report spec errors at once, as submit does. */
	if ((body = job_body(file, cwd, NULL)) == NULL)
		return NULL;
	if (client_request(llmctl_client(ctx), "POST", "/v1/plan", body, &reply,
	        &cause) != CLIENT_OK) {
		fprintf(stderr, "llmctl: %s\n", cause);
		goto out;
	}
	plan = json_object_get(reply, "plan");
	if (!json_is_object(plan)) {
		fprintf(stderr, "llmctl: llmctld sent no plan\n");
		plan = NULL;
		goto out;
	}
	json_incref(plan);
out:
	json_decref(reply);
	json_decref(body);
	free(cause);
	return plan;
}

static int
int_cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/* Sorted, without duplicates, runs folded: "0-3,8,10-11". Sorts v. */
static char *
plan_ranges(long long *v, size_t n)
{
	char *s = xstrdup(""), *t;
	size_t i, j;

	qsort(v, n, sizeof *v, int_cmp);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && v[j] <= v[j - 1] + 1; j++)
			;
		if (v[j - 1] == v[i])
			t = xasprintf("%s%s%lld", s, i > 0 ? "," : "", v[i]);
		else
			t = xasprintf("%s%s%lld-%lld", s, i > 0 ? "," : "",
			    v[i], v[j - 1]);
		free(s);
		s = t;
	}
	return s;
}

/* The rank object for rank r: ranks[r] when in order, else searched. */
static const json_t *
plan_rank(const json_t *ranks, json_int_t r)
{
	const json_t *o;
	size_t i;

	o = r >= 0 ? json_array_get(ranks, (size_t)r) : NULL;
	if (o != NULL && json_integer_value(json_object_get(o, "rank")) == r)
		return o;
	json_array_foreach(ranks, i, o)
	{
		if (json_integer_value(json_object_get(o, "rank")) == r)
			return o;
	}
	return NULL;
}

/* The values of key over the node's ranks, as ranges; "-" if none. */
static char *
plan_field_ranges(const json_t *node, const json_t *ranks, const char *key)
{
	const json_t *nr, *r, *v;
	long long *vals;
	size_t i, n = 0;
	char *s;

	nr = json_object_get(node, "ranks");
	vals = xreallocarray(NULL, json_array_size(nr) + 1, sizeof *vals);
	json_array_foreach(nr, i, r)
	{
		if (key == NULL)
			v = r;
		else
			v = json_object_get(
			    plan_rank(ranks, json_integer_value(r)), key);
		/* gpu -1: a CPU-only rank has no GPU to show. */
		if (json_is_integer(v) && json_integer_value(v) >= 0)
			vals[n++] = json_integer_value(v);
	}
	s = n > 0 ? plan_ranges(vals, n) : xstrdup("-");
	free(vals);
	return s;
}

static void
plan_print(const json_t *plan)
{
	const json_t *nodes, *ranks, *node, *path, *prev = NULL, *m;
	struct plan_line *lines;
	size_t i, j, k, w[4] = { 0 }, n;
	char b[64], *s, *tp, *pp, *dp;

	nodes = json_object_get(plan, "nodes");
	ranks = json_object_get(plan, "ranks");
	n = json_array_size(nodes);
	printf("world size %s", output_field(plan, "world_size", b, sizeof b));
	printf(" (tp %s", output_field(plan, "tensor", b, sizeof b));
	printf(", pp %s", output_field(plan, "pipeline", b, sizeof b));
	printf(", dp %s)", output_field(plan, "data", b, sizeof b));
	printf(", %zu nodes", n);
	printf(
	    " x %s ranks", output_field(plan, "tasks_per_node", b, sizeof b));
	printf(", policy %s\n", output_field(plan, "policy", b, sizeof b));

	lines = xcalloc(n + 1, sizeof *lines);
	json_array_foreach(nodes, i, node)
	{
		lines[i].depth = json_array_size(json_object_get(node, "path"));
		s = output_sanitise(output_field(node, "name", b, sizeof b));
		lines[i].col[0] =
		    xasprintf("%*s%s", (int)(2 * lines[i].depth), "", s);
		free(s);
		s = plan_field_ranges(node, ranks, NULL);
		lines[i].col[1] = xasprintf("ranks %s", s);
		free(s);
		s = plan_field_ranges(node, ranks, "gpu");
		lines[i].col[2] = xasprintf("gpus %s", s);
		free(s);
		tp = plan_field_ranges(node, ranks, "tp");
		pp = plan_field_ranges(node, ranks, "pp");
		dp = plan_field_ranges(node, ranks, "dp");
		lines[i].col[3] = xasprintf("tp %s pp %s dp %s", tp, pp, dp);
		free(tp);
		free(pp);
		free(dp);
		if (json_integer_value(json_object_get(node, "failures")) > 0)
			lines[i].extra = xasprintf("failures %s",
			    output_field(node, "failures", b, sizeof b));
		for (k = 0; k < 4; k++) {
			if (output_width(lines[i].col[k]) > w[k])
				w[k] = output_width(lines[i].col[k]);
		}
	}

	json_array_foreach(nodes, i, node)
	{
		/* The switches from where this node's path leaves the last. */
		path = json_object_get(node, "path");
		for (j = 0; j < json_array_size(path) &&
		     json_equal(json_array_get(path, j),
		         json_array_get(json_object_get(prev, "path"), j));
		     j++)
			;
		for (; j < json_array_size(path); j++) {
			printf("%*s", (int)(2 * j), "");
			output_string(stdout,
			    json_string_value(json_array_get(path, j)) != NULL
			        ? json_string_value(json_array_get(path, j))
			        : "-");
			putchar('\n');
		}
		prev = node;
		for (k = 0; k < 4; k++) {
			fputs(lines[i].col[k], stdout);
			if (k < 3 || lines[i].extra != NULL)
				printf("%*s",
				    (int)(w[k] - output_width(lines[i].col[k]) +
				        PLAN_GAP),
				    "");
		}
		if (lines[i].extra != NULL)
			fputs(lines[i].extra, stdout);
		putchar('\n');
	}
	m = json_object_get(plan, "metrics");
	printf("levels spanned %s",
	    output_field(m, "levels_spanned", b, sizeof b));
	printf(", leaf switches %s",
	    output_field(m, "leaf_switches", b, sizeof b));
	printf(", ring leaf crossings %s",
	    output_field(m, "ring_leaf_crossings", b, sizeof b));
	if (json_integer_value(json_object_get(m, "failures")) > 0)
		printf(", recent failures on these nodes %s",
		    output_field(m, "failures", b, sizeof b));
	putchar('\n');
	/* held beside the nodes: where each spare sits in the tree */
	json_array_foreach(json_object_get(plan, "spares"), i, node)
	{
		printf("spare ");
		output_string(stdout, output_field(node, "name", b, sizeof b));
		printf(" under ");
		output_string(stdout, output_field(node, "leaf", b, sizeof b));
		putchar('\n');
	}
	for (i = 0; i < n; i++) {
		for (k = 0; k < 4; k++)
			free(lines[i].col[k]);
		free(lines[i].extra);
	}
	free(lines);
}

/*
 * The variables llmctl will set for every rank from the spec (fabric,
 * OpenMP), as "env"; "omp_auto" when OMP_NUM_THREADS is left to the
 * node's CPUs divided by its ranks, at run time (JSON only: the text
 * shows what is fixed).
 */
static void
plan_add_env(json_t *plan, const char *file, const char *cwd)
{
	struct spec_kv *kv;
	struct spec *spec;
	json_t *env;
	char *buf = NULL;
	size_t len, n, i;
	int omp = 0;

	if ((spec = job_spec_read(file, cwd, &buf, &len)) == NULL)
		return;
	free(buf);
	env = json_object();
	n = spec_rank_env(spec, &kv);
	for (i = 0; i < n; i++)
		json_object_set_new(env, kv[i].key, json_string(kv[i].value));
	spec_kv_free(kv, n);
	for (i = 0; i < spec->nenv; i++)
		omp |= strcmp(spec->env[i].key, "OMP_NUM_THREADS") == 0;
	json_object_set_new(plan, "env", env);
	json_object_set_new(plan, "omp_auto",
	    json_boolean(
	        !omp && json_object_get(env, "OMP_NUM_THREADS") == NULL));
	spec_free(spec);
}

static void
plan_print_env(const json_t *plan)
{
	const char *key;
	json_t *v;

	json_object_foreach(json_object_get(plan, "env"), key, v)
	{
		fputs("env ", stdout);
		output_string(stdout, key);
		putchar('=');
		output_string(stdout, json_string_value(v));
		putchar('\n');
	}
}

static int
cmd_plan_exec(struct llmctl *ctx, struct args *args)
{
	enum output_format fmt;
	const char *snapshot = args_get(args, 'c');
	json_t *plan;
	char *cwd;

	if (job_output_format(args, &fmt) != 0)
		return CMD_USAGE;
	if ((cwd = getcwd(NULL, 0)) == NULL) {
		perror("llmctl: getcwd");
		return CMD_FAILED;
	}
	if (snapshot != NULL)
		plan = plan_local(args->argv[0], snapshot, cwd);
	else
		plan = plan_remote(ctx, args->argv[0], cwd);
	if (plan == NULL) {
		free(cwd);
		return CMD_FAILED;
	}
	plan_add_env(plan, args->argv[0], cwd);
	free(cwd);
	if (fmt != OUTPUT_TABLE)
		output_data(stdout, plan, fmt);
	else {
		plan_print(plan);
		plan_print_env(plan);
	}
	json_decref(plan);
	return CMD_OK;
}
