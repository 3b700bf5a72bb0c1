/* backend-fake: controls for the in-memory scheduler used in unit tests. */
#ifndef LLMCTLD_BACKEND_FAKE_H
#define LLMCTLD_BACKEND_FAKE_H

#include "backend.h"

void fake_set_state(int64_t id, enum bjob_state, int exit_code);
void fake_set_down(int);
void fake_set_list_down(int); /* only the job-table load fails */
/* The next n submits: Slurm takes the job, the answer says unreachable. */
void fake_lose_answers(int n);
int fake_submit_count(void);
void fake_reset(void);
/* The reason the node is drained with, NULL: not drained; caller frees. */
char *fake_node_reason(const char *name);

#endif
