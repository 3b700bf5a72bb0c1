/*
 * llmctl nodes, the health part: each node's record across all jobs
 * (score, ok/quarantined/probation, until when, its last failure) under
 * the switch tree, and `llmctl nodes clear NODE`, an admin's way to trust
 * a node again (docs/design.md section 7, "Node health").
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "llmctl.h"
#include "nodes.h"
#include "output.h"
#include "util.h"

#define FIELD_MAX 256

/*
 * The newest failure, "user_error job 12.1 05-01 10:00" (the job only
 * when the daemon names it); -o json has the last five.
 */
static char *
failure_text(const json_t *fails)
{
	const json_t *f = json_array_get(fails, 0);
	char b[FIELD_MAX], when[FIELD_MAX];

	if (f == NULL)
		return xstrdup("-");
	output_time_short(f, "at", when, sizeof when);
	if (!json_is_integer(json_object_get(f, "job")))
		return xasprintf(
		    "%s %s", output_field(f, "cause", b, sizeof b), when);
	return xasprintf("%s job %lld.%lld %s",
	    output_field(f, "cause", b, sizeof b),
	    (long long)json_integer_value(json_object_get(f, "job")),
	    (long long)json_integer_value(json_object_get(f, "attempt")), when);
}

void
nodes_health_print(const json_t *health)
{
	static const char *const headers[] = { "NODE", "HEALTH", "SCORE",
		"UNTIL", "FAILURES", "LAST FAILURE" };
	struct table *t;
	const json_t *r;
	char b[FIELD_MAX], *s;
	size_t i;

	if (json_array_size(health) == 0)
		return;
	t = table_create(nitems(headers), headers);
	json_array_foreach(health, i, r)
	{
		table_add(t, output_field(r, "name", b, sizeof b));
		output_field(r, "state", b, sizeof b);
		s = xasprintf("%s%s", b,
		    json_is_true(json_object_get(r, "drained")) ? ",drained"
		                                                : "");
		table_add(t, s);
		free(s);
		s = xasprintf(
		    "%.2f", json_number_value(json_object_get(r, "score")));
		table_add(t, s);
		free(s);
		table_add(t, output_time_short(r, "until", b, sizeof b));
		table_add(t, output_field(r, "failures_total", b, sizeof b));
		s = failure_text(json_object_get(r, "failures"));
		table_add(t, s);
		free(s);
	}
	putchar('\n');
	table_print(t, stdout, OUTPUT_WIDTH);
	table_free(t);
}

int
nodes_clear(struct llmctl *ctx, const char *node, enum output_format fmt)
{
	json_t *reply;
	char *path, *cause = NULL, b[FIELD_MAX];

	/* a Slurm node name goes into the URL as it is */
	if (node[0] == '\0' ||
	    strspn(node,
	        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	        "0123456789._-") != strlen(node)) {
		fprintf(stderr,
		    "llmctl: nodes clear: not a node name "
		    "(letters, digits, '.', '_', '-')\n");
		return CMD_USAGE;
	}
	path = xasprintf("/v1/nodes/%s/clear", node);
	if (client_request(llmctl_client(ctx), "POST", path, NULL, &reply,
	        &cause) != CLIENT_OK) {
		fprintf(stderr, "llmctl: %s\n", cause);
		free(cause);
		free(path);
		return CMD_FAILED;
	}
	free(path);
	if (fmt == OUTPUT_TABLE) {
		printf("cleared ");
		output_string(stdout, node);
		printf(": %s\n", output_field(reply, "state", b, sizeof b));
	} else
		output_data(stdout, reply, fmt);
	json_decref(reply);
	return CMD_OK;
}
