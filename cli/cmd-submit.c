/*
 * llmctl submit: check a job spec locally, then hand it to llmctld.
 *
 * The spec is validated here first so a mistake is reported at once and the
 * daemon is not bothered; the daemon validates again and is the authority.
 * The file's text is sent as it is, with the name it was given and the
 * working directory that fills a missing workdir.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "job.h"
#include "llmctl.h"
#include "output.h"
#include "util.h"

static int cmd_submit_exec(struct llmctl *, int, char **);

const struct cmd_entry cmd_submit_entry = {
    .name = "submit",
    .usage = "[-o json] [--dry-run] file",
    .exec = cmd_submit_exec,
};

static int
cmd_submit_exec(struct llmctl *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {.name = "dry-run", .has_arg = no_argument, .val = 'n'},
	    {.name = "help", .has_arg = no_argument, .val = 'h'},
	    {0},
	};
	enum output_format fmt = OUTPUT_TABLE;
	json_t *body = NULL, *reply = NULL;
	char *cwd = NULL, *cause = NULL, idbuf[32], *name = NULL;
	const char *file, *path;
	int ch, dry_run = 0, rc = 1;

	while ((ch = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			if (output_parse_format(optarg, &fmt) != 0)
				return 1;
			break;
		case 'n':
			dry_run = 1;
			break;
		case 'h':
			return cmd_help(&cmd_submit_entry);
		default:
			return cmd_usage(&cmd_submit_entry);
		}
	}
	if (argc - optind != 1)
		return cmd_usage(&cmd_submit_entry);
	file = argv[optind];

	if ((cwd = getcwd(NULL, 0)) == NULL) {
		perror("llmctl: getcwd");
		return 1;
	}
	if ((body = job_body(file, cwd, &name)) == NULL)
		goto out;
	path = dry_run ? "/v1/jobs?dry_run=1" : "/v1/jobs";
	if (client_request(llmctl_client(ctx), "POST", path, body, &reply,
	        &cause) != CLIENT_OK) {
		fprintf(stderr, "llmctl: %s\n", cause);
		goto out;
	}

	if (fmt == OUTPUT_JSON)
		output_json(stdout, reply);
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
	rc = 0;
out:
	json_decref(reply);
	json_decref(body);
	free(cause);
	free(name);
	free(cwd);
	return rc;
}
