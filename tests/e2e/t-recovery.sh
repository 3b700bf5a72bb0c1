# t-recovery: real faults on the private cluster, through llmctl (issue 6).
# Jobs run as $TEST_USER (checkpoints are never scanned as root) with
# conf/examples/train_shell.sh, which follows the trainer contract without
# PyTorch's start-up time.

TRAINER=$TOP/conf/examples/train_shell.sh

# rspec NAME NODES COMMAND EXTRA [BACKOFF]: a recovery job with checkpoints
# and quick backoff; EXTRA adds lines under the top level.
rspec() {
	local f=$E2E_DIR/$1.yaml
	rm -rf "$SHARED/ck-$1"
	cat > "$f" <<SPEC
version: 1
name: $1
command: $3
workdir: $SHARED
resources:
  nodes: $2
  gpus_per_node: 1
checkpoint:
  dir: $SHARED/ck-$1
recovery:
  max_restarts: 3
  max_infra_restarts: 3
  backoff: ${5:-1s}
$4
SPEC
	chmod 644 "$f"
	echo "$f"
}

# wait_log ID ATTEMPT RANK PATTERN TIMEOUT: until the rank's log matches
wait_log() {
	local i
	for i in $(seq $(($5 * 4))); do
		rank_log "$1" "$2" "$3" | grep -q "$4" && return 0
		sleep 0.25
	done
	fail "job $1 attempt $2 rank $3 never printed '$4'"
}

# the pid a rank printed ("... pid=P")
rank_pid() {
	rank_log "$1" "$2" "$3" | sed -n 's/.* pid=\([0-9]*\)$/\1/p' | head -1
}

# 1. kill -9 of one rank: attempt 2 starts at the newest checkpoint + 1.
test_c1_kill_rank_resumes() {
	local id pid t0 first ck
	id=$(usubmit "$(rspec kill 2 "$TRAINER --steps 14 --checkpoint-every 3 --sleep 0.5")")
	wait_log "$id" 1 0 "checkpoint step=6" 60
	pid=$(rank_pid "$id" 1 1)
	[ -n "$pid" ] || fail "no pid for rank 1"
	sleep 1
	t0=$(date +%s%N)
	kill -9 "$pid"
	wait_state "$id" COMPLETED 120
	[ "$(job_field "$id" attempt)" = 2 ] || fail "$(job_field "$id" attempt) attempts, expected 2"
	ck=$(rank_log "$id" 2 0 | sed -n 's/^resumed from step \([0-9]*\).*/\1/p')
	[ -n "$ck" ] && [ "$ck" -ge 6 ] || fail "attempt 2 did not resume from a checkpoint >= 6: '$ck'"
	first=$(rank_log "$id" 2 0 | sed -n 's/^rank 0 step \([0-9]*\)$/\1/p' | head -1)
	[ "$first" = $((ck + 1)) ] || fail "attempt 2's first step is $first, expected $((ck + 1))"
	[ "$(attempt_field "$id" 1 cause)" = user_error ] || fail "cause $(attempt_field "$id" 1 cause)"
	echo "    killed rank 1 -> attempt 2 running: $(( ($(date -d @"$(attempt_field "$id" 2 started_at)" +%s) * 1000000000 - t0) / 1000000 )) ms (start second resolution)"
}

# 2. SIGSTOP of one rank: a hang, detected within heartbeat_timeout plus
#    two polls, and the job recovers.
test_c2_sigstop_hang() {
	local id pid t0 t1 ms
	id=$(usubmit "$(rspec hang 2 "$TRAINER --steps 16 --checkpoint-every 2 --sleep 0.5" "health:
  heartbeat_timeout: 5s
  startup_timeout: 30s")")
	wait_log "$id" 1 1 "rank 1 step 4" 60
	pid=$(rank_pid "$id" 1 1)
	t0=$(date +%s%N)
	kill -STOP "$pid"
	for _ in $(seq 120); do
		[ "$(attempt_field "$id" 1 cause)" = hang ] && break
		sleep 0.1
	done
	kill -CONT "$pid" 2>/dev/null || true
	[ "$(attempt_field "$id" 1 cause)" = hang ] || fail "no hang detected"
	# when the daemon decided, from its log (milliseconds)
	t1=$(grep "job $id: attempt 1 hangs" "$E2E_DIR/llmctld.log" | head -1 | cut -d' ' -f1)
	t1=$(date -d "$t1" +%s%N)
	ms=$(((t1 - t0) / 1000000))
	echo "    hang detected ${ms} ms after SIGSTOP (timeout 5 s, poll 1 s)"
	[ "$ms" -le 7500 ] || fail "detection took $ms ms > heartbeat_timeout + 2 polls"
	wait_state "$id" COMPLETED 120
	llmctl events "$id" | grep -q "sent no heartbeat" || fail "no hang event"
}

# 3. The slurmd of a node running the job dies: node_failure, and the
#    next attempt does not use that node.
test_c3_node_failure() {
	local id nodes victim t0 t1
	# long enough (100 s) that Slurm declares the node dead before it ends
	id=$(usubmit "$(rspec nodefail 2 "$TRAINER --steps 200 --checkpoint-every 5 --sleep 0.5")")
	wait_log "$id" 1 1 "rank 1 step 2" 60
	nodes=$(attempt_field "$id" 1 nodes)
	victim=$(scontrol show hostnames "$nodes" | tail -1)
	t0=$(date +%s)
	"$CLUSTER" stop-node "$E2E_DIR/cluster" "$victim" --kill >/dev/null
	for _ in $(seq 120); do
		[ -n "$(attempt_field "$id" 1 ended_at)" ] && break
		sleep 1
	done
	t1=$(date +%s)
	echo "    slurmd of $victim killed -> attempt 1 ended after $((t1 - t0)) s (Slurm's SlurmdTimeout is 20 s)"
	[ "$(attempt_field "$id" 1 cause)" = node_failure ] || fail "cause '$(attempt_field "$id" 1 cause)'"
	wait_state "$id" RUNNING 90
	echo "    failure -> attempt 2 running after $(($(date +%s) - t0)) s"
	scontrol show hostnames "$(attempt_field "$id" 2 nodes)" | grep -qx "$victim" &&
	    fail "attempt 2 runs on $victim again"
	llmctl status -o json "$id" | grep -q "\"$victim\"" || fail "$victim not listed as excluded"
	# its slurmd is gone, its slurmstepd and rank are not: the fence
	assert_fenced "$id" 1 1 "$victim"
	llmctl cancel "$id" >/dev/null
	"$CLUSTER" start-node "$E2E_DIR/cluster" "$victim" >/dev/null
	scontrol update nodename="$victim" state=resume 2>/dev/null || true
}

# 4. A preflight that fails on one node: excluded, job completes elsewhere.
#    The preflight fails once, on the first node of the first allocation,
#    whichever the planner picked, and records which.
test_c4_preflight() {
	local id bad
	rm -f "$SHARED/pf-bad"
	cat > "$SHARED/preflight.sh" <<'SH'
#!/bin/sh
first=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -1)
if [ ! -e "$PF_FILE" ] && [ "$SLURMD_NODENAME" = "$first" ]; then
	echo "$SLURMD_NODENAME" > "$PF_FILE"
	echo "GPU 3 fell off the bus" >&2
	exit 1
fi
SH
	chmod 755 "$SHARED/preflight.sh"
	id=$(usubmit "$(rspec preflight 2 "$TRAINER --steps 2 --sleep 0.1" "env:
  PF_FILE: $SHARED/pf-bad
health:
  preflight: $SHARED/preflight.sh")")
	wait_state "$id" COMPLETED 120
	bad=$(cat "$SHARED/pf-bad")
	[ "$(attempt_field "$id" 1 cause)" = preflight_failed ] || fail "attempt 1 cause '$(attempt_field "$id" 1 cause)'"
	attempt_field "$id" 1 reason | grep -q "preflight failed on $bad" || fail "reason: $(attempt_field "$id" 1 reason)"
	scontrol show hostnames "$(attempt_field "$id" 2 nodes)" | grep -qx "$bad" && fail "attempt 2 used $bad"
	true
}

# 5. The newest checkpoint's manifest is wrong: resume from the one before,
#    and report the bad one.
test_c5_bad_manifest() {
	local id
	cat > "$SHARED/badck.sh" <<'SH'
#!/bin/sh
# attempt 1 writes step_1 (good) and step_2 (corrupt) then fails;
# attempt 2 checks where it resumes from.
c=$LLMCTL_CHECKPOINT_DIR
if [ "$LLMCTL_ATTEMPT" = 1 ]; then
	for s in 1 2; do
		mkdir -p "$c/step_$s" && echo "weights $s" > "$c/step_$s/model.pt"
		(cd "$c/step_$s" && sha256sum model.pt > MANIFEST.sha256)
		touch "$c/step_$s/COMPLETE"
	done
	echo corrupted > "$c/step_2/model.pt"
	exit 1
fi
echo "resume from $LLMCTL_RESUME_FROM step $LLMCTL_RESUME_STEP"
SH
	chmod 755 "$SHARED/badck.sh"
	id=$(usubmit "$(rspec badck 1 "$SHARED/badck.sh")")
	wait_state "$id" COMPLETED 90
	rank_log "$id" 2 0 | grep -q "resume from $SHARED/ck-badck/step_1 step 1" ||
	    fail "attempt 2 said: $(rank_log "$id" 2 0)"
	llmctl events "$id" | grep "step_2" | grep -q "checksum" || fail "bad checkpoint not reported: $(llmctl events "$id")"
	llmctl checkpoints -o json "$id" | python3 -c '
import json, sys
c = {x["step"]: x for x in json.load(sys.stdin)["checkpoints"]}
assert c[1]["problem"] is None and c[1]["verified"], c
assert c[2]["problem"] is not None, c' || fail "checkpoints listing wrong"
}

# 6. A command that fails at once: exactly max_restarts restarts, then
#    FAILED with the reason, and no loop.
test_c6_restart_budget() {
	local id
	id=$(usubmit "$(spec failfast 1 0 "exit 7" "recovery:
  max_restarts: 2
  backoff: 1s")")
	wait_state "$id" FAILED 90
	sleep 3
	[ "$(job_field "$id" attempt)" = 3 ] || fail "$(job_field "$id" attempt) attempts, expected 3"
	job_field "$id" reason | grep -q "max_restarts (2) used up" || fail "reason: $(job_field "$id" reason)"
	[ "$(job_field "$id" exit_code)" = 7 ] || fail "exit code $(job_field "$id" exit_code)"
}

# 7. The time limit after progress: a new attempt continues and completes.
test_c7_timeout_continues() {
	local id f
	f=$(rspec tlimit 1 "$TRAINER --steps 150 --checkpoint-every 10 --sleep 0.5")
	sed -i 's/^  gpus_per_node: 1$/  gpus_per_node: 1\n  time_limit: 1m/' "$f"
	id=$(usubmit "$f")
	wait_state "$id" COMPLETED 200
	[ "$(attempt_field "$id" 1 cause)" = timeout ] || fail "attempt 1 cause '$(attempt_field "$id" 1 cause)'"
	rank_log "$id" 2 0 | grep -q "^resumed from step" || fail "attempt 2 did not resume"
	[ "$(job_field "$id" attempt)" = 2 ] || fail "$(job_field "$id" attempt) attempts"
}

# 8. kill -9 of llmctld while a job waits to restart: recovery finishes
#    once, with no duplicate attempt.
test_c8_kill9_during_recovery() {
	local id n t tags
	# fails at its first step: no progress, so the 4 s backoff applies
	# (progress, a higher heartbeat step, would restart it at once)
	id=$(usubmit "$(rspec k9rec 1 "$TRAINER --steps 6 --checkpoint-every 100 --sleep 0.3 --fail-at-step 1 --fail-attempt 1" "" 4s)")
	wait_state "$id" RESTARTING 60
	daemon_kill9
	daemon_start
	wait_state "$id" COMPLETED 90
	[ "$(job_field "$id" attempt)" = 2 ] || fail "$(job_field "$id" attempt) attempts, expected 2"
	tags=$(llmctl status -o json "$id" | python3 -c 'import json,sys; print(" ".join(a["tag"] for a in json.load(sys.stdin)["attempts"]))')
	for t in $tags; do
		n=$(squeue -h -t all -o '%k' | grep -c "llmctl:$t")
		[ "$n" = 1 ] || fail "tag $t on $n Slurm jobs"
	done
}

# A shell worker reports progress with `llmctl heartbeat`; status shows it.
test_c9_heartbeat_cli() {
	local id
	id=$(usubmit "$(spec hbcli 1 0 "$LLMCTL_BIN heartbeat --step 7 && sleep 3")")
	wait_state "$id" COMPLETED 60
	llmctl status -o json "$id" | python3 -c '
import json, sys
h = json.load(sys.stdin)["heartbeat"]
assert h is not None and h["step"] == 7 and h["beats"] >= 1, h' ||
	    fail "heartbeat not recorded: $(llmctl status -o json "$id" | grep -A4 heartbeat)"
	# and /metrics on the TCP listener counts it and the finished jobs
	curl -s "http://$HB_ADDR:$HB_PORT/metrics" | grep -q '^llmctld_heartbeats_total [1-9]' ||
	    fail "metrics: $(curl -s "http://$HB_ADDR:$HB_PORT/metrics")"
	curl -s "http://$HB_ADDR:$HB_PORT/metrics" | grep -q '^llmctld_jobs{state="COMPLETED"} [1-9]' ||
	    fail "metrics do not count completed jobs"
}

# metric NAME{LABELS}: its value in GET /metrics over TCP, 0 when absent
metric() {
	curl -s "http://$HB_ADDR:$HB_PORT/metrics" |
	    awk -v s="$1" '$1 == s { v = $2 } END { print v + 0 }'
}

# 10. A job that fails at its first step and then completes shows up in
#     /metrics (attempts and restarts by cause, recovery time), the text
#     parses as Prometheus would, and its per-job series are on the Unix
#     socket for its owner only, never over TCP.
test_c10_metrics_restart() {
	local id a0 r0 c0 out i
	a0=$(metric 'llmctld_attempts_total{cause="user_error"}')
	r0=$(metric 'llmctld_restarts_total{cause="user_error"}')
	c0=$(metric 'llmctld_recovery_seconds_count')
	id=$(usubmit "$(rspec metr 1 "$TRAINER --steps 40 --checkpoint-every 5 --sleep 0.3 --fail-at-step 1 --fail-attempt 1")")
	# attempt 2 running: its heartbeat step on the owner's /v1/metrics
	for i in $(seq 240); do
		out=$(runuser -u "$TEST_USER" -- curl -s --unix-socket "$SOCK" http://llmctld/v1/metrics)
		echo "$out" | grep -q "^llmctld_job_last_step{job=\"$id\"} [1-9]" && break
		sleep 0.25
	done
	echo "$out" | grep -q "^llmctld_job_info{job=\"$id\",name=\"metr\",user=\"$TEST_USER\"} 1" ||
	    fail "no per-job series for the owner: $(echo "$out" | grep '^llmctld_job')"
	runuser -u "$TEST_USER2" -- curl -s --unix-socket "$SOCK" http://llmctld/v1/metrics |
	    grep -q "^llmctld_job_info{job=\"$id\"" && fail "another user sees job $id's series"
	curl -s "http://$HB_ADDR:$HB_PORT/metrics" | grep -q '^llmctld_job_\|^llmctld_user_jobs' &&
	    fail "per-job or per-user series over TCP"
	wait_state "$id" COMPLETED 120
	[ "$(attempt_field "$id" 1 cause)" = user_error ] || fail "cause $(attempt_field "$id" 1 cause)"
	[ "$(metric 'llmctld_attempts_total{cause="user_error"}')" = $((a0 + 1)) ] ||
	    fail "attempts_total{cause=user_error} $(metric 'llmctld_attempts_total{cause="user_error"}'), was $a0"
	[ "$(metric 'llmctld_restarts_total{cause="user_error"}')" = $((r0 + 1)) ] ||
	    fail "restarts_total{cause=user_error} $(metric 'llmctld_restarts_total{cause="user_error"}'), was $r0"
	[ "$(metric 'llmctld_recovery_seconds_count')" = $((c0 + 1)) ] ||
	    fail "recovery_seconds_count $(metric 'llmctld_recovery_seconds_count'), was $c0"
	curl -s "http://$HB_ADDR:$HB_PORT/metrics" >"$E2E_DIR/metrics.txt"
	python3 "$TOP/tests/unit/metrics_format.py" check "$E2E_DIR/metrics.txt" >/dev/null ||
	    fail "GET /metrics does not parse"
	echo "    $(grep -c '^llmctld_' "$E2E_DIR/metrics.txt") series; Slurm list ops timed: $(grep 'backend_op_duration_seconds_count{op="list"}' "$E2E_DIR/metrics.txt")"
}
