#!/bin/sh
# sd_notify as systemd sees it (sd_notify.py); skipped when llmctld was built
# without libsystemd. Runs from the build directory (make check).
top_build=$(pwd)
top_src=$(cd "${srcdir:-.}" && pwd)
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "SKIP: $PY not found"; exit 77; }
grep -q '^#define HAVE_LIBSYSTEMD 1' "$top_build/config.h" ||
    { echo "SKIP: built without libsystemd"; exit 77; }
tmp=$(mktemp -d /tmp/llmctl-notify.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
"$PY" "$top_src/tests/unit/sd_notify.py" "$top_build/daemon/llmctld" \
    "$top_build/cli/llmctl" "$tmp"
