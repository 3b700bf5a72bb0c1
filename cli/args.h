/*
 * args: a command's options and arguments, declared as data in its
 * cmd_entry (as tmux's .args) and parsed by main() before the command
 * runs, so no command carries a getopt loop of its own. Every command
 * takes -h/--help; an unknown option or a wrong number of arguments is a
 * usage error, printed by main().
 */
#ifndef LLMCTL_ARGS_H
#define LLMCTL_ARGS_H

#define ARGS_NONE (-1) /* upper: no limit */

/* A long name for an option; ch need not be in the short template. */
struct args_long {
	int ch;
	const char *name;
	int has_arg;
};

struct args_spec {
	const char *template; /* getopt's short options: "aho:" */
	int lower, upper; /* arguments after the options */
	const struct args_long *longs; /* ends with { 0 }; may be NULL */
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

/* The option's value ("" for a flag), or NULL when it was not given. */
const char *args_get(const struct args *, int ch);
int args_has(const struct args *, int ch);

#endif
