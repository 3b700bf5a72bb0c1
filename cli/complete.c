/*
 * complete: what cli/llmctl.bash-completion asks the binary, so that the
 * commands, their options and the values those take come from the same
 * cmd_entry declarations that parse them and never go stale:
 *
 *   llmctl __complete commands            every command name
 *   llmctl __complete options CMD         every spelling of CMD's options,
 *                                         with the kind of value it takes
 *   llmctl __complete operand CMD         what CMD's arguments are (id, file)
 *   llmctl __complete values KIND         the values of "format", "state"
 *   llmctl __complete ids [CMD]           the caller's job ids, newest first;
 *                                         for cancel only unfinished ones
 *
 * One item a line. It prints nothing on error: a completion that cannot
 * reach the daemon offers nothing rather than an error in the prompt.
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

static const struct cmd_entry *complete_find(
    const char *, const struct cmd_entry *const *, size_t);
static int complete_ids(struct llmctl *, const char *);
static int complete_values(const char *);

/* An exact name, or the prefix of exactly one; NULL and silent if not. */
static const struct cmd_entry *
complete_find(const char *name, const struct cmd_entry *const *table, size_t n)
{
	const struct cmd_entry *found = NULL;
	size_t i, len = strlen(name), nfound = 0;

	for (i = 0; i < n; i++) {
		if (strcmp(table[i]->name, name) == 0)
			return table[i];
		if (len > 0 && strncmp(table[i]->name, name, len) == 0) {
			found = table[i];
			nfound++;
		}
	}
	return nfound == 1 ? found : NULL;
}

static int
complete_values(const char *kind)
{
	size_t i;

	if (strcmp(kind, "format") == 0)
		printf("table\njson\nyaml\n");
	else if (strcmp(kind, "state") == 0) {
		for (i = 0; job_states[i] != NULL; i++)
			printf("%s\n", job_states[i]);
	} else
		return CMD_FAILED;
	return CMD_OK;
}

/* Job ids from GET /v1/jobs; cancel is offered only what can be. */
static int
complete_ids(struct llmctl *ctx, const char *cmd)
{
	const json_t *job;
	json_t *reply = NULL;
	char *path, *cause = NULL;
	size_t i;

	/* by uid, as status does: no NSS */
	path = xasprintf("/v1/jobs?user=%u%s", (unsigned)getuid(),
	    cmd != NULL && strcmp(cmd, "cancel") == 0
	        ? "&state=QUEUED,SUBMITTED,RUNNING,RESTARTING"
	        : "");
	if (client_request(llmctl_client(ctx), "GET", path, NULL, &reply,
	        &cause) != CLIENT_OK) {
		free(cause);
		free(path);
		return CMD_FAILED;
	}
	free(path);
	json_array_foreach(json_object_get(reply, "jobs"), i, job)
	{
		if (json_is_integer(json_object_get(job, "id")))
			printf("%" JSON_INTEGER_FORMAT "\n",
			    json_integer_value(json_object_get(job, "id")));
	}
	json_decref(reply);
	return CMD_OK;
}

int
complete_exec(struct llmctl *ctx, int argc, char **argv,
    const struct cmd_entry *const *table, size_t n)
{
	const struct cmd_entry *entry = NULL;
	const char *what = argc > 1 ? argv[1] : "";
	size_t i;

	if (argc > 2)
		entry = complete_find(argv[2], table, n);
	if (strcmp(what, "commands") == 0 && argc == 2) {
		for (i = 0; i < n; i++)
			printf("%s\n", table[i]->name);
	} else if (strcmp(what, "options") == 0 && entry != NULL)
		args_spellings(&entry->args, stdout);
	else if (strcmp(what, "operand") == 0 && entry != NULL) {
		if (entry->args.operand != NULL)
			printf("%s\n", entry->args.operand);
	} else if (strcmp(what, "values") == 0 && argc == 3)
		return complete_values(argv[2]);
	else if (strcmp(what, "ids") == 0 && argc <= 3)
		return complete_ids(ctx, entry != NULL ? entry->name : NULL);
	else
		return CMD_USAGE;
	return CMD_OK;
}
