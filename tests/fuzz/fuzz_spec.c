/*
 * fuzz_spec: libFuzzer target for the job spec parser (build and run with
 * tests/fuzz/fuzz-spec.sh, or `make fuzz-spec FUZZ_TIME=seconds`).
 *
 * Besides "no crash, no leak, no UB" under ASan and UBSan it checks what a
 * user relies on: a refused spec always says why, in at most SPEC_MAX_ERRORS
 * lines of "FILE:" with no control characters; an accepted one survives
 * YAML and JSON emit -> parse unchanged. Input that is JSON also goes
 * through spec_from_json(), the daemon's path.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);
static void check_cause(const char *, const char *);
static void check_roundtrip(const struct spec *);

static void
check_cause(const char *cause, const char *prefix)
{
	const char *p, *line = cause;
	int lines = 1;

	if (cause == NULL || *cause == '\0')
		abort();
	for (p = cause; *p != '\0'; p++) {
		if (*p == '\n') {
			lines++;
			line = p + 1;
			if (strncmp(line, prefix, strlen(prefix)) != 0)
				abort();
		} else if ((unsigned char)*p < ' ' || *p == 0x7f)
			abort();
	}
	if (strncmp(cause, prefix, strlen(prefix)) != 0 ||
	    lines > SPEC_MAX_ERRORS)
		abort();
}

static void
check_roundtrip(const struct spec *sp)
{
	struct spec *y, *j;
	json_t *out, *in, *again;
	char *yaml, *text, *cause = NULL;

	yaml = spec_to_yaml(sp);
	if ((y = spec_parse(yaml, strlen(yaml), "emitted", NULL, &cause)) ==
	    NULL) {
		fprintf(stderr, "emitted YAML refused:\n%s\n---\n%s\n", cause,
		    yaml);
		abort();
	}
	out = spec_to_json(sp);
	again = spec_to_json(y);
	if (!json_equal(out, again)) {
		fprintf(
		    stderr, "YAML round trip changed the spec:\n%s\n", yaml);
		abort();
	}
	json_decref(again);
	text = json_dumps(out, JSON_COMPACT);
	if (text == NULL || (in = json_loads(text, 0, NULL)) == NULL)
		abort();
	if ((j = spec_from_json(in, &cause)) == NULL) {
		fprintf(stderr, "emitted JSON refused:\n%s\n---\n%s\n", cause,
		    text);
		abort();
	}
	again = spec_to_json(j);
	if (!json_equal(out, again))
		abort();
	json_decref(again);
	json_decref(in);
	json_decref(out);
	spec_free(y);
	spec_free(j);
	free(text);
	free(yaml);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spec *sp;
	json_t *j;
	char *cause = NULL, small[64];
	int64_t secs;
	uint64_t mb;

	sp = spec_parse((const char *)data, size, "fuzz.yaml", "/w", &cause);
	if (sp == NULL) {
		check_cause(cause, "fuzz.yaml:");
		free(cause);
	} else {
		if (spec_world_size(sp) !=
		    sp->parallel.tensor * sp->parallel.pipeline *
		        sp->parallel.data)
			abort();
		check_roundtrip(sp);
		spec_free(sp);
	}

	if ((j = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL)) !=
	    NULL) {
		if ((sp = spec_from_json(j, &cause)) != NULL) {
			check_roundtrip(sp);
			spec_free(sp);
		} else
			free(cause);
		json_decref(j);
	}

	if (size < sizeof(small)) {
		memcpy(small, data, size);
		small[size] = '\0';
		if (spec_parse_duration(small, &secs, &cause) == 0) {
			if (secs < 0)
				abort();
		} else
			free(cause);
		if (spec_parse_memory(small, &mb, &cause) == 0) {
			if (mb == 0)
				abort();
		} else
			free(cause);
	}
	return 0;
}
