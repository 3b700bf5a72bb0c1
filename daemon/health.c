/*
 * health: the heartbeat table, a hash table keyed by the token's hash, as
 * the store keeps it: a beat's bearer token is hashed, then looked up in
 * constant time whatever the number of attempts in flight. The keys are
 * sha256 values, uniformly random, so their first 64 bits pick the bucket
 * and comparing them in variable time tells a caller nothing about a token.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "sha256.h"
#include "util.h"

/* Samples of a rank's progress kept for its step rate, a ring. */
#define RATE_SAMPLES 16

struct rate {
	int64_t step[RATE_SAMPLES];
	int64_t ms[RATE_SAMPLES];
	int n, next;
	int64_t last_step, last_ms; /* its newest beat, always */
	int64_t slow_since, calm_since; /* hysteresis, monotonic ms */
	int flagged;
	double ratio, sps, peer_sps;
	int64_t flagged_wall;
};

struct entry {
	char *hash;
	struct beat b;
	int64_t *rank_ms; /* last beat per rank, 0: none */
	struct rate *rate; /* per rank */
	int world;
	struct entry *next; /* in its bucket */
};

struct health {
	struct entry **buckets;
	size_t nbuckets; /* a power of two */
	size_t n;
	int64_t total;
	int64_t window_ms; /* the straggler window, as last checked */
};

static struct entry **
bucket(const struct health *h, const char *hash)
{
	uint64_t k = 0;
	size_t i;

	for (i = 0; i < 16 && hash[i] != '\0'; i++)
		k = k << 4 |
		    (uint64_t)(hash[i] <= '9' ? hash[i] - '0'
		                              : (hash[i] | 0x20) - 'a' + 10) %
		        16;
	return &h->buckets[k & (h->nbuckets - 1)];
}

static struct entry *
find(const struct health *h, const char *hash)
{
	struct entry *e;

	for (e = *bucket(h, hash); e != NULL; e = e->next)
		if (strcmp(e->hash, hash) == 0)
			return e;
	return NULL;
}

/* Double the buckets once there are more entries than buckets. */
static void
grow(struct health *h)
{
	struct entry **old = h->buckets, *e, *next, **b;
	size_t n = h->nbuckets, i;

	h->nbuckets *= 2;
	h->buckets = xcalloc(h->nbuckets, sizeof(*h->buckets));
	for (i = 0; i < n; i++) {
		for (e = old[i]; e != NULL; e = next) {
			next = e->next;
			b = bucket(h, e->hash);
			e->next = *b;
			*b = e;
		}
	}
	free(old);
}

static void
entry_free(struct entry *e)
{
	free(e->hash);
	free(e->rank_ms);
	free(e->rate);
	free(e);
}

char *
health_token_hash(const char *token)
{
	uint8_t d[SHA256_LEN];
	char *hex = xmalloc(SHA256_HEXLEN + 1);

	sha256_buf(token, strlen(token), d);
	sha256_hex(d, hex);
	return hex;
}

struct health *
health_create(void)
{
	struct health *h = xcalloc(1, sizeof(*h));

	h->nbuckets = 64;
	h->buckets = xcalloc(h->nbuckets, sizeof(*h->buckets));
	return h;
}

void
health_free(struct health *h)
{
	struct entry *e, *next;
	size_t i;

	if (h == NULL)
		return;
	for (i = 0; i < h->nbuckets; i++) {
		for (e = h->buckets[i]; e != NULL; e = next) {
			next = e->next;
			entry_free(e);
		}
	}
	free(h->buckets);
	free(h);
}

void
health_register(struct health *h, const char *hash, int64_t job_id, int attempt,
    int world_size)
{
	struct entry *e, **b;

	if (hash == NULL || find(h, hash) != NULL)
		return;
	if (h->n >= h->nbuckets)
		grow(h);
	e = xcalloc(1, sizeof(*e));
	e->hash = xstrdup(hash);
	e->world = world_size > 0 ? world_size : 1;
	e->rank_ms = xcalloc(e->world, sizeof(*e->rank_ms));
	e->rate = xcalloc(e->world, sizeof(*e->rate));
	e->b.job_id = job_id;
	e->b.attempt = attempt;
	e->b.step = -1;
	b = bucket(h, hash);
	e->next = *b;
	*b = e;
	h->n++;
}

void
health_unregister(struct health *h, const char *hash)
{
	struct entry **p, *e;

	if (hash == NULL)
		return;
	for (p = bucket(h, hash); (e = *p) != NULL; p = &e->next) {
		if (strcmp(e->hash, hash) == 0) {
			*p = e->next;
			entry_free(e);
			h->n--;
			return;
		}
	}
}

/*
 * A beat's step for the rank's rate: the newest always, a sample in the
 * ring at most every eighth of a window, so that 16 cover two windows
 * whatever the step time.
 */
static void
rate_add(struct rate *r, int64_t step, int64_t ms, int64_t window_ms)
{
	int prev = (r->next + RATE_SAMPLES - 1) % RATE_SAMPLES;

	if (step < 0 || (r->n > 0 && step < r->last_step))
		return; /* no step, or a step back (a restart of the count) */
	r->last_step = step;
	r->last_ms = ms;
	if (r->n > 0 && ms - r->ms[prev] < window_ms / 8)
		return;
	r->step[r->next] = step;
	r->ms[r->next] = ms;
	r->next = (r->next + 1) % RATE_SAMPLES;
	if (r->n < RATE_SAMPLES)
		r->n++;
}

/*
 * Seconds per step over the window up to now, from the oldest sample in
 * it to the newest beat; -1 when the samples span less than half a window
 * or show no step (a rank that stops stepping is hang detection's).
 */
static double
rate_sps(const struct rate *r, int64_t now, int64_t window_ms)
{
	int i, k, oldest = -1;

	if (r->n == 0 || now - r->last_ms > window_ms)
		return -1;
	for (k = 0; k < r->n; k++) {
		i = (r->next + RATE_SAMPLES - r->n + k) % RATE_SAMPLES;
		if (r->ms[i] >= now - window_ms) {
			oldest = i;
			break;
		}
	}
	if (oldest < 0 || r->last_ms - r->ms[oldest] < window_ms / 2 ||
	    r->last_step <= r->step[oldest])
		return -1;
	return (double)(r->last_ms - r->ms[oldest]) / 1000.0 /
	    (double)(r->last_step - r->step[oldest]);
}

static int
double_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median of v[0..n) without v[skip]; -1 if nothing is left. */
static double
median_without(const double *v, int n, int skip, double *tmp)
{
	int i, k = 0;

	for (i = 0; i < n; i++)
		if (i != skip && v[i] > 0)
			tmp[k++] = v[i];
	if (k == 0)
		return -1;
	qsort(tmp, k, sizeof(*tmp), double_cmp);
	return k % 2 == 1 ? tmp[k / 2] : (tmp[k / 2 - 1] + tmp[k / 2]) / 2;
}

static void
straggler_fill(struct straggler *s, int rank, const struct rate *r)
{
	s->rank = rank;
	s->flagged = r->flagged;
	s->ratio = r->ratio;
	s->sps = r->sps;
	s->peer_sps = r->peer_sps;
	s->since_wall = r->flagged_wall;
}

/* cond at this check; 1 once it has held at every check for a window. */
static int
held_for(int cond, int64_t *since, int64_t now, int64_t window_ms)
{
	if (!cond) {
		*since = 0;
		return 0;
	}
	if (*since == 0)
		*since = now;
	return now - *since >= window_ms;
}

/*
 * One rank's hysteresis: slow at every check for a window flags it, calm
 * (within half the margin) for a window clears it. 1 if the flag changed.
 */
static int
rate_judge(
    struct rate *r, double ratio, double factor, int64_t now, int64_t window_ms)
{
	int slow = ratio > factor, calm = ratio < 1 + (factor - 1) / 2;

	r->ratio = ratio;
	if (!r->flagged) {
		r->calm_since = 0;
		if (!held_for(slow, &r->slow_since, now, window_ms))
			return 0;
		r->flagged = 1;
		r->flagged_wall = wall_s();
		return 1;
	}
	r->slow_since = 0;
	if (!held_for(calm, &r->calm_since, now, window_ms))
		return 0;
	r->flagged = 0;
	return 1;
}

size_t
health_stragglers_check(struct health *h, const char *hash, int64_t now,
    int64_t window_ms, double factor, struct straggler **changed)
{
	struct entry *e = hash != NULL ? find(h, hash) : NULL;
	double *sps, *tmp, peer;
	size_t n = 0;
	int r;

	*changed = NULL;
	h->window_ms = window_ms;
	if (e == NULL || e->world < 2 || factor <= 1 || window_ms <= 0)
		return 0;
	sps = xcalloc(e->world, sizeof(*sps));
	tmp = xcalloc(e->world, sizeof(*tmp));
	for (r = 0; r < e->world; r++)
		sps[r] = rate_sps(&e->rate[r], now, window_ms);
	for (r = 0; r < e->world; r++) {
		if (sps[r] <= 0 ||
		    (peer = median_without(sps, e->world, r, tmp)) <= 0) {
			/* nothing to judge by: start the clocks again */
			e->rate[r].slow_since = e->rate[r].calm_since = 0;
			continue;
		}
		e->rate[r].sps = sps[r];
		e->rate[r].peer_sps = peer;
		if (rate_judge(
		        &e->rate[r], sps[r] / peer, factor, now, window_ms)) {
			*changed =
			    xreallocarray(*changed, n + 1, sizeof(**changed));
			straggler_fill(&(*changed)[n++], r, &e->rate[r]);
		}
	}
	free(tmp);
	free(sps);
	return n;
}

size_t
health_stragglers(
    const struct health *h, const char *hash, struct straggler **out)
{
	struct entry *e = hash != NULL ? find(h, hash) : NULL;
	size_t n = 0;
	int r;

	*out = NULL;
	for (r = 0; e != NULL && r < e->world; r++) {
		if (!e->rate[r].flagged)
			continue;
		*out = xreallocarray(*out, n + 1, sizeof(**out));
		straggler_fill(&(*out)[n++], r, &e->rate[r]);
	}
	return n;
}

int
health_beat(struct health *h, const char *token, int rank, int64_t step)
{
	return health_beat_at(h, token, rank, step, mono_ms());
}

int
health_beat_at(
    struct health *h, const char *token, int rank, int64_t step, int64_t now)
{
	struct entry *e;
	char *hash = health_token_hash(token);

	e = find(h, hash);
	free(hash);
	if (e == NULL || rank < 0 || rank >= e->world)
		return -1;
	e->b.last_ms = now;
	e->b.last_wall = wall_s();
	e->b.count++;
	if (step > e->b.step)
		e->b.step = step;
	if (e->rank_ms[rank] == 0)
		e->b.ranks_seen++;
	e->rank_ms[rank] = e->b.last_ms;
	rate_add(&e->rate[rank], step, e->b.last_ms, h->window_ms);
	h->total++;
	return 0;
}

const struct beat *
health_get(const struct health *h, const char *hash)
{
	struct entry *e = hash != NULL ? find(h, hash) : NULL;
	int r;

	if (e == NULL)
		return NULL;
	/* the rank that has been silent longest decides about hangs */
	e->b.stalest_ms = 0;
	for (r = 0; r < e->world; r++) {
		if (e->rank_ms[r] != 0 &&
		    (e->b.stalest_ms == 0 || e->rank_ms[r] < e->b.stalest_ms)) {
			e->b.stalest_ms = e->rank_ms[r];
			e->b.stalest_rank = r;
		}
	}
	return &e->b;
}

int64_t
health_total(const struct health *h)
{
	return h->total;
}
