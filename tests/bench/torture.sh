#!/bin/sh
# The long kill -9 torture: tests/e2e/t-torture.sh's test, sized up.
#   make torture CLIENTS=4 JOBS=100      (as root, after a build)
# Prints the kill count, acknowledged / failed / distinct submits, and fails
# on any job lost, doubled or stuck, or a Slurm job per tag other than one.
top=$(cd "$(dirname "$0")/../.." && pwd)
export TORTURE_CLIENTS=${CLIENTS:-4} TORTURE_JOBS=${JOBS:-100}
export E2E_DIR=${E2E_DIR:-/tmp/llmctl-torture}
exec "$top/tests/e2e/run" test_d0_torture_kill9
