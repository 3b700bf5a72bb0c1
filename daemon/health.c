/*
 * health: the heartbeat table, a list scanned with a constant-time compare.
 * Entries are keyed by the token's hash, as the store keeps it: a beat's
 * bearer token is hashed before the lookup.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "sha256.h"
#include "util.h"

struct entry {
	char			*hash;
	struct beat		 b;
	int64_t			*rank_ms;	/* last beat per rank, 0: none */
	int			 world;
	TAILQ_ENTRY(entry)	 link;
};

struct health {
	TAILQ_HEAD(, entry)	 entries;
	int64_t			 total;
};

/* Compare without leaking where the first difference is. */
static int
token_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char d = la != lb;

	for (i = 0; i < la && i < lb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

static struct entry *
find(const struct health *h, const char *hash)
{
	struct entry *e;

	TAILQ_FOREACH(e, &h->entries, link)
		if (token_eq(e->hash, hash))
			return e;
	return NULL;
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

	TAILQ_INIT(&h->entries);
	return h;
}

void
health_free(struct health *h)
{
	struct entry *e;

	if (h == NULL)
		return;
	while ((e = TAILQ_FIRST(&h->entries)) != NULL) {
		TAILQ_REMOVE(&h->entries, e, link);
		free(e->hash);
		free(e->rank_ms);
		free(e);
	}
	free(h);
}

void
health_register(struct health *h, const char *hash, int64_t job_id,
    int attempt, int world_size)
{
	struct entry *e;

	if (hash == NULL || find(h, hash) != NULL)
		return;
	e = xcalloc(1, sizeof(*e));
	e->hash = xstrdup(hash);
	e->world = world_size > 0 ? world_size : 1;
	e->rank_ms = xcalloc(e->world, sizeof(*e->rank_ms));
	e->b.job_id = job_id;
	e->b.attempt = attempt;
	e->b.step = -1;
	TAILQ_INSERT_TAIL(&h->entries, e, link);
}

void
health_unregister(struct health *h, const char *hash)
{
	struct entry *e;

	if (hash == NULL || (e = find(h, hash)) == NULL)
		return;
	TAILQ_REMOVE(&h->entries, e, link);
	free(e->hash);
	free(e->rank_ms);
	free(e);
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
		if (e->rank_ms[r] != 0 && (e->b.stalest_ms == 0 ||
		    e->rank_ms[r] < e->b.stalest_ms)) {
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
