/*
 * llmctl checkpoints: what the daemon found under a job's checkpoint.dir,
 * oldest step first, and which one the next attempt resumes from.
 *
 * A checkpoint is usable when it is complete and has no problem, incomplete
 * while it lacks its COMPLETE marker or manifest, and corrupt for any other
 * problem (a manifest that does not match, a foreign owner, a symlink out
 * of the directory). The daemon may say so itself in "state"; otherwise the
 * state is worked out here from "complete" and "problem".
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "llmctl.h"
#include "output.h"
#include "util.h"

#define FIELD_MAX 256

static int cmd_checkpoints_exec(struct llmctl *, struct args *);
static int ckpt_cmp(const void *, const void *);
static const char *ckpt_state(const json_t *);
static void ckpt_print(const json_t *);

const struct cmd_entry cmd_checkpoints_entry = {
	.name = "checkpoints",
	.usage = "[-o json|yaml] id",
	.about = "The checkpoints of a job and the one it resumes from.",
	.args = { .template = "o:",
	    .lower = 1,
	    .upper = 1,
	    .operand = "id",
	    .longs = (const struct args_long[]){ ARGS_OUTPUT, { 0 } } },
	.exec = cmd_checkpoints_exec,
};

static const char *
ckpt_state(const json_t *c)
{
	const char *state, *problem;

	state = json_string_value(json_object_get(c, "state"));
	if (state != NULL && *state != '\0')
		return state;
	problem = json_string_value(json_object_get(c, "problem"));
	if (problem == NULL || *problem == '\0')
		return json_is_true(json_object_get(c, "complete"))
		    ? "usable"
		    : "incomplete";
	/* The scanner's words for "not finished writing yet". */
	if (strncmp(problem, "no COMPLETE marker", 18) == 0)
		return "incomplete";
	return "corrupt";
}

static int
ckpt_cmp(const void *a, const void *b)
{
	json_int_t x, y;

	x = json_integer_value(
	    json_object_get(*(const json_t *const *)a, "step"));
	y = json_integer_value(
	    json_object_get(*(const json_t *const *)b, "step"));
	return x < y ? -1 : x > y;
}

static void
ckpt_print(const json_t *reply)
{
	static const char *const headers[] = { "STEP", "STATE", "BYTES", "AGE",
		"PATH", "PROBLEM" };
	const json_t *list, *newest, **sorted;
	const char *from, *path;
	struct table *t;
	char b[FIELD_MAX], *s;
	int64_t now = wall_s();
	json_int_t mark = -1;
	size_t i, n;
	int have_mark = 0;

	list = json_object_get(reply, "checkpoints");
	n = json_array_size(list);
	if (n == 0) {
		printf("no checkpoints\n");
		return;
	}
	/*
	 * The daemon names the checkpoint it resumes from; an older daemon
	 * that does not gets the newest usable one.
	 */
	newest = json_object_get(reply, "newest");
	if (json_is_integer(newest)) {
		mark = json_integer_value(newest);
		have_mark = 1;
	}
	sorted = xreallocarray(NULL, n, sizeof *sorted);
	for (i = 0; i < n; i++) {
		sorted[i] = json_array_get(list, i);
		if (newest == NULL &&
		    strcmp(ckpt_state(sorted[i]), "usable") == 0 &&
		    (!have_mark ||
		        json_integer_value(json_object_get(sorted[i], "step")) >
		            mark)) {
			mark = json_integer_value(
			    json_object_get(sorted[i], "step"));
			have_mark = 1;
		}
	}
	qsort(sorted, n, sizeof *sorted, ckpt_cmp);
	/* a daemon that names the path marks that entry alone */
	from = json_string_value(json_object_get(reply, "resume_from"));

	t = table_create(nitems(headers), headers);
	for (i = 0; i < n; i++) {
		output_field(sorted[i], "step", b, sizeof b);
		path = json_string_value(json_object_get(sorted[i], "path"));
		if (from != NULL ? path != NULL && strcmp(path, from) == 0
		                 : have_mark &&
		            json_integer_value(
		                json_object_get(sorted[i], "step")) == mark &&
		            strcmp(ckpt_state(sorted[i]), "usable") == 0) {
			s = xasprintf("%s *", b);
			table_add(t, s);
			free(s);
		} else
			table_add(t, b);
		table_add(t, ckpt_state(sorted[i]));
		if (json_is_integer(json_object_get(sorted[i], "bytes")))
			table_add(t,
			    output_bytes(json_integer_value(json_object_get(
			                     sorted[i], "bytes")),
			        b, sizeof b));
		else
			table_add(t, "-");
		table_add(t, output_age(sorted[i], "mtime", now, b, sizeof b));
		table_add(t, output_field(sorted[i], "path", b, sizeof b));
		table_add(t, output_field(sorted[i], "problem", b, sizeof b));
	}
	table_print(t, stdout, OUTPUT_WIDTH);
	table_free(t);
	free(sorted);
}

static int
cmd_checkpoints_exec(struct llmctl *ctx, struct args *args)
{
	static const struct job_view view = {
		.path = "checkpoints",
		.key = "checkpoints",
		.type = JSON_ARRAY,
		.what = "checkpoint list",
		.print = ckpt_print,
	};

	return job_view_exec(ctx, &view, args);
}
