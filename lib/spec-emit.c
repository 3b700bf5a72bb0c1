/*
 * spec-emit: a struct spec as canonical JSON (the API and the database) and
 * canonical YAML (what `llmctl` shows a user). Both have the same shape as
 * the spec a user writes, with every default filled in and null for what is
 * unset, so either one read back through spec_parse() or spec_from_json()
 * gives an equal spec. YAML strings are always double-quoted and escaped, so
 * no value can turn into a number, a null or a second key.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"
#include "util.h"

static json_t *json_str_or_null(const char *);
static json_t *json_notify(const struct spec *);
static json_t *json_duration(int64_t, int);
static void yaml_str(FILE *, const char *);
static void yaml_str_or_null(FILE *, const char *, const char *);
static void yaml_duration(FILE *, const char *, int64_t, int);

static json_t *
json_str_or_null(const char *s)
{
	return s == NULL ? json_null() : json_string(s);
}

/* A duration as the spec writes it; zero_null: 0 means "unset". */
static json_t *
json_duration(int64_t secs, int zero_null)
{
	json_t *j;
	char *s;

	if (secs == 0 && zero_null)
		return json_null();
	s = spec_format_duration(secs);
	j = json_string(s);
	free(s);
	return j;
}

static json_t *
json_notify(const struct spec *sp)
{
	json_t *on = json_array();
	int i;

	for (i = 0; i < NOTIFY_COUNT; i++)
		if (sp->notify.on & (1u << i))
			json_array_append_new(
			    on, json_string(spec_notify_name(i)));
	return json_pack("{s:s, s:o}", "webhook", sp->notify.webhook, "on", on);
}

json_t *
spec_to_json(const struct spec *sp)
{
	json_t *o, *sec, *a;
	char *mem;
	size_t i;

	o = json_object();
	json_object_set_new(o, "version", json_integer(sp->version));
	json_object_set_new(o, "name", json_str_or_null(sp->name));
	if (sp->argv != NULL) {
		a = json_array();
		for (i = 0; i < sp->argc; i++)
			json_array_append_new(a, json_string(sp->argv[i]));
		json_object_set_new(o, "command", a);
	} else
		json_object_set_new(
		    o, "command", json_str_or_null(sp->command));
	json_object_set_new(o, "workdir", json_str_or_null(sp->workdir));
	sec = json_object();
	for (i = 0; i < sp->nenv; i++)
		json_object_set_new(
		    sec, sp->env[i].key, json_string(sp->env[i].value));
	json_object_set_new(o, "env", sec);

	sec = json_object();
	json_object_set_new(sec, "nodes", json_integer(sp->resources.nodes));
	json_object_set_new(
	    sec, "gpus_per_node", json_integer(sp->resources.gpus_per_node));
	json_object_set_new(
	    sec, "tasks_per_node", json_integer(sp->resources.tasks_per_node));
	json_object_set_new(
	    sec, "gpu_type", json_str_or_null(sp->resources.gpu_type));
	json_object_set_new(
	    sec, "cpus_per_gpu", json_integer(sp->resources.cpus_per_gpu));
	if (sp->resources.mem_per_node_mb != 0) {
		mem = spec_format_memory(sp->resources.mem_per_node_mb);
		json_object_set_new(sec, "mem_per_node", json_string(mem));
		free(mem);
	} else
		json_object_set_new(sec, "mem_per_node", json_null());
	json_object_set_new(
	    sec, "partition", json_str_or_null(sp->resources.partition));
	json_object_set_new(
	    sec, "account", json_str_or_null(sp->resources.account));
	json_object_set_new(sec, "qos", json_str_or_null(sp->resources.qos));
	json_object_set_new(
	    sec, "time_limit", json_duration(sp->resources.time_limit_s, 1));
	/* only when set: specs stored before it existed read the same */
	if (sp->resources.spare_nodes > 0)
		json_object_set_new(sec, "spare_nodes",
		    json_integer(sp->resources.spare_nodes));
	json_object_set_new(o, "resources", sec);

	sec = json_object();
	json_object_set_new(sec, "tensor", json_integer(sp->parallel.tensor));
	json_object_set_new(
	    sec, "pipeline", json_integer(sp->parallel.pipeline));
	json_object_set_new(sec, "data", json_integer(sp->parallel.data));
	json_object_set_new(sec, "launcher",
	    json_string(spec_launcher_name(sp->parallel.launcher)));
	json_object_set_new(o, "parallel", sec);

	sec = json_object();
	json_object_set_new(
	    sec, "policy", json_string(spec_policy_name(sp->placement.policy)));
	json_object_set_new(sec, "max_leaf_switches",
	    sp->placement.max_leaf_switches == 0
	        ? json_null()
	        : json_integer(sp->placement.max_leaf_switches));
	json_object_set_new(
	    sec, "max_wait", json_duration(sp->placement.max_wait_s, 0));
	a = json_array();
	for (i = 0; i < sp->placement.nexclude; i++)
		json_array_append_new(a, json_string(sp->placement.exclude[i]));
	json_object_set_new(sec, "exclude", a);
	json_object_set_new(o, "placement", sec);

	sec = json_object();
	json_object_set_new(sec, "dir", json_str_or_null(sp->checkpoint.dir));
	json_object_set_new(
	    sec, "pattern", json_str_or_null(sp->checkpoint.pattern));
	json_object_set_new(sec, "keep", json_integer(sp->checkpoint.keep));
	json_object_set_new(sec, "file", json_str_or_null(sp->checkpoint.file));
	json_object_set_new(
	    sec, "settle", json_duration(sp->checkpoint.settle_s, 0));
	json_object_set_new(o, "checkpoint", sec);

	sec = json_object();
	json_object_set_new(
	    sec, "max_restarts", json_integer(sp->recovery.max_restarts));
	json_object_set_new(sec, "max_infra_restarts",
	    json_integer(sp->recovery.max_infra_restarts));
	json_object_set_new(
	    sec, "backoff", json_duration(sp->recovery.backoff_s, 0));
	json_object_set_new(sec, "no_progress_limit",
	    json_integer(sp->recovery.no_progress_limit));
	json_object_set_new(o, "recovery", sec);

	sec = json_object();
	json_object_set_new(sec, "heartbeat_timeout",
	    json_duration(sp->health.heartbeat_timeout_s, 0));
	json_object_set_new(sec, "startup_timeout",
	    json_duration(sp->health.startup_timeout_s, 0));
	json_object_set_new(
	    sec, "preflight", json_str_or_null(sp->health.preflight));
	json_object_set_new(o, "health", sec);

	sec = json_object();
	json_object_set_new(
	    sec, "signal", json_string(spec_signal_name(sp->warning.signal)));
	json_object_set_new(
	    sec, "before", json_duration(sp->warning.before_s, 0));
	json_object_set_new(o, "warning", sec);

	sec = json_object();
	json_object_set_new(sec, "type",
	    sp->fabric.type == FABRIC_UNSET
	        ? json_null()
	        : json_string(spec_fabric_name(sp->fabric.type)));
	json_object_set_new(
	    sec, "interface", json_str_or_null(sp->fabric.interface));
	json_object_set_new(sec, "hca", json_str_or_null(sp->fabric.hca));
	json_object_set_new(o, "fabric", sec);
	/* only when set: specs stored before notify existed stay canonical */
	if (sp->notify.webhook != NULL)
		json_object_set_new(o, "notify", json_notify(sp));
	return o;
}

/*
 * A YAML double-quoted scalar. Besides quotes, backslashes and control
 * characters, the characters YAML 1.1 treats as line breaks (NEL, LS, PS)
 * and the ones libyaml will not read raw (C1, BOM, U+FFFE/F) are escaped.
 */
static void
yaml_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *run;
	unsigned int c;

	fputc('"', f);
	while (*p != '\0') {
		/* Most bytes need no escape: write them a run at a time. */
		for (run = p;
		     *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\'; p++)
			;
		if (p > run)
			fwrite(run, 1, p - run, f);
		if (*p == '\0')
			break;
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else if ((p[0] & 0xe0) == 0xc0 && (p[1] & 0xc0) == 0x80) {
			c = ((p[0] & 0x1fu) << 6) | (p[1] & 0x3fu);
			if (c < 0xa0)
				fprintf(f, "\\u%04x", c);
			else
				fwrite(p, 1, 2, f);
			p++;
		} else if ((p[0] & 0xf0) == 0xe0 && (p[1] & 0xc0) == 0x80 &&
		    (p[2] & 0xc0) == 0x80) {
			c = ((p[0] & 0x0fu) << 12) | ((p[1] & 0x3fu) << 6) |
			    (p[2] & 0x3fu);
			if (c == 0x2028 || c == 0x2029 || c == 0xfeff ||
			    c == 0xfffe || c == 0xffff)
				fprintf(f, "\\u%04x", c);
			else
				fwrite(p, 1, 3, f);
			p += 2;
		} else
			fputc(*p, f); /* rest of a 4-byte sequence */
		p++;
	}
	fputc('"', f);
}

static void
yaml_str_or_null(FILE *f, const char *key, const char *s)
{
	fprintf(f, "  %s: ", key);
	if (s == NULL)
		fputs("null", f);
	else
		yaml_str(f, s);
	fputc('\n', f);
}

static void
yaml_duration(FILE *f, const char *key, int64_t secs, int zero_null)
{
	char *s;

	if (secs == 0 && zero_null) {
		fprintf(f, "  %s: null\n", key);
		return;
	}
	s = spec_format_duration(secs);
	fprintf(f, "  %s: %s\n", key, s);
	free(s);
}

char *
spec_to_yaml(const struct spec *sp)
{
	char *buf = NULL, *mem;
	size_t len = 0, i;
	int first;
	FILE *f;

	if ((f = open_memstream(&buf, &len)) == NULL)
		abort(); /* out of memory, as xmalloc would */
	fprintf(f, "version: %d\nname: ", sp->version);
	yaml_str(f, sp->name != NULL ? sp->name : "");
	if (sp->argv != NULL) {
		fputs("\ncommand:\n", f);
		for (i = 0; i < sp->argc; i++) {
			fputs("  - ", f);
			yaml_str(f, sp->argv[i]);
			fputc('\n', f);
		}
	} else {
		fputs("\ncommand: ", f);
		yaml_str(f, sp->command != NULL ? sp->command : "");
		fputc('\n', f);
	}
	fputs("workdir: ", f);
	if (sp->workdir != NULL)
		yaml_str(f, sp->workdir);
	else
		fputs("null", f);
	fputs(sp->nenv == 0 ? "\nenv: {}\n" : "\nenv:\n", f);
	for (i = 0; i < sp->nenv; i++) {
		fputs("  ", f);
		yaml_str(f, sp->env[i].key);
		fputs(": ", f);
		yaml_str(f, sp->env[i].value);
		fputc('\n', f);
	}

	fprintf(f,
	    "resources:\n  nodes: %d\n  gpus_per_node: %d\n"
	    "  tasks_per_node: %d\n",
	    sp->resources.nodes, sp->resources.gpus_per_node,
	    sp->resources.tasks_per_node);
	yaml_str_or_null(f, "gpu_type", sp->resources.gpu_type);
	fprintf(f, "  cpus_per_gpu: %d\n", sp->resources.cpus_per_gpu);
	if (sp->resources.mem_per_node_mb != 0) {
		mem = spec_format_memory(sp->resources.mem_per_node_mb);
		fprintf(f, "  mem_per_node: %s\n", mem);
		free(mem);
	} else
		fputs("  mem_per_node: null\n", f);
	yaml_str_or_null(f, "partition", sp->resources.partition);
	yaml_str_or_null(f, "account", sp->resources.account);
	yaml_str_or_null(f, "qos", sp->resources.qos);
	yaml_duration(f, "time_limit", sp->resources.time_limit_s, 1);
	if (sp->resources.spare_nodes > 0)
		fprintf(f, "  spare_nodes: %d\n", sp->resources.spare_nodes);

	fprintf(f,
	    "parallel:\n  tensor: %d\n  pipeline: %d\n  data: %d\n"
	    "  launcher: %s\n",
	    sp->parallel.tensor, sp->parallel.pipeline, sp->parallel.data,
	    spec_launcher_name(sp->parallel.launcher));

	fprintf(f, "placement:\n  policy: %s\n",
	    spec_policy_name(sp->placement.policy));
	if (sp->placement.max_leaf_switches != 0)
		fprintf(f, "  max_leaf_switches: %d\n",
		    sp->placement.max_leaf_switches);
	else
		fputs("  max_leaf_switches: null\n", f);
	yaml_duration(f, "max_wait", sp->placement.max_wait_s, 0);
	fputs(sp->placement.nexclude == 0 ? "  exclude: []\n" : "  exclude:\n",
	    f);
	for (i = 0; i < sp->placement.nexclude; i++) {
		fputs("    - ", f);
		yaml_str(f, sp->placement.exclude[i]);
		fputc('\n', f);
	}

	fputs("checkpoint:\n", f);
	yaml_str_or_null(f, "dir", sp->checkpoint.dir);
	yaml_str_or_null(f, "pattern", sp->checkpoint.pattern);
	fprintf(f, "  keep: %d\n", sp->checkpoint.keep);
	yaml_str_or_null(f, "file", sp->checkpoint.file);
	yaml_duration(f, "settle", sp->checkpoint.settle_s, 0);

	fprintf(f, "recovery:\n  max_restarts: %d\n  max_infra_restarts: %d\n",
	    sp->recovery.max_restarts, sp->recovery.max_infra_restarts);
	yaml_duration(f, "backoff", sp->recovery.backoff_s, 0);
	fprintf(f, "  no_progress_limit: %d\n", sp->recovery.no_progress_limit);

	fputs("health:\n", f);
	yaml_duration(
	    f, "heartbeat_timeout", sp->health.heartbeat_timeout_s, 0);
	yaml_duration(f, "startup_timeout", sp->health.startup_timeout_s, 0);
	yaml_str_or_null(f, "preflight", sp->health.preflight);

	fprintf(f, "warning:\n  signal: %s\n",
	    spec_signal_name(sp->warning.signal));
	yaml_duration(f, "before", sp->warning.before_s, 0);
	fprintf(f, "fabric:\n  type: %s\n",
	    sp->fabric.type == FABRIC_UNSET
	        ? "null"
	        : spec_fabric_name(sp->fabric.type));
	yaml_str_or_null(f, "interface", sp->fabric.interface);
	yaml_str_or_null(f, "hca", sp->fabric.hca);
	if (sp->notify.webhook != NULL) {
		fputs("notify:\n", f);
		yaml_str_or_null(f, "webhook", sp->notify.webhook);
		fputs("  on: [", f);
		for (i = 0, first = 1; i < NOTIFY_COUNT; i++)
			if (sp->notify.on & (1u << i)) {
				fprintf(f, "%s%s", first ? "" : ", ",
				    spec_notify_name((int)i));
				first = 0;
			}
		fputs("]\n", f);
	}
	if (fclose(f) != 0)
		abort();
	return buf;
}
