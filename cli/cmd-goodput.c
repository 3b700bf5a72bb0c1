/*
 * llmctl goodput: where a job's wall-clock time went (the "goodput"
 * object of GET /v1/jobs/ID) with its incidents, or without an id the
 * totals of the caller's jobs (an admin's: everyone's) per user or per
 * UTC day (GET /v1/goodput). The definitions are docs/design.md's
 * "Goodput" and llmctl(1)'s.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "job.h"
#include "llmctl.h"
#include "output.h"
#include "util.h"

#define FIELD_MAX 256

static int cmd_goodput_exec(struct llmctl *, struct args *);

const struct cmd_entry cmd_goodput_entry = {
	.name = "goodput",
	.usage = "[-o json|yaml] [--by user|day|job] [id]",
	.about = "Where a job's time went (ETTR), or totals per user, day or "
	         "job.",
	.args = { .template = "o:",
	    .upper = 1,
	    .operand = "id",
	    .longs = (const struct args_long[]){ ARGS_OUTPUT,
	        { .ch = 'b',
	            .name = "by",
	            .has_arg = 1,
	            .arg = "key",
	            .help = "totals per user (default), UTC day or job" },
	        { 0 } } },
	.exec = cmd_goodput_exec,
};

static json_int_t
num(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* Seconds for people: 45s, 12m05s, 3h07m, 2d04h. */
static const char *
dur(json_int_t s, char *buf, size_t len)
{
	if (s < 120)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", (long long)s / 60,
		    (long long)s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", (long long)s / 3600,
		    (long long)s % 3600 / 60);
	else
		snprintf(buf, len, "%lldd%02lldh", (long long)s / 86400,
		    (long long)s % 86400 / 3600);
	return buf;
}

static const char *
pct(double v, char *buf, size_t len)
{
	snprintf(buf, len, "%.1f%%", 100 * v);
	return buf;
}

char *
goodput_summary(const json_t *gp)
{
	char a[32], b[32], c[32], d[32], e[32];
	size_t n = json_array_size(json_object_get(gp, "incidents"));

	return xasprintf("ETTR %s (productive %s of %s; lost %s, recovery "
	                 "%s, %zu incident%s)",
	    pct(json_real_value(json_object_get(gp, "ettr")), a, sizeof a),
	    dur(num(gp, "productive_s"), b, sizeof b),
	    dur(num(gp, "wall_s"), c, sizeof c),
	    dur(num(gp, "lost_s"), d, sizeof d),
	    dur(num(gp, "recovery_s"), e, sizeof e), n, n == 1 ? "" : "s");
}

/* One row of the bucket table: name, seconds, duration, share of wall. */
static void
bucket_row(struct table *t, const char *name, const json_t *o, const char *key,
    json_int_t wall)
{
	char b[FIELD_MAX];
	json_int_t v = num(o, key);

	table_add(t, name);
	snprintf(b, sizeof b, "%lld", (long long)v);
	table_add(t, b);
	table_add(t, dur(v, b, sizeof b));
	table_add(t, pct(wall > 0 ? (double)v / wall : 0, b, sizeof b));
}

static void
incidents_print(const json_t *list)
{
	static const char *const headers[] = { "ATTEMPT", "CAUSE", "NODES",
		"FAILED", "AGAIN", "RECOVERY", "DETECT", "BACKOFF", "QUEUE",
		"START" };
	static const char *const parts[] = { "detect_s", "backoff_s", "queue_s",
		"startup_s" };
	const json_t *in, *rec;
	struct table *t;
	char b[FIELD_MAX];
	size_t i, k;

	if (json_array_size(list) == 0)
		return;
	printf("\nincidents:\n");
	t = table_create(nitems(headers), headers);
	json_array_foreach(list, i, in)
	{
		table_add(t, output_field(in, "attempt", b, sizeof b));
		table_add(t, output_field(in, "cause", b, sizeof b));
		table_add(t, output_field(in, "nodes", b, sizeof b));
		table_add(t, output_time_short(in, "failed_at", b, sizeof b));
		table_add(
		    t, output_time_short(in, "training_again_at", b, sizeof b));
		table_add(t, dur(num(in, "recovery_s"), b, sizeof b));
		rec = json_object_get(in, "recovery");
		for (k = 0; k < nitems(parts); k++)
			table_add(t, dur(num(rec, parts[k]), b, sizeof b));
	}
	table_print(t, stdout, OUTPUT_WIDTH);
	table_free(t);
}

static void
job_print(const json_t *job)
{
	static const char *const headers[] = { "BUCKET", "SECONDS", "TIME",
		"SHARE" };
	const json_t *gp = json_object_get(job, "goodput"), *rec;
	struct table *t;
	json_int_t wall = num(gp, "wall_s");
	char *s;

	s = goodput_summary(gp);
	printf("job %lld: ", (long long)num(job, "id"));
	output_string(stdout, s);
	printf("%s\n",
	    json_is_true(json_object_get(gp, "final")) ? "" : " so far");
	free(s);
	rec = json_object_get(gp, "recovery");
	t = table_create(nitems(headers), headers);
	bucket_row(t, "queue", gp, "queue_s", wall);
	bucket_row(t, "start-up", gp, "startup_s", wall);
	bucket_row(t, "productive", gp, "productive_s", wall);
	bucket_row(t, "lost", gp, "lost_s", wall);
	bucket_row(t, "recovery", gp, "recovery_s", wall);
	bucket_row(t, "  detection", rec, "detect_s", wall);
	bucket_row(t, "  backoff", rec, "backoff_s", wall);
	bucket_row(t, "  queue", rec, "queue_s", wall);
	bucket_row(t, "  start-up", rec, "startup_s", wall);
	bucket_row(t, "ckpt stall", gp, "ckpt_stall_s", wall);
	bucket_row(t, "wall", gp, "wall_s", wall);
	table_print(t, stdout, OUTPUT_WIDTH);
	table_free(t);
	incidents_print(json_object_get(gp, "incidents"));
}

static void
totals_print(const json_t *reply)
{
	static const char *const headers[] = { "KEY", "JOBS", "WALL",
		"PRODUCTIVE", "LOST", "RECOVERY", "QUEUE", "START-UP", "STALL",
		"INCIDENTS", "ETTR" };
	static const char *const keys[] = { "wall_s", "productive_s", "lost_s",
		"recovery_s", "queue_s", "startup_s", "ckpt_stall_s" };
	const json_t *list = json_object_get(reply, "totals"), *o;
	struct table *t;
	char b[FIELD_MAX];
	size_t i, k;

	if (json_array_size(list) == 0) {
		printf("no jobs\n");
		return;
	}
	t = table_create(nitems(headers), headers);
	json_array_foreach(list, i, o)
	{
		table_add(t, output_field(o, "key", b, sizeof b));
		table_add(t, output_field(o, "jobs", b, sizeof b));
		for (k = 0; k < nitems(keys); k++)
			table_add(t, dur(num(o, keys[k]), b, sizeof b));
		table_add(t, output_field(o, "incidents", b, sizeof b));
		table_add(t,
		    pct(json_real_value(json_object_get(o, "ettr")), b,
		        sizeof b));
	}
	table_print(t, stdout, OUTPUT_WIDTH);
	table_free(t);
}

static int
cmd_goodput_exec(struct llmctl *ctx, struct args *args)
{
	static const struct job_view job_view = {
		.key = "goodput",
		.type = JSON_OBJECT,
		.what = "goodput ledger",
		.print = job_print,
	};
	static const struct job_view totals_view = {
		.key = "totals",
		.type = JSON_ARRAY,
		.what = "goodput totals",
		.print = totals_print,
	};
	const char *by = args_get(args, 'b');
	enum output_format fmt;
	const json_t *gp;
	json_t *reply;
	char *path;
	long long id;
	int rc;

	if (job_output_format(args, &fmt) != 0)
		return CMD_USAGE;
	if (by != NULL && strcmp(by, "user") != 0 && strcmp(by, "day") != 0 &&
	    strcmp(by, "job") != 0) {
		fprintf(stderr, "llmctl: --by: user, day or job, not %s\n", by);
		return CMD_USAGE;
	}
	if (args->argc == 0) {
		path = xasprintf("/v1/goodput?by=%s", by != NULL ? by : "user");
		rc = job_view_show(ctx, &totals_view, path, fmt);
		free(path);
		return rc;
	}
	if (by != NULL) {
		fprintf(stderr, "llmctl: --by: totals only, without an id\n");
		return CMD_USAGE;
	}
	if ((id = job_parse_id(args->argv[0])) == -1)
		return CMD_USAGE;
	path = xasprintf("/v1/jobs/%lld", id);
	if (fmt == OUTPUT_TABLE)
		rc = job_view_show(ctx, &job_view, path, fmt);
	else if ((reply = job_get(ctx, path)) == NULL)
		rc = CMD_FAILED;
	else {
		/* the ledger alone, not the whole job */
		if ((gp = json_object_get(reply, "goodput")) == NULL) {
			fprintf(
			    stderr, "llmctl: llmctld sent no goodput ledger\n");
			rc = CMD_FAILED;
		} else {
			output_data(stdout, gp, fmt);
			rc = CMD_OK;
		}
		json_decref(reply);
	}
	free(path);
	return rc;
}
