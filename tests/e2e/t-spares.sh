# t-spares: spare nodes and restarts inside the allocation (issue 16 s1).
# A job with resources.spare_nodes keeps its Slurm job through a rank's
# death and a node's failure; with no spare left the next failure falls
# back to a new Slurm job. Uses rspec, wait_log, rank_pid (t-recovery.sh)
# and conf/examples/train_shell.sh.

# sspec NAME COMMAND [EXTRA]: 2 nodes and 1 spare, checkpoints, quick backoff
sspec() {
	rspec "$1" 2 "$2" "$3" | {
		read -r f
		sed -i 's/^  gpus_per_node: 1$/  gpus_per_node: 1\n  spare_nodes: 1/' "$f"
		echo "$f"
	}
}

# the names in attempt N's plan under KEY (nodes or spares), one a line
plan_nodes() {
	llmctl status -o json "$1" | python3 -c '
import json, sys
a = json.load(sys.stdin)["attempts"][int(sys.argv[1]) - 1]
for n in (a.get("plan") or {}).get(sys.argv[2]) or []:
	print(n["name"])' "$2" "$3"
}

# wait_attempt ID N STATE TIMEOUT: until attempt N is in STATE
wait_attempt() {
	local i
	for i in $(seq $(($4 * 4))); do
		[ "$(attempt_field "$1" "$2" state)" = "$3" ] && return 0
		sleep 0.25
	done
	fail "job $1 attempt $2 is '$(attempt_field "$1" "$2" state)', expected $3"
}

# the user's Slurm jobs in the queue, one a line
user_jobs() {
	squeue -h -o "%i %u" | awk -v u="$TEST_USER" '$2 == u { print $1 }'
}

# resumed_step ID N: the step attempt N's rank 0 resumed from
resumed_step() {
	rank_log "$1" "$2" 0 | sed -n 's/^resumed from step \([0-9]*\).*/\1/p' | head -1
}

# 1. A rank killed: attempt 2 is a new step of the same Slurm job, on the
#    same nodes (none is blamed), from the newest checkpoint.
test_s1_spare_rank_kill() {
	local id pid slurm ck n
	id=$(usubmit "$(sspec skill "$TRAINER --steps 60 --checkpoint-every 3 --sleep 0.5")")
	wait_log "$id" 1 0 "checkpoint step=6" 60
	[ "$(plan_nodes "$id" 1 spares | wc -l)" = 1 ] || fail "attempt 1 plans no spare: $(plan_nodes "$id" 1 spares)"
	slurm=$(attempt_field "$id" 1 slurm_job_id)
	[ "$(squeue -h -j "$slurm" -o %D)" = 3 ] || fail "Slurm job $slurm has $(squeue -h -j "$slurm" -o %D) nodes, not 2 + 1 spare"
	pid=$(rank_pid "$id" 1 1)
	[ -n "$pid" ] || fail "no pid for rank 1"
	kill -9 "$pid"
	wait_attempt "$id" 2 RUNNING 60
	n=$(user_jobs | tr '\n' ' ')
	[ "$n" = "$slurm " ] || fail "squeue shows the user's jobs '$n', not just $slurm"
	wait_log "$id" 2 0 "rank 0 step" 60
	[ "$(attempt_field "$id" 1 cause)" = user_error ] || fail "attempt 1 cause $(attempt_field "$id" 1 cause)"
	[ "$(attempt_field "$id" 2 slurm_job_id)" = "$slurm" ] ||
	    fail "attempt 2 is Slurm job $(attempt_field "$id" 2 slurm_job_id), not $slurm"
	ck=$(resumed_step "$id" 2)
	[ -n "$ck" ] && [ "$ck" -ge 6 ] || fail "attempt 2 did not resume from a checkpoint >= 6: '$ck'"
	[ "$(plan_nodes "$id" 2 nodes)" = "$(plan_nodes "$id" 1 nodes)" ] ||
	    fail "attempt 2 moved nodes though none was blamed"
	[ "$(attempt_field "$id" 2 master_port)" != "$(attempt_field "$id" 1 master_port)" ] ||
	    fail "attempt 2 reuses MASTER_PORT"
	llmctl events "$id" | grep -q "attempt 2 starts inside Slurm job $slurm" || fail "no in-allocation event"
	wait_state "$id" COMPLETED 120
	[ "$(job_field "$id" attempt)" = 2 ] || fail "$(job_field "$id" attempt) attempts, expected 2"
}

# 2. A node's slurmd dies: the step ends when Slurm declares the node
#    down, attempt 2 runs on the spare in the same Slurm job; a rank killed
#    then (no spare left) falls back to a new Slurm job.
test_s2_spare_node_failure() {
	local id slurm victim victim2 batch spare t0 n v
	id=$(usubmit "$(sspec snode "$TRAINER --steps 400 --checkpoint-every 5 --sleep 0.5")")
	wait_log "$id" 1 1 "rank 1 step 2" 60
	slurm=$(attempt_field "$id" 1 slurm_job_id)
	batch=$(scontrol show job "$slurm" | sed -n 's/.*BatchHost=\([^ ]*\).*/\1/p')
	victim=$(plan_nodes "$id" 1 nodes | grep -vx "$batch" | tail -1)
	spare=$(plan_nodes "$id" 1 spares)
	[ -n "$victim" ] && [ -n "$spare" ] || fail "no victim ($victim) or spare ($spare); batch host $batch"
	t0=$(date +%s)
	"$CLUSTER" stop-node "$E2E_DIR/cluster" "$victim" --kill >/dev/null
	wait_attempt "$id" 2 RUNNING 120
	echo "    slurmd of $victim killed -> attempt 2 running after $(($(date +%s) - t0)) s"
	[ "$(attempt_field "$id" 1 cause)" = node_failure ] || fail "attempt 1 cause '$(attempt_field "$id" 1 cause)'"
	[ "$(attempt_field "$id" 2 slurm_job_id)" = "$slurm" ] ||
	    fail "attempt 2 is Slurm job $(attempt_field "$id" 2 slurm_job_id), not $slurm"
	plan_nodes "$id" 2 nodes | grep -qx "$victim" && fail "attempt 2 runs on $victim again"
	plan_nodes "$id" 2 nodes | grep -qx "$spare" || fail "attempt 2 does not run on the spare $spare"
	[ -z "$(plan_nodes "$id" 2 spares)" ] || fail "a spare is left: $(plan_nodes "$id" 2 spares)"
	wait_log "$id" 2 1 "rank 1 step" 60
	rank_log "$id" 2 1 | grep -q "host=$spare " || fail "rank 1 of attempt 2 is not on $spare"
	n=$(user_jobs | wc -l)
	[ "$n" = 1 ] || fail "squeue shows $n jobs of the user"
	[ -n "$(resumed_step "$id" 2)" ] || fail "attempt 2 did not resume from a checkpoint"
	# a rank killed now needs no spare: still the same Slurm job
	kill -9 "$(rank_pid "$id" 2 0)"
	wait_attempt "$id" 3 RUNNING 60
	[ "$(attempt_field "$id" 3 slurm_job_id)" = "$slurm" ] || fail "attempt 3 left Slurm job $slurm"
	[ "$(attempt_field "$id" 2 cause)" = user_error ] || fail "attempt 2 cause '$(attempt_field "$id" 2 cause)'"
	# the next failed node finds no spare: the allocation is given up and
	# the next attempt is planned as a new Slurm job
	victim2=$(plan_nodes "$id" 3 nodes | grep -vx "$batch" | tail -1)
	wait_log "$id" 3 1 "rank 1 step" 60
	"$CLUSTER" stop-node "$E2E_DIR/cluster" "$victim2" --kill >/dev/null
	for _ in $(seq 120); do
		[ -n "$(attempt_field "$id" 4 state)" ] && break
		sleep 1
	done
	[ "$(attempt_field "$id" 3 cause)" = node_failure ] || fail "attempt 3 cause '$(attempt_field "$id" 3 cause)'"
	[ -n "$(attempt_field "$id" 4 state)" ] || fail "no attempt 4"
	[ "$(attempt_field "$id" 4 slurm_job_id)" != "$slurm" ] || fail "attempt 4 stayed in Slurm job $slurm"
	for _ in $(seq 30); do
		squeue -h -j "$slurm" -o %T 2>/dev/null | grep -q . || break
		sleep 1
	done
	squeue -h -j "$slurm" -o %T 2>/dev/null | grep -q . && fail "Slurm job $slurm still there"
	llmctl events "$id" | grep -q "Slurm job $slurm given up: no spare node left" ||
	    grep -q "Slurm job $slurm given up: no spare node left" "$E2E_DIR/llmctld.log" ||
	    fail "no 'given up' line"
	# on 4 nodes, 2 of them blamed, the new Slurm job for 2 + 1 cannot be
	# placed: the job fails (t-spares s3 runs a fallback that can)
	wait_state "$id" FAILED 60
	[ "$(attempt_field "$id" 4 cause)" = unplaceable ] || fail "attempt 4 cause '$(attempt_field "$id" 4 cause)'"
	for v in "$victim" "$victim2"; do
		"$CLUSTER" start-node "$E2E_DIR/cluster" "$v" >/dev/null
		scontrol update nodename="$v" state=resume 2>/dev/null || true
	done
}

# 3. The node running the batch script fails: the allocation is gone and
#    the next attempt is a new Slurm job, without that node.
test_s3_spare_batch_host_fails() {
	local id slurm batch
	id=$(usubmit "$(sspec sbatch "$TRAINER --steps 400 --checkpoint-every 5 --sleep 0.5")")
	wait_log "$id" 1 1 "rank 1 step 2" 60
	slurm=$(attempt_field "$id" 1 slurm_job_id)
	batch=$(scontrol show job "$slurm" | sed -n 's/.*BatchHost=\([^ ]*\).*/\1/p')
	[ -n "$batch" ] || fail "no batch host"
	"$CLUSTER" stop-node "$E2E_DIR/cluster" "$batch" --kill >/dev/null
	wait_attempt "$id" 2 RUNNING 150
	[ "$(attempt_field "$id" 2 slurm_job_id)" != "$slurm" ] || fail "attempt 2 stayed in Slurm job $slurm"
	plan_nodes "$id" 2 nodes | grep -qx "$batch" && fail "attempt 2 runs on $batch"
	[ "$(attempt_field "$id" 1 cause)" = node_failure ] || fail "attempt 1 cause '$(attempt_field "$id" 1 cause)'"
	llmctl cancel "$id" >/dev/null
	"$CLUSTER" start-node "$E2E_DIR/cluster" "$batch" >/dev/null
	scontrol update nodename="$batch" state=resume 2>/dev/null || true
	wait_state "$id" CANCELLED 60
}

# 4. A rank stopped (SIGSTOP): the hang fences the step only; attempt 2 is
#    a new step of the same Slurm job.
test_s4_spare_hang() {
	local id pid slurm
	id=$(usubmit "$(sspec shang "$TRAINER --steps 60 --checkpoint-every 2 --sleep 0.5" "health:
  heartbeat_timeout: 5s
  startup_timeout: 30s")")
	wait_log "$id" 1 1 "rank 1 step 4" 60
	slurm=$(attempt_field "$id" 1 slurm_job_id)
	pid=$(rank_pid "$id" 1 1)
	kill -STOP "$pid"
	wait_attempt "$id" 2 RUNNING 90
	kill -CONT "$pid" 2>/dev/null || true
	[ "$(attempt_field "$id" 1 cause)" = hang ] || fail "attempt 1 cause '$(attempt_field "$id" 1 cause)'"
	[ "$(attempt_field "$id" 2 slurm_job_id)" = "$slurm" ] ||
	    fail "attempt 2 is Slurm job $(attempt_field "$id" 2 slurm_job_id), not $slurm"
	[ -e "$E2E_DIR/state/logs/$id/1.ended" ] || fail "no fence for attempt 1"
	wait_log "$id" 2 1 "rank 1 step" 60
	llmctl cancel "$id" >/dev/null
	wait_state "$id" CANCELLED 60
}

# 5. llmctld killed -9: a step that fails while it is down waits in its
#    allocation (step.end); the restarted daemon ends the attempt from the
#    file and starts attempt 2 in the same Slurm job. Then llmctld killed
#    right after recording a step: the decision file is written (again).
test_s5_spare_daemon_restart() {
	local id slurm pid ck
	id=$(usubmit "$(sspec srestart "$TRAINER --steps 80 --checkpoint-every 3 --sleep 0.5")")
	wait_log "$id" 1 0 "checkpoint step=3" 60
	slurm=$(attempt_field "$id" 1 slurm_job_id)
	pid=$(rank_pid "$id" 1 1)
	daemon_kill9
	kill -9 "$pid"
	for _ in $(seq 40); do
		[ -e "$E2E_DIR/state/logs/$id/1/step.end" ] && break
		sleep 0.25
	done
	[ -e "$E2E_DIR/state/logs/$id/1/step.end" ] || fail "the script wrote no step.end"
	sleep 2
	squeue -h -j "$slurm" -o %T | grep -q RUNNING || fail "Slurm job $slurm did not wait for llmctld"
	daemon_start
	wait_attempt "$id" 2 RUNNING 60
	[ "$(attempt_field "$id" 2 slurm_job_id)" = "$slurm" ] ||
	    fail "attempt 2 is Slurm job $(attempt_field "$id" 2 slurm_job_id), not $slurm"
	wait_log "$id" 2 1 "rank 1 step" 60
	ck=$(resumed_step "$id" 2)
	[ -n "$ck" ] && [ "$ck" -ge 3 ] || fail "attempt 2 did not resume from a checkpoint >= 3: '$ck'"
	llmctl cancel "$id" >/dev/null
	wait_state "$id" CANCELLED 60
	for _ in $(seq 30); do
		squeue -h -j "$slurm" -o %T 2>/dev/null | grep -q . || break
		sleep 1
	done
	squeue -h -j "$slurm" -o %T 2>/dev/null | grep -q . && fail "Slurm job $slurm still there after cancel"
	return 0
}
