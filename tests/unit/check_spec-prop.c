/*
 * check_spec-prop: properties of the job spec over many generated specs
 * (emit -> parse gives the same spec, whatever bytes the strings hold) and
 * the limits that keep hostile input cheap: size, scalar length, node count,
 * error count, duplicate keys at scale.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"
#include "util.h"

#include "spec-test.h"

static void assert_str_eq(const char *, const char *);

static void
assert_str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		ck_assert_ptr_eq(a, b);
	else
		ck_assert_str_eq(a, b);
}

/* Field by field, so that an emitter that drops a field is caught. */
void
assert_spec_eq(const struct spec *a, const struct spec *b)
{
	size_t i;

	ck_assert_int_eq(a->version, b->version);
	assert_str_eq(a->name, b->name);
	assert_str_eq(a->command, b->command);
	ck_assert_uint_eq(a->argc, b->argc);
	ck_assert_int_eq(a->argv == NULL, b->argv == NULL);
	for (i = 0; i < a->argc; i++)
		assert_str_eq(a->argv[i], b->argv[i]);
	if (a->argv != NULL)
		ck_assert_ptr_null(b->argv[b->argc]);
	assert_str_eq(a->workdir, b->workdir);
	ck_assert_uint_eq(a->nenv, b->nenv);
	for (i = 0; i < a->nenv; i++) {
		assert_str_eq(a->env[i].key, b->env[i].key);
		assert_str_eq(a->env[i].value, b->env[i].value);
	}
	ck_assert_int_eq(a->resources.nodes, b->resources.nodes);
	ck_assert_int_eq(
	    a->resources.gpus_per_node, b->resources.gpus_per_node);
	ck_assert_int_eq(
	    a->resources.tasks_per_node, b->resources.tasks_per_node);
	assert_str_eq(a->resources.gpu_type, b->resources.gpu_type);
	ck_assert_int_eq(a->resources.cpus_per_gpu, b->resources.cpus_per_gpu);
	ck_assert_uint_eq(
	    a->resources.mem_per_node_mb, b->resources.mem_per_node_mb);
	assert_str_eq(a->resources.partition, b->resources.partition);
	assert_str_eq(a->resources.account, b->resources.account);
	assert_str_eq(a->resources.qos, b->resources.qos);
	ck_assert_int_eq(a->resources.time_limit_s, b->resources.time_limit_s);
	ck_assert_int_eq(a->parallel.tensor, b->parallel.tensor);
	ck_assert_int_eq(a->parallel.pipeline, b->parallel.pipeline);
	ck_assert_int_eq(a->parallel.data, b->parallel.data);
	ck_assert_int_eq(a->parallel.launcher, b->parallel.launcher);
	ck_assert_int_eq(a->placement.policy, b->placement.policy);
	ck_assert_int_eq(
	    a->placement.max_leaf_switches, b->placement.max_leaf_switches);
	ck_assert_int_eq(a->placement.max_wait_s, b->placement.max_wait_s);
	ck_assert_uint_eq(a->placement.nexclude, b->placement.nexclude);
	for (i = 0; i < a->placement.nexclude; i++)
		assert_str_eq(a->placement.exclude[i], b->placement.exclude[i]);
	assert_str_eq(a->checkpoint.dir, b->checkpoint.dir);
	assert_str_eq(a->checkpoint.pattern, b->checkpoint.pattern);
	ck_assert_int_eq(a->checkpoint.keep, b->checkpoint.keep);
	ck_assert_int_eq(a->recovery.max_restarts, b->recovery.max_restarts);
	ck_assert_int_eq(
	    a->recovery.max_infra_restarts, b->recovery.max_infra_restarts);
	ck_assert_int_eq(a->recovery.backoff_s, b->recovery.backoff_s);
	ck_assert_int_eq(
	    a->recovery.no_progress_limit, b->recovery.no_progress_limit);
	ck_assert_int_eq(
	    a->health.heartbeat_timeout_s, b->health.heartbeat_timeout_s);
	ck_assert_int_eq(
	    a->health.startup_timeout_s, b->health.startup_timeout_s);
	assert_str_eq(a->health.preflight, b->health.preflight);
}

/* YAML and JSON out, back in, equal; and the JSON is stable. */
void
assert_roundtrip(const struct spec *sp)
{
	struct spec *y, *j;
	json_t *out, *again, *in;
	char *yaml, *cause = NULL, *text;

	yaml = spec_to_yaml(sp);
	y = spec_parse(yaml, strlen(yaml), "emitted.yaml", NULL, &cause);
	ck_assert_msg(y != NULL, "%s\n---\n%s", cause, yaml);
	assert_spec_eq(sp, y);

	out = spec_to_json(sp);
	text = json_dumps(out, JSON_COMPACT);
	in = json_loads(text, 0, NULL);
	ck_assert_ptr_nonnull(in);
	j = spec_from_json(in, &cause);
	ck_assert_msg(j != NULL, "%s\n---\n%s", cause, text);
	assert_spec_eq(sp, j);
	again = spec_to_json(j);
	ck_assert(json_equal(out, again));

	json_decref(again);
	json_decref(in);
	json_decref(out);
	free(text);
	free(yaml);
	spec_free(y);
	spec_free(j);
}

/* --- generated specs ------------------------------------------------------ */

/* Pieces that break naive quoting: YAML syntax, shell syntax, odd Unicode. */
static const char *const frags[] = {
	"a",
	"Z",
	"0",
	"'",
	"\"",
	"\\",
	"$(id)",
	"`id`",
	"\n",
	"\t",
	" ",
	"#",
	": ",
	"- ",
	"null",
	"~",
	"123",
	"1e309",
	"true",
	"\xc3\xa9",
	"\xe2\x80\xa8",
	"\xc2\x85",
	"\xef\xbb\xbf",
	"\xf0\x9f\x98\x80",
	"\x01",
	"\x7f",
	"{",
	"}",
	"[",
	"]",
	"&a",
	"*a",
	"!!str",
	"%",
	"@",
	"\r",
	"\r\n",
	"\\n",
	"...",
	"---",
	",",
	"?",
	"|",
	">",
	"\xc2\xa0",
};

static const char name_chars[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int
pick(uint64_t *s, int n)
{
	return (int)(rnd(s) % (uint64_t)n);
}

static char *
rstr(uint64_t *s, int maxfrags)
{
	char *out = xstrdup(""), *next;
	int i, n = pick(s, maxfrags + 1);

	for (i = 0; i < n; i++) {
		next = xasprintf("%s%s", out, frags[pick(s, nitems(frags))]);
		free(out);
		out = next;
	}
	return out;
}

static char *
rname(uint64_t *s)
{
	int i, n = 1 + pick(s, 64);
	char *out = xmalloc(n + 1);

	for (i = 0; i < n; i++)
		out[i] = name_chars[pick(s, sizeof(name_chars) - 1)];
	out[n] = '\0';
	return out;
}

static char *
prefixed(const char *prefix, char *rest)
{
	char *out = xasprintf("%s%s", prefix, rest);

	free(rest);
	return out;
}

static int64_t
rduration(uint64_t *s, int64_t max)
{
	static const int64_t units[] = { 1, 60, 3600, 86400 };
	int64_t v = (int64_t)(rnd(s) % 100000) * units[pick(s, 4)];

	if (pick(s, 4) == 0)
		v = (int64_t)(rnd(s) % 100000000);
	return v > max ? max : v;
}

/* A valid spec built directly, every field at a random legal value. */
static struct spec *
random_spec(uint64_t seed)
{
	struct spec *sp = xcalloc(1, sizeof(*sp));
	uint64_t st = seed * 2654435761u + 88172645463325252ull, *s = &st;
	int tasks, world, i, n, div[64], nd;
	const int64_t dmax = 3650LL * 86400;

	sp->version = 1;
	sp->name = rname(s);
	if (pick(s, 2) == 0)
		sp->command = prefixed("run ", rstr(s, 6));
	else {
		sp->argc = 1 + pick(s, 5);
		sp->argv = xcalloc(sp->argc + 1, sizeof(*sp->argv));
		sp->argv[0] = prefixed("p", rstr(s, 3));
		for (i = 1; i < (int)sp->argc; i++)
			sp->argv[i] = rstr(s, 4);
	}
	sp->workdir = pick(s, 3) == 0 ? NULL : prefixed("/", rstr(s, 5));
	sp->nenv = pick(s, 5);
	sp->env = xcalloc(sp->nenv + 1, sizeof(*sp->env));
	for (i = 0; i < (int)sp->nenv; i++) {
		sp->env[i].key = xasprintf("V%d_%c", i, 'a' + pick(s, 26));
		sp->env[i].value = rstr(s, 6);
	}

	sp->resources.nodes = 1 + pick(s, 64);
	sp->resources.gpus_per_node = pick(s, 3) == 0 ? 0 : 1 << pick(s, 4);
	sp->parallel.launcher = (enum spec_launcher)pick(s, 3);
	if (sp->resources.gpus_per_node > 0 &&
	    sp->parallel.launcher != LAUNCHER_TORCHRUN)
		tasks = sp->resources.gpus_per_node;
	else if (sp->resources.gpus_per_node > 0)
		tasks = 1 + pick(s, sp->resources.gpus_per_node);
	else
		tasks = 1 + pick(s, 16);
	sp->resources.tasks_per_node = tasks;
	for (nd = 0, i = 1; i <= tasks; i++)
		if (tasks % i == 0)
			div[nd++] = i;
	sp->parallel.tensor = div[pick(s, nd)];
	world = sp->resources.nodes * tasks;
	n = world / sp->parallel.tensor;
	for (nd = 0, i = 1; i <= n && nd < 64; i++)
		if (n % i == 0)
			div[nd++] = i;
	sp->parallel.pipeline = div[pick(s, nd)];
	sp->parallel.data = n / sp->parallel.pipeline;
	if (sp->resources.gpus_per_node > 0) {
		sp->resources.gpu_type = pick(s, 2) ? rname(s) : NULL;
		sp->resources.cpus_per_gpu = pick(s, 17);
	}
	sp->resources.mem_per_node_mb = pick(s, 2) ? 1 + rnd(s) % 10000000 : 0;
	sp->resources.partition = pick(s, 2) ? rname(s) : NULL;
	sp->resources.account = pick(s, 2) ? rname(s) : NULL;
	sp->resources.qos = pick(s, 2) ? rname(s) : NULL;
	sp->resources.time_limit_s = pick(s, 2) ? rduration(s, dmax) : 0;

	sp->placement.policy = (enum spec_policy)pick(s, 3);
	sp->placement.max_leaf_switches = pick(s, 2) ? 1 + pick(s, 8) : 0;
	sp->placement.max_wait_s = rduration(s, dmax);
	sp->placement.nexclude = pick(s, 4);
	sp->placement.exclude =
	    xcalloc(sp->placement.nexclude + 1, sizeof(char *));
	for (i = 0; i < (int)sp->placement.nexclude; i++)
		sp->placement.exclude[i] =
		    xasprintf("n%03d-%c", pick(s, 1000), 'a' + pick(s, 26));

	if (pick(s, 2))
		sp->checkpoint.dir = prefixed("/", rstr(s, 4));
	sp->checkpoint.pattern = xasprintf("%s{step}%s", "ck", ".pt");
	if (pick(s, 2)) {
		free(sp->checkpoint.pattern);
		sp->checkpoint.pattern = prefixed("{step}", rstr(s, 3));
	}
	sp->checkpoint.keep = sp->checkpoint.dir != NULL ? pick(s, 5) : 0;
	sp->recovery.max_restarts = pick(s, 20);
	sp->recovery.max_infra_restarts = pick(s, 20);
	sp->recovery.backoff_s = rduration(s, dmax);
	sp->recovery.no_progress_limit = pick(s, 5);
	sp->health.heartbeat_timeout_s =
	    pick(s, 4) == 0 ? 0 : rduration(s, dmax / 2);
	sp->health.startup_timeout_s =
	    sp->health.heartbeat_timeout_s + rduration(s, dmax / 2);
	if (pick(s, 2))
		sp->health.preflight = prefixed("x", rstr(s, 5));
	return sp;
}

START_TEST(test_random_roundtrip)
{
	struct spec *sp = random_spec((uint64_t)_i + 1);

	assert_roundtrip(sp);
	spec_free(sp);
}
END_TEST

/* A spec's strings reach /bin/sh byte for byte once sh_quote()d. */
START_TEST(test_shell_exact)
{
	static const char yaml[] =
	    "version: 1\nname: t\nresources: "
	    "{nodes: 1, gpus_per_node: 0}\ncommand: \"it's $(id) `id` \\\"q\\\""
	    "\\n; rm -rf / #\\t\\\\ end\"\n";
	struct spec *sp;
	char *cause = NULL, *q, *cmd, out[256];
	size_t n;
	FILE *f;

	sp = spec_parse(yaml, strlen(yaml), "job.yaml", NULL, &cause);
	ck_assert_msg(sp != NULL, "%s", cause);
	ck_assert_str_eq(
	    sp->command, "it's $(id) `id` \"q\"\n; rm -rf / #\t\\ end");
	q = sh_quote(sp->command);
	cmd = xasprintf("printf '%%s' %s", q);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	ck_assert_int_eq(pclose(f), 0);
	ck_assert_str_eq(out, sp->command);
	free(cmd);
	free(q);
	spec_free(sp);
}
END_TEST

void
spec_add_roundtrip(TCase *tc)
{
	tcase_add_loop_test(tc, test_random_roundtrip, 0, 500);
	tcase_add_test(tc, test_shell_exact);
}

/* --- limits ----------------------------------------------------------------- */

static char *
parse_err(const char *buf, size_t len)
{
	struct spec *sp;
	char *cause = NULL;

	sp = spec_parse(buf, len, "job.yaml", NULL, &cause);
	ck_assert_msg(sp == NULL, "hostile input accepted");
	ck_assert_ptr_nonnull(cause);
	return cause;
}

#define VALID \
	"version: 1\nname: t\ncommand: x\n" \
	"resources: {nodes: 1, gpus_per_node: 0}\n"

START_TEST(test_too_big)
{
	size_t len = SPEC_MAX_BYTES + 1;
	char *buf = xmalloc(len), *cause;

	memset(buf, '#', len);
	cause = parse_err(buf, len);
	ck_assert_str_eq(cause,
	    "job.yaml:1:1: file is larger than 1048576 "
	    "bytes (1048577)");
	free(cause);
	free(buf);
}
END_TEST

START_TEST(test_scalar_limit)
{
	char *big = xmalloc(SPEC_MAX_SCALAR + 2), *buf, *cause = NULL;
	struct spec *sp;

	memset(big, 'v', SPEC_MAX_SCALAR);
	big[SPEC_MAX_SCALAR] = '\0';
	buf = xasprintf(VALID "env: {A: %s}\n", big);
	sp = spec_parse(buf, strlen(buf), "job.yaml", NULL, &cause);
	ck_assert_msg(sp != NULL, "%s", cause);
	ck_assert_uint_eq(strlen(sp->env[0].value), SPEC_MAX_SCALAR);
	spec_free(sp);
	free(buf);

	big[SPEC_MAX_SCALAR] = 'v';
	big[SPEC_MAX_SCALAR + 1] = '\0';
	buf = xasprintf(VALID "env: {A: %s}\n", big);
	cause = parse_err(buf, strlen(buf));
	ck_assert_str_eq(cause,
	    "job.yaml:5:10: env.A: scalar longer than "
	    "65536 bytes");
	free(cause);
	free(buf);
	free(big);
}
END_TEST

START_TEST(test_node_limit)
{
	size_t n = 140000, i, len = 0;
	char *buf = xmalloc(n * 2 + 16), *cause;

	len += sprintf(buf, "a: [");
	for (i = 0; i < n; i++)
		len += sprintf(buf + len, "1,");
	len += sprintf(buf + len, "]\n");
	cause = parse_err(buf, len);
	ck_assert_str_eq(cause,
	    "job.yaml:1:262143: a[131069]: more than "
	    "131072 YAML nodes");
	free(cause);
	free(buf);
}
END_TEST

/* 31 levels below the top mapping is the most a spec may nest. */
START_TEST(test_depth_limit)
{
	char buf[128], *cause;
	int i, o;

	o = sprintf(buf, "a: ");
	for (i = 0; i < 31; i++)
		buf[o++] = '[';
	for (i = 0; i < 31; i++)
		buf[o++] = ']';
	buf[o] = '\0';
	cause = parse_err(buf, strlen(buf));
	ck_assert_str_eq(cause,
	    "job.yaml:1:1: a: unknown key\n"
	    "job.yaml:1:1: version: required key is missing\n"
	    "job.yaml:1:1: name: required key is missing\n"
	    "job.yaml:1:1: command: required key is missing\n"
	    "job.yaml:1:1: resources: required key is missing");
	free(cause);
}
END_TEST

/* Many env keys are checked for duplicates in n log n, not n^2. */
START_TEST(test_many_env)
{
	size_t n = 40000, i, len;
	char *buf = xmalloc(n * 20 + 256), *cause = NULL;
	struct spec *sp;
	int64_t t0;

	len = sprintf(buf, VALID "env:\n");
	for (i = 0; i < n; i++)
		len += sprintf(buf + len, "  K%zu: v\n", i);
	t0 = mono_ms();
	sp = spec_parse(buf, len, "job.yaml", NULL, &cause);
	ck_assert_msg(sp != NULL, "%s", cause);
	ck_assert_uint_eq(sp->nenv, n);
	spec_free(sp);
	len += sprintf(buf + len, "  K17: again\n");
	cause = parse_err(buf, len);
	ck_assert_str_eq(cause,
	    "job.yaml:40006:3: env.K17: duplicate key; "
	    "first given at line 23");
	free(cause);
	ck_assert_int_lt(mono_ms() - t0, 5000);
	free(buf);
}
END_TEST

/*
 * 65000 env variables and 2000 excluded nodes are 132000 nodes written out,
 * though the input has fewer than 131072 and the output is under 1 MiB.
 */
START_TEST(test_canonical_nodes)
{
	static const char more[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
	size_t n = 65000, i, len;
	char *buf = xmalloc(n * 12 + 256), *cause;

	len = sprintf(buf,
	    VALID "placement: {exclude: \"n[1-2000]\"}\n"
	          "env:\n");
	for (i = 0; i < n; i++)
		len += sprintf(buf + len, " %c%c%c%c: ''\n",
		    'A' + (int)(i % 26), more[i / 26 % 37],
		    more[i / 26 / 37 % 37], more[i / 26 / 37 / 37 % 37]);
	cause = parse_err(buf, len);
	ck_assert_str_eq(cause,
	    "job.yaml:1:1: the spec has more than 130944 "
	    "YAML nodes written out in full (65000 env variables, 2000 "
	    "excluded nodes)");
	free(cause);
	free(buf);
}
END_TEST

START_TEST(test_error_cap)
{
	char buf[1024], *cause, *p;
	int i, o = 0, lines = 1;

	for (i = 0; i < 30; i++)
		o += sprintf(buf + o, "bad%d: 1\n", i);
	cause = parse_err(buf, o);
	for (p = cause; *p != '\0'; p++)
		lines += *p == '\n';
	ck_assert_int_eq(lines, SPEC_MAX_ERRORS);
	ck_assert(strncmp(cause, "job.yaml:1:1: bad0: unknown key\n", 32) == 0);
	free(cause);
}
END_TEST

START_TEST(test_default_workdir)
{
	struct spec *sp;
	char *cause = NULL;

	sp = spec_parse(VALID, strlen(VALID), "job.yaml", NULL, &cause);
	ck_assert_ptr_nonnull(sp);
	ck_assert_ptr_null(sp->workdir);
	spec_free(sp);
	sp = spec_parse(VALID, strlen(VALID), "job.yaml", "rel", &cause);
	ck_assert_ptr_null(sp);
	ck_assert_str_eq(cause,
	    "job.yaml:1:1: workdir: the default working "
	    "directory is not absolute");
	free(cause);
}
END_TEST

/* The daemon's check of API input: same rules, no file positions. */
START_TEST(test_json_errors)
{
	static const struct {
		const char *json, *error;
	} c[] = {
		{ "{\"version\":1,\"name\":\"t\",\"command\":\"x\",\"resources\":"
		  "{\"nodes\":\"2\",\"gpus_per_node\":4.5}}",
		    "resources.nodes: expected a positive integer, got the "
		    "string \"2\" (drop the quotes)\n"
		    "resources.gpus_per_node: expected an integer >= 0, got "
		    "\"4.5\"" },
		{ "null", "the spec is empty" },
		{ "[1]",
		    "expected a mapping of keys at the top level, got a "
		    "list" },
		{ "{\"version\":1,\"name\":\"t\",\"command\":\"x\",\"resources\":"
		  "{\"nodes\":1,\"gpus_per_node\":1},\"env\":{\"RANK\":\"0\"},"
		  "\"parallel\":{\"tensor\":true}}",
		    "env.RANK: RANK is set by llmctl for every rank\n"
		    "parallel.tensor: expected a positive integer, got \"true\"" },
		{ "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]"
		  "]]]]]]]]]]]]]]]]}",
		    "a[0][0][0][0][0][0][0][0][0][0][0][0]"
		    "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]: "
		    "nested deeper than 32 levels" },
	};
	json_t *j;
	char *cause = NULL;
	size_t i;

	for (i = 0; i < nitems(c); i++) {
		j = json_loads(c[i].json, JSON_DECODE_ANY, NULL);
		ck_assert_ptr_nonnull(j);
		ck_assert_ptr_null(spec_from_json(j, &cause));
		ck_assert_str_eq(cause, c[i].error);
		free(cause);
		json_decref(j);
	}
}
END_TEST

void
spec_add_limits(TCase *tc)
{
	tcase_add_test(tc, test_too_big);
	tcase_add_test(tc, test_scalar_limit);
	tcase_add_test(tc, test_node_limit);
	tcase_add_test(tc, test_depth_limit);
	tcase_add_test(tc, test_many_env);
	tcase_add_test(tc, test_error_cap);
	tcase_add_test(tc, test_canonical_nodes);
	tcase_add_test(tc, test_default_workdir);
	tcase_add_test(tc, test_json_errors);
}
