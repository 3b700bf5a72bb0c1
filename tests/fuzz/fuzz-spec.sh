#!/bin/sh
# Build tests/fuzz/fuzz_spec with clang (libFuzzer, ASan, UBSan) and run it.
#
#   tests/fuzz/fuzz-spec.sh [seconds [libFuzzer options...]]
#   make fuzz-spec FUZZ_TIME=1800          (from a build directory)
#
# The binary and the corpus it grows go to _build-fuzz/ in the source tree
# (FUZZ_OUT overrides); the seeds in tests/fuzz/corpus/ are the examples and
# the inputs of check_spec's table. A crash leaves crash-* in the current
# directory: turn it into a case in tests/unit/check_spec.c.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${FUZZ_OUT:-$top/_build-fuzz}
secs=${1:-60}
[ $# -gt 0 ] && shift
CC=${CC_FUZZ:-clang}

mkdir -p "$out/corpus"
: > "$out/config.h"
# shellcheck disable=SC2046
$CC -g -O1 -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -D_GNU_SOURCE \
    -I"$out" -I"$top/lib" $(pkg-config --cflags yaml-0.1 jansson) \
    "$top/tests/fuzz/fuzz_spec.c" "$top"/lib/spec*.c "$top/lib/util.c" \
    "$top/lib/hostlist.c" $(pkg-config --libs yaml-0.1 jansson) \
    -o "$out/fuzz_spec"
cp "$top"/tests/fuzz/corpus/* "$top"/conf/examples/*.yaml "$out/corpus/" \
    2>/dev/null || true
exec "$out/fuzz_spec" -max_total_time="$secs" -max_len=16384 \
    -dict="$top/tests/fuzz/spec.dict" -print_final_stats=1 "$@" \
    "$out/corpus"
