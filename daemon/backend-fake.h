/* backend-fake: controls for the in-memory scheduler used in unit tests. */
#ifndef LLMCTLD_BACKEND_FAKE_H
#define LLMCTLD_BACKEND_FAKE_H

#include "backend.h"

void fake_set_state(int64_t id, enum bjob_state, int exit_code);
/* Another user's job, pending for nodes in partition, until fake_set_state. */
void fake_add_other(uid_t uid, const char *partition);
void fake_set_down(int);
void fake_set_list_down(int); /* only the job-table load fails */
/* The next n submits: Slurm takes the job, the answer says unreachable. */
void fake_lose_answers(int n);
int fake_submit_count(void);
int fake_submit_tries_count(void); /* refused ones too */
void fake_set_full(int); /* submits refused for now, the rest works */
/*
 * The last submit's placement fields: pinned nodes, excluded nodes (each
 * NULL or the caller's to free), switches and their wait.
 */
void fake_last_placement(
    char **req_nodes, char **exc_nodes, int *switches, int *wait_s);
/* The nodes changed: the next cluster load is a full one. */
void fake_nodes_changed(void);
/* Full answers so far (not "no change"): job-table loads, or cluster (1). */
int fake_load_count(int cluster);
void fake_reset(void);
/* The reason the node is drained with, NULL: not drained; caller frees. */
char *fake_node_reason(const char *name);

#endif
