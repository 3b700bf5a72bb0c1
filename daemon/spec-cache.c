/*
 * spec-cache: a direct-mapped table of parsed specs by job id (a slot
 * taken by another job drops the one before), each entry counted: the
 * table holds one reference, every spec_cache_get() one more. A spec
 * parse was a tenth of the daemon's CPU per submitted job (tests/bench/
 * submit-bench.sh) when the plan, the end and the decision each did one.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "spec-cache.h"
#include "spec.h"
#include "util.h"

#define SPEC_CACHE_SLOTS 512 /* jobs in flight whose spec stays parsed */
/* bigger specs are parsed each time: at most 8 MiB of text kept */
#define SPEC_CACHE_TEXT_MAX 16384

struct spec_entry {
	struct spec_ref ref; /* first: a spec_ref * is its entry */
	struct spec *spec; /* ref.spec, owned */
	int64_t id;
	char *json; /* what spec was parsed from */
	int refs;
};

struct spec_cache {
	struct spec_entry *slots[SPEC_CACHE_SLOTS];
};

struct spec_cache *
spec_cache_create(void)
{
	return xcalloc(1, sizeof(struct spec_cache));
}

void
spec_cache_free(struct spec_cache *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < SPEC_CACHE_SLOTS; i++)
		if (c->slots[i] != NULL)
			spec_ref_put(&c->slots[i]->ref);
	free(c);
}

void
spec_ref_put(struct spec_ref *ref)
{
	/* a spec_ref is the first member of its entry */
	struct spec_entry *e = (struct spec_entry *)(void *)ref;

	if (e == NULL || --e->refs > 0)
		return;
	spec_free(e->spec);
	free(e->json);
	free(e);
}

/* An entry for sp (taken over), in its slot unless json is too big. */
static struct spec_entry *
entry_add(struct spec_cache *c, int64_t id, const char *json, struct spec *sp)
{
	struct spec_entry **slot, *e;

	e = xcalloc(1, sizeof(*e));
	e->ref.spec = e->spec = sp;
	e->id = id;
	e->refs = 1;
	if (c == NULL || strlen(json) > SPEC_CACHE_TEXT_MAX)
		return e; /* the caller's alone */
	e->json = xstrdup(json);
	slot = &c->slots[(uint64_t)id % SPEC_CACHE_SLOTS];
	if (*slot != NULL)
		spec_ref_put(&(*slot)->ref);
	*slot = e;
	e->refs++;
	return e;
}

struct spec_ref *
spec_cache_get(struct spec_cache *c, int64_t id, const char *json, char **cause)
{
	struct spec_entry *e =
	    c != NULL ? c->slots[(uint64_t)id % SPEC_CACHE_SLOTS] : NULL;
	struct spec *sp;
	json_t *js;

	if (e != NULL && e->id == id && strcmp(e->json, json) == 0) {
		e->refs++;
		return &e->ref;
	}
	js = json_loads(json, 0, NULL);
	sp = js != NULL ? spec_from_json(js, cause) : NULL;
	json_decref(js);
	return sp != NULL ? &entry_add(c, id, json, sp)->ref : NULL;
}

void
spec_cache_add(
    struct spec_cache *c, int64_t id, const char *json, struct spec *sp)
{
	spec_ref_put(&entry_add(c, id, json, sp)->ref);
}
