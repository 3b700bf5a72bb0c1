/*
 * llmctl: what the command files share with main().
 *
 * main() owns a struct llmctl for the whole run: the socket path chosen from
 * --socket, LLMCTL_SOCKET or the default, and the HTTP client, created the
 * first time a command asks for it (llmctl validate never does). Each command
 * lives in its own cli/cmd-*.c and is reached through cmd_table[].
 */
#ifndef LLMCTL_LLMCTL_H
#define LLMCTL_LLMCTL_H

#include <stddef.h>

#include "args.h"

#define LLMCTL_DEFAULT_SOCKET "/run/llmctl/llmctld.sock"

struct client;

struct llmctl {
	const char *socket_path;
	struct client *client; /* NULL until llmctl_client() */
};

/*
 * Exit statuses of every command, as llmctl(1) documents them: a usage
 * error is found before anything is sent to the daemon.
 */
#define CMD_OK 0
#define CMD_FAILED 1 /* the operation failed, or the daemon refused it */
#define CMD_USAGE 2 /* bad command, option or argument */

struct cmd_entry {
	const char *name;
	const char *usage; /* the arguments after the name */
	const char *about; /* one line for --help */
	struct args_spec args; /* parsed by main() before exec */
	/* Returns the exit status: CMD_OK, CMD_FAILED or CMD_USAGE. */
	int (*exec)(struct llmctl *, struct args *);
};

extern const struct cmd_entry cmd_cancel_entry;
extern const struct cmd_entry cmd_checkpoints_entry;
extern const struct cmd_entry cmd_dashboard_entry;
extern const struct cmd_entry cmd_events_entry;
extern const struct cmd_entry cmd_heartbeat_entry;
extern const struct cmd_entry cmd_logs_entry;
extern const struct cmd_entry cmd_nodes_entry;
extern const struct cmd_entry cmd_plan_entry;
extern const struct cmd_entry cmd_status_entry;
extern const struct cmd_entry cmd_submit_entry;
extern const struct cmd_entry cmd_validate_entry;

/* The client for ctx->socket_path, created on first use. */
struct client *llmctl_client(struct llmctl *);

/* Print "usage: llmctl NAME USAGE" to stderr; returns CMD_USAGE. */
int cmd_usage(const struct cmd_entry *);
/* The usage, what the command does and its options, to stdout; CMD_OK. */
int cmd_help(const struct cmd_entry *);

/*
 * llmctl __complete WHAT [ARG]: what the bash completion asks for, one
 * item a line (cli/complete.c). Not in cmd_table[]: not a command.
 */
int complete_exec(struct llmctl *, int argc, char **argv,
    const struct cmd_entry *const *table, size_t n);

/* Parse a job id: digits only, positive; -1 on anything else. */
long long cmd_parse_id(const char *);

#endif
