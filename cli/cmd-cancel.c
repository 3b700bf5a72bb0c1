/*
 * llmctl cancel: cancel jobs by id.
 *
 * Every id is checked before any is sent, so a typo cancels nothing and is
 * a usage error. Then every job is tried even when an earlier one fails,
 * so one job already finished does not leave the rest running; the exit
 * status says whether all were cancelled. When the daemon cannot be
 * reached there is no point going on. -o json and -o yaml print the jobs
 * as the daemon sent them back, {"jobs": [...]}.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "job.h"
#include "llmctl.h"
#include "output.h"
#include "util.h"

static int cmd_cancel_exec(struct llmctl *, struct args *);
static int cancel_one(struct client *, long long, enum output_format, json_t *);

const struct cmd_entry cmd_cancel_entry = {
	.name = "cancel",
	.usage = "[-o json|yaml] id ...",
	.about = "Cancel jobs; a job already finished stays as it is.",
	.args = { .template = "o:",
	    .lower = 1,
	    .upper = ARGS_NONE,
	    .operand = "id",
	    .longs = (const struct args_long[]){ ARGS_OUTPUT, { 0 } } },
	.exec = cmd_cancel_exec,
};

/*
 * Returns CLIENT_OK, CLIENT_ERR_REPLY (this id failed) or _CONNECT. The
 * job the daemon sent back goes into jobs.
 */
static int
cancel_one(struct client *c, long long id, enum output_format fmt, json_t *jobs)
{
	json_t *job;
	const char *state;
	char *path, *cause = NULL;
	int rc;

	path = xasprintf("/v1/jobs/%lld/cancel", id);
	rc = client_request(c, "POST", path, NULL, &job, &cause);
	free(path);
	if (rc != CLIENT_OK) {
		fprintf(stderr, "llmctl: %s\n", cause);
		free(cause);
		return rc;
	}

	/* A job already final comes back in its final state: not cancelled. */
	state = json_string_value(json_object_get(job, "state"));
	if (state == NULL || strcmp(state, "CANCELLED") == 0) {
		if (fmt == OUTPUT_TABLE)
			printf("cancelled %lld\n", id);
	} else {
		fprintf(stderr, "llmctl: job %lld already ", id);
		output_string(stderr, state);
		fputc('\n', stderr);
		rc = CLIENT_ERR_REPLY;
	}
	json_array_append_new(jobs, job);
	return rc;
}

static int
cmd_cancel_exec(struct llmctl *ctx, struct args *args)
{
	enum output_format fmt;
	long long *ids;
	json_t *jobs, *out;
	int i, rc = CMD_OK, connected = 1;

	if (job_output_format(args, &fmt) != 0)
		return CMD_USAGE;
	ids = xreallocarray(NULL, args->argc, sizeof *ids);
	for (i = 0; i < args->argc; i++) {
		if ((ids[i] = job_parse_id(args->argv[i])) == -1) {
			free(ids);
			return CMD_USAGE;
		}
	}
	jobs = json_array();
	for (i = 0; connected && i < args->argc; i++) {
		switch (cancel_one(llmctl_client(ctx), ids[i], fmt, jobs)) {
		case CLIENT_OK:
			break;
		case CLIENT_ERR_CONNECT:
			connected = 0;
			rc = CMD_FAILED;
			break;
		default:
			rc = CMD_FAILED;
			break;
		}
	}
	if (fmt != OUTPUT_TABLE && connected) {
		out = json_pack("{s:o}", "jobs", jobs);
		output_data(stdout, out, fmt);
		json_decref(out);
	} else
		json_decref(jobs);
	free(ids);
	return rc;
}
