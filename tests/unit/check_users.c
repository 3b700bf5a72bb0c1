/*
 * check_users: a user's passwd entry is asked of NSS once per USERS_TTL_S
 * and right again after it; one NSS does not have is NULL every time and
 * never kept; the admin-group answer is kept with the entry, for the group
 * it was asked for only.
 */
#include "config.h"

#include <check.h>
#include <pwd.h>
#include <string.h>

#include "users.h"
#include "unit.h"

#define NO_SUCH_UID ((uid_t)3999999999u)

START_TEST(test_kept)
{
	struct users *us = users_create();
	const struct user *u;
	size_t n;

	u = users_get(us, 0, 1000);
	ck_assert_ptr_nonnull(u);
	ck_assert_str_eq(u->name, "root");
	ck_assert_str_eq(u->home, "/root");
	ck_assert_uint_eq(u->gid, 0);
	n = users_lookups(us);
	ck_assert_uint_eq(n, 1);
	/* believed for USERS_TTL_S */
	ck_assert_ptr_nonnull(users_get(us, 0, 1000 + USERS_TTL_S - 1));
	ck_assert_uint_eq(users_lookups(us), n);
	/* then asked again, in place */
	u = users_get(us, 0, 1000 + USERS_TTL_S);
	ck_assert_ptr_nonnull(u);
	ck_assert_str_eq(u->name, "root");
	ck_assert_uint_eq(users_lookups(us), n + 1);
	/* a clock that went back is not trusted */
	ck_assert_ptr_nonnull(users_get(us, 0, 10));
	ck_assert_uint_eq(users_lookups(us), n + 2);
	users_free(us);
	users_free(NULL);
}
END_TEST

START_TEST(test_unknown)
{
	struct users *us = users_create();

	ck_assert_ptr_null(getpwuid(NO_SUCH_UID));
	ck_assert_ptr_null(users_get(us, NO_SUCH_UID, 1000));
	ck_assert_ptr_null(users_get(us, NO_SUCH_UID, 1000));
	/* not kept: a user added since is found at once */
	ck_assert_uint_eq(users_lookups(us), 2);
	ck_assert_int_eq(users_in_group(us, NO_SUCH_UID, 0, 1000), 0);
	users_free(us);
}
END_TEST

START_TEST(test_group)
{
	struct users *us = users_create();
	struct passwd *pw = getpwnam("nobody");
	size_t n;

	ck_assert_ptr_nonnull(pw);
	ck_assert_int_eq(users_in_group(us, 0, 0, 1000), 1);
	n = users_lookups(us);
	ck_assert_int_eq(users_in_group(us, 0, 0, 1001), 1);
	ck_assert_uint_eq(users_lookups(us), n);
	/* nobody's own group is in its list, root's is not */
	ck_assert_int_eq(users_in_group(us, pw->pw_uid, pw->pw_gid, 1000), 1);
	ck_assert_int_eq(users_in_group(us, pw->pw_uid, 0, 1000), 0);
	n = users_lookups(us);
	ck_assert_int_eq(users_in_group(us, pw->pw_uid, 0, 1002), 0);
	ck_assert_uint_eq(users_lookups(us), n);
	/* an entry asked again forgets the answer */
	ck_assert_int_eq(
	    users_in_group(us, pw->pw_uid, 0, 1000 + USERS_TTL_S), 0);
	ck_assert_uint_eq(users_lookups(us), n + 2);
	users_free(us);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("users");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_kept);
	tcase_add_test(tc, test_unknown);
	tcase_add_test(tc, test_group);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
