/*
 * nodehealth: what llmctld knows of each node across all jobs
 * (docs/design.md section 7, "Node health"). Every blame is a failure on
 * the node's record: a score that decays with a half-life, a quarantine
 * (the planner does not use the node) that doubles with each repeat, then
 * probation (used, and watched: a failure re-quarantines it, for longer).
 * The rules are pure functions of a record and the time; nodehealth_blame
 * applies them to the store's row.
 */
#ifndef LLMCTLD_NODEHEALTH_H
#define LLMCTLD_NODEHEALTH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct conf;
struct store;

enum node_health {
	NODE_OK,
	NODE_QUARANTINED,
	NODE_PROBATION,
};

/* What llmctld did to the node in Slurm (node_drain_score). */
enum node_drain {
	NODE_UNDRAINED = 0,
	NODE_DRAINED = 1, /* drained by llmctld */
	NODE_RESUMING = 2, /* cleared while drained: to resume */
};

struct node_failure {
	int64_t at;
	char *cause; /* the attempt's, NULL: unknown */
	int64_t job_id;
	int attempt;
	uid_t uid; /* the job's owner */
};

struct node_record {
	char *name;
	double score; /* as of score_at */
	int64_t score_at;
	int quarantines; /* how many so far: the next lasts twice as long */
	int64_t quarantined_until; /* wall-clock seconds, 0: never */
	int64_t probation_until;
	int drained; /* enum node_drain */
	struct node_failure *fail; /* newest first */
	size_t nfail;
	int64_t nfail_total;
};

struct nodehealth_conf {
	int64_t half_life_s;
	double quarantine_score; /* 0: never */
	int64_t quarantine_s;
	int64_t quarantine_max_s;
	int64_t probation_s;
	double drain_score; /* 0: never */
};

void nodehealth_conf_from(struct nodehealth_conf *, const struct conf *);
/* The score decayed to now. */
double nodehealth_score(const struct node_record *, int64_t now, int64_t hl);
enum node_health nodehealth_state(const struct node_record *, int64_t now);
const char *nodehealth_state_name(enum node_health);
/* When the state ends (wall-clock second), 0 for NODE_OK. */
int64_t nodehealth_until(const struct node_record *, int64_t now);
/*
 * One more failure at now: the score goes up by one; a node on probation,
 * or one whose score reaches quarantine_score, is quarantined for
 * quarantine_s * 2^(quarantines so far), at most quarantine_max_s. 1 if it
 * was quarantined now.
 */
int nodehealth_fail(
    struct node_record *, const struct nodehealth_conf *, int64_t now);
void node_record_free(struct node_record *);
void node_record_list_free(struct node_record *, size_t);

/*
 * Record a blame in the store (inside the caller's transaction): the
 * failure, the score and any quarantine. *quarantined_s is the new
 * quarantine's length, 0: none. 0 or -1.
 */
int nodehealth_blame(struct store *, const struct conf *, const char *node,
    const char *cause, int64_t job_id, int attempt, int64_t *quarantined_s);

/* Every node the attempt blamed, as above, with the job's events. */
struct attempt;
int nodehealth_record_blame(
    struct store *, const struct conf *, const struct attempt *);

#endif
