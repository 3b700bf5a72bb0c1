#!/bin/bash
# spares-bench: seconds from a failure to the first heartbeat of the next
# attempt, restarting inside the allocation (resources.spare_nodes: 1)
# versus a new Slurm job (no spares), side by side in one run on the
# private cluster while other jobs keep it busy, so that a requeued job has
# to wait (issue 16 s1). Two failures: a rank's kill -9 (both jobs at
# once) and a node's slurmd killed (one node both jobs use).
#
#   tests/bench/spares-bench.sh      (as root, after a build; E2E_DIR as
#                                     for tests/e2e/run)
#
# Prints "rank kill: in-allocation X s, requeue Y s" and the same for the
# node failure. Runs under tests/e2e/run (this file is sourced there as
# E2E_SOURCE) for its cluster, daemon and helpers.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	TOP=$(cd "$(dirname "$0")/../.." && pwd)
	E2E_SOURCE=$TOP/tests/bench/spares-bench.sh exec "$TOP/tests/e2e/run" bench_spares
fi

BENCH_FILL=40 # 1-GPU filler jobs: more than the 27 GPUs left free

# fill: keep every GPU busy for S seconds, with jobs queued behind
fill() {
	local i
	for i in $(seq "$BENCH_FILL"); do
		sbatch --parsable -N1 -n1 --gres=gpu:1 -t 5 -J filler \
		    -o /dev/null --wrap "sleep $1" >/dev/null || return 1
	done
}

# first_beat ID N T0: ms from T0 (ns) until attempt N has a heartbeat
first_beat() {
	local i
	for i in $(seq 1200); do
		if [ "$(llmctl status -o json "$1" | python3 -c '
import json, sys
j = json.load(sys.stdin)
print(int(j.get("attempt") == int(sys.argv[1]) and
    (j.get("heartbeat") or {}).get("beats", 0) > 0))' "$2")" = 1 ]; then
			echo $((($(date +%s%N) - $3) / 1000000))
			return 0
		fi
		sleep 0.25
	done
	echo "never"
}

# secs MS: "X.Y"
secs() {
	case $1 in never) echo never ;; *) printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)) ;; esac
}

bench_spares() {
	local a b t0 ra rb batch victim na nb spare_ms requeue_ms
	a=$(usubmit "$(sspec bspare "$TRAINER --steps 2000 --checkpoint-every 5 --sleep 0.5" "placement:
  exclude: [n4]")")
	b=$(usubmit "$(rspec bqueue 2 "$TRAINER --steps 2000 --checkpoint-every 5 --sleep 0.5" "placement:
  exclude: [n4]")")
	wait_log "$a" 1 1 "rank 1 step 3" 90
	wait_log "$b" 1 1 "rank 1 step 3" 90
	fill 120 || fail "cannot submit fillers"
	sleep 3
	echo "    queue: $(squeue -h -t PD | wc -l) pending, $(squeue -h -t R | wc -l) running"
	# 1. a rank of each killed at once
	ra=$(rank_pid "$a" 1 1)
	rb=$(rank_pid "$b" 1 1)
	t0=$(date +%s%N)
	kill -9 "$ra" "$rb"
	spare_ms=$(first_beat "$a" 2 "$t0")
	requeue_ms=$(first_beat "$b" 2 "$t0")
	echo "rank kill: in-allocation $(secs "$spare_ms") s, requeue $(secs "$requeue_ms") s"
	[ "$(attempt_field "$a" 2 slurm_job_id)" = "$(attempt_field "$a" 1 slurm_job_id)" ] ||
	    fail "the job with a spare left its Slurm job"
	# 2. one node both use fails (not the batch host of the spare job)
	batch=$(scontrol show job "$(attempt_field "$a" 2 slurm_job_id)" | sed -n 's/.*BatchHost=\([^ ]*\).*/\1/p')
	na=$(plan_nodes "$a" 2 nodes | grep -vx "$batch")
	nb=$(plan_nodes "$b" 2 nodes)
	victim=$(echo "$na" | grep -Fx "$nb" | head -1)
	if [ -z "$victim" ]; then
		echo "node failure: skipped (no node shared: $na / $nb)"
		scancel -n filler
		return 0
	fi
	wait_log "$b" 2 1 "rank 1 step" 60
	scancel -n filler
	fill 150 || fail "cannot submit fillers"
	sleep 3
	t0=$(date +%s%N)
	"$CLUSTER" stop-node "$E2E_DIR/cluster" "$victim" --kill >/dev/null
	spare_ms=$(first_beat "$a" 3 "$t0")
	requeue_ms=$(first_beat "$b" 3 "$t0")
	echo "node failure ($victim, SlurmdTimeout 20 s): in-allocation $(secs "$spare_ms") s, requeue $(secs "$requeue_ms") s"
	scancel -n filler
	llmctl cancel "$a" >/dev/null
	llmctl cancel "$b" >/dev/null
	"$CLUSTER" start-node "$E2E_DIR/cluster" "$victim" >/dev/null
	scontrol update nodename="$victim" state=resume 2>/dev/null || true
}
