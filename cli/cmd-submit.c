/*
 * llmctl submit: check a job spec locally, then hand it to llmctld.
 *
 * The spec is validated here first so a mistake is reported at once and the
 * daemon is not bothered; the daemon validates again and is the authority.
 * The file's text is sent as it is, with the name it was given and the
 * working directory that fills a missing workdir.
 *
 * Each file has an Idempotency-Key (random, or --idempotency-key's, with
 * "-N" for the Nth of several files), sent again as it was when no answer
 * came, so a reply lost to a daemon restart neither loses nor doubles the
 * job (docs/design.md section 4). Several files go one after the other
 * over one connection; one that fails is reported and the rest still go,
 * unless llmctld stopped answering.
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
static int submit_one(struct llmctl *, struct args *, int, const char *,
    enum output_format, json_t *);

const struct cmd_entry cmd_submit_entry = {
	.name = "submit",
	.usage = "[-o json|yaml] [--dry-run] [--idempotency-key key] file ...",
	.about = "Check job specs, then hand them to llmctld; prints the job "
	         "ids.",
	.args = { .template = "o:",
	    .lower = 1,
	    .upper = ARGS_NONE,
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

/*
 * Check and send file i; print its id (or its dry-run verdict) or, with
 * -o, add the reply to replies. CLIENT_OK, CLIENT_ERR_CONNECT (no answer)
 * or another failure, said on stderr naming the file if it is one of
 * several.
 */
static int
submit_one(struct llmctl *ctx, struct args *args, int i, const char *cwd,
    enum output_format fmt, json_t *replies)
{
	json_t *body, *reply = NULL;
	const char *file = args->argv[i], *sep = args->argc > 1 ? ": " : "";
	const char *what = args->argc > 1 ? file : "";
	char *cause = NULL, *name = NULL, *key, idbuf[32];
	int dry_run = args_has(args, 'n'), crc;

	if (!args_has(args, 'k'))
		key = random_hex(16);
	else if (args->argc > 1)
		key = xasprintf("%s-%d", args_get(args, 'k'), i + 1);
	else
		key = xstrdup(args_get(args, 'k'));
	if ((body = job_body(file, cwd, &name)) == NULL) {
		crc = CLIENT_ERR_REPLY;
		goto out;
	}
	if (dry_run)
		crc = client_request(llmctl_client(ctx), "POST",
		    "/v1/jobs?dry_run=1", body, &reply, &cause);
	else
		crc = client_request_once(llmctl_client(ctx), "POST",
		    "/v1/jobs", key, body, &reply, &cause);
	if (crc == CLIENT_ERR_CONNECT && !dry_run) {
		fprintf(stderr,
		    "llmctl: %s%s%s\nllmctl: the job may have been recorded; "
		    "to submit it again without doubling it: llmctl submit "
		    "--idempotency-key %s %s\n",
		    what, sep, cause, key, file);
	} else if (crc != CLIENT_OK)
		fprintf(stderr, "llmctl: %s%s%s\n", what, sep, cause);
	else if (fmt != OUTPUT_TABLE)
		json_array_append(replies, reply);
	else if (dry_run) {
		/* Whatever else the reply holds, the daemon said yes. */
		printf("dry run: ");
		output_string(stdout, name);
		printf(" would be accepted\n");
	} else if (json_is_integer(json_object_get(reply, "id")))
		printf("%s\n", output_field(reply, "id", idbuf, sizeof idbuf));
	else {
		fprintf(stderr,
		    "llmctl: %s%sllmctld accepted the job but sent "
		    "no id\n",
		    what, sep);
		crc = CLIENT_ERR_REPLY;
	}
	fflush(stdout);
out:
	json_decref(reply);
	json_decref(body);
	free(cause);
	free(name);
	free(key);
	return crc;
}

static int
cmd_submit_exec(struct llmctl *ctx, struct args *args)
{
	enum output_format fmt;
	json_t *replies, *out;
	char *cwd;
	int i, rc = CMD_OK, crc = CLIENT_OK;

	if (job_output_format(args, &fmt) != 0)
		return CMD_USAGE;
	if ((cwd = getcwd(NULL, 0)) == NULL) {
		perror("llmctl: getcwd");
		return CMD_FAILED;
	}
	replies = json_array();
	for (i = 0; i < args->argc; i++) {
		if (crc == CLIENT_ERR_CONNECT) {
			/* no answer for the last one: none for these either */
			fprintf(
			    stderr, "llmctl: %s: not sent\n", args->argv[i]);
			continue;
		}
		if ((crc = submit_one(ctx, args, i, cwd, fmt, replies)) != 0)
			rc = CMD_FAILED;
	}
	if (fmt != OUTPUT_TABLE && args->argc == 1 && rc == CMD_OK)
		output_data(stdout, json_array_get(replies, 0), fmt);
	else if (fmt != OUTPUT_TABLE && args->argc > 1) {
		out = json_pack("{s:O}", "jobs", replies);
		output_data(stdout, out, fmt);
		json_decref(out);
	}
	json_decref(replies);
	free(cwd);
	return rc;
}
