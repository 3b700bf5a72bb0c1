/*
 * spec-bench: what reading a job spec costs, on a real spec and on the
 * worst input a hostile user can send.
 *
 * Build and run from a configured build directory (not part of make check):
 *
 *	make bench-spec				# hybrid.yaml, 20000 runs
 *	tests/bench/spec-bench [-n runs] FILE	# any spec
 *
 * Part 1 parses and validates FILE n times (spec_parse + spec_free, the
 * work `llmctl validate` and the daemon do per spec) and prints the median,
 * 99th percentile and minimum. Part 2 feeds 1 MiB hostile files, each to a
 * fresh process (this program re-executed with -H KIND), and prints the
 * process's peak RSS from wait4(2) next to a baseline process that builds
 * the same buffer but does not parse it, so the difference is the parser's.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spec.h"
#include "util.h"

#define HOSTILE_BYTES SPEC_MAX_BYTES

static const char *const kinds[] = {
	"none", /* baseline: the buffer, no parse */
	"flow-list", /* a: [1,1,1,...]: as many nodes as bytes allow */
	"env-keys", /* 1 MiB of distinct env keys: past the node cap */
	"env-40k", /* 40000 env keys: accepted, the largest valid kind */
	"long-scalars", /* 64 KiB scalars, back to back */
	"deep", /* nesting at the limit, repeated */
	"laughs", /* billion laughs: anchors and aliases */
	"hostlists", /* 1 MiB of host lists that expand 65536-fold */
	"errors", /* a wrong value on every line */
	"oversize", /* one byte over the limit */
};

static int cmp_i64(const void *, const void *);
static int64_t now_ns(void);
static char *hostile(const char *, size_t *);
static int run_hostile(const char *);
static void usage(void);

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A hostile spec of about HOSTILE_BYTES of the given kind. */
static char *
hostile(const char *kind, size_t *lenp)
{
	size_t cap = HOSTILE_BYTES + 64, len = 0, i;
	char *buf = xmalloc(cap + 1);

#define ROOM(n) (len + (n) < HOSTILE_BYTES)
	if (strcmp(kind, "flow-list") == 0 || strcmp(kind, "none") == 0) {
		len += sprintf(buf, "a: [");
		while (ROOM(4))
			len += sprintf(buf + len, "1,");
		len += sprintf(buf + len, "1]\n");
	} else if (strcmp(kind, "env-keys") == 0) {
		len += sprintf(buf,
		    "version: 1\nname: t\ncommand: x\n"
		    "resources: {nodes: 1, gpus_per_node: 0}\nenv:\n");
		for (i = 0; ROOM(24); i++)
			len += sprintf(buf + len, "  K%zu: v\n", i);
	} else if (strcmp(kind, "env-40k") == 0) {
		len += sprintf(buf,
		    "version: 1\nname: t\ncommand: x\n"
		    "resources: {nodes: 1, gpus_per_node: 0}\nenv:\n");
		for (i = 0; i < 40000; i++)
			len += sprintf(buf + len, "  K%zu: value-%zu\n", i, i);
	} else if (strcmp(kind, "long-scalars") == 0) {
		for (i = 0; ROOM(SPEC_MAX_SCALAR + 16); i++) {
			len += sprintf(buf + len, "k%zu: ", i);
			memset(buf + len, 'x', SPEC_MAX_SCALAR);
			len += SPEC_MAX_SCALAR;
			buf[len++] = '\n';
		}
	} else if (strcmp(kind, "deep") == 0) {
		for (i = 0; ROOM(80); i++) {
			len += sprintf(buf + len, "k%zu: ", i);
			memset(buf + len, '[', 31);
			memset(buf + len + 31, ']', 31);
			len += 62;
			buf[len++] = '\n';
		}
	} else if (strcmp(kind, "laughs") == 0) {
		len +=
		    sprintf(buf, "a: &a [lol,lol,lol,lol,lol,lol,lol,lol]\n");
		len += sprintf(buf + len, "b: &k0 [*a,*a,*a,*a,*a,*a,*a,*a]\n");
		for (i = 1; ROOM(64); i++)
			len += sprintf(buf + len,
			    "k%zu: &k%zu [*k%zu,*k%zu,"
			    "*k%zu,*k%zu]\n",
			    i, i, i - 1, i - 1, i - 1, i - 1);
	} else if (strcmp(kind, "hostlists") == 0) {
		len += sprintf(buf,
		    "version: 1\nname: t\ncommand: x\n"
		    "resources: {nodes: 1, gpus_per_node: 0}\n"
		    "placement:\n  exclude:\n");
		for (i = 0; ROOM(96); i++)
			len += sprintf(buf + len,
			    "    - \"h%zu-%s[00001-65536]\"\n", i,
			    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	} else if (strcmp(kind, "errors") == 0) {
		len += sprintf(buf,
		    "version: 1\nname: t\ncommand: x\n"
		    "resources:\n");
		for (i = 0; ROOM(32); i++)
			len += sprintf(buf + len, "  nodes%zu: four\n", i);
	} else if (strcmp(kind, "oversize") == 0) {
		memset(buf, '#', HOSTILE_BYTES + 1);
		len = HOSTILE_BYTES + 1;
	} else {
		free(buf);
		return NULL;
	}
#undef ROOM
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/* Child: build one hostile file, parse it unless it is the baseline. */
static int
run_hostile(const char *kind)
{
	struct spec *sp;
	char *buf, *cause = NULL, *nl;
	size_t len, cl;
	int64_t t0;

	if ((buf = hostile(kind, &len)) == NULL)
		return 2;
	if (strcmp(kind, "none") == 0) {
		printf("%zu bytes, not parsed\n", len);
		free(buf);
		return 0;
	}
	t0 = now_ns();
	sp = spec_parse(buf, len, "hostile.yaml", "/", &cause);
	t0 = now_ns() - t0;
	if (sp != NULL) {
		printf("%zu bytes, ACCEPTED in %.1f ms\n", len, t0 / 1e6);
		spec_free(sp);
	} else {
		if ((nl = strchr(cause, '\n')) != NULL)
			*nl = '\0';
		cl = strlen(cause);
		printf("%zu bytes, refused in %.1f ms: %.40s%s%s%s\n", len,
		    t0 / 1e6, cause, cl > 100 ? "..." : "",
		    cl > 100 ? cause + cl - 50 : cause + (cl < 40 ? cl : 40),
		    nl != NULL ? " (and more)" : "");
		free(cause);
	}
	free(buf);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: spec-bench [-n runs] file\n");
	exit(1);
}

int
main(int argc, char **argv)
{
	struct rusage ru;
	struct spec *sp;
	char *buf, *cause = NULL, *end;
	size_t len, i, n = 20000;
	int64_t *t, t0;
	pid_t pid;
	int c, status;

	while ((c = getopt(argc, argv, "H:n:")) != -1) {
		switch (c) {
		case 'H':
			return run_hostile(optarg);
		case 'n':
			n = strtoul(optarg, &end, 10);
			if (*end != '\0' || n == 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 1)
		usage();
	if (read_file(argv[optind], SPEC_MAX_BYTES, &buf, &len, &cause) != 0) {
		fprintf(stderr, "spec-bench: %s\n", cause);
		return 1;
	}
	if ((sp = spec_parse(buf, len, argv[optind], "/", &cause)) == NULL) {
		fprintf(stderr, "%s\n", cause);
		return 1;
	}
	spec_free(sp);

	t = xcalloc(n, sizeof(*t));
	for (i = 0; i < n; i++) {
		t0 = now_ns();
		sp = spec_parse(buf, len, argv[optind], "/", NULL);
		spec_free(sp);
		t[i] = now_ns() - t0;
	}
	qsort(t, n, sizeof(*t), cmp_i64);
	printf("parse+validate %s (%zu bytes), %zu runs: median %.1f us, "
	       "p99 %.1f us, min %.1f us\n",
	    argv[optind], len, n, t[n / 2] / 1e3, t[n * 99 / 100] / 1e3,
	    t[0] / 1e3);
	free(t);
	free(buf);

	printf("\nhostile input, %d bytes each, one fresh process per file; "
	       "peak RSS from wait4(2):\n",
	    HOSTILE_BYTES);
	for (i = 0; i < nitems(kinds); i++) {
		printf("  %-13s ", kinds[i]);
		fflush(stdout);
		if ((pid = fork()) == -1) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			execl("/proc/self/exe", argv[0], "-H", kinds[i],
			    (char *)NULL);
			_exit(127);
		}
		while (wait4(pid, &status, 0, &ru) == -1 && errno == EINTR)
			;
		printf("  %-13s peak RSS %ld KiB%s\n", "", ru.ru_maxrss,
		    WIFEXITED(status) && WEXITSTATUS(status) == 0
		        ? ""
		        : " (FAILED)");
	}
	return 0;
}
