/*
 * llmctl events: a job's timeline, oldest first: what the daemon decided
 * and why (submitted, planned, attempt started or ended with its cause,
 * restart scheduled, budget spent...).
 *
 * Unlike the other tables, messages are never cut to fit the terminal: a
 * timeline is read for its reasons, and a reason cut short is no reason.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "llmctl.h"
#include "output.h"
#include "util.h"

static int cmd_events_exec(struct llmctl *, struct args *);
static void events_print(const json_t *);

const struct cmd_entry cmd_events_entry = {
    .name = "events",
    .usage = "[-o json|yaml] id",
    .about = "A job's timeline, oldest first: what llmctld did and why.",
    .args = {.template = "o:",
        .lower = 1,
        .upper = 1,
        .operand = "id",
        .longs = (const struct args_long[]){ARGS_OUTPUT, {0}}},
    .exec = cmd_events_exec,
};

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

	return job_view_exec(ctx, &view, args);
}
