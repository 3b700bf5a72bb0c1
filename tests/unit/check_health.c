/*
 * health: beats reach the attempt their token was issued to, and only it;
 * unknown tokens and ranks are refused; unregistering removes exactly one
 * attempt; the table stays right while it grows past many resizes.
 * Stragglers: a rank persistently slower than its peers' median is
 * flagged after a window, and only it; one slow step, ranks equally slow,
 * and a lone rank flag nothing; a rank that keeps pace again is cleared.
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

#define SIM_MS 30000
#define WINDOW_MS 4000

/* One simulated job: per rank, its ms per step, before and after switch_ms. */
static const struct strag_case {
	const char *name;
	int world;
	double factor;
	int period[8]; /* ms per step */
	int later[8]; /* from switch_ms on, 0: the same */
	int switch_ms;
	int stall_rank, stall_ms; /* one step of stall_ms at 5 s, -1: none */
	int flagged_rank; /* expected flagged (ever), -1: none */
	int cleared; /* and cleared again by the end */
} strag_cases[] = {
	{ .name = "uniform",
	    .world = 4,
	    .factor = 1.5,
	    .period = { 250, 250, 250, 250 },
	    .stall_rank = -1,
	    .flagged_rank = -1 },
	{ .name = "all equally slow",
	    .world = 4,
	    .factor = 1.5,
	    .period = { 1000, 1000, 1000, 1000 },
	    .stall_rank = -1,
	    .flagged_rank = -1 },
	{ .name = "jitter within the factor",
	    .world = 4,
	    .factor = 1.5,
	    .period = { 250, 300, 270, 320 },
	    .stall_rank = -1,
	    .flagged_rank = -1 },
	{ .name = "one rank 3x slower",
	    .world = 4,
	    .factor = 1.5,
	    .period = { 250, 250, 750, 250 },
	    .stall_rank = -1,
	    .flagged_rank = 2 },
	{ .name = "two ranks, one slow",
	    .world = 2,
	    .factor = 1.5,
	    .period = { 250, 1000 },
	    .stall_rank = -1,
	    .flagged_rank = 1 },
	{ .name = "one slow step is no straggler",
	    .world = 4,
	    .factor = 1.5,
	    .period = { 250, 250, 250, 250 },
	    .stall_rank = 1,
	    .stall_ms = 2500,
	    .flagged_rank = -1 },
	{ .name = "slow, then keeps pace",
	    .world = 4,
	    .factor = 1.5,
	    .period = { 250, 250, 250, 1000 },
	    .later = { 0, 0, 0, 250 },
	    .switch_ms = 12000,
	    .stall_rank = -1,
	    .flagged_rank = 3,
	    .cleared = 1 },
	{ .name = "off",
	    .world = 4,
	    .factor = 0,
	    .period = { 250, 250, 250, 1000 },
	    .stall_rank = -1,
	    .flagged_rank = -1 },
	{ .name = "one rank",
	    .world = 1,
	    .factor = 1.5,
	    .period = { 250 },
	    .stall_rank = -1,
	    .flagged_rank = -1 },
};

START_TEST(test_health_stragglers)
{
	const struct strag_case *c = &strag_cases[_i];
	struct health *h = health_create();
	char *hash = health_token_hash("tok-s");
	int64_t next[8] = { 0 }, step[8] = { 0 }, t, base = 1000000;
	int64_t flagged_at = -1, cleared_at = -1;
	struct straggler *ch, *now;
	int r, period, stalled = 0;
	size_t n, i;

	health_register(h, hash, 1, 1, c->world);
	for (t = 0; t <= SIM_MS; t += 10) {
		for (r = 0; r < c->world; r++) {
			if (t < next[r])
				continue;
			period = c->later[r] != 0 && t >= c->switch_ms
			    ? c->later[r]
			    : c->period[r];
			if (r == c->stall_rank && !stalled && t >= 5000) {
				stalled = 1;
				period = c->stall_ms;
			}
			health_beat_at(h, "tok-s", r, ++step[r], base + t);
			next[r] = t + period;
		}
		if (t % 1000 != 0)
			continue;
		n = health_stragglers_check(
		    h, hash, base + t, WINDOW_MS, c->factor, &ch);
		for (i = 0; i < n; i++) {
			ck_assert_msg(ch[i].rank == c->flagged_rank,
			    "%s: rank %d changed (flagged %d) at %lld ms",
			    c->name, ch[i].rank, ch[i].flagged, (long long)t);
			if (ch[i].flagged)
				flagged_at = t;
			else
				cleared_at = t;
		}
		free(ch);
	}
	if (c->flagged_rank < 0)
		ck_assert_msg(flagged_at < 0, "%s: flagged", c->name);
	else {
		ck_assert_msg(flagged_at >= WINDOW_MS, "%s: flagged at %lld",
		    c->name, (long long)flagged_at);
		ck_assert_msg(flagged_at <= 3 * WINDOW_MS,
		    "%s: flagged late, at %lld", c->name,
		    (long long)flagged_at);
		ck_assert_msg((cleared_at > flagged_at) == c->cleared,
		    "%s: cleared at %lld", c->name, (long long)cleared_at);
		n = health_stragglers(h, hash, &now);
		ck_assert_uint_eq(n, c->cleared ? 0 : 1);
		if (n == 1) {
			ck_assert_int_eq(now[0].rank, c->flagged_rank);
			ck_assert(now[0].ratio > c->factor);
		}
		free(now);
	}
	free(hash);
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
	tcase_add_loop_test(
	    tc, test_health_stragglers, 0, (int)nitems(strag_cases));
	suite_add_tcase(s, tc);
	return unit_run(s);
}
