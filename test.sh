#!/bin/bash
# test.sh: on a fresh Debian 12 machine, as root, install what is missing,
# build, run the unit tests, then the end-to-end tests on a private Slurm
# cluster that the tests start and stop. Safe to run twice in a row.
set -euo pipefail
cd "$(dirname "$0")"
TOP=$(pwd)

tests/setup-deps.sh
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi
mkdir -p _build
cd _build
[ -f Makefile ] || ../configure --enable-werror
make -j"$(nproc)"
echo "== unit tests (make check)"
make -j"$(nproc)" check || { cat tests/unit/*.log 2>/dev/null | tail -50; exit 1; }
grep -h '^# \(TOTAL\|PASS\|FAIL\)' test-suite.log 2>/dev/null || true
cd "$TOP"
# The end-to-end suites run side by side, each on a cluster of its own
# (own ports, MASTER_PORTs and, multi-host, namespaces): the single-host
# tests in two shards, the multi-host and the bracket-named ones. Most of
# an e2e test is waiting on Slurm's timeouts, not on the CPU. Each suite
# prints to a log, shown whole when all have ended.
for u in llmtest llmtest2; do
	id -u "$u" >/dev/null 2>&1 || useradd --system --no-create-home --shell /bin/sh "$u"
done
base=${E2E_DIR:-/tmp/llmctl-e2e}
LOGS=$(mktemp -d /tmp/llmctl-test.XXXXXX)
pids=()
suite() { # NAME ENV...: one suite in the background
	local name=$1
	shift
	env BUILD_DIR="$TOP/_build" "$@" tests/e2e/run >"$LOGS/$name" 2>&1 &
	pids+=($!)
}
suite 1 E2E_SHARD=0/2 E2E_DIR="$base"
suite 2 E2E_SHARD=1/2 E2E_DIR="$base-2"
suite 3 E2E_MULTIHOST=1 E2E_DIR="$base-mh"
suite 4 E2E_NAMES=rack E2E_DIR="$base-names"
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
rc=0
for p in "${pids[@]}"; do
	wait "$p" || rc=1
done
for n in 1 2 3 4; do
	case $n in
	1) echo "== end-to-end tests (first half)" ;;
	2) echo "== end-to-end tests (second half)" ;;
	3) echo "== end-to-end tests on a multi-host cluster" ;;
	4) echo "== end-to-end tests on bracket-named nodes" ;;
	esac
	cat "$LOGS/$n"
done
rm -rf "$LOGS"
echo "== Debian package (build, install, two jobs, purge)"
tests/pkg/run.sh || rc=1
exit $rc
