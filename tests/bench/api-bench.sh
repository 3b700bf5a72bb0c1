#!/bin/bash
# api-bench: what a user waits for, llmctl next to Slurm's own tools, on
# the private loopback cluster (as root, after a build in _build/):
#   tests/bench/api-bench.sh [N]        (default N=50 runs of each)
# Reports the median and p90 wall time of: llmctl status vs squeue (with
# N jobs known), llmctl submit vs sbatch, and llmctl status while slurmctld
# is stopped (squeue cannot answer then).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
N=${1:-50}
DIR=${BENCH_DIR:-/tmp/llmctl-bench}
B=$TOP/_build
mkdir -p "$DIR"
export "$("$TOP/tests/cluster/slurm-cluster" start "$DIR/cluster" 2>/dev/null)"
cat > "$DIR/d.conf" <<CONF
socket: $DIR/sock
database: $DIR/state/db
state_dir: $DIR/state
slurm_conf: $SLURM_CONF
poll_interval: 1
log_level: warn
CONF
rm -rf "$DIR/state"
"$B/daemon/llmctld" -d -f "$DIR/d.conf" 2>"$DIR/d.log" &
dpid=$!
trap 'kill $dpid 2>/dev/null; "$TOP/tests/cluster/slurm-cluster" stop "$DIR/cluster" >/dev/null 2>&1' EXIT
sleep 1
printf 'version: 1\nname: b\ncommand: "true"\nworkdir: /tmp\nresources:\n  nodes: 1\n  gpus_per_node: 0\nrecovery:\n  max_restarts: 0\n' > "$DIR/job.yaml"

# time_runs LABEL CMD...: N runs, median and p90 in ms
time_runs() {
	local label=$1 i t0 t1
	shift
	for i in $(seq "$N"); do
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1 || true
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000))
	done | sort -n | awk -v l="$label" '{a[NR]=$1} END {
		printf "%-44s median %7.2f ms   p90 %7.2f ms\n", l, a[int((NR+1)/2)]/1000, a[int(NR*0.9)]/1000 }'
}

L=("$B/cli/llmctl" --socket "$DIR/sock")
echo "N=$N runs each; $(nproc) cores"
time_runs "llmctl submit (validate, store, fsync)" "${L[@]}" submit "$DIR/job.yaml"
time_runs "sbatch --wrap true" sbatch -o /dev/null --wrap true
sleep 3
time_runs "llmctl status ($N jobs)" "${L[@]}" status -a --since all
time_runs "squeue -a ($N jobs)" squeue -a
time_runs "llmctl status ID" "${L[@]}" status 1
"$TOP/tests/cluster/slurm-cluster" pause-ctld "$DIR/cluster" >/dev/null
time_runs "llmctl status, slurmctld stopped" "${L[@]}" status -a --since all
N=3 time_runs "squeue, slurmctld stopped (3 runs)" timeout 30 squeue -a
"$TOP/tests/cluster/slurm-cluster" resume-ctld "$DIR/cluster" >/dev/null
echo "daemon RSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$dpid/status)"
