/*
 * spec: the job spec, version 1 (docs/design.md section 2).
 *
 * The fields are declared once, in the tables below, with their kind, range
 * and place in struct spec. spec_build() walks a document tree (from YAML or
 * JSON, see spec-tree.c) against them: every key is looked up (unknown ones
 * get a did-you-mean), every value converted and checked (spec-value.c),
 * and after the walk the rules that tie fields together are checked with
 * the position of the field they blame. All errors are collected; nothing stops at the first.
 */
#include "config.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostlist.h"
#include "spec.h"
#include "spec-int.h"
#include "util.h"

#define MAX_NODES 65536
#define MAX_GPUS 256
#define MAX_TASKS 1024
#define MAX_RANKS (1 << 26)
#define MAX_COUNT 100000
#define WARN_MAX_S 65535 /* Slurm's warn_time is 16 bits */

static void unknown_key(
    struct walk *, uint32_t, const struct field *, size_t, const char *);
static void spec_defaults(struct spec *);
static void cross_check(struct walk *, const char *);
static void check_canonical(struct walk *);
static void warning_check(struct walk *);
static int check_version(struct walk *);

#define OFF(m) offsetof(struct spec, m)

static const struct field resources_fields[] = {
	{ .name = "nodes",
	    .id = F_NODES,
	    .kind = K_INT,
	    .off = OFF(resources.nodes),
	    .min = 1,
	    .max = MAX_NODES,
	    .required = 1 },
	{ .name = "gpus_per_node",
	    .id = F_GPUS,
	    .kind = K_INT,
	    .off = OFF(resources.gpus_per_node),
	    .min = 0,
	    .max = MAX_GPUS,
	    .required = 1 },
	{ .name = "tasks_per_node",
	    .id = F_TASKS,
	    .kind = K_INT,
	    .off = OFF(resources.tasks_per_node),
	    .min = 1,
	    .max = MAX_TASKS },
	{ .name = "gpu_type",
	    .id = F_GPU_TYPE,
	    .kind = K_NAME,
	    .off = OFF(resources.gpu_type) },
	{ .name = "cpus_per_gpu",
	    .id = F_CPUS_PER_GPU,
	    .kind = K_INT,
	    .off = OFF(resources.cpus_per_gpu),
	    .min = 0,
	    .max = 4096 },
	{ .name = "mem_per_node",
	    .id = F_MEM,
	    .kind = K_MEMORY,
	    .off = OFF(resources.mem_per_node_mb) },
	{ .name = "partition",
	    .id = F_PARTITION,
	    .kind = K_NAME,
	    .off = OFF(resources.partition) },
	{ .name = "account",
	    .id = F_ACCOUNT,
	    .kind = K_NAME,
	    .off = OFF(resources.account) },
	{ .name = "qos",
	    .id = F_QOS,
	    .kind = K_NAME,
	    .off = OFF(resources.qos) },
	{ .name = "time_limit",
	    .id = F_TIME_LIMIT,
	    .kind = K_DURATION,
	    .off = OFF(resources.time_limit_s) },
	{ .name = "spare_nodes",
	    .id = F_SPARE_NODES,
	    .kind = K_INT,
	    .off = OFF(resources.spare_nodes),
	    .min = 0,
	    .max = 64 },
};

static const struct field parallel_fields[] = {
	{ .name = "tensor",
	    .id = F_TENSOR,
	    .kind = K_INT,
	    .off = OFF(parallel.tensor),
	    .min = 1,
	    .max = MAX_RANKS },
	{ .name = "pipeline",
	    .id = F_PIPELINE,
	    .kind = K_INT,
	    .off = OFF(parallel.pipeline),
	    .min = 1,
	    .max = MAX_RANKS },
	{ .name = "data",
	    .id = F_DATA,
	    .kind = K_INT,
	    .off = OFF(parallel.data),
	    .min = 1,
	    .max = MAX_RANKS },
	{ .name = "launcher",
	    .id = F_LAUNCHER,
	    .kind = K_LAUNCHER,
	    .off = OFF(parallel.launcher) },
};

static const struct field placement_fields[] = {
	{ .name = "policy",
	    .id = F_POLICY,
	    .kind = K_POLICY,
	    .off = OFF(placement.policy) },
	{ .name = "max_leaf_switches",
	    .id = F_MAX_LEAF,
	    .kind = K_INT,
	    .off = OFF(placement.max_leaf_switches),
	    .min = 1,
	    .max = MAX_NODES },
	{ .name = "max_wait",
	    .id = F_MAX_WAIT,
	    .kind = K_DURATION,
	    .off = OFF(placement.max_wait_s) },
	{ .name = "exclude", .id = F_EXCLUDE, .kind = K_EXCLUDE },
};

static const struct field checkpoint_fields[] = {
	{ .name = "dir",
	    .id = F_CKPT_DIR,
	    .kind = K_PATH,
	    .off = OFF(checkpoint.dir) },
	{ .name = "pattern",
	    .id = F_PATTERN,
	    .kind = K_PATTERN,
	    .off = OFF(checkpoint.pattern) },
	{ .name = "keep",
	    .id = F_KEEP,
	    .kind = K_INT,
	    .off = OFF(checkpoint.keep),
	    .min = 0,
	    .max = MAX_COUNT },
	{ .name = "file",
	    .id = F_CKPT_FILE,
	    .kind = K_STRING,
	    .off = OFF(checkpoint.file) },
	{ .name = "settle",
	    .id = F_SETTLE,
	    .kind = K_DURATION,
	    .off = OFF(checkpoint.settle_s) },
};

static const struct field recovery_fields[] = {
	{ .name = "max_restarts",
	    .id = F_MAX_RESTARTS,
	    .kind = K_INT,
	    .off = OFF(recovery.max_restarts),
	    .min = 0,
	    .max = MAX_COUNT },
	{ .name = "max_infra_restarts",
	    .id = F_MAX_INFRA,
	    .kind = K_INT,
	    .off = OFF(recovery.max_infra_restarts),
	    .min = 0,
	    .max = MAX_COUNT },
	{ .name = "backoff",
	    .id = F_BACKOFF,
	    .kind = K_DURATION,
	    .off = OFF(recovery.backoff_s) },
	{ .name = "no_progress_limit",
	    .id = F_NO_PROGRESS,
	    .kind = K_INT,
	    .off = OFF(recovery.no_progress_limit),
	    .min = 0,
	    .max = MAX_COUNT },
};

static const struct field health_fields[] = {
	{ .name = "heartbeat_timeout",
	    .id = F_HEARTBEAT,
	    .kind = K_DURATION,
	    .off = OFF(health.heartbeat_timeout_s) },
	{ .name = "startup_timeout",
	    .id = F_STARTUP,
	    .kind = K_DURATION,
	    .off = OFF(health.startup_timeout_s) },
	{ .name = "preflight",
	    .id = F_PREFLIGHT,
	    .kind = K_STRING,
	    .off = OFF(health.preflight) },
};

static const struct field warning_fields[] = {
	{ .name = "signal", .id = F_WARN_SIGNAL, .kind = K_SIGNAL },
	{ .name = "before",
	    .id = F_WARN_BEFORE,
	    .kind = K_DURATION,
	    .off = OFF(warning.before_s) },
};

static const struct field fabric_fields[] = {
	{ .name = "type", .id = F_FABRIC_TYPE, .kind = K_FABRIC },
	{ .name = "interface",
	    .id = F_FABRIC_IF,
	    .kind = K_STRING,
	    .off = OFF(fabric.interface) },
	{ .name = "hca",
	    .id = F_FABRIC_HCA,
	    .kind = K_STRING,
	    .off = OFF(fabric.hca) },
};

static const struct field notify_fields[] = {
	{ .name = "webhook",
	    .id = F_WEBHOOK,
	    .kind = K_STRING,
	    .off = OFF(notify.webhook) },
	{ .name = "on",
	    .id = F_NOTIFY_ON,
	    .kind = K_NOTIFY_ON,
	    .off = OFF(notify.on) },
};

#define SECTION(n, i, t, r) \
	{ \
		.name = n, .id = i, .kind = K_SECTION, .required = r, \
		.sub = t, .nsub = nitems(t) \
	}

static const struct field top_fields[] = {
	{ .name = "version",
	    .id = F_VERSION,
	    .kind = K_VERSION,
	    .off = OFF(version),
	    .min = 1,
	    .max = INT_MAX,
	    .required = 1 },
	{ .name = "name",
	    .id = F_NAME,
	    .kind = K_NAME,
	    .off = OFF(name),
	    .required = 1 },
	{ .name = "command",
	    .id = F_COMMAND,
	    .kind = K_COMMAND,
	    .required = 1 },
	{ .name = "workdir",
	    .id = F_WORKDIR,
	    .kind = K_PATH,
	    .off = OFF(workdir) },
	{ .name = "env", .id = F_ENV, .kind = K_ENV },
	SECTION("resources", F_RESOURCES, resources_fields, 1),
	SECTION("parallel", F_PARALLEL, parallel_fields, 0),
	SECTION("placement", F_PLACEMENT, placement_fields, 0),
	SECTION("checkpoint", F_CHECKPOINT, checkpoint_fields, 0),
	SECTION("recovery", F_RECOVERY, recovery_fields, 0),
	SECTION("health", F_HEALTH, health_fields, 0),
	SECTION("warning", F_WARNING, warning_fields, 0),
	SECTION("fabric", F_FABRIC, fabric_fields, 0),
	SECTION("notify", F_NOTIFY, notify_fields, 0),
};

/* A field and everything under it can take part in no cross-field rule. */
void
spec_mark_bad(struct walk *w, const struct field *f)
{
	size_t i;

	w->bad[f->id] = 1;
	for (i = 0; i < f->nsub; i++)
		spec_mark_bad(w, &f->sub[i]);
}

static void
unknown_key(struct walk *w, uint32_t k, const struct field *tab, size_t n,
    const char *path)
{
	const char *names[16], *key = spec_tree_str(w->t, k), *near;
	const struct field *s;
	size_t i, j;

	for (i = 0; i < n && i < nitems(names); i++)
		names[i] = tab[i].name;
	if ((near = spec_suggest(key, names, i)) != NULL) {
		spec_err(w->errs, w->t, k, path,
		    "unknown key; did you mean %s?", near);
		return;
	}
	/* A key of another section, written at the wrong level. */
	for (i = 0; i < nitems(top_fields); i++) {
		s = &top_fields[i];
		for (j = 0; j < s->nsub; j++) {
			if (s->sub[j].kind == K_SECTION ||
			    strcmp(s->sub[j].name, key) != 0 || s->sub == tab)
				continue;
			spec_err(w->errs, w->t, k, path,
			    "unknown key; did you mean %s.%s?", s->name, key);
			return;
		}
		if (strcmp(s->name, key) == 0 && tab != top_fields) {
			spec_err(w->errs, w->t, k, path,
			    "unknown key; %s "
			    "belongs at the top level",
			    key);
			return;
		}
	}
	spec_err(w->errs, w->t, k, path, "unknown key");
}

/* Walk the keys of map against the fields in tab, under prefix. */
void
spec_walk_map(struct walk *w, uint32_t map, const struct field *tab, size_t n,
    const char *prefix)
{
	const struct ytree *t = w->t;
	const struct field *f;
	const char *key;
	char *path;
	uint32_t k, v;
	size_t i;

	k = t->v[map].type == Y_MAP ? t->v[map].first : YNONE;
	for (; k != YNONE && !FULL(w); k = t->v[v].next) {
		v = t->v[k].next;
		key = spec_tree_str(t, k);
		path = spec_path_join(prefix, key, t->v[k].len);
		for (i = 0, f = NULL; i < n && f == NULL; i++)
			if (strcmp(tab[i].name, key) == 0)
				f = &tab[i];
		if (f == NULL)
			unknown_key(w, k, tab, n, path);
		else if (w->key[f->id] != YNONE) {
			spec_err(w->errs, t, k, path,
			    "duplicate key; first given at line %u",
			    t->v[w->key[f->id]].line);
			w->bad[f->id] = 1;
		} else {
			w->key[f->id] = k;
			spec_walk_value(w, f, v, path);
		}
		free(path);
	}
	for (i = 0; i < n; i++) {
		if (!tab[i].required || w->key[tab[i].id] != YNONE)
			continue;
		path = spec_path_join(prefix, tab[i].name, strlen(tab[i].name));
		spec_err(w->errs, t, map, path, "required key is missing");
		free(path);
		spec_mark_bad(w, &tab[i]);
	}
}

#define USABLE(w, id) (!(w)->bad[id])
#define GIVEN(w, id) ((w)->at[id] != YNONE)

/* The warning must come before the limit, and a limit must be set. */
static void
warning_check(struct walk *w)
{
	const struct spec *sp = w->sp;
	char *a, *b;

	if (!USABLE(w, F_WARN_SIGNAL) || sp->warning.signal == SPEC_SIG_NONE)
		return;
	if (USABLE(w, F_WARN_BEFORE) &&
	    (sp->warning.before_s <= 0 || sp->warning.before_s > WARN_MAX_S))
		spec_err(w->errs, w->t, w->at[F_WARN_BEFORE], "warning.before",
		    "must be 1s to %ds (Slurm's limit)", WARN_MAX_S);
	else if (USABLE(w, F_TIME_LIMIT) && sp->resources.time_limit_s == 0)
		spec_err(w->errs, w->t, w->at[F_WARN_SIGNAL], "warning.signal",
		    "needs resources.time_limit (a warning before the limit)");
	else if (USABLE(w, F_WARN_BEFORE) && USABLE(w, F_TIME_LIMIT) &&
	    sp->warning.before_s >= sp->resources.time_limit_s) {
		a = spec_format_duration(sp->warning.before_s);
		b = spec_format_duration(sp->resources.time_limit_s);
		spec_err(w->errs, w->t,
		    GIVEN(w, F_WARN_BEFORE) ? w->at[F_WARN_BEFORE]
		                            : w->at[F_WARN_SIGNAL],
		    "warning.before",
		    "%s%s is not shorter than "
		    "resources.time_limit (%s)",
		    a, GIVEN(w, F_WARN_BEFORE) ? "" : " (the default)", b);
		free(a);
		free(b);
	}
}

/* The rules between fields; each blames the field a user would change. */
static void
cross_check(struct walk *w, const char *default_workdir)
{
	struct spec *sp = w->sp;
	const struct ytree *t = w->t;
	int gpus = sp->resources.gpus_per_node, tasks, tp, pp;
	int64_t world;
	char *a, *b;
	enum fid at;

	if (!GIVEN(w, F_WORKDIR) && default_workdir != NULL) {
		if (*default_workdir != '/')
			spec_err(w->errs, t, t->root, "workdir",
			    "the default working directory is not absolute");
		else
			sp->workdir = xstrdup(default_workdir);
	}
	if (!GIVEN(w, F_TASKS)) {
		if (USABLE(w, F_GPUS))
			sp->resources.tasks_per_node = gpus > 0 ? gpus : 1;
		else
			w->bad[F_TASKS] = 1; /* unknown, so no rules */
	}
	/* a spare takes over a node's ranks in a new step of the job */
	if (GIVEN(w, F_SPARE_NODES) && USABLE(w, F_LAUNCHER) &&
	    sp->resources.spare_nodes > 0 &&
	    sp->parallel.launcher == LAUNCHER_SCRIPT)
		spec_err(w->errs, t, w->at[F_SPARE_NODES],
		    "resources.spare_nodes",
		    "needs a launcher that llmctl starts the ranks with (srun, "
		    "torchrun or mpi), not script");
	if (USABLE(w, F_GPUS) && USABLE(w, F_TASKS) && USABLE(w, F_LAUNCHER)) {
		tasks = sp->resources.tasks_per_node;
		if (GIVEN(w, F_TASKS) && gpus > 0 && tasks != gpus &&
		    sp->parallel.launcher != LAUNCHER_TORCHRUN &&
		    sp->parallel.launcher != LAUNCHER_SCRIPT) {
			spec_err(w->errs, t, w->at[F_TASKS],
			    "resources.tasks_per_node",
			    "must equal "
			    "gpus_per_node (%d) with launcher %s, which starts "
			    "one task per GPU",
			    gpus, spec_launcher_name(sp->parallel.launcher));
			w->bad[F_TASKS] = 1;
		}
		if (sp->parallel.launcher == LAUNCHER_TORCHRUN && gpus == 0 &&
		    !GIVEN(w, F_TASKS))
			spec_err(w->errs, t, w->at[F_LAUNCHER],
			    "parallel.launcher",
			    "torchrun needs gpus_per_node "
			    "> 0 or an explicit resources.tasks_per_node");
	}
	if (USABLE(w, F_GPUS) && gpus == 0) {
		if (GIVEN(w, F_GPU_TYPE) && USABLE(w, F_GPU_TYPE))
			spec_err(w->errs, t, w->at[F_GPU_TYPE],
			    "resources.gpu_type", "needs gpus_per_node > 0");
		if (GIVEN(w, F_CPUS_PER_GPU) && USABLE(w, F_CPUS_PER_GPU) &&
		    sp->resources.cpus_per_gpu > 0)
			spec_err(w->errs, t, w->at[F_CPUS_PER_GPU],
			    "resources.cpus_per_gpu",
			    "needs gpus_per_node > 0");
	}
	if (USABLE(w, F_NODES) && USABLE(w, F_GPUS) && USABLE(w, F_TASKS) &&
	    USABLE(w, F_TENSOR) && USABLE(w, F_PIPELINE) && USABLE(w, F_DATA)) {
		tasks = sp->resources.tasks_per_node;
		tp = sp->parallel.tensor;
		pp = sp->parallel.pipeline;
		world = (int64_t)sp->resources.nodes * tasks;
		if (tasks % tp != 0)
			spec_err(w->errs, t, w->at[F_TENSOR], "parallel.tensor",
			    "%d does not divide the %d tasks per node (a "
			    "tensor-parallel group must fit in one node)",
			    tp, tasks);
		if (GIVEN(w, F_DATA)) {
			if ((int64_t)tp * pp * sp->parallel.data != world)
				spec_err(w->errs, t, w->at[F_DATA],
				    "parallel.data",
				    "tensor %d * pipeline %d * "
				    "data %d = %lld, but the world size is %lld "
				    "(%d nodes * %d tasks)",
				    tp, pp, sp->parallel.data,
				    (long long)tp * pp * sp->parallel.data,
				    (long long)world, sp->resources.nodes,
				    tasks);
		} else if (world % ((int64_t)tp * pp) != 0) {
			at = GIVEN(w, F_PIPELINE) ? F_PIPELINE : F_TENSOR;
			spec_err(w->errs, t, w->at[at],
			    at == F_PIPELINE ? "parallel.pipeline"
			                     : "parallel.tensor",
			    "tensor %d * pipeline %d = %lld does not divide the "
			    "world size %lld (%d nodes * %d tasks)",
			    tp, pp, (long long)tp * pp, (long long)world,
			    sp->resources.nodes, tasks);
		} else
			sp->parallel.data = (int)(world / ((int64_t)tp * pp));
	}
	if (USABLE(w, F_HEARTBEAT) && USABLE(w, F_STARTUP) &&
	    sp->health.heartbeat_timeout_s != 0 &&
	    sp->health.startup_timeout_s < sp->health.heartbeat_timeout_s) {
		a = spec_format_duration(sp->health.startup_timeout_s);
		b = spec_format_duration(sp->health.heartbeat_timeout_s);
		if (GIVEN(w, F_STARTUP))
			spec_err(w->errs, t, w->at[F_STARTUP],
			    "health.startup_timeout",
			    "%s is shorter than "
			    "heartbeat_timeout (%s)",
			    a, b);
		else
			spec_err(w->errs, t, w->at[F_HEARTBEAT],
			    "health.heartbeat_timeout",
			    "%s is longer than "
			    "startup_timeout (%s, the default); raise "
			    "startup_timeout",
			    b, a);
		free(a);
		free(b);
	}
	warning_check(w);
	if (GIVEN(w, F_FABRIC_HCA) && USABLE(w, F_FABRIC_HCA) &&
	    USABLE(w, F_FABRIC_TYPE) && sp->fabric.type != FABRIC_INFINIBAND)
		spec_err(w->errs, t, w->at[F_FABRIC_HCA], "fabric.hca",
		    "needs fabric.type infiniband");
	if (USABLE(w, F_KEEP) && sp->checkpoint.keep > 0 &&
	    sp->checkpoint.dir == NULL && USABLE(w, F_CKPT_DIR))
		spec_err(w->errs, t, w->at[F_KEEP], "checkpoint.keep",
		    "needs checkpoint.dir");
	if (USABLE(w, F_CKPT_FILE) && sp->checkpoint.file != NULL) {
		if (sp->checkpoint.dir == NULL && USABLE(w, F_CKPT_DIR))
			spec_err(w->errs, t, w->at[F_CKPT_FILE],
			    "checkpoint.file", "needs checkpoint.dir");
		else if (*sp->checkpoint.file == '\0' ||
		    strchr(sp->checkpoint.file, '/') != NULL ||
		    strcmp(sp->checkpoint.file, ".") == 0 ||
		    strcmp(sp->checkpoint.file, "..") == 0)
			spec_err(w->errs, t, w->at[F_CKPT_FILE],
			    "checkpoint.file",
			    "must be a file name in "
			    "checkpoint.dir, without '/'");
	}
}

/*
 * What is accepted must read back from its canonical YAML, which is bigger
 * than the input when host lists expand and strings need escapes (at most
 * 6 bytes a byte, 16 a node). Below SMALL bytes of text and expanded names
 * it cannot reach the limits; above, it is written out and measured.
 */
#define SMALL 16384
static void
check_canonical(struct walk *w)
{
	const struct spec *sp = w->sp;
	size_t i, names = 0, len, nodes;
	char *yaml;

	for (i = 0; i < sp->placement.nexclude; i++)
		names += strlen(sp->placement.exclude[i]);
	if (w->t->tlen < SMALL && names < SMALL)
		return;
	/* Each name is at least its bytes and 8 more: no need to look. */
	len = names + 8 * sp->placement.nexclude;
	if (len <= SPEC_MAX_BYTES) {
		yaml = spec_to_yaml(sp);
		len = strlen(yaml);
		free(yaml);
	}
	nodes = sp->argc + 2 * sp->nenv + sp->placement.nexclude;
	if (len <= SPEC_MAX_BYTES && nodes <= SPEC_MAX_NODES - 128)
		return;
	if (names >= SMALL && len > SPEC_MAX_BYTES)
		spec_err(w->errs, w->t, w->at[F_EXCLUDE], "placement.exclude",
		    "expands to %zu names (%zu bytes); written out, the spec "
		    "would be over %d bytes",
		    sp->placement.nexclude, names, SPEC_MAX_BYTES);
	else if (len > SPEC_MAX_BYTES)
		spec_err(w->errs, w->t, w->t->root, NULL,
		    "the spec is %zu "
		    "bytes written out in full; the limit is %d",
		    len, SPEC_MAX_BYTES);
	else
		spec_err(w->errs, w->t, w->t->root, NULL,
		    "the spec has more "
		    "than %d YAML nodes written out in full (%zu env variables, "
		    "%zu excluded nodes)",
		    SPEC_MAX_NODES - 128, sp->nenv, sp->placement.nexclude);
}

/* A version this llmctl cannot read: say so, and nothing else. */
static int
check_version(struct walk *w)
{
	const struct ytree *t = w->t;
	uint32_t k, v;
	const char *s;

	for (k = t->v[t->root].first; k != YNONE; k = t->v[v].next) {
		v = t->v[k].next;
		if (strcmp(spec_tree_str(t, k), "version") != 0)
			continue;
		s = spec_tree_str(t, v);
		if (t->v[v].type != Y_SCALAR || !t->v[v].plain || *s == '\0' ||
		    s[strspn(s, "0123456789")] != '\0' || strcmp(s, "1") == 0 ||
		    t->v[v].len > 9)
			return 0;
		spec_err(w->errs, t, v, "version",
		    "unsupported version %s; "
		    "this llmctl reads version %d",
		    s, SPEC_VERSION);
		return -1;
	}
	return 0;
}

static void
spec_defaults(struct spec *sp)
{
	sp->parallel.tensor = 1;
	sp->parallel.pipeline = 1;
	sp->parallel.launcher = LAUNCHER_SRUN;
	sp->placement.policy = POLICY_PACK;
	sp->placement.max_wait_s = 60;
	sp->checkpoint.pattern = xstrdup("step_{step}");
	sp->checkpoint.settle_s = 30;
	sp->recovery.max_restarts = 3;
	sp->recovery.max_infra_restarts = 10;
	sp->recovery.backoff_s = 30;
	sp->recovery.no_progress_limit = 3;
	sp->health.heartbeat_timeout_s = 600;
	sp->health.startup_timeout_s = 1800;
	sp->warning.before_s = 120;
	sp->notify.on = SPEC_NOTIFY_ALL;
}

struct spec *
spec_build(
    const struct ytree *t, const char *default_workdir, struct spec_errs *errs)
{
	struct walk w = { .t = t, .errs = errs };
	char *g;
	size_t i;

	if (t->root == YNONE || spec_tree_null(t, t->root)) {
		spec_err(errs, t, t->root, NULL, "the spec is empty");
		return NULL;
	}
	if (t->v[t->root].type != Y_MAP) {
		g = spec_got(&w, t->root);
		spec_err(errs, t, t->root, NULL,
		    "expected a mapping of keys at the top level, got %s", g);
		free(g);
		return NULL;
	}
	if (check_version(&w) != 0)
		return NULL;
	for (i = 0; i < F_COUNT; i++)
		w.key[i] = w.at[i] = YNONE;
	w.sp = xcalloc(1, sizeof(*w.sp));
	spec_defaults(w.sp);
	spec_walk_map(&w, t->root, top_fields, nitems(top_fields), "");
	cross_check(&w, default_workdir);
	w.sp->placement.exclude = w.exclude.names;
	w.sp->placement.nexclude = w.exclude.n;
	if (errs->n == 0)
		check_canonical(&w);
	if (errs->n != 0) {
		spec_free(w.sp);
		return NULL;
	}
	return w.sp;
}

struct spec *
spec_parse(const char *buf, size_t len, const char *filename,
    const char *default_workdir, char **cause)
{
	struct spec_errs errs = { .file =
		                      filename != NULL ? filename : "<spec>" };
	struct ytree t;
	struct spec *sp = NULL;

	if (spec_tree_yaml(&t, buf, len, &errs) == 0) {
		sp = spec_build(&t, default_workdir, &errs);
		spec_tree_free(&t);
	}
	if (sp == NULL && cause != NULL)
		*cause = spec_errs_join(&errs);
	spec_errs_clear(&errs);
	return sp;
}

struct spec *
spec_from_json(const json_t *j, char **cause)
{
	struct spec_errs errs = { .file = NULL };
	struct ytree t;
	struct spec *sp = NULL;

	if (spec_tree_json(&t, j, &errs) == 0) {
		sp = spec_build(&t, NULL, &errs);
		spec_tree_free(&t);
	}
	if (sp == NULL && cause != NULL)
		*cause = spec_errs_join(&errs);
	spec_errs_clear(&errs);
	return sp;
}

void
spec_free(struct spec *sp)
{
	size_t i;

	if (sp == NULL)
		return;
	free(sp->name);
	free(sp->command);
	for (i = 0; i < sp->argc; i++)
		free(sp->argv[i]);
	free(sp->argv);
	free(sp->workdir);
	for (i = 0; i < sp->nenv; i++) {
		free(sp->env[i].key);
		free(sp->env[i].value);
	}
	free(sp->env);
	free(sp->resources.gpu_type);
	free(sp->resources.partition);
	free(sp->resources.account);
	free(sp->resources.qos);
	for (i = 0; i < sp->placement.nexclude; i++)
		free(sp->placement.exclude[i]);
	free(sp->placement.exclude);
	free(sp->checkpoint.dir);
	free(sp->checkpoint.pattern);
	free(sp->checkpoint.file);
	free(sp->health.preflight);
	free(sp->fabric.interface);
	free(sp->fabric.hca);
	free(sp->notify.webhook);
	free(sp);
}
