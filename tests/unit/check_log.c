/*
 * check_log: what log_escape makes of client strings (one logged message
 * is always one line), and that log_limited drops repeats past its budget.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "unit.h"
#include "util.h"

static const struct {
	const char *in;
	const char *out;
} cases[] = {
	{ "plain text", "plain text" },
	{ "a\nb", "a\\nb" },
	{ "job.yaml\n2026-01-01T00:00:00.000Z info: forged",
	    "job.yaml\\n2026-01-01T00:00:00.000Z info: forged" },
	{ "cr\rlf", "cr\\rlf" },
	{ "tab\tstays", "tab\tstays" },
	{ "bell\a esc\x1b[31m del\x7f", "bell\\x07 esc\\x1b[31m del\\x7f" },
	{ "caf\xc3\xa9 \xe2\x9c\x93", "caf\xc3\xa9 \xe2\x9c\x93" },
	{ "bad \xff\xfe utf8", "bad \\xff\\xfe utf8" },
	{ "cut \xe2\x9c", "cut \\xe2\\x9c" },
	{ "overlong \xc0\xaf", "overlong \\xc0\\xaf" },
	{ "c1 \xc2\x85 nel", "c1 \\xc2\\x85 nel" },
	{ "ls \xe2\x80\xa8 ps", "ls \\xe2\\x80\\xa8 ps" },
	{ "surrogate \xed\xa0\x80", "surrogate \\xed\\xa0\\x80" },
	{ "", "" },
};

START_TEST(test_escape)
{
	char out[256];
	size_t n;

	n = log_escape(cases[_i].in, out, sizeof(out));
	ck_assert_str_eq(out, cases[_i].out);
	ck_assert_uint_eq(n, strlen(cases[_i].out));
	ck_assert_ptr_null(strchr(out, '\n'));
}
END_TEST

/* A short buffer drops whole escapes, never half of one. */
START_TEST(test_escape_truncates)
{
	char out[6];

	log_escape("ab\ncd", out, sizeof(out));
	ck_assert_str_eq(out, "ab\\nc");
	log_escape("abcd\n", out, sizeof(out));
	ck_assert_str_eq(out, "abcd");
	log_escape("a\xff", out, 4);
	ck_assert_str_eq(out, "a");
}
END_TEST

/* Count the lines written to stderr while fn runs. */
static int
count_lines(void (*fn)(void))
{
	char buf[8192];
	FILE *f = tmpfile();
	int saved = dup(2), n = 0;

	ck_assert_ptr_nonnull(f);
	fflush(stderr);
	dup2(fileno(f), 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	while (fgets(buf, sizeof(buf), f) != NULL)
		n++;
	fclose(f);
	return n;
}

static void
flood(void)
{
	struct log_limit lim = { 0 };
	int i;

	for (i = 0; i < 1000; i++)
		log_limited(&lim, LOG_LEVEL_WARN, "accept: %s", "no fds");
}

static void
forged(void)
{
	log_warnx("refused spec %s", "x.yaml\nllmctld: info: forged");
}

START_TEST(test_limited)
{
	log_init(1, LOG_LEVEL_INFO);
	ck_assert_int_eq(count_lines(flood), LOG_LIMIT_LINES);
	ck_assert_int_eq(count_lines(forged), 1);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_escape, 0, nitems(cases));
	tcase_add_test(tc, test_escape_truncates);
	tcase_add_test(tc, test_limited);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
