/* args: the commands' options, parsed from their declarations. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "util.h"

#define ARGS_MAX_LONG 16
#define ARGS_HELP_COL 24 /* where the help text of an option starts */

static const struct args_long args_help_option = {
	.ch = 'h', .name = "help", .help = "print this help and exit"
};

static int args_short(const struct args_spec *, int);
static const struct args_long *args_find(const struct args_spec *, int);
static void args_help_one(
    const struct args_spec *, const struct args_long *, FILE *);

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
		longopts[n++] = (struct option){ .name = l->name,
			.has_arg = l->has_arg ? required_argument : no_argument,
			.val = l->ch };
	}
	longopts[n++] = (struct option){
		.name = "help", .has_arg = no_argument, .val = 'h'
	};
	longopts[n] = (struct option){ 0 };
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

/* Whether ch is a short option in spec's template ("o:" has 'o'). */
static int
args_short(const struct args_spec *spec, int ch)
{
	return ch != ':' && spec->template != NULL &&
	    strchr(spec->template, ch) != NULL;
}

static const struct args_long *
args_find(const struct args_spec *spec, int ch)
{
	const struct args_long *l;

	for (l = spec->longs; l != NULL && l->ch != 0; l++) {
		if (l->ch == ch)
			return l;
	}
	return NULL;
}

/* "  -o, --output format   print as ...": the help column aligned. */
static void
args_help_one(const struct args_spec *spec, const struct args_long *l, FILE *f)
{
	int n;

	if (args_short(spec, l->ch) || l == &args_help_option)
		n = fprintf(f, "  -%c, --%s", l->ch, l->name);
	else
		n = fprintf(f, "      --%s", l->name);
	if (l->has_arg)
		n += fprintf(f, " %s", l->arg != NULL ? l->arg : "value");
	if (l->help == NULL) {
		fputc('\n', f);
		return;
	}
	if (n >= ARGS_HELP_COL - 1) {
		fputc('\n', f);
		n = 0;
	}
	fprintf(f, "%*s%s\n", ARGS_HELP_COL - n, "", l->help);
}

void
args_help(const struct args_spec *spec, FILE *f)
{
	const struct args_long *l;
	const char *p;

	fprintf(f, "options:\n");
	for (l = spec->longs; l != NULL && l->ch != 0; l++)
		args_help_one(spec, l, f);
	/* A short option without a declaration: no long name, no help. */
	for (p = spec->template; p != NULL && *p != '\0'; p++) {
		if (*p == ':' || args_find(spec, *p) != NULL)
			continue;
		fprintf(f, "  -%c\n", *p);
	}
	args_help_one(spec, &args_help_option, f);
}

void
args_spellings(const struct args_spec *spec, FILE *f)
{
	const struct args_long *l;
	const char *p, *arg;

	for (l = spec->longs; l != NULL && l->ch != 0; l++) {
		arg = l->has_arg ? (l->arg != NULL ? l->arg : "value") : NULL;
		if (args_short(spec, l->ch))
			fprintf(f, "-%c%s%s\n", l->ch, arg != NULL ? " " : "",
			    arg != NULL ? arg : "");
		fprintf(f, "--%s%s%s\n", l->name, arg != NULL ? " " : "",
		    arg != NULL ? arg : "");
	}
	for (p = spec->template; p != NULL && *p != '\0'; p++) {
		if (*p != ':' && args_find(spec, *p) == NULL)
			fprintf(f, "-%c%s\n", *p, p[1] == ':' ? " value" : "");
	}
	fprintf(f, "-h\n--help\n");
}
