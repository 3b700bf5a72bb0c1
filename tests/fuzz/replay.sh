#!/bin/sh
# make check: replay both fuzz targets over their seed corpora (see
# tests/fuzz/replay.c). Fails when an input crashes or trips a sanitizer.
set -eu
src=${srcdir:-.}
b=${top_builddir:-.}
TMPDIR=$(mktemp -d)
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
"$b/tests/fuzz/replay_spec" "$src/tests/fuzz/corpus" "$src"/conf/examples/*.yaml
"$b/tests/fuzz/replay_api" "$src/tests/fuzz/api-corpus"
echo "PASS: fuzz seeds replayed"
