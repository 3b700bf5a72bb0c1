/* args: the commands' options, parsed from their declarations. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "util.h"

#define ARGS_MAX_LONG 16

/* "h" and --help for every command, then the command's own. */
static void
args_options(const struct args_spec *spec, char *shortopts, size_t len,
    struct option *longopts)
{
	const struct args_long *l;
	size_t n = 0;

	/* no '+': options may follow arguments (llmctl status 5 -o json) */
	snprintf(shortopts, len, "h%s",
	    spec->template != NULL ? spec->template : "");
	for (l = spec->longs; l != NULL && l->ch != 0; l++) {
		if (n == ARGS_MAX_LONG - 2)
			break;
		longopts[n++] = (struct option){.name = l->name,
		    .has_arg = l->has_arg ? required_argument : no_argument,
		    .val = l->ch};
	}
	longopts[n++] =
	    (struct option){.name = "help", .has_arg = no_argument, .val = 'h'};
	longopts[n] = (struct option){0};
}

enum args_result
args_parse(
    const struct args_spec *spec, int argc, char **argv, struct args *args)
{
	struct option longopts[ARGS_MAX_LONG];
	char shortopts[64];
	int ch;

	memset(args, 0, sizeof(*args));
	args_options(spec, shortopts, sizeof shortopts, longopts);
	optind = 0; /* GNU: a full re-initialisation */
	while (
	    (ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (ch == 'h')
			return ARGS_HELP;
		/* getopt has said what was wrong */
		if (ch == '?' || ch <= 0 || ch >= (int)nitems(args->value))
			return ARGS_USAGE;
		args->value[ch] = optarg != NULL ? optarg : "";
	}
	args->argc = argc - optind;
	args->argv = argv + optind;
	if (args->argc < spec->lower ||
	    (spec->upper != ARGS_NONE && args->argc > spec->upper))
		return ARGS_USAGE;
	return ARGS_OK;
}

const char *
args_get(const struct args *args, int ch)
{
	if (ch <= 0 || ch >= (int)nitems(args->value))
		return NULL;
	return args->value[ch];
}

int
args_has(const struct args *args, int ch)
{
	return args_get(args, ch) != NULL;
}
