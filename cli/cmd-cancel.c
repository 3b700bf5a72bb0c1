/*
 * llmctl cancel: cancel jobs by id.
 *
 * Every id is tried even when an earlier one fails, so one typo does not
 * leave the rest running; the exit status says whether all were cancelled.
 * When the daemon cannot be reached there is no point going on.
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
static int cancel_one(struct client *, const char *);

const struct cmd_entry cmd_cancel_entry = {
    .name = "cancel",
    .usage = "id ...",
    .args = {.lower = 1, .upper = ARGS_NONE},
    .exec = cmd_cancel_exec,
};

/* Returns CLIENT_OK, CLIENT_ERR_REPLY (this id failed) or _CONNECT. */
static int
cancel_one(struct client *c, const char *arg)
{
	json_t *job;
	const char *state;
	char *path, *cause = NULL;
	long long id;
	int rc;

	if ((id = job_parse_id(arg)) == -1)
		return CLIENT_ERR_REPLY;
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
	if (state == NULL || strcmp(state, "CANCELLED") == 0)
		printf("cancelled %lld\n", id);
	else {
		fprintf(stderr, "llmctl: job %lld already ", id);
		output_string(stderr, state);
		fputc('\n', stderr);
		rc = CLIENT_ERR_REPLY;
	}
	json_decref(job);
	return rc;
}

static int
cmd_cancel_exec(struct llmctl *ctx, struct args *args)
{
	int i, failed = 0;

	for (i = 0; i < args->argc; i++) {
		switch (cancel_one(llmctl_client(ctx), args->argv[i])) {
		case CLIENT_OK:
			break;
		case CLIENT_ERR_CONNECT:
			return 1;
		default:
			failed = 1;
			break;
		}
	}
	return failed;
}
