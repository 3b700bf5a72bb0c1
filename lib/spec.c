/*
 * spec: the job spec, version 1 (DESIGN.md section 2).
 *
 * The fields are declared once, in the tables below, with their kind, range
 * and place in struct spec. spec_build() walks a document tree (from YAML or
 * JSON, see spec-tree.c) against them: every key is looked up (unknown ones
 * get a did-you-mean), every value converted and checked, and after the walk
 * the rules that tie fields together are checked with the position of the
 * field they blame. All errors are collected; nothing stops at the first.
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

#define MAX_NODES	 65536
#define MAX_GPUS	 256
#define MAX_TASKS	 1024
#define MAX_RANKS	 (1 << 26)
#define MAX_COUNT	 100000
#define MAX_PATH	 4095
#define MAX_PATTERN	 255
#define CAUSE_MAX	 200	/* bytes of a hostlist message we repeat */

enum fid {
	F_VERSION, F_NAME, F_COMMAND, F_WORKDIR, F_ENV,
	F_RESOURCES, F_NODES, F_GPUS, F_TASKS, F_GPU_TYPE, F_CPUS_PER_GPU,
	F_MEM, F_PARTITION, F_ACCOUNT, F_QOS, F_TIME_LIMIT,
	F_PARALLEL, F_TENSOR, F_PIPELINE, F_DATA, F_LAUNCHER,
	F_PLACEMENT, F_POLICY, F_MAX_LEAF, F_MAX_WAIT, F_EXCLUDE,
	F_CHECKPOINT, F_CKPT_DIR, F_PATTERN, F_KEEP,
	F_RECOVERY, F_MAX_RESTARTS, F_MAX_INFRA, F_BACKOFF, F_NO_PROGRESS,
	F_HEALTH, F_HEARTBEAT, F_STARTUP, F_PREFLIGHT,
	F_COUNT
};

enum fkind {
	K_SECTION, K_VERSION, K_INT, K_NAME, K_STRING, K_PATH, K_COMMAND,
	K_ENV, K_DURATION, K_MEMORY, K_LAUNCHER, K_POLICY, K_EXCLUDE,
	K_PATTERN,
};

struct field {
	const char		*name;
	enum fid		 id;
	enum fkind		 kind;
	size_t			 off;		/* in struct spec */
	int64_t			 min;		/* K_INT */
	int64_t			 max;
	int			 required;
	const struct field	*sub;		/* K_SECTION */
	size_t			 nsub;
};

struct walk {
	const struct ytree	*t;
	struct spec_errs	*errs;
	struct spec		*sp;
	struct hostlist		 exclude;
	uint32_t		 key[F_COUNT];	/* key node, YNONE: absent */
	uint32_t		 at[F_COUNT];	/* value node, YNONE: default */
	uint8_t			 bad[F_COUNT];	/* invalid or missing */
};

static void	 walk_map(struct walk *, uint32_t, const struct field *,
		    size_t, const char *);
static void	 walk_value(struct walk *, const struct field *, uint32_t,
		    const char *);
static void	 mark_bad(struct walk *, const struct field *);
static void	 unknown_key(struct walk *, uint32_t, const struct field *,
		    size_t, const char *);
static int	 env_cmp(const void *, const void *, void *);
static void	 exclude_err(struct walk *, uint32_t, const char *, char *);
static void	 spec_defaults(struct spec *);
static char	*got(const struct walk *, uint32_t);
static int	 want_scalar(struct walk *, uint32_t, const char *,
		    const char *);
static int	 wrong_type(struct walk *, uint32_t, const char *,
		    const char *);
static int	 get_int(struct walk *, uint32_t, const char *, int64_t,
		    int64_t, int64_t *);
static int	 get_command(struct walk *, uint32_t, const char *);
static int	 get_env(struct walk *, uint32_t, const char *);
static int	 get_exclude(struct walk *, uint32_t, const char *);
static int	 get_choice(struct walk *, uint32_t, const char *,
		    const char *, const char *const *, size_t, int *);
static int	 get_pattern(struct walk *, uint32_t, const char *);
static int	 get_duration(struct walk *, uint32_t, const char *,
		    int64_t *);
static void	 cross_check(struct walk *, const char *);
static void	 check_canonical(struct walk *);
static int	 check_version(struct walk *);

#define OFF(m)	 offsetof(struct spec, m)
/* Nothing more can be reported: stop walking, however big the input. */
#define FULL(w)	 ((w)->errs->n >= SPEC_MAX_ERRORS)

static const struct field resources_fields[] = {
	{ .name = "nodes", .id = F_NODES, .kind = K_INT,
	  .off = OFF(resources.nodes), .min = 1, .max = MAX_NODES,
	  .required = 1 },
	{ .name = "gpus_per_node", .id = F_GPUS, .kind = K_INT,
	  .off = OFF(resources.gpus_per_node), .min = 0, .max = MAX_GPUS,
	  .required = 1 },
	{ .name = "tasks_per_node", .id = F_TASKS, .kind = K_INT,
	  .off = OFF(resources.tasks_per_node), .min = 1, .max = MAX_TASKS },
	{ .name = "gpu_type", .id = F_GPU_TYPE, .kind = K_NAME,
	  .off = OFF(resources.gpu_type) },
	{ .name = "cpus_per_gpu", .id = F_CPUS_PER_GPU, .kind = K_INT,
	  .off = OFF(resources.cpus_per_gpu), .min = 0, .max = 4096 },
	{ .name = "mem_per_node", .id = F_MEM, .kind = K_MEMORY,
	  .off = OFF(resources.mem_per_node_mb) },
	{ .name = "partition", .id = F_PARTITION, .kind = K_NAME,
	  .off = OFF(resources.partition) },
	{ .name = "account", .id = F_ACCOUNT, .kind = K_NAME,
	  .off = OFF(resources.account) },
	{ .name = "qos", .id = F_QOS, .kind = K_NAME,
	  .off = OFF(resources.qos) },
	{ .name = "time_limit", .id = F_TIME_LIMIT, .kind = K_DURATION,
	  .off = OFF(resources.time_limit_s) },
};

static const struct field parallel_fields[] = {
	{ .name = "tensor", .id = F_TENSOR, .kind = K_INT,
	  .off = OFF(parallel.tensor), .min = 1, .max = MAX_RANKS },
	{ .name = "pipeline", .id = F_PIPELINE, .kind = K_INT,
	  .off = OFF(parallel.pipeline), .min = 1, .max = MAX_RANKS },
	{ .name = "data", .id = F_DATA, .kind = K_INT,
	  .off = OFF(parallel.data), .min = 1, .max = MAX_RANKS },
	{ .name = "launcher", .id = F_LAUNCHER, .kind = K_LAUNCHER,
	  .off = OFF(parallel.launcher) },
};

static const struct field placement_fields[] = {
	{ .name = "policy", .id = F_POLICY, .kind = K_POLICY,
	  .off = OFF(placement.policy) },
	{ .name = "max_leaf_switches", .id = F_MAX_LEAF, .kind = K_INT,
	  .off = OFF(placement.max_leaf_switches), .min = 1,
	  .max = MAX_NODES },
	{ .name = "max_wait", .id = F_MAX_WAIT, .kind = K_DURATION,
	  .off = OFF(placement.max_wait_s) },
	{ .name = "exclude", .id = F_EXCLUDE, .kind = K_EXCLUDE },
};

static const struct field checkpoint_fields[] = {
	{ .name = "dir", .id = F_CKPT_DIR, .kind = K_PATH,
	  .off = OFF(checkpoint.dir) },
	{ .name = "pattern", .id = F_PATTERN, .kind = K_PATTERN,
	  .off = OFF(checkpoint.pattern) },
	{ .name = "keep", .id = F_KEEP, .kind = K_INT,
	  .off = OFF(checkpoint.keep), .min = 0, .max = MAX_COUNT },
};

static const struct field recovery_fields[] = {
	{ .name = "max_restarts", .id = F_MAX_RESTARTS, .kind = K_INT,
	  .off = OFF(recovery.max_restarts), .min = 0, .max = MAX_COUNT },
	{ .name = "max_infra_restarts", .id = F_MAX_INFRA, .kind = K_INT,
	  .off = OFF(recovery.max_infra_restarts), .min = 0,
	  .max = MAX_COUNT },
	{ .name = "backoff", .id = F_BACKOFF, .kind = K_DURATION,
	  .off = OFF(recovery.backoff_s) },
	{ .name = "no_progress_limit", .id = F_NO_PROGRESS, .kind = K_INT,
	  .off = OFF(recovery.no_progress_limit), .min = 0,
	  .max = MAX_COUNT },
};

static const struct field health_fields[] = {
	{ .name = "heartbeat_timeout", .id = F_HEARTBEAT, .kind = K_DURATION,
	  .off = OFF(health.heartbeat_timeout_s) },
	{ .name = "startup_timeout", .id = F_STARTUP, .kind = K_DURATION,
	  .off = OFF(health.startup_timeout_s) },
	{ .name = "preflight", .id = F_PREFLIGHT, .kind = K_STRING,
	  .off = OFF(health.preflight) },
};

#define SECTION(n, i, t, r) { .name = n, .id = i, .kind = K_SECTION, \
	.required = r, .sub = t, .nsub = nitems(t) }

static const struct field top_fields[] = {
	{ .name = "version", .id = F_VERSION, .kind = K_VERSION,
	  .off = OFF(version), .min = 1, .max = INT_MAX, .required = 1 },
	{ .name = "name", .id = F_NAME, .kind = K_NAME, .off = OFF(name),
	  .required = 1 },
	{ .name = "command", .id = F_COMMAND, .kind = K_COMMAND,
	  .required = 1 },
	{ .name = "workdir", .id = F_WORKDIR, .kind = K_PATH,
	  .off = OFF(workdir) },
	{ .name = "env", .id = F_ENV, .kind = K_ENV },
	SECTION("resources", F_RESOURCES, resources_fields, 1),
	SECTION("parallel", F_PARALLEL, parallel_fields, 0),
	SECTION("placement", F_PLACEMENT, placement_fields, 0),
	SECTION("checkpoint", F_CHECKPOINT, checkpoint_fields, 0),
	SECTION("recovery", F_RECOVERY, recovery_fields, 0),
	SECTION("health", F_HEALTH, health_fields, 0),
};

/* Set by the daemon for every rank (DESIGN.md section 3). */
static const char *const reserved_env[] = {
	"MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK",
	"LOCAL_WORLD_SIZE", "NODE_RANK",
};

static const char *const launcher_names[] = { "srun", "torchrun", "mpi" };
static const char *const policy_names[] = { "pack", "spread", "any" };

/* [A-Za-z0-9._-]{1,64}: job names, gres types, partitions, accounts. */
int
spec_valid_name(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");

	return n > 0 && n <= 64 && s[n] == '\0';
}

/* What a value is, for "expected X, got Y". */
static char *
got(const struct walk *w, uint32_t v)
{
	const struct ynode *y = &w->t->v[v];

	if (y->type == Y_MAP)
		return xstrdup("a mapping");
	if (y->type == Y_SEQ)
		return xstrdup("a list");
	if (spec_tree_null(w->t, v))
		return xstrdup("null");
	return spec_show(spec_tree_str(w->t, v), y->len);
}

/* A non-null scalar, or an error "expected <what>". */
static int
want_scalar(struct walk *w, uint32_t v, const char *path, const char *what)
{
	char *g;

	if (w->t->v[v].type == Y_SCALAR && !spec_tree_null(w->t, v))
		return 0;
	g = got(w, v);
	spec_err(w->errs, w->t, v, path, "expected %s, got %s", what, g);
	free(g);
	return -1;
}

/* "expected <what>, got <what it is>"; returns -1. */
static int
wrong_type(struct walk *w, uint32_t v, const char *path, const char *what)
{
	char *g = got(w, v);

	spec_err(w->errs, w->t, v, path, "expected %s, got %s", what, g);
	free(g);
	return -1;
}

static int
get_int(struct walk *w, uint32_t v, const char *path, int64_t min,
    int64_t max, int64_t *out)
{
	const struct ynode *y = &w->t->v[v];
	const char *what, *p;
	char *g;
	int64_t n = 0;
	int neg = 0, over = 0;

	what = min > 0 ? "a positive integer" : "an integer >= 0";
	if (want_scalar(w, v, path, what) != 0)
		return -1;
	p = spec_tree_str(w->t, v);
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	g = got(w, v);
	if (*p < '0' || *p > '9' || p[strspn(p, "0123456789")] != '\0') {
		spec_err(w->errs, w->t, v, path, "expected %s, got %s", what,
		    g);
		goto fail;
	}
	if (!y->plain) {
		spec_err(w->errs, w->t, v, path,
		    "expected %s, got the string %s (drop the quotes)", what, g);
		goto fail;
	}
	for (; *p != '\0'; p++) {
		if (n > (INT64_MAX - (*p - '0')) / 10) {
			over = 1;
			break;
		}
		n = n * 10 + (*p - '0');
	}
	if (neg)
		n = -n;
	if (over || n < min || n > max) {
		spec_err(w->errs, w->t, v, path,
		    "must be from %lld to %lld, got %.40s", (long long)min,
		    (long long)max, spec_tree_str(w->t, v));
		goto fail;
	}
	free(g);
	*out = n;
	return 0;
fail:
	free(g);
	return -1;
}

static int
get_command(struct walk *w, uint32_t v, const char *path)
{
	const struct ytree *t = w->t;
	struct spec *sp = w->sp;
	const char *s;
	char *sub;
	uint32_t i, k;
	int rc = 0;

	if (t->v[v].type == Y_SCALAR &&
	    want_scalar(w, v, path, "a string or a list") == 0) {
		s = spec_tree_str(t, v);
		if (s[strspn(s, " \t\r\n")] == '\0') {
			spec_err(w->errs, t, v, path, "must not be empty");
			return -1;
		}
		sp->command = xstrdup(s);
		return 0;
	}
	if (t->v[v].type == Y_MAP)
		return wrong_type(w, v, path, "a string or a list");
	if (t->v[v].type != Y_SEQ)
		return -1;	/* null, reported above */
	if (t->v[v].n == 0) {
		spec_err(w->errs, t, v, path, "must not be an empty list");
		return -1;
	}
	sp->argv = xcalloc(t->v[v].n + 1, sizeof(*sp->argv));
	for (i = 0, k = t->v[v].first; k != YNONE; i++, k = t->v[k].next) {
		sub = xasprintf("%s[%u]", path, i);
		if (want_scalar(w, k, sub, "a string") != 0)
			rc = -1;
		else if (i == 0 && *spec_tree_str(t, k) == '\0') {
			spec_err(w->errs, t, k, sub,
			    "the program must not be empty");
			rc = -1;
		} else
			sp->argv[sp->argc++] = xstrdup(spec_tree_str(t, k));
		free(sub);
	}
	return rc;
}

static int
env_cmp(const void *a, const void *b, void *arg)
{
	const struct ytree *t = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	int c = strcmp(spec_tree_str(t, x), spec_tree_str(t, y));

	if (c != 0)
		return c;
	return x < y ? -1 : x > y;
}

static int
get_env(struct walk *w, uint32_t v, const char *path)
{
	const struct ytree *t = w->t;
	struct spec *sp = w->sp;
	const char *key;
	char *sub;
	uint32_t k, val, *keys, nkeys = 0, i;
	size_t n;
	int rc = 0, ok;

	if (t->v[v].type != Y_MAP)
		return wrong_type(w, v, path, "a mapping");
	sp->env = xcalloc(t->v[v].n / 2 + 1, sizeof(*sp->env));
	keys = xcalloc(t->v[v].n / 2 + 1, sizeof(*keys));
	for (k = t->v[v].first; k != YNONE && !FULL(w); k = t->v[val].next) {
		val = t->v[k].next;
		key = spec_tree_str(t, k);
		sub = spec_path_join(path, key, t->v[k].len);
		ok = 0;
		n = strspn(key, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
		if (n == 0 || key[n] != '\0' || (*key >= '0' && *key <= '9'))
			spec_err(w->errs, t, k, sub, "not a valid variable name "
			    "(letters, digits and _, not starting with a digit)");
		else if (strncmp(key, "LLMCTL_", 7) == 0)
			spec_err(w->errs, t, k, sub,
			    "names starting with LLMCTL_ are set by llmctl");
		else {
			for (i = 0; i < nitems(reserved_env); i++)
				if (strcmp(key, reserved_env[i]) == 0)
					break;
			if (i < nitems(reserved_env))
				spec_err(w->errs, t, k, sub, "%s is set by "
				    "llmctl for every rank", key);
			else
				ok = 1;
		}
		if (want_scalar(w, val, sub, "a string") != 0)
			ok = 0;
		if (ok) {
			keys[nkeys++] = k;
			sp->env[sp->nenv].key = xstrdup(key);
			sp->env[sp->nenv++].value =
			    xstrdup(spec_tree_str(t, val));
		} else
			rc = -1;
		free(sub);
	}
	/* Sorted, so that a hostile map of 60,000 keys costs n log n. */
	qsort_r(keys, nkeys, sizeof(*keys), env_cmp, (void *)t);
	for (i = 1; i < nkeys && !FULL(w); i++) {
		if (strcmp(spec_tree_str(t, keys[i - 1]),
		    spec_tree_str(t, keys[i])) != 0)
			continue;
		sub = spec_path_join(path, spec_tree_str(t, keys[i]),
		    t->v[keys[i]].len);
		spec_err(w->errs, t, keys[i], sub,
		    "duplicate key; first given at line %u",
		    t->v[keys[i - 1]].line);
		free(sub);
		rc = -1;
	}
	free(keys);
	return rc;
}

/* A hostlist message quotes the user's text: keep it to one short line. */
static void
exclude_err(struct walk *w, uint32_t v, const char *path, char *cause)
{
	size_t i;

	for (i = 0; cause[i] != '\0'; i++)
		if ((unsigned char)cause[i] < ' ' || cause[i] == 0x7f)
			cause[i] = '?';
	if (i > CAUSE_MAX) {
		i = CAUSE_MAX;
		while (((unsigned char)cause[i] & 0xc0) == 0x80)
			i--;	/* not inside a UTF-8 sequence */
		spec_err(w->errs, w->t, v, path, "%.*s...", (int)i, cause);
	} else
		spec_err(w->errs, w->t, v, path, "%s", cause);
	free(cause);
}

static int
get_exclude(struct walk *w, uint32_t v, const char *path)
{
	const struct ytree *t = w->t;
	char *cause = NULL, *sub;
	uint32_t k, i;
	int rc = 0;

	if (t->v[v].type == Y_SCALAR) {
		if (hostlist_expand(&w->exclude, spec_tree_str(t, v),
		    &cause) != 0) {
			exclude_err(w, v, path, cause);
			return -1;
		}
		return 0;
	}
	if (t->v[v].type != Y_SEQ)
		return wrong_type(w, v, path, "a host list or a list");
	for (i = 0, k = t->v[v].first; k != YNONE; i++, k = t->v[k].next) {
		sub = xasprintf("%s[%u]", path, i);
		if (want_scalar(w, k, sub, "a host name") != 0)
			rc = -1;
		else if (hostlist_expand(&w->exclude, spec_tree_str(t, k),
		    &cause) != 0) {
			exclude_err(w, k, sub, cause);
			cause = NULL;
			rc = -1;
		}
		free(sub);
	}
	return rc;
}

static int
get_choice(struct walk *w, uint32_t v, const char *path, const char *what,
    const char *const *names, size_t n, int *out)
{
	const char *s, *near;
	char *g;
	size_t i;

	if (want_scalar(w, v, path, what) != 0)
		return -1;
	s = spec_tree_str(w->t, v);
	for (i = 0; i < n; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (int)i;
			return 0;
		}
	}
	g = got(w, v);
	if ((near = spec_suggest(s, names, n)) != NULL)
		spec_err(w->errs, w->t, v, path, "unknown %s %s; did you mean "
		    "%s?", what, g, near);
	else
		spec_err(w->errs, w->t, v, path, "expected %s, %s or %s, got %s",
		    names[0], names[1], names[2], g);
	free(g);
	return -1;
}

static int
get_pattern(struct walk *w, uint32_t v, const char *path)
{
	const char *s, *p;
	char *g;
	int n = 0;

	if (want_scalar(w, v, path, "a string") != 0)
		return -1;
	s = spec_tree_str(w->t, v);
	for (p = s; (p = strstr(p, "{step}")) != NULL; p += 6)
		n++;
	g = got(w, v);
	if (n != 1)
		spec_err(w->errs, w->t, v, path,
		    "must contain {step} exactly once, got %s", g);
	else if (strchr(s, '/') != NULL)
		spec_err(w->errs, w->t, v, path, "must not contain '/', got %s",
		    g);
	else if (w->t->v[v].len > MAX_PATTERN)
		spec_err(w->errs, w->t, v, path, "longer than %d bytes",
		    MAX_PATTERN);
	else {
		free(w->sp->checkpoint.pattern);
		w->sp->checkpoint.pattern = xstrdup(s);
		n = -1;
	}
	free(g);
	return n == -1 ? 0 : -1;
}

/* A duration; a bare number other than 0 is refused as ambiguous. */
static int
get_duration(struct walk *w, uint32_t v, const char *path, int64_t *out)
{
	const char *s;
	char *cause = NULL;

	if (want_scalar(w, v, path, "a duration") != 0)
		return -1;
	s = spec_tree_str(w->t, v);
	if (s[strspn(s, "0123456789")] == '\0' && s[strspn(s, "0")] != '\0' &&
	    w->t->v[v].len <= 18) {
		spec_err(w->errs, w->t, v, path, "%s has no unit; write %ss, "
		    "%sm, %sh or %sd", s, s, s, s, s);
		return -1;
	}
	if (spec_parse_duration(s, out, &cause) != 0) {
		spec_err(w->errs, w->t, v, path, "%s", cause);
		free(cause);
		return -1;
	}
	return 0;
}

static void
walk_value(struct walk *w, const struct field *f, uint32_t v,
    const char *path)
{
	const struct ytree *t = w->t;
	char *base = (char *)w->sp + f->off, *cause = NULL;
	const char *s;
	int64_t n;
	int c, rc = -1;

	if (f->kind == K_SECTION) {
		if (t->v[v].type == Y_MAP || spec_tree_null(t, v)) {
			walk_map(w, v, f->sub, f->nsub, path);
			return;
		}
		wrong_type(w, v, path, "a mapping");
		mark_bad(w, f);
		return;
	}
	if (spec_tree_null(t, v) && !f->required)
		return;		/* null: the default */
	w->at[f->id] = v;
	switch (f->kind) {
	case K_VERSION:
	case K_INT:
		if ((rc = get_int(w, v, path, f->min, f->max, &n)) != 0)
			break;
		if (f->kind == K_VERSION && n != SPEC_VERSION) {
			spec_err(w->errs, t, v, path, "unsupported version "
			    "%lld; this llmctl reads version %d", (long long)n,
			    SPEC_VERSION);
			rc = -1;
		}
		*(int *)base = (int)n;
		break;
	case K_NAME:
		if (want_scalar(w, v, path, "a name") != 0)
			break;
		s = spec_tree_str(t, v);
		if (!spec_valid_name(s)) {
			cause = got(w, v);
			spec_err(w->errs, t, v, path, "expected 1 to 64 letters, "
			    "digits, '.', '_' or '-', got %s", cause);
			free(cause);
			break;
		}
		*(char **)base = xstrdup(s);
		rc = 0;
		break;
	case K_STRING:
		if (want_scalar(w, v, path, "a string") != 0)
			break;
		if (t->v[v].len == 0) {
			spec_err(w->errs, t, v, path,
			    "must not be empty (leave it out for none)");
			break;
		}
		*(char **)base = xstrdup(spec_tree_str(t, v));
		rc = 0;
		break;
	case K_PATH:
		if (want_scalar(w, v, path, "an absolute path") != 0)
			break;
		s = spec_tree_str(t, v);
		if (*s != '/') {
			cause = got(w, v);
			spec_err(w->errs, t, v, path,
			    "must be an absolute path, got %s", cause);
			free(cause);
		} else if (t->v[v].len > MAX_PATH)
			spec_err(w->errs, t, v, path, "longer than %d bytes",
			    MAX_PATH);
		else {
			*(char **)base = xstrdup(s);
			rc = 0;
		}
		break;
	case K_COMMAND:
		rc = get_command(w, v, path);
		break;
	case K_ENV:
		rc = get_env(w, v, path);
		break;
	case K_DURATION:
		rc = get_duration(w, v, path, (int64_t *)base);
		break;
	case K_MEMORY:
		if (want_scalar(w, v, path, "a size") != 0)
			break;
		if (spec_parse_memory(spec_tree_str(t, v), (uint64_t *)base,
		    &cause) != 0) {
			spec_err(w->errs, t, v, path, "%s", cause);
			free(cause);
			break;
		}
		rc = 0;
		break;
	case K_LAUNCHER:
		if ((rc = get_choice(w, v, path, "launcher", launcher_names,
		    nitems(launcher_names), &c)) == 0)
			w->sp->parallel.launcher = (enum spec_launcher)c;
		break;
	case K_POLICY:
		if ((rc = get_choice(w, v, path, "policy", policy_names,
		    nitems(policy_names), &c)) == 0)
			w->sp->placement.policy = (enum spec_policy)c;
		break;
	case K_EXCLUDE:
		rc = get_exclude(w, v, path);
		break;
	case K_PATTERN:
		rc = get_pattern(w, v, path);
		break;
	case K_SECTION:
		break;
	}
	if (rc != 0)
		w->bad[f->id] = 1;
}

/* A field and everything under it can take part in no cross-field rule. */
static void
mark_bad(struct walk *w, const struct field *f)
{
	size_t i;

	w->bad[f->id] = 1;
	for (i = 0; i < f->nsub; i++)
		mark_bad(w, &f->sub[i]);
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
			    strcmp(s->sub[j].name, key) != 0 ||
			    s->sub == tab)
				continue;
			spec_err(w->errs, w->t, k, path,
			    "unknown key; did you mean %s.%s?", s->name, key);
			return;
		}
		if (strcmp(s->name, key) == 0 && tab != top_fields) {
			spec_err(w->errs, w->t, k, path, "unknown key; %s "
			    "belongs at the top level", key);
			return;
		}
	}
	spec_err(w->errs, w->t, k, path, "unknown key");
}

static void
walk_map(struct walk *w, uint32_t map, const struct field *tab, size_t n,
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
			walk_value(w, f, v, path);
		}
		free(path);
	}
	for (i = 0; i < n; i++) {
		if (!tab[i].required || w->key[tab[i].id] != YNONE)
			continue;
		path = spec_path_join(prefix, tab[i].name, strlen(tab[i].name));
		spec_err(w->errs, t, map, path, "required key is missing");
		free(path);
		mark_bad(w, &tab[i]);
	}
}

#define USABLE(w, id)	 (!(w)->bad[id])
#define GIVEN(w, id)	 ((w)->at[id] != YNONE)

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
			w->bad[F_TASKS] = 1;	/* unknown, so no rules */
	}
	if (USABLE(w, F_GPUS) && USABLE(w, F_TASKS) && USABLE(w, F_LAUNCHER)) {
		tasks = sp->resources.tasks_per_node;
		if (GIVEN(w, F_TASKS) && gpus > 0 && tasks != gpus &&
		    sp->parallel.launcher != LAUNCHER_TORCHRUN) {
			spec_err(w->errs, t, w->at[F_TASKS],
			    "resources.tasks_per_node", "must equal "
			    "gpus_per_node (%d) with launcher %s, which starts "
			    "one task per GPU", gpus,
			    spec_launcher_name(sp->parallel.launcher));
			w->bad[F_TASKS] = 1;
		}
		if (sp->parallel.launcher == LAUNCHER_TORCHRUN && gpus == 0 &&
		    !GIVEN(w, F_TASKS))
			spec_err(w->errs, t, w->at[F_LAUNCHER],
			    "parallel.launcher", "torchrun needs gpus_per_node "
			    "> 0 or an explicit resources.tasks_per_node");
	}
	if (USABLE(w, F_GPUS) && gpus == 0) {
		if (GIVEN(w, F_GPU_TYPE) && USABLE(w, F_GPU_TYPE))
			spec_err(w->errs, t, w->at[F_GPU_TYPE],
			    "resources.gpu_type", "needs gpus_per_node > 0");
		if (GIVEN(w, F_CPUS_PER_GPU) && USABLE(w, F_CPUS_PER_GPU) &&
		    sp->resources.cpus_per_gpu > 0)
			spec_err(w->errs, t, w->at[F_CPUS_PER_GPU],
			    "resources.cpus_per_gpu", "needs gpus_per_node > 0");
	}
	if (USABLE(w, F_NODES) && USABLE(w, F_GPUS) && USABLE(w, F_TASKS) &&
	    USABLE(w, F_TENSOR) && USABLE(w, F_PIPELINE) &&
	    USABLE(w, F_DATA)) {
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
				    "parallel.data", "tensor %d * pipeline %d * "
				    "data %d = %lld, but the world size is %lld "
				    "(%d nodes * %d tasks)", tp, pp,
				    sp->parallel.data,
				    (long long)tp * pp * sp->parallel.data,
				    (long long)world, sp->resources.nodes,
				    tasks);
		} else if (world % ((int64_t)tp * pp) != 0) {
			at = GIVEN(w, F_PIPELINE) ? F_PIPELINE : F_TENSOR;
			spec_err(w->errs, t, w->at[at], at == F_PIPELINE ?
			    "parallel.pipeline" : "parallel.tensor",
			    "tensor %d * pipeline %d = %lld does not divide the "
			    "world size %lld (%d nodes * %d tasks)", tp, pp,
			    (long long)tp * pp, (long long)world,
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
			    "health.startup_timeout", "%s is shorter than "
			    "heartbeat_timeout (%s)", a, b);
		else
			spec_err(w->errs, t, w->at[F_HEARTBEAT],
			    "health.heartbeat_timeout", "%s is longer than "
			    "startup_timeout (%s, the default); raise "
			    "startup_timeout", b, a);
		free(a);
		free(b);
	}
	if (USABLE(w, F_KEEP) && sp->checkpoint.keep > 0 &&
	    sp->checkpoint.dir == NULL && USABLE(w, F_CKPT_DIR))
		spec_err(w->errs, t, w->at[F_KEEP], "checkpoint.keep",
		    "needs checkpoint.dir");
}

/*
 * What is accepted must read back from its canonical YAML, which is bigger
 * than the input when host lists expand and strings need escapes (at most
 * 6 bytes a byte, 16 a node). Below SMALL bytes of text and expanded names
 * it cannot reach the limits; above, it is written out and measured.
 */
#define SMALL	 16384
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
	yaml = spec_to_yaml(sp);
	len = strlen(yaml);
	free(yaml);
	nodes = sp->argc + 2 * sp->nenv + sp->placement.nexclude;
	if (len <= SPEC_MAX_BYTES && nodes <= SPEC_MAX_NODES - 128)
		return;
	if (names >= SMALL && len > SPEC_MAX_BYTES)
		spec_err(w->errs, w->t, w->at[F_EXCLUDE], "placement.exclude",
		    "expands to %zu names, which make the spec %zu bytes "
		    "written out; the limit is %d", sp->placement.nexclude, len,
		    SPEC_MAX_BYTES);
	else if (len > SPEC_MAX_BYTES)
		spec_err(w->errs, w->t, w->t->root, NULL, "the spec is %zu "
		    "bytes written out in full; the limit is %d", len,
		    SPEC_MAX_BYTES);
	else
		spec_err(w->errs, w->t, w->t->root, NULL, "the spec has more "
		    "than %d YAML nodes written out in full (%zu env variables, "
		    "%zu excluded nodes)", SPEC_MAX_NODES - 128, sp->nenv,
		    sp->placement.nexclude);
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
		if (t->v[v].type != Y_SCALAR || !t->v[v].plain ||
		    *s == '\0' || s[strspn(s, "0123456789")] != '\0' ||
		    strcmp(s, "1") == 0 || t->v[v].len > 9)
			return 0;
		spec_err(w->errs, t, v, "version", "unsupported version %s; "
		    "this llmctl reads version %d", s, SPEC_VERSION);
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
	sp->placement.max_wait_s = 600;
	sp->checkpoint.pattern = xstrdup("step_{step}");
	sp->recovery.max_restarts = 3;
	sp->recovery.max_infra_restarts = 10;
	sp->recovery.backoff_s = 30;
	sp->recovery.no_progress_limit = 3;
	sp->health.heartbeat_timeout_s = 600;
	sp->health.startup_timeout_s = 1800;
}

struct spec *
spec_build(const struct ytree *t, const char *default_workdir,
    struct spec_errs *errs)
{
	struct walk w = { .t = t, .errs = errs };
	char *g;
	size_t i;

	if (t->root == YNONE || spec_tree_null(t, t->root)) {
		spec_err(errs, t, t->root, NULL, "the spec is empty");
		return NULL;
	}
	if (t->v[t->root].type != Y_MAP) {
		g = got(&w, t->root);
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
	walk_map(&w, t->root, top_fields, nitems(top_fields), "");
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
	struct spec_errs errs = { .file = filename != NULL ? filename :
	    "<spec>" };
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
	free(sp->health.preflight);
	free(sp);
}
