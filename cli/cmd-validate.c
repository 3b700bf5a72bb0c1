/*
 * llmctl validate: check job specs without a daemon.
 *
 * Runs the same spec_parse() that llmctl submit and llmctld run, with the
 * current directory as the default workdir, and reports every file, so one
 * run checks a whole directory of specs. Errors go to stderr exactly as the
 * parser wrote them ("FILE:LINE:COL: field.path: message"). -o json and
 * -o yaml print {"files": [...]}: per file its name, "valid", and the spec
 * as llmctld will read it (every default filled in) or the error.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "job.h"
#include "llmctl.h"
#include "output.h"
#include "spec.h"
#include "util.h"

static int cmd_validate_exec(struct llmctl *, struct args *);
static json_t *validate_one(const char *, const char *);

const struct cmd_entry cmd_validate_entry = {
	.name = "validate",
	.usage = "[-q] [-o json|yaml] file ...",
	.about = "Check job specs, without a daemon.",
	.args = { .template = "qo:",
	    .lower = 1,
	    .upper = ARGS_NONE,
	    .operand = "file",
	    .longs =
	        (const struct args_long[]){
	            { .ch = 'q',
	                .name = "quiet",
	                .help = "print nothing: the exit status says" },
	            ARGS_OUTPUT, { 0 } } },
	.exec = cmd_validate_exec,
};

/* {"file", "valid", "spec" or "error"} for one file. */
static json_t *
validate_one(const char *file, const char *cwd)
{
	struct spec *spec = NULL;
	json_t *res;
	char *buf = NULL, *cause = NULL;
	size_t len;

	if (read_file(file, SPEC_MAX_BYTES, &buf, &len, &cause) == 0)
		spec = spec_parse(buf, len, file, cwd, &cause);
	free(buf);
	res = json_pack("{s:s, s:b}", "file", file, "valid", spec != NULL);
	if (spec != NULL)
		json_object_set_new(res, "spec", spec_to_json(spec));
	else
		json_object_set_new(res, "error", json_string(cause));
	spec_free(spec);
	free(cause);
	return res;
}

static int
cmd_validate_exec(struct llmctl *ctx, struct args *args)
{
	enum output_format fmt;
	json_t *files, *res, *out;
	char *cwd;
	int i, quiet = args_has(args, 'q'), valid, rc = CMD_OK;

	(void)ctx;
	if (job_output_format(args, &fmt) != 0)
		return CMD_USAGE;
	if ((cwd = getcwd(NULL, 0)) == NULL) {
		if (!quiet)
			perror("llmctl: getcwd");
		return CMD_FAILED;
	}
	files = json_array();
	for (i = 0; i < args->argc; i++) {
		res = validate_one(args->argv[i], cwd);
		valid = json_is_true(json_object_get(res, "valid"));
		if (!valid)
			rc = CMD_FAILED;
		if (!quiet && fmt == OUTPUT_TABLE && valid)
			printf("%s: ok\n", args->argv[i]);
		else if (!quiet && fmt == OUTPUT_TABLE)
			fprintf(stderr, "%s\n",
			    json_string_value(json_object_get(res, "error")));
		json_array_append_new(files, res);
	}
	if (!quiet && fmt != OUTPUT_TABLE) {
		out = json_pack("{s:O}", "files", files);
		output_data(stdout, out, fmt);
		json_decref(out);
	}
	json_decref(files);
	free(cwd);
	return rc;
}
