/*
 * check_spec_cache: a job's spec is parsed once and handed out shared; a
 * stored text that differs is parsed again, never answered from the old
 * one; a spec still held outlives its slot and the cache; what cannot be
 * read is NULL with a cause.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "spec-cache.h"
#include "spec.h"
#include "util.h"
#include "unit.h"

/* The canonical JSON of a one-node job named name running command. */
static char *
spec_json_of(const char *name, const char *command)
{
	char *yaml, *cause = NULL, *text;
	struct spec *sp;
	json_t *js;

	yaml = xasprintf(
	    "version: 1\nname: %s\ncommand: \"%s\"\n"
	    "workdir: /tmp\nresources:\n  nodes: 1\n  gpus_per_node: 0\n",
	    name, command);
	sp = spec_parse(yaml, strlen(yaml), "t.yaml", NULL, &cause);
	ck_assert_msg(sp != NULL, "%s", cause);
	js = spec_to_json(sp);
	text = json_dumps(js, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(js);
	spec_free(sp);
	free(yaml);
	return text;
}

static char *
spec_json(const char *name)
{
	return spec_json_of(name, "true");
}

START_TEST(test_core)
{
	struct spec_cache *c = spec_cache_create();
	struct spec_ref *a, *b, *other, *moved;
	char *ja = spec_json("a"), *jb = spec_json("b");

	a = spec_cache_get(c, 7, ja, NULL);
	ck_assert_ptr_nonnull(a);
	ck_assert_str_eq(a->spec->name, "a");
	/* the same job and text: the same parse */
	b = spec_cache_get(c, 7, ja, NULL);
	ck_assert_ptr_eq(a, b);
	spec_ref_put(b);
	/* the same id with another text: parsed anew, the old one held */
	other = spec_cache_get(c, 7, jb, NULL);
	ck_assert_ptr_ne(other, a);
	ck_assert_str_eq(other->spec->name, "b");
	ck_assert_str_eq(a->spec->name, "a");
	/* another job in the same slot takes it; the one held stays */
	moved = spec_cache_get(c, 7 + 512, ja, NULL);
	ck_assert_ptr_nonnull(moved);
	ck_assert_str_eq(other->spec->name, "b");
	spec_cache_free(c);
	/* held past the cache */
	ck_assert_str_eq(a->spec->name, "a");
	ck_assert_str_eq(moved->spec->name, "a");
	spec_ref_put(a);
	spec_ref_put(other);
	spec_ref_put(moved);
	spec_ref_put(NULL);
	free(ja);
	free(jb);
}
END_TEST

START_TEST(test_add)
{
	struct spec_cache *c = spec_cache_create();
	char *ja = spec_json("a"), *cause = NULL;
	struct spec_ref *r;
	struct spec *sp;
	json_t *js;

	js = json_loads(ja, 0, NULL);
	sp = spec_from_json(js, &cause);
	json_decref(js);
	ck_assert_ptr_nonnull(sp);
	spec_cache_add(c, 3, ja, sp);
	r = spec_cache_get(c, 3, ja, NULL);
	ck_assert_ptr_eq(r->spec, sp);
	spec_ref_put(r);
	spec_cache_free(c);
	free(ja);
}
END_TEST

/* A spec past SPEC_CACHE_TEXT_MAX is parsed each time, kept by no slot. */
START_TEST(test_big)
{
	struct spec_cache *c = spec_cache_create();
	struct spec_ref *a, *b;
	char *cmd = xcalloc(1, 20001), *j;

	memset(cmd, 'x', 20000);
	j = spec_json_of("big", cmd);
	a = spec_cache_get(c, 5, j, NULL);
	b = spec_cache_get(c, 5, j, NULL);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_ne(a, b);
	ck_assert_uint_eq(strlen(a->spec->command), 20000);
	spec_ref_put(a);
	spec_ref_put(b);
	spec_cache_free(c);
	free(cmd);
	free(j);
}
END_TEST

START_TEST(test_errors)
{
	struct spec_cache *c = spec_cache_create();
	char *cause = NULL;

	ck_assert_ptr_null(spec_cache_get(c, 1, "not json", NULL));
	ck_assert_ptr_null(spec_cache_get(c, 1, "{\"version\": 1}", &cause));
	ck_assert_ptr_nonnull(cause);
	free(cause);
	spec_cache_free(c);
	spec_cache_free(NULL);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("spec_cache");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_core);
	tcase_add_test(tc, test_add);
	tcase_add_test(tc, test_big);
	tcase_add_test(tc, test_errors);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
