#!/bin/bash
# wait-bench: slurmctld's load from llmctld while jobs wait for room, with
# 0, 100 and 1,000 of them waiting, on one private cluster in one
# run (as root):
#   tests/bench/wait-bench.sh [BUILD...]     (default: _build)
# Each BUILD is a build directory of llmctl (e.g. one of main and one of a
# branch: they run one after the other on the same cluster). Env: COUNTS
# ("0 100 1000") jobs waiting at each point, WINDOW (20) seconds measured
# at each, BENCH_DIR.
#
# One sbatch job holds every GPU of the 4 nodes; each llmctl job asks for
# a node of 8 GPUs, so llmctl plans it, finds no room now, and hands it
# to Slurm's queue to wait there (SUBMITTED, PENDING in Slurm; or QUEUED
# in llmctl, as a build before that kept it): either way they wait, and
# llmctld polls one job table a second for all of them. RPCs: sdiag's
# per-message-type counters, reset (sdiag -r) at the start of the window,
# read at its end, sdiag's own REQUEST_STATS_INFO left out; llmctld's CPU
# over the same window (poll_interval 1 s). Goal: the same RPC/s at every
# point.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
COUNTS=${COUNTS:-"0 100 1000"}
WINDOW=${WINDOW:-20}
DIR=${BENCH_DIR:-/tmp/llmctl-wait-bench}
CLUSTER=$TOP/tests/cluster/slurm-cluster
BUILDS=("$@")
((${#BUILDS[@]} > 0)) || BUILDS=("$TOP/_build")

mkdir -p "$DIR"
export "$("$CLUSTER" start "$DIR/cluster" --nodes 4 --gpus 8 --cpus 8 2>/dev/null)"
dpid=
cleanup() {
	[ -n "$dpid" ] && kill "$dpid" 2>/dev/null
	"$CLUSTER" stop "$DIR/cluster" >/dev/null 2>&1 || :
}
trap cleanup EXIT
printf 'version: 1\nname: w\ncommand: "true"\nworkdir: /tmp\nresources:\n  nodes: 1\n  gpus_per_node: 8\nrecovery:\n  max_restarts: 0\n' >"$DIR/job.yaml"

# the blocker: every GPU of every node, until the end of the run
sbatch -N4 --gres=gpu:8 -o /dev/null --wrap 'sleep 100000' >/dev/null
end=$((SECONDS + 60))
until [ "$(squeue -h -t R | wc -l)" = 1 ]; do
	((SECONDS < end)) || {
		echo "the blocking job does not start" >&2
		exit 1
	}
	sleep 0.5
done

# rpcs: "TYPE=count ..." since the reset
rpcs() {
	sdiag | awk '/by message type/ {on = 1; next} /by user/ {on = 0}
	    on && /count:/ && $1 != "REQUEST_STATS_INFO" {
		split($0, a, "count:"); split(a[2], b, " "); printf "%s=%s ", $1, b[1] }'
}

# cpu_ticks PID: utime + stime
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# waiting: jobs not started, QUEUED in llmctl or SUBMITTED (pending in
# Slurm), read from its database (a busy daemon may not answer in time)
waiting() { sqlite3 "file:$DIR/state/db?mode=ro" "SELECT count(*) FROM jobs WHERE state IN ('QUEUED', 'SUBMITTED')" 2>/dev/null || echo 0; }

# fill COUNT: submit until COUNT jobs wait (4 clients), none of them
# started (only the blocker runs)
fill() {
	local want=$1 have k
	have=$(waiting)
	((want > have)) || return 0
	for k in 1 2 3 4; do
		(for _ in $(seq $(((want - have + 4 - k) / 4))); do
			"${L[@]}" submit "$DIR/job.yaml" >/dev/null || echo "submit failed" >&2
		done) &
	done
	wait $(jobs -p | grep -v "^${dpid:-x}$") 2>/dev/null || :
	end=$((SECONDS + 120))
	while (($(waiting) < want)); do
		((SECONDS < end)) || {
			echo "only $(waiting) of $want jobs wait" >&2
			return 1
		}
		sleep 1
	done
	[ "$(squeue -h -t R | wc -l)" = 1 ] || {
		echo "a job started that has no room" >&2
		return 1
	}
}

for B in "${BUILDS[@]}"; do
	B=$(cd "$B" && pwd)
	cat >"$DIR/d.conf" <<CONF
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
	sleep 2
	L=("$B/cli/llmctl" --socket "$DIR/sock")
	echo "== llmctl from $B ($(git -C "$B/.." log -1 --format=%h 2>/dev/null || echo ?)), $(nproc) cores, ${WINDOW} s each"
	for c in $COUNTS; do
		fill "$c" || echo "      (measured with $(waiting) waiting)"
		sleep 3 # the plans of the last submits settle
		sdiag -r >/dev/null
		c0=$(cpu_ticks "$dpid")
		sleep "$WINDOW"
		r=$(rpcs)
		c1=$(cpu_ticks "$dpid")
		echo "$r" | awk -v c="$c" -v w="$WINDOW" -v cpu=$(((c1 - c0) * 100 / $(getconf CLK_TCK))) '{
			t = 0; s = ""
			for (i = 1; i <= NF; i++) { split($i, kv, "="); t += kv[2]; s = s sprintf(" %s %.2f/s", kv[1], kv[2] / w) }
			printf "%5d jobs waiting: %6.2f RPC/s to slurmctld, llmctld CPU %5.1f%%\n      %s\n", c, t / w, cpu / w, s }'
	done
	kill "$dpid"
	wait "$dpid" 2>/dev/null || :
	dpid=
done
