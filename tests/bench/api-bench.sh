#!/bin/bash
# api-bench: what a user waits for, llmctl next to Slurm's own tools, on
# the private loopback cluster (as root, after a build in _build/):
#   tests/bench/api-bench.sh [N]        (default N=50 runs of each)
# Reports the median and p90 wall time of: llmctl status vs squeue (with
# N jobs known), llmctl submit vs sbatch, and llmctl status while slurmctld
# is stopped (squeue cannot answer then). With STORED=100000 (env) it
# then adds that many finished jobs to the database (one SQL insert, the
# daemon stopped) and times the status of one of them: the CLI, the
# daemon alone (curl's own time on the socket, without its process start)
# and squeue -j, each with its p99 too.
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

# pct LABEL: median, p90 and p99 of the microseconds on stdin
pct() {
	sort -n | awk -v l="$1" '{a[NR]=$1} END {
		printf "%-44s median %7.2f ms   p90 %7.2f ms   p99 %7.2f ms\n", l,
		    a[int((NR+1)/2)]/1000, a[int(NR*0.9)]/1000, a[(int(NR*0.99) > 0 ? int(NR*0.99) : 1)]/1000 }'
}

# time_runs LABEL CMD...: N runs, wall time of each
time_runs() {
	local label=$1 i t0 t1
	shift
	for i in $(seq "$N"); do
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1 || true
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000))
	done | pct "$label"
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
STORED=${STORED:-0}
if ((STORED > 0)); then
	sid=$(sbatch --parsable -o /dev/null --wrap true)
	kill "$dpid"
	wait "$dpid" 2>/dev/null || :
	sqlite3 "$DIR/state/db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL
	    SELECT i + 1 FROM n WHERE i < $STORED) INSERT INTO jobs (name, uid,
	    gid, user, state, spec, created_at, updated_at, nodes,
	    gpus_per_node, world_size) SELECT name, uid, gid, user, 'COMPLETED',
	    spec, created_at, updated_at, nodes, gpus_per_node, world_size
	    FROM jobs, n WHERE jobs.id = 1"
	"$B/daemon/llmctld" -d -f "$DIR/d.conf" 2>>"$DIR/d.log" &
	dpid=$!
	sleep 2
	mid=$((STORED / 2))
	N=$((N < 200 ? 200 : N))
	echo "$(sqlite3 "$DIR/state/db" 'SELECT count(*) FROM jobs') jobs stored; job $mid, $N runs each"
	time_runs "llmctl status ID" "${L[@]}" status "$mid"
	for i in $(seq "$N"); do
		curl -s -o /dev/null -w '%{time_total}\n' --unix-socket "$DIR/sock" "http://llmctld/v1/jobs/$mid"
	done | awk '{ printf "%d\n", $1 * 1e6 }' | pct "daemon GET /v1/jobs/ID (curl time_total)"
	time_runs "squeue -j ID" squeue -j "$sid"
	echo "daemon RSS with $STORED more stored: $(awk '/VmRSS/ {print $2, $3}' /proc/$dpid/status)"
fi
