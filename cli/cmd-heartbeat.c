/*
 * llmctl heartbeat: tell llmctld that this rank is alive, from a shell
 * worker inside a job.
 *
 * Everything it needs comes from the environment the daemon gives every
 * rank (docs/design.md section 3): LLMCTL_HEARTBEAT_URL,
 * LLMCTL_HEARTBEAT_TOKEN and RANK. It goes to the daemon's TCP listener, not the Unix socket, so
 * the global --socket has no effect here.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "job.h"
#include "llmctl.h"
#include "util.h"

static int cmd_heartbeat_exec(struct llmctl *, struct args *);
static const char *heartbeat_env(const char *);

const struct cmd_entry cmd_heartbeat_entry = {
    .name = "heartbeat",
    .usage = "[--step step]",
    .args = {.template = "",
        .longs = (const struct args_long[]){{'s', "step", 1}, {0}}},
    .exec = cmd_heartbeat_exec,
};

/* An environment variable that must be set; prints the error if not. */
static const char *
heartbeat_env(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0') {
		fprintf(stderr,
		    "llmctl: %s is not set: llmctl heartbeat runs "
		    "inside a job started by llmctld\n",
		    name);
		return NULL;
	}
	return v;
}

static int
cmd_heartbeat_exec(struct llmctl *ctx, struct args *args)
{
	const char *url, *token, *rank_s, *step_s = args_get(args, 's');
	long long rank, step;
	json_t *body, *reply = NULL;
	char *cause = NULL;
	int rc = 1;

	if (step_s != NULL && job_parse_number("step", step_s, &step) != 0)
		return 1;
	if ((url = heartbeat_env("LLMCTL_HEARTBEAT_URL")) == NULL ||
	    (token = heartbeat_env("LLMCTL_HEARTBEAT_TOKEN")) == NULL ||
	    (rank_s = heartbeat_env("RANK")) == NULL)
		return 1;
	if (job_parse_number("RANK", rank_s, &rank) != 0)
		return 1;

	body = json_pack("{s:I}", "rank", (json_int_t)rank);
	if (step_s != NULL)
		json_object_set_new(body, "step", json_integer(step));
	if (client_request_url(llmctl_client(ctx), "POST", url, token, body,
	        &reply, &cause) != CLIENT_OK)
		fprintf(stderr, "llmctl: %s\n", cause);
	else
		rc = 0;
	json_decref(reply);
	json_decref(body);
	free(cause);
	return rc;
}
