#!/bin/bash
# ends-bench: how long llmctld keeps every other user waiting while it
# records a mass end (a user's scancel of a sweep), one build after the
# other on one private cluster (as root):
#   tests/bench/ends-bench.sh [BUILD...]      (default: _build)
# Env: N (1000) jobs, BENCH_DIR.
#
# The partition is down, so the N jobs of one `llmctl submit` of N files
# wait in Slurm's queue; then `scancel -u root` ends them all at once and
# the next polls find N attempts over. Meanwhile a client asks for one
# job's status (GET /v1/jobs/1 with curl, a request at a time, for 12 s):
# its slowest answers are how long the loop was held. Also llmctld's
# poll time (its metrics) and the jobs' final states (each ended once).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
N=${N:-1000}
DIR=${BENCH_DIR:-/tmp/llmctl-ends-bench}
CLUSTER=$TOP/tests/cluster/slurm-cluster
. "$TOP/tests/bench/lib.sh"
BUILDS=("$@")
((${#BUILDS[@]} > 0)) || BUILDS=("$TOP/_build")

mkdir -p "$DIR"
export "$("$CLUSTER" start "$DIR/cluster" --nodes 4 --cpus 8 --clean 2>/dev/null)"
dpid=
cleanup() {
	[ -n "$dpid" ] && kill "$dpid" 2>/dev/null
	"$CLUSTER" stop "$DIR/cluster" >/dev/null 2>&1 || :
}
trap cleanup EXIT
scontrol update PartitionName=debug State=DOWN
printf 'version: 1\nname: e\ncommand: "true"\nworkdir: /tmp\nresources:\n  nodes: 1\n  gpus_per_node: 0\nrecovery:\n  max_restarts: 0\n' >"$DIR/job.yaml"
files=()
for _ in $(seq "$N"); do files+=("$DIR/job.yaml"); done

for B in "${BUILDS[@]}"; do
	B=$(cd "$B" && pwd)
	D=$DIR/d
	bench_daemon "$D" "$B"
	dpid=$!
	for _ in $(seq 100); do [ -S "$D/sock" ] && break; sleep 0.1; done
	L=("$B/cli/llmctl" --socket "$D/sock")
	"${L[@]}" submit "${files[@]}" >/dev/null
	end=$((SECONDS + 120))
	until [ "$(squeue -h -o %i | wc -l)" -ge "$N" ]; do
		((SECONDS < end)) || { echo "the jobs did not reach Slurm" >&2; exit 1; }
		sleep 0.2
	done
	sleep 2
	(
		stop=$((SECONDS + 12))
		while ((SECONDS < stop)); do
			curl -s -o /dev/null -w '%{time_total}\n' --unix-socket "$D/sock" http://llmctld/v1/jobs/1
		done >"$D/lat"
	) &
	prober=$!
	sleep 1
	scancel -u root
	wait "$prober"
	echo "== llmctl from $B ($(git -C "$B/.." log -1 --format=%h 2>/dev/null || echo ?)): $N jobs ended by one scancel"
	sort -n "$D/lat" | awk '{ a[NR] = $1 } END {
		printf "    GET /v1/jobs/1 meanwhile: %d answers, median %.1f ms, p99 %.1f ms, slowest %.1f ms\n",
		    NR, a[int(NR / 2)] * 1000, a[int(NR * 0.99)] * 1000, a[NR] * 1000 }'
	awk '$1 > 0.05 { n++ } END { printf "    answers over 50 ms: %d\n", n }' "$D/lat"
	curl -s --unix-socket "$D/sock" http://llmctld/v1/metrics | awk '
		/^llmctld_poll_duration_seconds_sum/ { s = $2 }
		/^llmctld_poll_duration_seconds_count/ { c = $2 }
		END { printf "    polls: %d, %.2f s in all\n", c, s }'
	"${L[@]}" status -a --since all --limit 0 -o json | python3 -c '
import collections, json, sys
jobs = json.load(sys.stdin)["jobs"]
print("    jobs by state:", dict(collections.Counter(j["state"] for j in jobs)))'
	kill "$dpid"
	wait "$dpid" 2>/dev/null || :
	dpid=
	end=$((SECONDS + 60))
	while [ -n "$(squeue -h -o %i)" ] && ((SECONDS < end)); do sleep 0.5; done
done
