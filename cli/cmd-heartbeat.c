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
	.about = "Tell llmctld this rank is alive (inside a job only).",
	.args = { .template = "",
	    .longs =
	        (const struct args_long[]){
	            { .ch = 's',
	                .name = "step",
	                .has_arg = 1,
	                .arg = "step",
	                .help = "the training step this rank has reached" },
	            { 0 } } },
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
	int rc = CMD_FAILED;

	if (step_s != NULL && job_parse_number("step", step_s, &step) != 0)
		return CMD_USAGE;
	if ((url = heartbeat_env("LLMCTL_HEARTBEAT_URL")) == NULL ||
	    (token = heartbeat_env("LLMCTL_HEARTBEAT_TOKEN")) == NULL ||
	    (rank_s = heartbeat_env("RANK")) == NULL)
		return CMD_FAILED;
	if (job_parse_number("RANK", rank_s, &rank) != 0)
		return CMD_FAILED;

	body = json_pack("{s:I}", "rank", (json_int_t)rank);
	if (step_s != NULL)
		json_object_set_new(body, "step", json_integer(step));
	if (client_request_url(llmctl_client(ctx), "POST", url, token, body,
	        &reply, &cause) != CLIENT_OK)
		fprintf(stderr, "llmctl: %s\n", cause);
	else
		rc = CMD_OK;
	json_decref(reply);
	json_decref(body);
	free(cause);
	return rc;
}
