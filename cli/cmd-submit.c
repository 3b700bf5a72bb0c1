/*
 * llmctl submit: check a job spec locally, then hand it to llmctld.
 *
 * The spec is validated here first so a mistake is reported at once and the
 * daemon is not bothered; the daemon validates again and is the authority.
 * The file's text is sent as it is, with the name it was given and the
 * working directory that fills a missing workdir.
 *
 * Each run has an Idempotency-Key (random, or --idempotency-key), sent
 * again as it was when no answer came, so a reply lost to a daemon restart
 * neither loses nor doubles the job (docs/design.md section 4).
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

static int cmd_submit_exec(struct llmctl *, struct args *);

const struct cmd_entry cmd_submit_entry = {
	.name = "submit",
	.usage = "[-o json|yaml] [--dry-run] [--idempotency-key key] file",
	.about =
	    "Check a job spec, then hand it to llmctld; prints the job id.",
	.args = { .template = "o:",
	    .lower = 1,
	    .upper = 1,
	    .operand = "file",
	    .longs = (const struct args_long[]){ ARGS_OUTPUT,
	        { .ch = 'n',
	            .name = "dry-run",
	            .help = "only ask whether llmctld would accept it" },
	        { .ch = 'k',
	            .name = "idempotency-key",
	            .has_arg = 1,
	            .arg = "key",
	            .help =
	                "resending with this key never makes a second job" },
	        { 0 } } },
	.exec = cmd_submit_exec,
};

static int
cmd_submit_exec(struct llmctl *ctx, struct args *args)
{
	enum output_format fmt;
	json_t *body = NULL, *reply = NULL;
	char *cwd = NULL, *cause = NULL, idbuf[32], *name = NULL, *key;
	const char *file = args->argv[0];
	int dry_run = args_has(args, 'n'), rc = CMD_FAILED, crc;

	if (job_output_format(args, &fmt) != 0)
		return CMD_USAGE;

	if ((cwd = getcwd(NULL, 0)) == NULL) {
		perror("llmctl: getcwd");
		return CMD_FAILED;
	}
	key =
	    args_has(args, 'k') ? xstrdup(args_get(args, 'k')) : random_hex(16);
	if ((body = job_body(file, cwd, &name)) == NULL)
		goto out;
	if (dry_run)
		crc = client_request(llmctl_client(ctx), "POST",
		    "/v1/jobs?dry_run=1", body, &reply, &cause);
	else
		crc = client_request_once(llmctl_client(ctx), "POST",
		    "/v1/jobs", key, body, &reply, &cause);
	if (crc == CLIENT_ERR_CONNECT && !dry_run) {
		fprintf(stderr,
		    "llmctl: %s\nllmctl: the job may have been recorded; "
		    "to submit it again without doubling it: llmctl submit "
		    "--idempotency-key %s %s\n",
		    cause, key, file);
		goto out;
	}
	if (crc != CLIENT_OK) {
		fprintf(stderr, "llmctl: %s\n", cause);
		goto out;
	}

	if (fmt != OUTPUT_TABLE)
		output_data(stdout, reply, fmt);
	else if (dry_run) {
		/* Whatever else the reply holds, the daemon said yes. */
		printf("dry run: ");
		output_string(stdout, name);
		printf(" would be accepted\n");
	} else if (json_is_integer(json_object_get(reply, "id")))
		printf("%s\n", output_field(reply, "id", idbuf, sizeof idbuf));
	else {
		fprintf(stderr,
		    "llmctl: llmctld accepted the job but sent no "
		    "id\n");
		goto out;
	}
	rc = CMD_OK;
out:
	free(key);
	json_decref(reply);
	json_decref(body);
	free(cause);
	free(name);
	free(cwd);
	return rc;
}
