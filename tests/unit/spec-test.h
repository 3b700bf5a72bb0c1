/* spec-test: what the two files of check_spec share. */
#ifndef SPEC_TEST_H
#define SPEC_TEST_H

#include <check.h>

#include "spec.h"

void assert_spec_eq(const struct spec *, const struct spec *);
void assert_roundtrip(const struct spec *);
void spec_add_roundtrip(TCase *);
void spec_add_limits(TCase *);

#endif
