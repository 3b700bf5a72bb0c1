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
		return 1;
	v = view->key != NULL ? json_object_get(reply, view->key) : reply;
	if (fmt == OUTPUT_JSON)
		output_json(stdout, reply);
	else if (v == NULL || json_typeof(v) != view->type) {
		fprintf(stderr, "llmctl: llmctld sent no %s\n", view->what);
		rc = 1;
	} else
		view->print(reply);
	json_decref(reply);
	return rc;
}

int
job_view_exec(struct llmctl *ctx, const struct cmd_entry *entry,
    const struct job_view *view, int argc, char **argv)
{
	enum output_format fmt = OUTPUT_TABLE;
	char *path;
	long long id;
	int ch, rc;

	while ((ch = getopt(argc, argv, "ho:")) != -1) {
		switch (ch) {
		case 'o':
			if (output_parse_format(optarg, &fmt) != 0)
				return 1;
			break;
		case 'h':
			return cmd_help(entry);
		default:
			return cmd_usage(entry);
		}
	}
	if (argc - optind != 1)
		return cmd_usage(entry);
	if ((id = job_parse_id(argv[optind])) == -1)
		return 1;
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
