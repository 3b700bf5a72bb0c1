/*
 * llmctl validate: check job specs without a daemon.
 *
 * Runs the same spec_parse() that llmctl submit and llmctld run, with the
 * current directory as the default workdir, and reports every file, so one
 * run checks a whole directory of specs. Errors go to stderr exactly as the
 * parser wrote them ("FILE:LINE:COL: field.path: message").
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "llmctl.h"
#include "spec.h"
#include "util.h"

static int cmd_validate_exec(struct llmctl *, struct args *);
static int validate_one(const char *, const char *, int);

const struct cmd_entry cmd_validate_entry = {
    .name = "validate",
    .usage = "[-q] file ...",
    .args = {.template = "q", .lower = 1, .upper = ARGS_NONE},
    .exec = cmd_validate_exec,
};

/* 0 when file is a valid spec; prints the verdict unless quiet. */
static int
validate_one(const char *file, const char *cwd, int quiet)
{
	struct spec *spec;
	char *buf = NULL, *cause = NULL;
	size_t len;

	if (read_file(file, SPEC_MAX_BYTES, &buf, &len, &cause) != 0) {
		if (!quiet)
			fprintf(stderr, "%s\n", cause);
		free(cause);
		return -1;
	}
	spec = spec_parse(buf, len, file, cwd, &cause);
	free(buf);
	if (spec == NULL) {
		if (!quiet)
			fprintf(stderr, "%s\n", cause);
		free(cause);
		return -1;
	}
	spec_free(spec);
	if (!quiet)
		printf("%s: ok\n", file);
	return 0;
}

static int
cmd_validate_exec(struct llmctl *ctx, struct args *args)
{
	char *cwd;
	int i, quiet = args_has(args, 'q'), failed = 0;

	(void)ctx;
	if ((cwd = getcwd(NULL, 0)) == NULL) {
		if (!quiet)
			perror("llmctl: getcwd");
		return 1;
	}
	for (i = 0; i < args->argc; i++) {
		if (validate_one(args->argv[i], cwd, quiet) != 0)
			failed = 1;
	}
	free(cwd);
	return failed;
}
