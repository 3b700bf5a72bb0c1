/*
 * llmctl: the command line client of llmctld.
 *
 * Parses the global options, finds the command in cmd_table[] (an
 * unambiguous prefix is enough, as in tmux), parses the options its entry
 * declares and runs it. The commands talk to the daemon through client.c; only
 * validate and plan --cluster work without one, and heartbeat talks to the
 * daemon's TCP listener from inside a job instead of the socket.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "llmctl.h"
#include "util.h"

static const struct cmd_entry *cmd_find(const char *);
static void usage(FILE *);

static const struct cmd_entry *const cmd_table[] = {
	&cmd_cancel_entry,
	&cmd_checkpoints_entry,
	&cmd_dashboard_entry,
	&cmd_events_entry,
	&cmd_heartbeat_entry,
	&cmd_logs_entry,
	&cmd_nodes_entry,
	&cmd_plan_entry,
	&cmd_status_entry,
	&cmd_submit_entry,
	&cmd_validate_entry,
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f,
	    "usage: llmctl [-h] [--version] [--socket path] command "
	    "[args]\n");
	for (i = 0; i < nitems(cmd_table); i++)
		fprintf(f, "       llmctl %s %s\n", cmd_table[i]->name,
		    cmd_table[i]->usage);
}

int
cmd_usage(const struct cmd_entry *entry)
{
	fprintf(stderr, "usage: llmctl %s %s\n", entry->name, entry->usage);
	return CMD_USAGE;
}

int
cmd_help(const struct cmd_entry *entry)
{
	printf("usage: llmctl %s %s\n", entry->name, entry->usage);
	if (entry->about != NULL)
		printf("\n%s\n", entry->about);
	putchar('\n');
	args_help(&entry->args, stdout);
	return CMD_OK;
}

long long
cmd_parse_id(const char *s)
{
	char *end;
	long long id;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	id = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || id <= 0)
		return -1;
	return id;
}

struct client *
llmctl_client(struct llmctl *ctx)
{
	if (ctx->client == NULL)
		ctx->client = client_create(ctx->socket_path);
	return ctx->client;
}

/*
 * An exact name wins; otherwise the name must be the prefix of exactly one
 * command. Prints the error itself and returns NULL when it is not.
 */
static const struct cmd_entry *
cmd_find(const char *name)
{
	const struct cmd_entry *found = NULL;
	size_t i, len = strlen(name), nfound = 0;
	char list[256];
	int off = 0;

	for (i = 0; i < nitems(cmd_table); i++) {
		if (strcmp(cmd_table[i]->name, name) == 0)
			return cmd_table[i];
	}
	for (i = 0; len > 0 && i < nitems(cmd_table); i++) {
		if (strncmp(cmd_table[i]->name, name, len) != 0)
			continue;
		/* The table is short: list always fits. */
		off += snprintf(list + off, sizeof list - off, "%s%s",
		    nfound++ > 0 ? ", " : "", cmd_table[i]->name);
		found = cmd_table[i];
	}
	if (nfound == 1)
		return found;
	if (nfound > 1)
		fprintf(stderr, "llmctl: ambiguous command: %s, could be: %s\n",
		    name, list);
	else
		fprintf(stderr, "llmctl: unknown command: %s\n", name);
	return NULL;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ .name = "socket", .has_arg = required_argument, .val = 'S' },
		{ .name = "help", .has_arg = no_argument, .val = 'h' },
		{ .name = "version", .has_arg = no_argument, .val = 'V' },
		{ 0 },
	};
	struct llmctl ctx = { .socket_path = NULL };
	const struct cmd_entry *entry;
	struct args args;
	const char *env;
	char *name;
	int ch, rc;

	/* '+': stop at the command name; the rest belongs to the command. */
	while ((ch = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'S':
			ctx.socket_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return CMD_OK;
		case 'V':
			printf("llmctl %s\n", PACKAGE_VERSION);
			return CMD_OK;
		default:
			usage(stderr);
			return CMD_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		usage(stderr);
		return CMD_USAGE;
	}
	if (ctx.socket_path == NULL || *ctx.socket_path == '\0') {
		env = getenv("LLMCTL_SOCKET");
		ctx.socket_path =
		    env != NULL && *env != '\0' ? env : LLMCTL_DEFAULT_SOCKET;
	}

	if (strcmp(argv[0], "__complete") == 0) {
		rc = complete_exec(
		    &ctx, argc, argv, cmd_table, nitems(cmd_table));
		client_free(ctx.client);
		return rc;
	}
	if ((entry = cmd_find(argv[0])) == NULL)
		return CMD_USAGE;
	/* getopt's messages then start "llmctl status: " */
	argv[0] = name = xasprintf("llmctl %s", entry->name);
	switch (args_parse(&entry->args, argc, argv, &args)) {
	case ARGS_HELP:
		rc = cmd_help(entry);
		break;
	case ARGS_USAGE:
		rc = cmd_usage(entry);
		break;
	default:
		rc = entry->exec(&ctx, &args);
		break;
	}
	client_free(ctx.client);
	free(name);
	return rc;
}
