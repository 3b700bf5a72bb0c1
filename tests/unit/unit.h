/*
 * unit: the end of every Check program's main(), in one place: run the
 * suite, free the runner, and exit non-zero when a test failed.
 */
#ifndef LLMCTL_UNIT_H
#define LLMCTL_UNIT_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Run s, which the runner takes over; main()'s exit status. */
static inline int
unit_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Remove a test's SQLite database and the -wal and -shm beside it. */
static inline void
unit_rm_db(const char *db)
{
	static const char *const suffixes[] = { "", "-wal", "-shm" };
	char p[4096];
	size_t i;

	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", db, suffixes[i]);
		unlink(p);
	}
}

#endif
