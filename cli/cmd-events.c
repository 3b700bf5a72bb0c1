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
#include <unistd.h>

#include "client.h"
#include "llmctl.h"
#include "output.h"
#include "util.h"

static int cmd_events_exec(struct llmctl *, int, char **);
static int events_print(const json_t *);

const struct cmd_entry cmd_events_entry = {
    .name = "events",
    .usage = "[-o json] id",
    .exec = cmd_events_exec,
};

/* TIME KIND MESSAGE, the kind column as wide as its widest entry. */
static int
events_print(const json_t *events)
{
	const json_t *ev;
	const char *msg;
	char b[64], *kind;
	size_t i, w = strlen("KIND");

	if (json_array_size(events) == 0) {
		printf("no events\n");
		return 0;
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
	return 0;
}

static int
cmd_events_exec(struct llmctl *ctx, int argc, char **argv)
{
	enum output_format fmt = OUTPUT_TABLE;
	json_t *reply, *events;
	char *path, *cause = NULL;
	long long id;
	int ch, rc = 1;

	while ((ch = getopt(argc, argv, "ho:")) != -1) {
		switch (ch) {
		case 'o':
			if (output_parse_format(optarg, &fmt) != 0)
				return 1;
			break;
		case 'h':
			return cmd_help(&cmd_events_entry);
		default:
			return cmd_usage(&cmd_events_entry);
		}
	}
	if (argc - optind != 1)
		return cmd_usage(&cmd_events_entry);
	if ((id = cmd_parse_id(argv[optind])) == -1) {
		fprintf(stderr, "llmctl: invalid job id: %s\n", argv[optind]);
		return 1;
	}
	path = xasprintf("/v1/jobs/%lld/events", id);
	if (client_request(llmctl_client(ctx), "GET", path, NULL, &reply,
	        &cause) != CLIENT_OK) {
		fprintf(stderr, "llmctl: %s\n", cause);
		free(cause);
		free(path);
		return 1;
	}
	free(path);
	events = json_object_get(reply, "events");
	if (fmt == OUTPUT_JSON) {
		output_json(stdout, reply);
		rc = 0;
	} else if (!json_is_array(events))
		fprintf(stderr, "llmctl: llmctld sent no event list\n");
	else
		rc = events_print(events);
	json_decref(reply);
	return rc;
}
