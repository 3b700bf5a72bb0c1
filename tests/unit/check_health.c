/*
 * health: beats reach the attempt their token was issued to, and only it;
 * unknown tokens and ranks are refused; unregistering removes exactly one
 * attempt; the table stays right while it grows past many resizes.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include <check.h>

#include "health.h"
#include "unit.h"
#include "util.h"

#define NATTEMPTS 5000

START_TEST(test_health_core)
{
	struct health *h = health_create();
	const struct beat *b;
	char *hash = health_token_hash("tok-a");

	health_register(h, hash, 7, 2, 4);
	health_register(h, hash, 8, 1, 4); /* again: no-op */
	ck_assert_int_eq(health_beat(h, "tok-a", 0, 10), 0);
	ck_assert_int_eq(health_beat(h, "tok-a", 3, 12), 0);
	ck_assert_int_eq(health_beat(h, "tok-a", 4, 13), -1); /* no rank 4 */
	ck_assert_int_eq(health_beat(h, "tok-a", -1, 13), -1);
	ck_assert_int_eq(health_beat(h, "tok-b", 0, 99), -1); /* unknown */
	ck_assert_int_eq(
	    health_beat(h, hash, 0, 99), -1); /* the hash is no token */
	b = health_get(h, hash);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(b->job_id, 7);
	ck_assert_int_eq(b->attempt, 2);
	ck_assert_int_eq(b->step, 12);
	ck_assert_int_eq(b->count, 2);
	ck_assert_int_eq(b->ranks_seen, 2);
	ck_assert_int_eq(health_total(h), 2);
	health_unregister(h, hash);
	ck_assert_ptr_null(health_get(h, hash));
	ck_assert_int_eq(health_beat(h, "tok-a", 0, 11), -1);
	free(hash);
	health_free(h);
}
END_TEST

START_TEST(test_health_many)
{
	struct health *h = health_create();
	const struct beat *b;
	char tok[32], *hash;
	int i;

	for (i = 0; i < NATTEMPTS; i++) {
		snprintf(tok, sizeof(tok), "token-%d", i);
		hash = health_token_hash(tok);
		health_register(h, hash, i + 1, 1, 2);
		free(hash);
	}
	for (i = 0; i < NATTEMPTS; i++) {
		snprintf(tok, sizeof(tok), "token-%d", i);
		ck_assert_int_eq(health_beat(h, tok, i % 2, i), 0);
	}
	for (i = 0; i < NATTEMPTS; i += 2) {
		snprintf(tok, sizeof(tok), "token-%d", i);
		hash = health_token_hash(tok);
		health_unregister(h, hash);
		free(hash);
	}
	for (i = 0; i < NATTEMPTS; i++) {
		snprintf(tok, sizeof(tok), "token-%d", i);
		hash = health_token_hash(tok);
		b = health_get(h, hash);
		if (i % 2 == 0)
			ck_assert_ptr_null(b);
		else {
			ck_assert_ptr_nonnull(b);
			ck_assert_int_eq(b->job_id, i + 1);
			ck_assert_int_eq(b->step, i);
		}
		free(hash);
	}
	ck_assert_int_eq(health_total(h), NATTEMPTS);
	health_free(h);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("health");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_health_core);
	tcase_add_test(tc, test_health_many);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
