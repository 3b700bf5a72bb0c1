/*
 * check_hostlist_slurm: lib/hostlist.c against libslurm's own parser on
 * random expressions. Half are well formed by construction (several bracket
 * groups, lists, ranges, zero padding, runs of separators); half are those
 * with a character inserted, deleted or doubled. Where both accept, the
 * names must be the same, in the same order. Where only one accepts, the
 * expression must show one of the differences docs/design.md names:
 *   - llmctl also takes text after the last ] ("a[1-2]-ib"); each such name
 *     is checked against Slurm's expansion of "a[1-2]" with "-ib" appended;
 *   - llmctl refuses characters outside [A-Za-z0-9._-], unbalanced or
 *     nested brackets, open ranges ("1-"), anything but digits, '-' and
 *     ',' inside brackets (Slurm reads "1a3-4" as 1-4), and
 *     numbers of more than 9 digits, all of which Slurm lets through, and
 *     more than HOSTLIST_MAX names in one expression;
 *   - llmctl refuses a bad range that Slurm skips, with the whole name,
 *     when the name has three or more groups (slurm_drops()).
 * HOSTLIST_SEED and HOSTLIST_N change the seed and the count.
 */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <slurm/slurm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostlist.h"
#include "unit.h"
#include "util.h"

#define EXPR_MAX 512

static uint64_t seed = 0x9e3779b97f4a7c15ULL;

/* libslurm leaks on the error paths of hostlist_create(); not ours. */
const char *__lsan_default_suppressions(void);

const char *
__lsan_default_suppressions(void)
{
	return "leak:libslurm.so\n";
}

struct tally {
	unsigned long total, same, both_refuse, tail_only, llmctl_refuses,
	    slurm_drops;
};

static unsigned
rnd(unsigned n)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return (unsigned)(seed % n);
}

static void
cat(char *buf, const char *s)
{
	if (strlen(buf) + strlen(s) < EXPR_MAX)
		strcat(buf, s);
}

static void
gen_literal(char *buf, unsigned max)
{
	static const char chars[] = "abcnrx019-._";
	char c[2] = { 0 };
	unsigned i, n = rnd(max + 1);

	for (i = 0; i < n; i++) {
		c[0] = chars[rnd(sizeof(chars) - 1)];
		cat(buf, c);
	}
}

/* A number of lo's width or wider (Slurm pads to the first number). */
static void
gen_group(char *buf)
{
	char num[64];
	unsigned i, n = 1 + rnd(2), lo, w;

	cat(buf, "[");
	for (i = 0; i < n; i++) {
		if (i > 0)
			cat(buf, ",");
		lo = rnd(4) == 0 ? rnd(1000) : rnd(20);
		w = rnd(3) == 0 ? 1 + rnd(4) : 1;
		snprintf(num, sizeof(num), "%0*u", (int)w, lo);
		cat(buf, num);
		if (rnd(2) == 0) {
			snprintf(num, sizeof(num), "-%0*u", (int)rnd(3),
			    lo + rnd(4));
			cat(buf, num);
		}
	}
	cat(buf, "]");
}

/* One name; *tail is set when text follows its last group. */
static void
gen_name(char *buf, int *tail)
{
	unsigned i, ng = rnd(4);

	gen_literal(buf, 3);
	if (ng == 0 &&
	    (buf[0] == '\0' || strchr(", \t", buf[strlen(buf) - 1]) != NULL))
		cat(buf, "h");
	for (i = 0; i < ng; i++) {
		gen_group(buf);
		if (i + 1 < ng)
			gen_literal(buf, 2);
	}
	*tail = 0;
	if (ng > 0 && rnd(12) == 0) {
		cat(buf, "-ib");
		*tail = 1;
	}
}

static void
gen_expr(char *buf)
{
	static const char *const seps[] = { ",", ",", ",", " ", ", ", ",,",
		"\t" };
	unsigned i, n = 1 + rnd(4);
	int tail;

	buf[0] = '\0';
	if (rnd(10) == 0)
		cat(buf, ",");
	for (i = 0; i < n; i++) {
		if (i > 0)
			cat(buf, seps[rnd(nitems(seps))]);
		gen_name(buf, &tail);
	}
}

static void
mutate(char *buf)
{
	static const char chars[] = "[]-,x;0a ";
	size_t len = strlen(buf), at = rnd((unsigned)len + 1);

	switch (rnd(3)) {
	case 0:
		if (len + 1 >= EXPR_MAX)
			break;
		memmove(buf + at + 1, buf + at, len - at + 1);
		buf[at] = chars[rnd(sizeof(chars) - 1)];
		break;
	case 1:
		if (at < len)
			memmove(buf + at, buf + at + 1, len - at);
		break;
	default:
		if (at < len && len + 1 < EXPR_MAX)
			memmove(buf + at + 1, buf + at, len - at + 1);
		break;
	}
}

/* Slurm's names for expr, comma-joined, or NULL if it refuses. */
static char *
slurm_names(const char *expr, const char *suffix)
{
	hostlist_t shl;
	char *h, *out;
	size_t len = 0, cap = 256, need;
	int fd, saved;

	/* libslurm logs every refusal on stderr. */
	fflush(stderr);
	saved = dup(2);
	fd = open("/dev/null", O_WRONLY);
	dup2(fd, 2);
	close(fd);
	shl = slurm_hostlist_create(expr);
	dup2(saved, 2);
	close(saved);
	if (shl == NULL)
		return NULL;
	out = xmalloc(cap);
	*out = '\0';
	while ((h = slurm_hostlist_shift(shl)) != NULL) {
		need = len + strlen(h) + strlen(suffix) + 2;
		if (need > cap)
			out = xreallocarray(out, cap = need * 2, 1);
		len +=
		    sprintf(out + len, "%s%s%s", len > 0 ? "," : "", h, suffix);
		free(h);
	}
	slurm_hostlist_destroy(shl);
	return out;
}

/*
 * Slurm's names for an expression llmctl accepted, name by name, so that a
 * name with text after its last ] can go to Slurm up to that ] and get the
 * text appended to each name. NULL if Slurm refuses one of them.
 */
static char *
slurm_by_name(const char *expr, int *tails)
{
	const char *p = expr, *start;
	const char *end;
	char *item, *names, *out = xstrdup(""), *tmp;
	int depth;

	*tails = 0;
	for (;;) {
		p += strspn(p, ", \t\n");
		if (*p == '\0')
			return out;
		for (start = p, depth = 0; *p != '\0'; p++) {
			if (*p == '[')
				depth++;
			else if (*p == ']')
				depth--;
			else if (depth == 0 && strchr(", \t\n", *p) != NULL)
				break;
		}
		for (end = p; end > start && end[-1] != ']'; end--)
			;
		if (end == start)
			end = p;
		*tails += end != p;
		item = xstrndup(start, end - start);
		tmp = xstrndup(end, p - end);
		names = slurm_names(item, tmp);
		free(item);
		free(tmp);
		if (names == NULL) {
			free(out);
			return NULL;
		}
		tmp = xasprintf("%s%s%s", out,
		    *out != '\0' && *names != '\0' ? "," : "", names);
		free(out);
		free(names);
		out = tmp;
	}
}

/* What llmctl refuses on purpose and Slurm lets through. */
static int
llmctl_stricter(const char *expr)
{
	const char *p;
	int depth = 0, digits = 0;

	for (p = expr; *p != '\0'; p++) {
		if (strchr(
		        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		        "0123456789._-,[] \t\n",
		        *p) == NULL)
			return 1;
		if (*p == '[' && depth++ > 0)
			return 1;
		if (*p == ']' && depth-- == 0)
			return 1;
		if (depth > 0 && strchr("0123456789-,[]", *p) == NULL)
			return 1;
		if (depth > 0 && *p == '-' && (p[1] == ']' || p[1] == ','))
			return 1;
		digits = depth > 0 && *p >= '0' && *p <= '9' ? digits + 1 : 0;
		if (digits > 9)
			return 1;
	}
	return depth != 0;
}

/*
 * A name Slurm drops without a word: with three or more bracket groups it
 * ignores a bad range in any but the last two ("[3-1]b[1]c[1]" expands to
 * nothing, the rest of the list to its names).
 */
static int
slurm_drops(const char *expr)
{
	const char *p = expr, *start;
	char *item, *names;
	int dropped = 0;

	while (!dropped) {
		p += strspn(p, ", \t\n");
		if (*p == '\0')
			break;
		start = p;
		p += strcspn(p, ", \t\n");
		while (*p == ',' && memchr(start, '[', p - start) != NULL &&
		    memchr(p, ']', strcspn(p, "[")) != NULL)
			p += 1 + strcspn(p + 1, ", \t\n");
		item = xstrndup(start, p - start);
		names = slurm_names(item, "");
		dropped = names != NULL && *names == '\0';
		free(names);
		free(item);
	}
	return dropped;
}

/* llmctl refused expr: so must Slurm, or it is a difference we mean. */
static void
check_refused(const char *expr, const char *cause, struct tally *t)
{
	char *whole;

	/* Slurm would take seconds to list a million names. */
	if (strncmp(cause, "more than ", 10) == 0) {
		t->llmctl_refuses++;
		return;
	}
	whole = slurm_names(expr, "");
	if (whole == NULL || *whole == '\0')
		t->both_refuse++;
	else if (llmctl_stricter(expr))
		t->llmctl_refuses++;
	else {
		ck_assert_msg(slurm_drops(expr),
		    "llmctl refuses \"%s\" (%s), Slurm gives %.300s", expr,
		    cause, whole);
		t->slurm_drops++;
	}
	free(whole);
}

/* llmctl accepted expr: Slurm has the same names in the same order. */
static void
check_accepted(const char *expr, const char *ours, struct tally *t)
{
	char *theirs, *whole;
	int tails;

	theirs = slurm_by_name(expr, &tails);
	ck_assert_msg(
	    theirs != NULL, "Slurm refuses \"%s\" name by name", expr);
	ck_assert_msg(strcmp(ours, theirs) == 0,
	    "\"%s\": llmctl %.300s, Slurm %.300s", expr, ours, theirs);
	free(theirs);
	if (tails > 0) {
		t->tail_only++;
		return;
	}
	whole = slurm_names(expr, "");
	ck_assert_msg(whole != NULL && strcmp(whole, ours) == 0,
	    "\"%s\": llmctl %.300s, Slurm %.300s", expr, ours,
	    whole != NULL ? whole : "refuses");
	free(whole);
	t->same++;
}

static void
check_one(const char *expr, struct tally *t)
{
	struct hostlist hl = { 0 };
	char *cause = NULL, *ours;

	t->total++;
	if (hostlist_expand(&hl, expr, &cause) != 0) {
		check_refused(expr, cause, t);
		free(cause);
	} else {
		ours = hostlist_join(&hl);
		check_accepted(expr, ours, t);
		free(ours);
	}
	hostlist_clear(&hl);
}

START_TEST(test_random)
{
	struct tally t = { 0 };
	char expr[EXPR_MAX];
	unsigned long i, n = 12000;
	const char *s;

	if ((s = getenv("HOSTLIST_SEED")) != NULL)
		seed = strtoull(s, NULL, 0) | 1;
	if ((s = getenv("HOSTLIST_N")) != NULL)
		n = strtoul(s, NULL, 10);
	for (i = 0; i < n; i++) {
		gen_expr(expr);
		if (i % 2 == 1) {
			mutate(expr);
			if (rnd(2) == 0)
				mutate(expr);
		}
		check_one(expr, &t);
	}
	printf("hostlist vs libslurm: %lu expressions: %lu same names, "
	       "%lu refused by both, %lu with text after ] (checked name by "
	       "name), %lu refused only by llmctl (stricter on purpose), %lu "
	       "refused by llmctl where Slurm drops a bad name silently\n",
	    t.total, t.same, t.both_refuse, t.tail_only, t.llmctl_refuses,
	    t.slurm_drops);
	ck_assert_uint_ge(t.same, n * 4 / 10);
}
END_TEST

/* The names issue 14 quotes, and Slurm's order for several groups. */
START_TEST(test_examples)
{
	static const char *const exprs[] = { "rack[1-2]-n[01-02]",
		"r[1-2]n[1-2]", "a[1-2][3-4]", "x[1-2]y[3]z[5-6]",
		"gpu[001-003,010],login1", "n1,,n2 n3", "[1-3]", "n[01-100]" };
	struct hostlist hl = { 0 };
	char *ours, *theirs;
	size_t i;

	for (i = 0; i < nitems(exprs); i++) {
		ck_assert_int_eq(hostlist_expand(&hl, exprs[i], NULL), 0);
		ours = hostlist_join(&hl);
		theirs = slurm_names(exprs[i], "");
		ck_assert_ptr_nonnull(theirs);
		ck_assert_str_eq(ours, theirs);
		free(ours);
		free(theirs);
		hostlist_clear(&hl);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("hostlist_slurm");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 300); /* ASan: 10 times slower */
	tcase_add_test(tc, test_examples);
	tcase_add_test(tc, test_random);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
