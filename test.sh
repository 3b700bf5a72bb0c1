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
echo "== end-to-end tests"
rc=0
BUILD_DIR=$TOP/_build tests/e2e/run || rc=1
# The same PyTorch, MPI and recovery tests on a cluster whose nodes are
# separate hosts (own address, /tmp and /var), plus the network fault.
echo "== end-to-end tests on a multi-host cluster"
BUILD_DIR=$TOP/_build E2E_MULTIHOST=1 E2E_DIR=${E2E_DIR:-/tmp/llmctl-e2e}-mh tests/e2e/run || rc=1
# Placement, ranks and a node failure on nodes named rack1-n1..rack2-n2
# (hostlists with two bracket groups, issue 14 section 4); about 80 s.
echo "== end-to-end tests on bracket-named nodes"
BUILD_DIR=$TOP/_build E2E_NAMES=rack E2E_DIR=${E2E_DIR:-/tmp/llmctl-e2e}-names tests/e2e/run || rc=1
echo "== Debian package (build, install, two jobs, purge)"
tests/pkg/run.sh || rc=1
exit $rc
