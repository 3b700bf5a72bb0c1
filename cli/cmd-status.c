/*
 * llmctl status: list jobs, or show one job with its attempts.
 *
 * The list is the caller's own jobs unless -a asks for every job the caller
 * may see (all users' for root and the admin group). Fields the daemon does
 * not send, or sends as null, print as "-"; fields this version does not
 * know are ignored here and kept in -o json.
 */
#include "config.h"

#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "llmctl.h"
#include "output.h"
#include "util.h"

#define FIELD_MAX 256

static int cmd_status_exec(struct llmctl *, int, char **);
static int status_list(struct llmctl *, enum output_format, int);
static int status_job(struct llmctl *, enum output_format, long long);
static const char *status_gpus(const json_t *, char *, size_t);
static void status_line(const char *, const char *);
static void status_command(const json_t *);
static char *status_quote(const char *);
static void status_attempts(const json_t *);
static void status_health(const json_t *);

const struct cmd_entry cmd_status_entry = {
    .name = "status",
    .usage = "[-a] [-o json] [id]",
    .exec = cmd_status_exec,
};

static int
cmd_status_exec(struct llmctl *ctx, int argc, char **argv)
{
	enum output_format fmt = OUTPUT_TABLE;
	long long id;
	int ch, all = 0;

	while ((ch = getopt(argc, argv, "aho:")) != -1) {
		switch (ch) {
		case 'a':
			all = 1;
			break;
		case 'o':
			if (output_parse_format(optarg, &fmt) != 0)
				return 1;
			break;
		case 'h':
			return cmd_help(&cmd_status_entry);
		default:
			return cmd_usage(&cmd_status_entry);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1)
		return cmd_usage(&cmd_status_entry);
	if (argc == 0)
		return status_list(ctx, fmt, all);
	if ((id = cmd_parse_id(argv[0])) == -1) {
		fprintf(stderr, "llmctl: invalid job id: %s\n", argv[0]);
		return 1;
	}
	return status_job(ctx, fmt, id);
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

static int
status_list(struct llmctl *ctx, enum output_format fmt, int all)
{
	static const char *const headers[] = {"ID", "NAME", "USER", "STATE",
	    "NODES", "GPUS", "ATTEMPT", "SLURM_ID", "AGE", "REASON"};
	struct client *c = llmctl_client(ctx);
	struct passwd *pw;
	struct table *t;
	json_t *reply, *jobs, *job;
	char *path, *user, *cause = NULL, b[FIELD_MAX];
	int64_t now = wall_s();
	size_t i;

	if (!all && (pw = getpwuid(getuid())) != NULL) {
		user = client_escape(c, pw->pw_name);
		path = xasprintf("/v1/jobs?user=%s", user);
		free(user);
	} else
		path = xstrdup("/v1/jobs");
	if (client_request(c, "GET", path, NULL, &reply, &cause) != CLIENT_OK) {
		fprintf(stderr, "llmctl: %s\n", cause);
		free(cause);
		free(path);
		return 1;
	}
	free(path);
	if (fmt == OUTPUT_JSON) {
		output_json(stdout, reply);
		json_decref(reply);
		return 0;
	}
	jobs = json_object_get(reply, "jobs");
	if (!json_is_array(jobs)) {
		fprintf(stderr, "llmctl: llmctld sent no job list\n");
		json_decref(reply);
		return 1;
	}

	t = table_create(nitems(headers), headers);
	json_array_foreach(jobs, i, job)
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
	json_decref(reply);
	return 0;
}

static void
status_line(const char *label, const char *value)
{
	printf("%-14s", label);
	output_string(stdout, value);
	putchar('\n');
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
	static const char *const headers[] = {"ATTEMPT", "SLURM_ID", "STATE",
	    "NODES", "EXIT", "CAUSE", "STARTED", "ENDED", "REASON"};
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
}

static int
status_job(struct llmctl *ctx, enum output_format fmt, long long id)
{
	json_t *job;
	char *path, *cause = NULL, b[FIELD_MAX], age[32], *s;
	int64_t now = wall_s();

	path = xasprintf("/v1/jobs/%lld", id);
	if (client_request(llmctl_client(ctx), "GET", path, NULL, &job,
	        &cause) != CLIENT_OK) {
		fprintf(stderr, "llmctl: %s\n", cause);
		free(cause);
		free(path);
		return 1;
	}
	free(path);
	if (fmt == OUTPUT_JSON) {
		output_json(stdout, job);
		json_decref(job);
		return 0;
	}
	if (!json_is_object(job)) {
		fprintf(stderr, "llmctl: llmctld sent no job\n");
		json_decref(job);
		return 1;
	}

	status_line("id:", output_field(job, "id", b, sizeof b));
	status_line("name:", output_field(job, "name", b, sizeof b));
	if (json_is_integer(json_object_get(job, "uid"))) {
		s = xasprintf("%s (uid %" JSON_INTEGER_FORMAT ")",
		    output_field(job, "user", b, sizeof b),
		    json_integer_value(json_object_get(job, "uid")));
		status_line("user:", s);
		free(s);
	} else
		status_line("user:", output_field(job, "user", b, sizeof b));
	/* The exit code belongs with the state: "FAILED (exit code 3)". */
	if (json_is_integer(json_object_get(job, "exit_code"))) {
		s = xasprintf("%s (exit code %" JSON_INTEGER_FORMAT ")",
		    output_field(job, "state", b, sizeof b),
		    json_integer_value(json_object_get(job, "exit_code")));
		status_line("state:", s);
		free(s);
	} else
		status_line("state:", output_field(job, "state", b, sizeof b));
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
	output_age(job, "created_at", now, age, sizeof age);
	s = xasprintf(
	    "%s (%s ago)", output_time(job, "created_at", b, sizeof b), age);
	status_line("created:", strcmp(age, "-") == 0 ? "-" : s);
	free(s);
	output_age(job, "updated_at", now, age, sizeof age);
	s = xasprintf(
	    "%s (%s ago)", output_time(job, "updated_at", b, sizeof b), age);
	status_line("updated:", strcmp(age, "-") == 0 ? "-" : s);
	free(s);
	if (json_is_object(json_object_get(job, "spec"))) {
		status_line("workdir:",
		    output_field(
		        json_object_get(job, "spec"), "workdir", b, sizeof b));
		status_command(json_object_get(job, "spec"));
	}
	putchar('\n');
	status_attempts(json_object_get(job, "attempts"));
	json_decref(job);
	return 0;
}
