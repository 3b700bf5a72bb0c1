#!/bin/bash
# submit-bench: jobs reaching Slurm per second and Slurm RPCs per job,
# llmctl next to plain sbatch of the same job, on one private cluster in
# one run (as root):
#   tests/bench/submit-bench.sh [BUILD...]     (default: _build)
# Each BUILD is a build directory of llmctl (e.g. one of main and one of a
# branch: they run one after the other on the same cluster). Env: N (100)
# jobs per phase, CLIENTS (4) for the parallel phase, BENCH_DIR.
#
# llmctl runs three phases: a loop of one submit per process, CLIENTS such
# loops side by side, and one `llmctl submit` of N files (a sweep).
# "Reaching Slurm": sdiag's "Jobs submitted" counter, polled until it has
# grown by N (sbatch returns once Slurm has the job, so its loop's wall
# time is the same measure). RPCs: sdiag's per-message-type counters,
# reset (sdiag -r) before a phase, read once every job is in Slurm; the
# daemon's per-tick poll and snapshot load are in them (poll_interval 1 s).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
N=${N:-100}
CLIENTS=${CLIENTS:-4}
DIR=${BENCH_DIR:-/tmp/llmctl-submit-bench}
CLUSTER=$TOP/tests/cluster/slurm-cluster
BUILDS=("$@")
((${#BUILDS[@]} > 0)) || BUILDS=("$TOP/_build")

mkdir -p "$DIR"
# --clean: Slurm keeps ended jobs (MinJobAge) and a reused dir reaches
# MaxJobCount after a few runs
export "$("$CLUSTER" start "$DIR/cluster" --nodes 4 --cpus 8 --clean 2>/dev/null)"
dpid=
cleanup() {
	[ -n "$dpid" ] && kill "$dpid" 2>/dev/null
	"$CLUSTER" stop "$DIR/cluster" >/dev/null 2>&1 || :
}
trap cleanup EXIT
printf 'version: 1\nname: b\ncommand: "true"\nworkdir: /tmp\nresources:\n  nodes: 1\n  gpus_per_node: 0\nrecovery:\n  max_restarts: 0\n' >"$DIR/job.yaml"

submitted() { sdiag | awk -F: '/^Jobs submitted/ {gsub(/ /, "", $2); print $2}'; }

# wait_for COUNT: until sdiag counts COUNT jobs submitted (at most 120 s)
wait_for() {
	local end=$((SECONDS + 120))
	while (($(submitted) < $1)); do
		((SECONDS < end)) || {
			echo "only $(submitted) of $1 reached Slurm" >&2
			return 1
		}
		sleep 0.02
	done
}

# rpcs: the per-type counts since the reset, "TYPE=count ...", sdiag's own
# REQUEST_STATS_INFO left out
rpcs() {
	sdiag | awk '/by message type/ {on = 1; next} /by user/ {on = 0}
	    on && /count:/ && $1 != "REQUEST_STATS_INFO" {
		split($0, a, "count:"); split(a[2], b, " "); printf "%s=%s ", $1, b[1] }'
}

# phase LABEL CLIENTS CMD...: N jobs by CLIENTS loops of CMD, timed until
# all N reached Slurm; prints the rate and the RPCs per job by type
phase() {
	local label=$1 c=$2 base t0 t1 k
	shift 2
	sdiag -r >/dev/null
	base=$(submitted)
	t0=$(date +%s%N)
	for k in $(seq "$c"); do
		(for _ in $(seq "${REPEAT:-$((N / c))}"); do "$@" >/dev/null 2>&1 || echo "$label: submit failed" >&2; done) &
	done
	wait $(jobs -p | grep -v "^${dpid:-x}$") 2>/dev/null || :
	wait_for $((base + N / c * c))
	t1=$(date +%s%N)
	awk -v l="$label" -v n=$((N / c * c)) -v ns=$((t1 - t0)) \
	    'BEGIN { printf "%-40s %4d jobs %7.2f s %8.1f jobs/s\n", l, n, ns / 1e9, n / (ns / 1e9) }'
	rpcs | awk -v n=$((N / c * c)) '{ for (i = 1; i <= NF; i++) {
		split($i, kv, "="); printf "    %-32s %6d  %5.2f per job\n", kv[1], kv[2], kv[2] / n } }'
}

# until Slurm's queue is empty again (at most 60 s), so that each phase
# starts on the same idle cluster
drain() {
	local i
	scancel -u root >/dev/null 2>&1 || :
	for i in $(seq 120); do
		[ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
		sleep 0.5
	done
	sleep 1
}

for B in "${BUILDS[@]}"; do
	B=$(cd "$B" && pwd)
	cat >"$DIR/d.conf" <<CONF
socket: $DIR/sock
database: $DIR/state/db
state_dir: $DIR/state
slurm_conf: $SLURM_CONF
poll_interval: 1
replan_after: 1h
log_level: warn
CONF
	rm -rf "$DIR/state"
	"$B/daemon/llmctld" -d -f "$DIR/d.conf" 2>"$DIR/d.log" &
	dpid=$!
	sleep 2
	L=("$B/cli/llmctl" --socket "$DIR/sock")
	echo "== llmctl from $B ($(git -C "$B/.." log -1 --format=%h 2>/dev/null || echo ?)), $(nproc) cores"
	phase "llmctl submit, sequential" 1 "${L[@]}" submit "$DIR/job.yaml"
	drain
	phase "llmctl submit, $CLIENTS clients" "$CLIENTS" "${L[@]}" submit "$DIR/job.yaml"
	drain
	# a sweep: N spec files in one llmctl run, over one connection (a
	# build that takes one file a run skips it)
	if "${L[@]}" submit --help 2>&1 | grep -q 'file \.\.\.'; then
		mapfile -t files < <(for _ in $(seq "$N"); do echo "$DIR/job.yaml"; done)
		REPEAT=1 phase "llmctl submit, $N files in one run" 1 "${L[@]}" submit "${files[@]}"
		drain
	fi
	# where a job's time goes in the daemon: commits (fsync'd but for a
	# Slurm id and a poll's progress) and CPU, over the phases' jobs
	curl -s --unix-socket "$DIR/sock" http://llmctld/v1/metrics | awk -v n=$((2 * N + N / CLIENTS * CLIENTS)) \
	    -v cpu="$(awk '{print $14 + $15}' "/proc/$dpid/stat")" -v hz="$(getconf CLK_TCK)" '
		/^llmctld_store_commit_duration_seconds_count/ { c = $2 }
		/^llmctld_store_commit_duration_seconds_sum/ { s = $2 }
		/^llmctld_backend_op_duration_seconds_count\{op="submit"\}/ { wc = $2 }
		/^llmctld_backend_op_duration_seconds_sum\{op="submit"\}/ { ws = $2 }
		END { printf "    daemon, per job: %.2f commits (%.2f ms each), %.2f ms CPU; worker: %.2f ms a submit\n",
		    c / n, (c>0 ? s / c * 1000 : 0), cpu / hz / n * 1000, (wc>0 ? ws / wc * 1000 : 0) }'
	sdiag -r >/dev/null
	sleep 10
	echo "    idle daemon, 10 s: $(rpcs)"
	kill "$dpid"
	wait "$dpid" 2>/dev/null || :
	dpid=
	drain
done
echo "== plain sbatch"
phase "sbatch, sequential" 1 sbatch -o /dev/null --wrap true
drain
phase "sbatch, $CLIENTS clients" "$CLIENTS" sbatch -o /dev/null --wrap true
