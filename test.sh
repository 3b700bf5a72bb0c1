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
# The multi-host suite runs on its own cluster (other ports, its own
# namespaces) beside the single-host one: most of an e2e test is waiting
# on Slurm's timeouts, not on the CPU. It prints to a log, shown whole
# when it ends.
for u in llmtest llmtest2; do
	id -u "$u" >/dev/null 2>&1 || useradd --system --no-create-home --shell /bin/sh "$u"
done
LOGS=$(mktemp -d /tmp/llmctl-test.XXXXXX)
BUILD_DIR=$TOP/_build E2E_MULTIHOST=1 E2E_DIR=${E2E_DIR:-/tmp/llmctl-e2e}-mh \
    tests/e2e/run >"$LOGS/mh" 2>&1 &
mh=$!
trap 'kill $mh 2>/dev/null || true' EXIT
rc=0
echo "== end-to-end tests"
BUILD_DIR=$TOP/_build tests/e2e/run || rc=1
echo "== end-to-end tests on a multi-host cluster"
wait $mh || rc=1
cat "$LOGS/mh"
echo "== end-to-end tests on bracket-named nodes"
BUILD_DIR=$TOP/_build E2E_NAMES=rack E2E_DIR=${E2E_DIR:-/tmp/llmctl-e2e}-names tests/e2e/run || rc=1
rm -rf "$LOGS"
echo "== Debian package (build, install, two jobs, purge)"
tests/pkg/run.sh || rc=1
exit $rc
