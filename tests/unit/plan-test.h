/* plan-test.h: what check_plan.c takes from check_plan-brute.c. */
#ifndef LLMCTL_PLAN_TEST_H
#define LLMCTL_PLAN_TEST_H

#include <check.h>

/* The cross-check against exhaustive search on random small trees. */
TCase *plan_exhaustive_tcase(void);

#endif
