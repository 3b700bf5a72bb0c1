/*
 * job: the steps the job commands used to spell out each for itself.
 *
 * The messages are the commands' own, word for word: scripts and
 * tests/unit/cli-fake.sh read them.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "client.h"
#include "job.h"
#include "llmctl.h"
#include "output.h"
#include "spec.h"
#include "util.h"

const char *const job_states[] = { "QUEUED", "SUBMITTED", "RUNNING",
	"RESTARTING", "COMPLETED", "FAILED", "CANCELLED", NULL };

long long
job_parse_id(const char *s)
{
	long long id;

	if ((id = cmd_parse_id(s)) == -1)
		fprintf(stderr, "llmctl: invalid job id: %s\n", s);
	return id;
}

int
job_parse_number(const char *what, const char *s, long long *out)
{
	char *end = NULL;
	long long v = 0;

	if (*s >= '0' && *s <= '9') {
		errno = 0;
		v = strtoll(s, &end, 10);
		if (errno != 0)
			end = NULL;
	}
	if (end == NULL || *end != '\0') {
		fprintf(stderr, "llmctl: invalid %s: %s\n", what, s);
		return -1;
	}
	*out = v;
	return 0;
}

json_t *
job_get(struct llmctl *ctx, const char *path)
{
	json_t *reply;
	char *cause = NULL;

	if (client_request(llmctl_client(ctx), "GET", path, NULL, &reply,
	        &cause) != CLIENT_OK) {
		fprintf(stderr, "llmctl: %s\n", cause);
		free(cause);
		return NULL;
	}
	return reply;
}

int
job_view_show(struct llmctl *ctx, const struct job_view *view, const char *path,
    enum output_format fmt)
{
	const json_t *v;
	json_t *reply;
	int rc = 0;

	if ((reply = job_get(ctx, path)) == NULL)
		return CMD_FAILED;
	v = view->key != NULL ? json_object_get(reply, view->key) : reply;
	if (fmt != OUTPUT_TABLE)
		output_data(stdout, reply, fmt);
	else if (v == NULL || json_typeof(v) != view->type) {
		fprintf(stderr, "llmctl: llmctld sent no %s\n", view->what);
		rc = CMD_FAILED;
	} else
		view->print(reply);
	json_decref(reply);
	return rc;
}

int
job_output_format(const struct args *args, enum output_format *fmt)
{
	const char *o = args_get(args, 'o');

	*fmt = OUTPUT_TABLE;
	return o != NULL ? output_parse_format(o, fmt) : 0;
}

int
job_parse_option(
    const struct args *args, int ch, const char *what, long long *out)
{
	const char *v = args_get(args, ch);

	return v != NULL ? job_parse_number(what, v, out) : 0;
}

int
job_view_exec(
    struct llmctl *ctx, const struct job_view *view, struct args *args)
{
	enum output_format fmt;
	char *path;
	long long id;
	int rc;

	if (job_output_format(args, &fmt) != 0 ||
	    (id = job_parse_id(args->argv[0])) == -1)
		return CMD_USAGE;
	path = xasprintf("/v1/jobs/%lld/%s", id, view->path);
	rc = job_view_show(ctx, view, path, fmt);
	free(path);
	return rc;
}

struct spec *
job_spec_read(const char *file, const char *cwd, char **buf, size_t *len)
{
	struct spec *spec;
	char *cause = NULL;

	*buf = NULL;
	if (read_file(file, SPEC_MAX_BYTES, buf, len, &cause) != 0) {
		fprintf(stderr, "llmctl: %s\n", cause);
		free(cause);
		return NULL;
	}
	if ((spec = spec_parse(*buf, *len, file, cwd, &cause)) == NULL) {
		fprintf(stderr, "%s\n", cause); /* as validate prints it */
		free(cause);
		free(*buf);
		*buf = NULL;
	}
	return spec;
}

json_t *
job_body(const char *file, const char *cwd, char **name)
{
	struct spec *spec;
	json_t *body = NULL, *text;
	char *buf;
	size_t len;

	if ((spec = job_spec_read(file, cwd, &buf, &len)) == NULL)
		return NULL;
	if (name != NULL)
		*name = xstrdup(spec->name != NULL ? spec->name : "-");
	spec_free(spec);

	/* spec_parse() refused NUL bytes and bad UTF-8, so this succeeds. */
	if ((text = json_stringn(buf, len)) == NULL)
		fprintf(stderr, "llmctl: %s: not valid UTF-8\n", file);
	else if ((body = json_pack("{s:o, s:s, s:s}", "spec", text, "file",
	              file, "workdir", cwd)) == NULL)
		fprintf(
		    stderr, "llmctl: %s: cannot encode the request\n", file);
	if (body == NULL && name != NULL) {
		free(*name);
		*name = NULL;
	}
	free(buf);
	return body;
}
