/*
 * spec-cache: the parsed specs of the jobs in flight, kept between ticks,
 * so that a job's stored JSON is parsed once (or not at all: the submit
 * keeps the spec it parsed) for its plan, its sweeps, its end, its
 * decision and its webhooks, instead of at each of them. The daemon has
 * one (llmctld.h), used only on the loop thread. An entry is found by job
 * id and used only if the stored text is the one it was parsed from; a
 * spec handed out is reference-counted, so one borrowed by an op on the
 * worker outlives its slot and the cache itself.
 */
#ifndef LLMCTLD_SPEC_CACHE_H
#define LLMCTLD_SPEC_CACHE_H

#include <stdint.h>

struct spec;
struct spec_cache;

struct spec_ref {
	const struct spec *spec;
};

/* A NULL cache keeps nothing: each get parses (unit tests without one). */
struct spec_cache *spec_cache_create(void);
/* Entries still held are freed by their last spec_ref_put(). */
void spec_cache_free(struct spec_cache *);
/*
 * The spec of job id whose stored JSON is json, parsed once; NULL if it
 * cannot be read (*cause, if not NULL, says why; the caller frees it).
 * Give it back with spec_ref_put().
 */
struct spec_ref *spec_cache_get(
    struct spec_cache *, int64_t id, const char *json, char **cause);
/*
 * Keep sp (taken over) as the spec of job id stored as json: the spec a
 * submit parsed, which equals the one its canonical JSON gives back
 * (spec_to_json, spec_from_json: tests/unit/check_spec-prop.c).
 */
void spec_cache_add(
    struct spec_cache *, int64_t id, const char *json, struct spec *sp);
/* spec_ref_put(NULL) is a no-op. */
void spec_ref_put(struct spec_ref *);

#endif
