/*
 * llmctl status: list jobs, or show one job with its attempts.
 *
 * The list is the caller's own jobs unless -a asks for every job the caller
 * may see (all users' for root and the admin group) or --user names one.
 * As in squeue, a finished job drops out of the list a while after it
 * ended (STATUS_SINCE_DEFAULT, or LLMCTL_STATUS_SINCE); --since and
 * --state say otherwise. Every filter is a query parameter: the daemon
 * filters, so a store of 100k jobs is never sent here to be sifted.
 * Fields the daemon does not send, or sends as null, print as "-"; fields
 * this version does not know are ignored here and kept in -o json.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "job.h"
#include "llmctl.h"
#include "output.h"
#include "util.h"

#define FIELD_MAX 256
#define STATUS_SINCE_DEFAULT "5m" /* squeue's MinJobAge is 300 s */
#define STATUS_LIMIT_DEFAULT 100 /* jobs in a listing without --limit */
#define STATUS_PAGE_MAX 10000 /* the most the daemon sends at once */

static int cmd_status_exec(struct llmctl *, struct args *);
static int status_since(const char *, int64_t, int64_t *);
static int status_date(const char *, int64_t *);
static int status_states(const char *);
static void status_query(struct llmctl *, char **, const char *, const char *);
static char *status_path(struct llmctl *, struct args *);
static int status_list(struct llmctl *, struct args *, enum output_format);
static void status_table(const json_t *, int);
static const char *status_gpus(const json_t *, char *, size_t);
static void status_line(const char *, const char *);
static void status_noted(
    const char *, const json_t *, const char *, const char *, const char *);
static void status_when(const char *, const json_t *, const char *, int64_t);
static void status_command(const json_t *);
static char *status_quote(const char *);
static void status_attempts(const json_t *);
static void status_health(const json_t *);
static void status_job(const json_t *);

const struct cmd_entry cmd_status_entry = {
	.name = "status",
	.usage = "[-a] [-o json|yaml] [--state states] [--user user] "
	         "[--name name] [--since time] [--limit n] [--noheader] [id]",
	.about = "List jobs, newest first, or show one job with its attempts.",
	.args = { .template = "ao:",
	    .upper = 1,
	    .operand = "id",
	    .longs =
	        (const struct args_long[]){
	            { .ch = 'a',
	                .name = "all",
	                .help = "every user's jobs you may see" },
	            ARGS_OUTPUT,
	            { .ch = 's',
	                .name = "state",
	                .has_arg = 1,
	                .arg = "state",
	                .help = "only these states (a comma list), however "
	                        "old" },
	            { .ch = 'u',
	                .name = "user",
	                .has_arg = 1,
	                .arg = "user",
	                .help = "only this user's jobs" },
	            { .ch = 'n',
	                .name = "name",
	                .has_arg = 1,
	                .arg = "name",
	                .help = "only jobs of this name" },
	            { .ch = 'S',
	                .name = "since",
	                .has_arg = 1,
	                .arg = "time",
	                .help = "finished jobs that ended since: 2h, 1d, "
	                        "DATE, all" },
	            { .ch = 'L',
	                .name = "limit",
	                .has_arg = 1,
	                .arg = "n",
	                .help = "the newest n jobs (default 100), 0: all" },
	            { .ch = 'H', .name = "noheader", .help = "no header line" },
	            { 0 } } },
	.exec = cmd_status_exec,
};

static int
cmd_status_exec(struct llmctl *ctx, struct args *args)
{
	static const struct job_view view = {
		.type = JSON_OBJECT,
		.what = "job",
		.print = status_job,
	};
	enum output_format fmt;
	char *path;
	long long id;
	int rc;

	if (job_output_format(args, &fmt) != 0)
		return CMD_USAGE;
	if (args->argc == 0)
		return status_list(ctx, args, fmt);
	if ((id = job_parse_id(args->argv[0])) == -1)
		return CMD_USAGE;
	path = xasprintf("/v1/jobs/%lld", id);
	rc = job_view_show(ctx, &view, path, fmt);
	free(path);
	return rc;
}

/* "YYYY-MM-DD", then "THH:MM" or " HH:MM", then ":SS": local time. */
static int
status_date(const char *s, int64_t *out)
{
	struct tm tm = { 0 };
	int n = 0, m = 0, k = 0;

	if (sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	        &n) != 3 ||
	    n != 10)
		return -1;
	if ((s[n] == 'T' || s[n] == ' ') &&
	    sscanf(s + n + 1, "%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &m) == 2 &&
	    m == 5) {
		n += 1 + m;
		if (s[n] == ':' &&
		    sscanf(s + n + 1, "%2d%n", &tm.tm_sec, &k) == 1 && k == 2)
			n += 1 + k;
	}
	if (s[n] != '\0' || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 60)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon--;
	tm.tm_isdst = -1;
	*out = (int64_t)mktime(&tm);
	return 0;
}

/*
 * --since: "all", a duration back from now (90s, 30m, 2h, 1d, 1w) or a
 * local date and time into unix time *out; -1 after printing why not.
 */
static int
status_since(const char *s, int64_t now, int64_t *out)
{
	static const char units[] = "smhdw";
	static const int64_t secs[] = { 1, 60, 3600, 86400, 604800 };
	const char *u;
	long long n;
	char *end;

	if (strcmp(s, "all") == 0) {
		*out = 0;
		return 0;
	}
	if (*s >= '0' && *s <= '9' && status_date(s, out) == 0)
		return 0;
	if (*s >= '0' && *s <= '9') {
		n = strtoll(s, &end, 10);
		if (n < 100000 && end[0] != '\0' && end[1] == '\0' &&
		    (u = strchr(units, end[0])) != NULL) {
			*out = now - n * secs[u - units];
			return 0;
		}
	}
	fprintf(stderr,
	    "llmctl: invalid time: %s (use 30m, 2h, 1d, "
	    "YYYY-MM-DD[THH:MM[:SS]] or all)\n",
	    s);
	return -1;
}

/* --state: a comma list of job_states[], any case; -1 after printing. */
static int
status_states(const char *list)
{
	const char *p = list, *q;
	size_t i, len;

	for (;;) {
		q = strchr(p, ',');
		len = q != NULL ? (size_t)(q - p) : strlen(p);
		for (i = 0; job_states[i] != NULL; i++) {
			if (strlen(job_states[i]) == len &&
			    strncasecmp(job_states[i], p, len) == 0)
				break;
		}
		if (job_states[i] == NULL) {
			fprintf(stderr,
			    "llmctl: unknown state: %.*s (use QUEUED, "
			    "SUBMITTED, RUNNING, RESTARTING, COMPLETED, "
			    "FAILED or CANCELLED)\n",
			    (int)len, p);
			return -1;
		}
		if (q == NULL)
			return 0;
		p = q + 1;
	}
}

/* Append "?key=value" or "&key=value", the value encoded, to *path. */
static void
status_query(
    struct llmctl *ctx, char **path, const char *key, const char *value)
{
	char *v, *s;

	v = client_escape(llmctl_client(ctx), value);
	s = xasprintf(
	    "%s%c%s=%s", *path, strchr(*path, '?') != NULL ? '&' : '?', key, v);
	free(v);
	free(*path);
	*path = s;
}

/*
 * GET /v1/jobs with the filters as query parameters; NULL after printing
 * what was wrong with them. Without --since and --state a finished job
 * stays only until the default window has passed since it ended.
 */
static char *
status_path(struct llmctl *ctx, struct args *args)
{
	const char *since = args_get(args, 'S'), *state = args_get(args, 's');
	const char *user = args_get(args, 'u'), *env;
	char *path, t[32], me[16];
	int64_t when = 0;

	if (since == NULL && state == NULL) {
		env = getenv("LLMCTL_STATUS_SINCE");
		since =
		    env != NULL && *env != '\0' ? env : STATUS_SINCE_DEFAULT;
	}
	if ((state != NULL && status_states(state) != 0) ||
	    (since != NULL && status_since(since, wall_s(), &when) != 0))
		return NULL;
	/* your own: by uid, which llmctld matches without NSS, as we do */
	if (user == NULL && !args_has(args, 'a')) {
		snprintf(me, sizeof me, "%u", (unsigned)getuid());
		user = me;
	}
	path = xstrdup("/v1/jobs");
	if (user != NULL)
		status_query(ctx, &path, "user", user);
	if (state != NULL)
		status_query(ctx, &path, "state", state);
	if (args_has(args, 'n'))
		status_query(ctx, &path, "name", args_get(args, 'n'));
	if (when > 0) {
		snprintf(t, sizeof t, "%" PRId64, when);
		status_query(ctx, &path, "since", t);
	}
	return path;
}

/* Total GPUs of a job: nodes * gpus_per_node. */
static const char *
status_gpus(const json_t *job, char *buf, size_t len)
{
	const json_t *n, *g;

	n = json_object_get(job, "nodes");
	g = json_object_get(job, "gpus_per_node");
	if (json_is_integer(n) && json_is_integer(g))
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(n) * json_integer_value(g));
	else
		snprintf(buf, len, "-");
	return buf;
}

/*
 * The newest limit jobs (0: all), a page at a time, following the daemon's
 * "next" cursor; one reply {"jobs", "next" if more were left}, or NULL.
 */
static json_t *
status_pages(struct llmctl *ctx, const char *base, long long limit)
{
	json_t *all = json_array(), *reply, *jobs, *next = NULL;
	long long page;
	char *path, n[32];

	for (;;) {
		page = limit == 0 ? STATUS_PAGE_MAX
		                  : limit - (long long)json_array_size(all);
		if (page > STATUS_PAGE_MAX)
			page = STATUS_PAGE_MAX;
		path = xstrdup(base);
		snprintf(n, sizeof n, "%lld", page);
		status_query(ctx, &path, "limit", n);
		if (next != NULL) {
			snprintf(n, sizeof n, "%" JSON_INTEGER_FORMAT,
			    json_integer_value(next));
			status_query(ctx, &path, "after", n);
		}
		reply = job_get(ctx, path);
		free(path);
		json_decref(next);
		next = NULL;
		if (reply == NULL ||
		    !json_is_array(jobs = json_object_get(reply, "jobs"))) {
			if (reply != NULL)
				fprintf(stderr,
				    "llmctl: llmctld sent no job "
				    "list\n");
			json_decref(reply);
			json_decref(all);
			return NULL;
		}
		json_array_extend(all, jobs);
		next = json_incref(json_object_get(reply, "next"));
		json_decref(reply);
		if (!json_is_integer(next) ||
		    (limit > 0 && (long long)json_array_size(all) >= limit))
			break;
	}
	reply = json_pack("{s:o}", "jobs", all);
	if (json_is_integer(next))
		json_object_set(reply, "next", next);
	json_decref(next);
	return reply;
}

static int
status_list(struct llmctl *ctx, struct args *args, enum output_format fmt)
{
	const char *l = args_get(args, 'L');
	long long limit = STATUS_LIMIT_DEFAULT;
	json_t *reply;
	char *path, *end;

	if (l != NULL &&
	    ((limit = strtoll(l, &end, 10)) < 0 || *end != '\0' || end == l)) {
		fprintf(stderr,
		    "llmctl: --limit: expected a number of jobs, "
		    "0 for all, got \"%s\"\n",
		    l);
		return CMD_USAGE;
	}
	if ((path = status_path(ctx, args)) == NULL)
		return CMD_USAGE;
	reply = status_pages(ctx, path, limit);
	free(path);
	if (reply == NULL)
		return CMD_FAILED;
	if (fmt != OUTPUT_TABLE)
		output_data(stdout, reply, fmt);
	else {
		status_table(reply, args_has(args, 'H'));
		/* never cut silently: say so, and how to see the rest */
		if (json_object_get(reply, "next") != NULL)
			fprintf(stderr,
			    "llmctl: the newest %zu jobs shown, "
			    "more are older: --limit N or --limit 0 for "
			    "all\n",
			    json_array_size(json_object_get(reply, "jobs")));
	}
	json_decref(reply);
	return CMD_OK;
}

static void
status_table(const json_t *reply, int noheader)
{
	static const char *const headers[] = { "ID", "NAME", "USER", "STATE",
		"NODES", "GPUS", "ATTEMPT", "SLURM_ID", "AGE", "REASON" };
	struct table *t;
	const json_t *job;
	char b[FIELD_MAX];
	int64_t now = wall_s();
	size_t i;

	t = table_create(nitems(headers), headers);
	if (noheader)
		table_noheader(t);
	json_array_foreach(json_object_get(reply, "jobs"), i, job)
	{
		table_add(t, output_field(job, "id", b, sizeof b));
		table_add(t, output_field(job, "name", b, sizeof b));
		table_add(t, output_field(job, "user", b, sizeof b));
		table_add(t, output_field(job, "state", b, sizeof b));
		table_add(t, output_field(job, "nodes", b, sizeof b));
		table_add(t, status_gpus(job, b, sizeof b));
		table_add(t, output_field(job, "attempt", b, sizeof b));
		table_add(t, output_field(job, "slurm_job_id", b, sizeof b));
		table_add(t, output_age(job, "created_at", now, b, sizeof b));
		table_add(t, output_field(job, "reason", b, sizeof b));
	}
	table_print(t, stdout, OUTPUT_WIDTH);
	table_free(t);
}

static void
status_line(const char *label, const char *value)
{
	printf("%-14s", label);
	output_string(stdout, value);
	putchar('\n');
}

/* obj[key], then " (WORDS N)" when obj[extra] is an integer N. */
static void
status_noted(const char *label, const json_t *obj, const char *key,
    const char *words, const char *extra)
{
	char b[FIELD_MAX], *s;

	if (!json_is_integer(json_object_get(obj, extra))) {
		status_line(label, output_field(obj, key, b, sizeof b));
		return;
	}
	s = xasprintf("%s (%s %" JSON_INTEGER_FORMAT ")",
	    output_field(obj, key, b, sizeof b), words,
	    json_integer_value(json_object_get(obj, extra)));
	status_line(label, s);
	free(s);
}

/* The time obj[key] with its age: "2024-05-01 12:00:00 (5m ago)", or "-". */
static void
status_when(const char *label, const json_t *obj, const char *key, int64_t now)
{
	char b[FIELD_MAX], age[32], *s;

	output_age(obj, key, now, age, sizeof age);
	s = xasprintf("%s (%s ago)", output_time(obj, key, b, sizeof b), age);
	status_line(label, strcmp(age, "-") == 0 ? "-" : s);
	free(s);
}

/* An argument as a shell would need it, quoted only when it must be. */
static char *
status_quote(const char *s)
{
	if (*s != '\0' &&
	    strspn(s,
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	        "abcdefghijklmnopqrstuvwxyz0123456789_-+=.,/:@%") == strlen(s))
		return xstrdup(s);
	return sh_quote(s);
}

/* The command from the canonical spec: a string, or a list shown quoted. */
static void
status_command(const json_t *spec)
{
	const json_t *cmd, *arg;
	char *s, *q, *joined = NULL;
	size_t i;

	cmd = json_object_get(spec, "command");
	if (json_is_string(cmd)) {
		status_line("command:", json_string_value(cmd));
		return;
	}
	if (!json_is_array(cmd))
		return;
	json_array_foreach(cmd, i, arg)
	{
		if (!json_is_string(arg))
			continue;
		q = status_quote(json_string_value(arg));
		s = xasprintf("%s%s%s", joined != NULL ? joined : "",
		    joined != NULL ? " " : "", q);
		free(q);
		free(joined);
		joined = s;
	}
	if (joined != NULL)
		status_line("command:", joined);
	free(joined);
}

static void
status_attempts(const json_t *attempts)
{
	static const char *const headers[] = { "ATTEMPT", "SLURM_ID", "STATE",
		"NODES", "EXIT", "CAUSE", "STARTED", "ENDED", "REASON" };
	const json_t *a;
	struct table *t;
	char b[FIELD_MAX];
	size_t i;

	if (!json_is_array(attempts) || json_array_size(attempts) == 0) {
		printf("no attempts yet\n");
		return;
	}
	t = table_create(nitems(headers), headers);
	json_array_foreach(attempts, i, a)
	{
		table_add(t, output_field(a, "attempt", b, sizeof b));
		table_add(t, output_field(a, "slurm_job_id", b, sizeof b));
		table_add(t, output_field(a, "state", b, sizeof b));
		table_add(t, output_field(a, "nodes", b, sizeof b));
		table_add(t, output_field(a, "exit_code", b, sizeof b));
		table_add(t, output_field(a, "cause", b, sizeof b));
		table_add(t, output_time_short(a, "started_at", b, sizeof b));
		table_add(t, output_time_short(a, "ended_at", b, sizeof b));
		table_add(t, output_field(a, "reason", b, sizeof b));
	}
	table_print(t, stdout, OUTPUT_WIDTH);
	table_free(t);
}

/* "rank 1 on n2, 3.1x its peers (1.52 s/step)", one line for all. */
static void
status_stragglers(const json_t *arr)
{
	const json_t *r;
	char b[FIELD_MAX], n[FIELD_MAX], *s = NULL, *t;
	size_t i;

	json_array_foreach(arr, i, r)
	{
		t = xasprintf(
		    "%s%srank %s on %s, %.1fx its peers (%.2f s/step)",
		    s != NULL ? s : "", s != NULL ? "; " : "",
		    output_field(r, "rank", b, sizeof b),
		    output_field(r, "node", n, sizeof n),
		    json_number_value(json_object_get(r, "ratio")),
		    json_number_value(json_object_get(r, "seconds_per_step")));
		free(s);
		s = t;
	}
	if (s != NULL)
		status_line("stragglers:", s);
	free(s);
}

/*
 * What recovery works with, shown only when the daemon sends it: the
 * checkpoint the next attempt resumes from, the latest heartbeat and the
 * nodes kept out of the next attempts.
 */
static void
status_health(const json_t *job)
{
	const json_t *ck, *hb, *ex, *name;
	char b[FIELD_MAX], *s, *t;
	size_t i;

	ck = json_object_get(job, "checkpoint");
	if (json_is_object(ck)) {
		s = xasprintf("step %s", output_field(ck, "step", b, sizeof b));
		t = xasprintf(
		    "%s, %s", s, output_field(ck, "path", b, sizeof b));
		status_line("checkpoint:", t);
		free(t);
		free(s);
	}
	hb = json_object_get(job, "heartbeat");
	if (json_is_object(hb)) {
		s = xasprintf(
		    "%ss ago", output_field(hb, "age_s", b, sizeof b));
		if (json_is_integer(json_object_get(hb, "step"))) {
			t = xasprintf("%s, step %s", s,
			    output_field(hb, "step", b, sizeof b));
			free(s);
			s = t;
		}
		if (json_is_integer(json_object_get(hb, "ranks"))) {
			t = xasprintf("%s, %s ranks", s,
			    output_field(hb, "ranks", b, sizeof b));
			free(s);
			s = t;
		}
		status_line("heartbeat:", s);
		free(s);
	}
	if (json_is_object(json_object_get(job, "goodput"))) {
		s = goodput_summary(json_object_get(job, "goodput"));
		status_line("goodput:", s);
		free(s);
	}
	ex = json_object_get(job, "excluded_nodes");
	if (json_is_array(ex) && json_array_size(ex) > 0) {
		s = xstrdup("");
		json_array_foreach(ex, i, name)
		{
			t = xasprintf("%s%s%s", s, i > 0 ? ", " : "",
			    json_is_string(name) ? json_string_value(name)
			                         : "?");
			free(s);
			s = t;
		}
		status_line("excluded:", s);
		free(s);
	}
	status_stragglers(json_object_get(job, "stragglers"));
}

static void
status_job(const json_t *job)
{
	char b[FIELD_MAX];
	int64_t now = wall_s();

	status_line("id:", output_field(job, "id", b, sizeof b));
	status_line("name:", output_field(job, "name", b, sizeof b));
	status_noted("user:", job, "user", "uid", "uid");
	/* The exit code belongs with the state: "FAILED (exit code 3)". */
	status_noted("state:", job, "state", "exit code", "exit_code");
	status_line("reason:", output_field(job, "reason", b, sizeof b));
	status_line("nodes:", output_field(job, "nodes", b, sizeof b));
	status_line(
	    "gpus/node:", output_field(job, "gpus_per_node", b, sizeof b));
	status_line(
	    "world size:", output_field(job, "world_size", b, sizeof b));
	status_line("attempts:", output_field(job, "attempt", b, sizeof b));
	status_line(
	    "slurm job:", output_field(job, "slurm_job_id", b, sizeof b));
	status_line("node list:", output_field(job, "node_list", b, sizeof b));
	status_health(job);
	status_when("created:", job, "created_at", now);
	status_when("updated:", job, "updated_at", now);
	if (json_is_object(json_object_get(job, "spec"))) {
		status_line("workdir:",
		    output_field(
		        json_object_get(job, "spec"), "workdir", b, sizeof b));
		status_command(json_object_get(job, "spec"));
	}
	putchar('\n');
	status_attempts(json_object_get(job, "attempts"));
}
