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

struct entry {
	char *hash;
	struct beat b;
	int64_t *rank_ms; /* last beat per rank, 0: none */
	int world;
	struct entry *next; /* in its bucket */
};

struct health {
	struct entry **buckets;
	size_t nbuckets; /* a power of two */
	size_t n;
	int64_t total;
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

int
health_beat(struct health *h, const char *token, int rank, int64_t step)
{
	struct entry *e;
	char *hash = health_token_hash(token);

	e = find(h, hash);
	free(hash);
	if (e == NULL || rank < 0 || rank >= e->world)
		return -1;
	e->b.last_ms = mono_ms();
	e->b.last_wall = wall_s();
	e->b.count++;
	if (step > e->b.step)
		e->b.step = step;
	if (e->rank_ms[rank] == 0)
		e->b.ranks_seen++;
	e->rank_ms[rank] = e->b.last_ms;
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
