/*
 * args: a command's options and arguments, declared as data in its
 * cmd_entry (as tmux's .args) and parsed by main() before the command
 * runs, so no command carries a getopt loop of its own. Every command
 * takes -h/--help; an unknown option or a wrong number of arguments is a
 * usage error, printed by main(). The same declarations print --help
 * (args_help()) and feed the shell completion (llmctl __complete), so an
 * option cannot be parsed without being documented there.
 */
#ifndef LLMCTL_ARGS_H
#define LLMCTL_ARGS_H

#include <stdio.h>

#define ARGS_NONE (-1) /* upper: no limit */

/*
 * A long name for an option; ch need not be in the short template. arg
 * names the value in --help and tells the completion what to offer:
 * "format", "state", "user", "file" or anything else (no offer).
 */
struct args_long {
	int ch;
	const char *name;
	int has_arg;
	const char *arg; /* the value's name; NULL for a flag */
	const char *help; /* one line for --help */
};

/* The -o option of every command that prints data. */
#define ARGS_OUTPUT \
	{ \
		.ch = 'o', .name = "output", .has_arg = 1, .arg = "format", \
		.help = "print as a table (the default), json or yaml" \
	}

struct args_spec {
	const char *template; /* getopt's short options: "aho:" */
	int lower, upper; /* arguments after the options */
	const struct args_long *longs; /* ends with { 0 }; may be NULL */
	const char *operand; /* what the arguments are: "id", "file" */
};

struct args {
	const char *value[128]; /* by option character; "" for a flag */
	int argc;
	char **argv; /* the arguments after the options */
};

enum args_result {
	ARGS_OK,
	ARGS_HELP, /* -h or --help */
	ARGS_USAGE, /* getopt said why, or the count is wrong */
};

/* Parse argv (argv[0] names the command in getopt's messages). */
enum args_result args_parse(
    const struct args_spec *, int argc, char **argv, struct args *);

/* The options of spec, one a line, for --help. */
void args_help(const struct args_spec *, FILE *);

/*
 * For the completion: every spelling of every option, one a line, with
 * the name of its value after a space when it takes one.
 */
void args_spellings(const struct args_spec *, FILE *);

/* The option's value ("" for a flag), or NULL when it was not given. */
const char *args_get(const struct args *, int ch);
int args_has(const struct args *, int ch);

#endif
