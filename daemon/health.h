/*
 * health: heartbeats, in memory. Each attempt in flight has a bearer
 * token; workers POST {"rank", "step"} with it. Only the workers hold the
 * token: the daemon keeps its hash (health_token_hash), in SQLite and here. The monitor reads the
 * summary (last beat, newest step, ranks heard from) for hang detection and
 * writes it to SQLite once per poll, never once per beat.
 */
#ifndef LLMCTLD_HEALTH_H
#define LLMCTLD_HEALTH_H

#include <stdint.h>

struct beat {
	int64_t job_id;
	int attempt;
	int64_t last_ms; /* monotonic time of the newest beat, 0: none */
	int64_t last_wall; /* and its wall-clock second */
	int64_t step; /* highest step reported, -1: none */
	int64_t count;
	int ranks_seen; /* distinct ranks heard from */
	int64_t stalest_ms; /* oldest "last beat" among those ranks */
	int stalest_rank;
};

struct health;

struct health *health_create(void);
void health_free(struct health *);
/* sha256 of a token as lower-case hex; the caller frees it. */
char *health_token_hash(const char *token);
/* Track an attempt by its token's hash (again: no-op). */
void health_register(struct health *, const char *hash, int64_t job_id,
    int attempt, int world_size);
void health_unregister(struct health *, const char *hash);
/* Record a beat; -1 if the token is unknown or the rank out of range. */
int health_beat(struct health *, const char *token, int rank, int64_t step);
/* The same at a given monotonic time (tests). */
int health_beat_at(
    struct health *, const char *token, int rank, int64_t step, int64_t now_ms);
/* The summary by token hash; stalest_ms is computed on the way. */
const struct beat *health_get(const struct health *, const char *hash);
int64_t health_total(const struct health *);

/*
 * Stragglers (docs/design.md section 8): each rank's seconds per step over
 * the last window, from its own beats, against the median of its peers'.
 * A rank is flagged once it has been slower than factor times that median
 * at every check for a whole window, and cleared once it has been within
 * half that margin for a whole window: one slow step flags nothing.
 */
struct straggler {
	int rank;
	int flagged; /* after a check: 1 newly flagged, 0 newly cleared */
	double ratio; /* its seconds per step over its peers' median */
	double sps; /* its seconds per step */
	double peer_sps; /* the peers' median */
	int64_t since_wall; /* flagged since (wall-clock second) */
};

/*
 * Check the attempt's ranks at now (monotonic ms); the ranks whose flag
 * changed go in *changed (the caller frees it), their number returned.
 * factor <= 1 or a window of 0 checks nothing.
 */
size_t health_stragglers_check(struct health *, const char *hash,
    int64_t now_ms, int64_t window_ms, double factor,
    struct straggler **changed);
/* The ranks flagged now, in *out (the caller frees it); their number. */
size_t health_stragglers(
    const struct health *, const char *hash, struct straggler **out);

#endif
