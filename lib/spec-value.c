/*
 * spec-value: one value of the job spec, converted and checked by its kind
 * (integer, name, path, duration, size, command, env, host list, ...) and
 * stored in the struct spec. Each problem becomes one error at the value's
 * own position; nothing here looks at a second field (spec.c does that).
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostlist.h"
#include "spec.h"
#include "spec-int.h"
#include "util.h"

#define MAX_PATH 4095
#define MAX_PATTERN 255
#define CAUSE_MAX 200 /* bytes of a hostlist message we repeat */
#define HOST_MAX 64 /* characters of a host name, brackets aside */

static int want_scalar(struct walk *, uint32_t, const char *, const char *);
static int wrong_type(struct walk *, uint32_t, const char *, const char *);
static int get_int(
    struct walk *, uint32_t, const char *, int64_t, int64_t, int64_t *);
static int get_command(struct walk *, uint32_t, const char *);
static int env_cmp(const void *, const void *, void *);
static int get_env(struct walk *, uint32_t, const char *);
static void exclude_err(struct walk *, uint32_t, const char *, char *);
static int expand_host(struct walk *, uint32_t, const char *);
static int get_exclude(struct walk *, uint32_t, const char *);
static int get_choice(struct walk *, uint32_t, const char *, const char *,
    const char *const *, size_t, int *);
static int get_pattern(struct walk *, uint32_t, const char *);
static int get_duration(struct walk *, uint32_t, const char *, int64_t *);

/* Set by the daemon for every rank (docs/design.md section 3). */
static const char *const reserved_env[] = {
	"MASTER_ADDR",
	"MASTER_PORT",
	"WORLD_SIZE",
	"RANK",
	"LOCAL_RANK",
	"LOCAL_WORLD_SIZE",
	"NODE_RANK",
};

static const char *const launcher_names[] = { "srun", "torchrun", "mpi",
	"script" };
/* fabric_names[i] is enum spec_fabric i + 1 */
static const char *const fabric_names[] = { "ethernet", "infiniband" };
static const char *const policy_names[] = { "pack", "spread", "any" };

/* [A-Za-z0-9._-]{1,64}: job names, gres types, partitions, accounts. */
int
spec_valid_name(const char *s)
{
	size_t n = strspn(s,
	    "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");

	return n > 0 && n <= 64 && s[n] == '\0';
}

/* What a value is, for "expected X, got Y". */
char *
spec_got(const struct walk *w, uint32_t v)
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
	g = spec_got(w, v);
	spec_err(w->errs, w->t, v, path, "expected %s, got %s", what, g);
	free(g);
	return -1;
}

/* "expected <what>, got <what it is>"; returns -1. */
static int
wrong_type(struct walk *w, uint32_t v, const char *path, const char *what)
{
	char *g = spec_got(w, v);

	spec_err(w->errs, w->t, v, path, "expected %s, got %s", what, g);
	free(g);
	return -1;
}

static int
get_int(struct walk *w, uint32_t v, const char *path, int64_t min, int64_t max,
    int64_t *out)
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
	g = spec_got(w, v);
	if (*p < '0' || *p > '9' || p[strspn(p, "0123456789")] != '\0') {
		spec_err(
		    w->errs, w->t, v, path, "expected %s, got %s", what, g);
		goto fail;
	}
	if (!y->plain) {
		spec_err(w->errs, w->t, v, path,
		    "expected %s, got the string %s (drop the quotes)", what,
		    g);
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
		return -1; /* null, reported above */
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
		n = strspn(key,
		    "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
		if (n == 0 || key[n] != '\0' || (*key >= '0' && *key <= '9'))
			spec_err(w->errs, t, k, sub,
			    "not a valid variable name "
			    "(letters, digits and _, not starting with a digit)");
		else if (strncmp(key, "LLMCTL_", 7) == 0)
			spec_err(w->errs, t, k, sub,
			    "names starting with LLMCTL_ are set by llmctl");
		else {
			for (i = 0; i < nitems(reserved_env); i++)
				if (strcmp(key, reserved_env[i]) == 0)
					break;
			if (i < nitems(reserved_env))
				spec_err(w->errs, t, k, sub,
				    "%s is set by "
				    "llmctl for every rank",
				    key);
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
		sub = spec_path_join(
		    path, spec_tree_str(t, keys[i]), t->v[keys[i]].len);
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
			i--; /* not inside a UTF-8 sequence */
		spec_err(w->errs, w->t, v, path, "%.*s...", (int)i, cause);
	} else
		spec_err(w->errs, w->t, v, path, "%s", cause);
	free(cause);
}

/*
 * Expand one host list into w->exclude. Each name it makes is first checked
 * to be at most HOST_MAX characters (the text outside brackets and the
 * longest number inside): hostlist_expand() makes up to HOSTLIST_MAX copies
 * of a name, so an 8 KB one would cost gigabytes.
 */
static int
expand_host(struct walk *w, uint32_t v, const char *path)
{
	const char *s = spec_tree_str(w->t, v), *p;
	char *cause = NULL, *shown;
	int depth = 0, out = 0, num = 0, run = 0;

	for (p = s;; p++) {
		if (*p == '[')
			depth++;
		else if (*p == ']')
			depth--;
		else if (depth > 0 && *p >= '0' && *p <= '9') {
			if (++run > num)
				num = run;
			continue;
		} else if (depth == 0 && *p != ',' && *p != '\0')
			out++;
		run = 0;
		if (out + num > HOST_MAX) {
			shown = spec_show(s, w->t->v[v].len);
			spec_err(w->errs, w->t, v, path,
			    "host name longer than "
			    "%d characters in %s",
			    HOST_MAX, shown);
			free(shown);
			return -1;
		}
		if (*p == '\0')
			break;
		if (*p == ',' && depth == 0)
			out = num = 0;
	}
	if (hostlist_expand(&w->exclude, s, &cause) != 0) {
		exclude_err(w, v, path, cause);
		return -1;
	}
	return 0;
}

static int
get_exclude(struct walk *w, uint32_t v, const char *path)
{
	const struct ytree *t = w->t;
	char *sub;
	uint32_t k, i;
	int rc = 0;

	if (t->v[v].type == Y_SCALAR)
		return expand_host(w, v, path);
	if (t->v[v].type != Y_SEQ)
		return wrong_type(w, v, path, "a host list or a list");
	for (i = 0, k = t->v[v].first; k != YNONE; i++, k = t->v[k].next) {
		sub = xasprintf("%s[%u]", path, i);
		if (want_scalar(w, k, sub, "a host name") != 0 ||
		    expand_host(w, k, sub) != 0)
			rc = -1;
		free(sub);
	}
	return rc;
}

static const char *const notify_names[] = {
	[NOTIFY_FAILED] = "failed",
	[NOTIFY_RESTARTED] = "restarted",
	[NOTIFY_COMPLETED] = "completed",
	[NOTIFY_HANG] = "hang",
	[NOTIFY_GOODPUT] = "goodput",
};

const char *
spec_notify_name(int i)
{
	return i >= 0 && i < NOTIFY_COUNT ? notify_names[i] : NULL;
}

static int get_choice(struct walk *, uint32_t, const char *, const char *,
    const char *const *, size_t, int *);

/* notify.on: a list of event names (or one name); an empty list: none. */
static int
get_notify_on(struct walk *w, uint32_t v, const char *path)
{
	const struct ytree *t = w->t;
	char *sub;
	uint32_t k, i;
	int rc = 0, c;

	w->sp->notify.on = 0;
	if (t->v[v].type == Y_SCALAR) {
		if (get_choice(w, v, path, "notification", notify_names,
		        nitems(notify_names), &c) != 0)
			return -1;
		w->sp->notify.on = 1u << c;
		return 0;
	}
	if (t->v[v].type != Y_SEQ)
		return wrong_type(w, v, path,
		    "a list of failed, restarted, "
		    "completed, hang or goodput");
	for (i = 0, k = t->v[v].first; k != YNONE; i++, k = t->v[k].next) {
		sub = xasprintf("%s[%u]", path, i);
		if (get_choice(w, k, sub, "notification", notify_names,
		        nitems(notify_names), &c) != 0)
			rc = -1;
		else
			w->sp->notify.on |= 1u << c;
		free(sub);
	}
	return rc;
}

static int
get_choice(struct walk *w, uint32_t v, const char *path, const char *what,
    const char *const *names, size_t n, int *out)
{
	const char *s, *near;
	char *g, *list, *tmp;
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
	g = spec_got(w, v);
	if ((near = spec_suggest(s, names, n)) != NULL)
		spec_err(w->errs, w->t, v, path,
		    "unknown %s %s; did you mean "
		    "%s?",
		    what, g, near);
	else {
		list = xstrdup(names[0]);
		for (i = 1; i < n; i++) {
			tmp = xasprintf("%s%s%s", list,
			    i + 1 < n ? ", " : " or ", names[i]);
			free(list);
			list = tmp;
		}
		spec_err(
		    w->errs, w->t, v, path, "expected %s, got %s", list, g);
		free(list);
	}
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
	g = spec_got(w, v);
	if (n != 1)
		spec_err(w->errs, w->t, v, path,
		    "must contain {step} exactly once, got %s", g);
	else if (strchr(s, '/') != NULL)
		spec_err(
		    w->errs, w->t, v, path, "must not contain '/', got %s", g);
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
		spec_err(w->errs, w->t, v, path,
		    "%s has no unit; write %ss, "
		    "%sm, %sh or %sd",
		    s, s, s, s, s);
		return -1;
	}
	if (spec_parse_duration(s, out, &cause) != 0) {
		spec_err(w->errs, w->t, v, path, "%s", cause);
		free(cause);
		return -1;
	}
	return 0;
}

/* Convert and store the value v of field f; errors mark it bad. */
void
spec_walk_value(
    struct walk *w, const struct field *f, uint32_t v, const char *path)
{
	const struct ytree *t = w->t;
	char *base = (char *)w->sp + f->off, *cause = NULL;
	const char *s, *signal_names[SPEC_SIG_COUNT];
	int64_t n;
	int c, rc = -1;

	if (f->kind == K_SECTION) {
		if (t->v[v].type == Y_MAP || spec_tree_null(t, v)) {
			spec_walk_map(w, v, f->sub, f->nsub, path);
			return;
		}
		wrong_type(w, v, path, "a mapping");
		spec_mark_bad(w, f);
		return;
	}
	if (spec_tree_null(t, v) && !f->required)
		return; /* null: the default */
	w->at[f->id] = v;
	switch (f->kind) {
	case K_VERSION:
	case K_INT:
		if ((rc = get_int(w, v, path, f->min, f->max, &n)) != 0)
			break;
		if (f->kind == K_VERSION && n != SPEC_VERSION) {
			spec_err(w->errs, t, v, path,
			    "unsupported version "
			    "%lld; this llmctl reads version %d",
			    (long long)n, SPEC_VERSION);
			rc = -1;
		}
		*(int *)base = (int)n;
		break;
	case K_NAME:
		if (want_scalar(w, v, path, "a name") != 0)
			break;
		s = spec_tree_str(t, v);
		if (!spec_valid_name(s)) {
			cause = spec_got(w, v);
			spec_err(w->errs, t, v, path,
			    "expected 1 to 64 letters, "
			    "digits, '.', '_' or '-', got %s",
			    cause);
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
			cause = spec_got(w, v);
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
		if (spec_parse_memory(
		        spec_tree_str(t, v), (uint64_t *)base, &cause) != 0) {
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
	case K_FABRIC:
		if ((rc = get_choice(w, v, path, "fabric", fabric_names,
		         nitems(fabric_names), &c)) == 0)
			w->sp->fabric.type = (enum spec_fabric)(c + 1);
		break;
	case K_SIGNAL:
		for (c = 0; c < SPEC_SIG_COUNT; c++)
			signal_names[c] = spec_signal_name((enum spec_signal)c);
		if ((rc = get_choice(w, v, path, "signal", signal_names,
		         SPEC_SIG_COUNT, &c)) == 0)
			w->sp->warning.signal = (enum spec_signal)c;
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
	case K_NOTIFY_ON:
		rc = get_notify_on(w, v, path);
		break;
	case K_SECTION:
		break;
	}
	if (rc != 0)
		w->bad[f->id] = 1;
}
