/*
 * llmctl events: a job's timeline, oldest first: what the daemon decided
 * and why (submitted, planned, attempt started or ended with its cause,
 * restart scheduled, budget spent...).
 *
 * Unlike the other tables, messages are never cut to fit the terminal: a
 * timeline is read for its reasons, and a reason cut short is no reason.
 *
 * With -f the events are followed as llmctld commits them (a stream,
 * docs/design.md section 4): one job's until it is final, or, without an
 * id, all of the caller's jobs until interrupted. Each line is printed as
 * it comes (-o json: the stream's own JSON lines).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "job.h"
#include "llmctl.h"
#include "output.h"
#include "util.h"

static int cmd_events_exec(struct llmctl *, struct args *);
static void events_print(const json_t *);
static int events_follow(struct llmctl *, struct args *);

const struct cmd_entry cmd_events_entry = {
	.name = "events",
	.usage = "[-f] [-o json|yaml] [id]",
	.about = "A job's timeline, oldest first: what llmctld did and why.",
	.args = { .template = "fo:",
	    .upper = 1,
	    .operand = "id",
	    .longs = (const struct args_long[]){ { .ch = 'f',
	                                             .name = "follow",
	                                             .help = "follow events as "
	                                                     "they happen" },
	        ARGS_OUTPUT, { 0 } } },
	.exec = cmd_events_exec,
};

#define FOLLOW_KIND_WIDTH 13 /* the widest kind, attempt_ended */

struct follow {
	int json;
	int all; /* no id: a JOB column */
	int header;
	int ended;
};

static int
follow_line(const char *line, void *arg)
{
	struct follow *fw = arg;
	const char *msg;
	json_t *ev;
	char b[64], *kind;

	if (*line == '\0')
		return 0; /* the daemon's keep-alive */
	if ((ev = json_loads(line, 0, NULL)) == NULL)
		return 0;
	if (json_is_true(json_object_get(ev, "end")))
		fw->ended = 1;
	if (fw->json) {
		printf("%s\n", line);
	} else if (!fw->ended) {
		if (!fw->header++)
			printf("%-19s  %s%-*s  MESSAGE\n", "TIME",
			    fw->all ? "JOB     " : "", FOLLOW_KIND_WIDTH,
			    "KIND");
		printf("%-19s  ", output_time(ev, "at", b, sizeof b));
		if (fw->all)
			printf("%-6lld  ",
			    (long long)json_integer_value(
			        json_object_get(ev, "job_id")));
		kind = output_sanitise(output_field(ev, "kind", b, sizeof b));
		printf("%-*s  ", FOLLOW_KIND_WIDTH, kind);
		free(kind);
		msg = json_string_value(json_object_get(ev, "message"));
		output_string(stdout, msg != NULL && *msg != '\0' ? msg : "-");
		putchar('\n');
	}
	fflush(stdout);
	json_decref(ev);
	return fw->ended;
}

static int
events_follow(struct llmctl *ctx, struct args *args)
{
	struct follow fw = { 0 };
	enum output_format fmt;
	char *path, *cause = NULL;
	long long id = 0;
	int rc;

	if (job_output_format(args, &fmt) != 0)
		return CMD_USAGE;
	if (args->argc == 1 && (id = job_parse_id(args->argv[0])) == -1)
		return CMD_USAGE;
	fw.json = fmt != OUTPUT_TABLE;
	fw.all = id == 0;
	path = id != 0 ? xasprintf("/v1/jobs/%lld/events?follow=1", id)
	               : xstrdup("/v1/events?follow=1");
	rc = client_stream(llmctl_client(ctx), path, follow_line, &fw, &cause);
	free(path);
	if (rc != CLIENT_OK) {
		fprintf(stderr, "llmctl: %s\n", cause);
		free(cause);
		return CMD_FAILED;
	}
	if (!fw.ended) {
		fprintf(stderr,
		    "llmctl: llmctld ended the event stream "
		    "(stopping, or this reader was too slow)\n");
		return CMD_FAILED;
	}
	return CMD_OK;
}

/* TIME KIND MESSAGE, the kind column as wide as its widest entry. */
static void
events_print(const json_t *reply)
{
	const json_t *events, *ev;
	const char *msg;
	char b[64], *kind;
	size_t i, w = strlen("KIND");

	events = json_object_get(reply, "events");
	if (json_array_size(events) == 0) {
		printf("no events\n");
		return;
	}
	json_array_foreach(events, i, ev)
	{
		kind = output_sanitise(output_field(ev, "kind", b, sizeof b));
		if (output_width(kind) > w)
			w = output_width(kind);
		free(kind);
	}
	printf("%-19s  %-*s  MESSAGE\n", "TIME", (int)w, "KIND");
	json_array_foreach(events, i, ev)
	{
		printf("%-19s  ", output_time(ev, "at", b, sizeof b));
		kind = output_sanitise(output_field(ev, "kind", b, sizeof b));
		printf("%s%*s  ", kind, (int)(w - output_width(kind)), "");
		free(kind);
		msg = json_string_value(json_object_get(ev, "message"));
		output_string(stdout, msg != NULL && *msg != '\0' ? msg : "-");
		putchar('\n');
	}
}

static int
cmd_events_exec(struct llmctl *ctx, struct args *args)
{
	static const struct job_view view = {
		.path = "events",
		.key = "events",
		.type = JSON_ARRAY,
		.what = "event list",
		.print = events_print,
	};

	if (args_has(args, 'f'))
		return events_follow(ctx, args);
	if (args->argc != 1)
		return cmd_usage(&cmd_events_entry);
	return job_view_exec(ctx, &view, args);
}
