#!/bin/sh
# Build tests/fuzz/fuzz_api with clang (libFuzzer, ASan, UBSan) and run it:
# the HTTP request path, api_dispatch(), on a seeded temporary store.
#
#   tests/fuzz/run-fuzz-api.sh [seconds [libFuzzer options...]]
#   make fuzz-api FUZZ_TIME=1800           (from a build directory)
#
# The binary and the corpus it grows go to _build-fuzz/ in the source tree
# (FUZZ_OUT overrides); the seeds in tests/fuzz/api-corpus/ cover every
# route (their format is at the top of fuzz_api.c). The store lives in a
# private TMPDIR (on /dev/shm when there is one: SQLite syncs every
# commit) that is removed afterwards, even after a crash. A crash leaves
# crash-* in the current directory: replay it with
# `TMPDIR=/tmp _build-fuzz/fuzz_api crash-*`, and once fixed add it to
# tests/fuzz/api-corpus/.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${FUZZ_OUT:-$top/_build-fuzz}
secs=${1:-60}
[ $# -gt 0 ] && shift
CC=${CC_FUZZ:-clang}
pkgs="yaml-0.1 libevent libevent_pthreads sqlite3 jansson libcurl"

mkdir -p "$out/corpus-api" "$out/config-api"
version=$(sed -n 's/^AC_INIT(\[[^]]*\], \[\([^]]*\)\].*/\1/p' \
    "$top/configure.ac")
printf '#define PACKAGE_VERSION "%s"\n' "${version:-0}" \
    > "$out/config-api/config.h"
# everything but main(), like daemon/libllmctld.la
srcs=
for f in "$top"/lib/*.c "$top"/daemon/*.c; do
	[ "$f" = "$top/daemon/llmctld.c" ] || srcs="$srcs $f"
done
# shellcheck disable=SC2046,SC2086
$CC -g -O1 -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -D_GNU_SOURCE -pthread \
    -I"$out/config-api" -I"$top/lib" -I"$top/daemon" \
    $(pkg-config --cflags $pkgs) \
    "$top/tests/fuzz/fuzz_api.c" $srcs \
    $(pkg-config --libs $pkgs) -lslurm -lpthread \
    -o "$out/fuzz_api"
cp "$top"/tests/fuzz/api-corpus/* "$out/corpus-api/"

tmp=$(mktemp -d "$( [ -d /dev/shm ] && [ -w /dev/shm ] && echo /dev/shm ||
    echo "${TMPDIR:-/tmp}")/llmctl-fuzz-api.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
rc=0
TMPDIR=$tmp "$out/fuzz_api" -max_total_time="$secs" -max_len=8192 \
    -dict="$top/tests/fuzz/api.dict" -print_final_stats=1 "$@" \
    "$out/corpus-api" || rc=$?
exit $rc
