/* check_hostlist: Slurm host expressions expand exactly, bad ones explain. */
#include "config.h"

#include <check.h>
#include <stdlib.h>

#include "hostlist.h"
#include "unit.h"

static const struct {
	const char *expr;
	const char *joined; /* NULL: an error is expected */
	const char *error;
} cases[] = {
	{ .expr = "n1", .joined = "n1" },
	{ .expr = "n[1-3]", .joined = "n1,n2,n3" },
	{ .expr = "gpu[001-003,010]", .joined = "gpu001,gpu002,gpu003,gpu010" },
	{ .expr = "a[1-2]-ib,b", .joined = "a1-ib,a2-ib,b" },
	{ .expr = "n[08-11]", .joined = "n08,n09,n10,n11" },
	{ .expr = "n[3-1]", .error = "range 3-1 goes backwards" },
	{ .expr = "n[1-2", .error = "missing ] in \"n[1-2\"" },
	{ .expr = "n[]", .error = "empty brackets in \"n[]\"" },
	{ .expr = "n[1-x]", .error = "bad range in \"n[1-x]\"" },
	{ .expr = "n;rm", .error = "bad character in host name \"n;rm\"" },
	{ .expr = "n1,,n2 n3", .joined = "n1,n2,n3" },
	{ .expr = "", .error = "empty host list" },
	{ .expr = " ,, ", .error = "empty host list" },
	{ .expr = "rack[1-2]-n[01-02]",
	    .joined = "rack1-n01,rack1-n02,rack2-n01,rack2-n02" },
	{ .expr = "r[1-2]n[1,3]", .joined = "r1n1,r1n3,r2n1,r2n3" },
	{ .expr = "a[1-2][3-4]-x", .joined = "a13-x,a14-x,a23-x,a24-x" },
	{ .expr = "n]", .error = "unbalanced ] in \"n]\"" },
	{ .expr = "n[1-]", .error = "bad range in \"n[1-]\"" },
	{ .expr = "n[1 2]", .error = "bad range in \"n[1 2]\"" },
	{ .expr = "n[1-2]]", .error = "unbalanced ] in \"n[1-2]]\"" },
	{ .expr = "n[1234567890]",
	    .error = "number longer than 9 digits in \"n[1234567890]\"" },
	{ .expr = "n[0-9][0-9][0-9][0-9][0-9]",
	    .error = "more than 65536 host names" },
	{ .expr = "n[[1]]", .error = "nested [ in \"n[[1]]\"" },
	{ .expr = "n[0-99999999]", .error = "more than 65536 host names" },
};

START_TEST(test_expand)
{
	struct hostlist hl = { 0 };
	char *cause = NULL, *joined;
	int rc;

	rc = hostlist_expand(&hl, cases[_i].expr, &cause);
	if (cases[_i].joined != NULL) {
		ck_assert_msg(rc == 0, "%s: %s", cases[_i].expr, cause);
		joined = hostlist_join(&hl);
		ck_assert_str_eq(joined, cases[_i].joined);
		free(joined);
	} else {
		ck_assert_int_eq(rc, -1);
		ck_assert_str_eq(cause, cases[_i].error);
		free(cause);
	}
	hostlist_clear(&hl);
}
END_TEST

START_TEST(test_contains)
{
	struct hostlist hl = { 0 };

	ck_assert_int_eq(hostlist_expand(&hl, "n[1-4]", NULL), 0);
	ck_assert(hostlist_contains(&hl, "n3"));
	ck_assert(!hostlist_contains(&hl, "n5"));
	hostlist_clear(&hl);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("hostlist");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(
	    tc, test_expand, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_contains);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
