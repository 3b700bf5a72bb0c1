# t-skeleton: the walking skeleton of issue 2, end to end through Slurm.

# 2 nodes x 2 GPUs: four ranks with the PyTorch variables, on two nodes.
test_10_env_ranks() {
	local dir=$SHARED/env id f r nodes
	mkdir -p "$dir"
	id=$(submit "$(spec envjob 2 2 "env > $dir/rank-\$RANK.env")")
	wait_state "$id" COMPLETED 90
	[ "$(ls "$dir" | wc -l)" = 4 ] || fail "expected 4 rank files: $(ls "$dir")"
	for r in 0 1 2 3; do
		f=$dir/rank-$r.env
		grep -qx "RANK=$r" "$f" || fail "rank $r: RANK wrong"
		grep -qx "WORLD_SIZE=4" "$f" || fail "rank $r: WORLD_SIZE"
		grep -qx "LOCAL_RANK=$((r % 2))" "$f" || fail "rank $r: LOCAL_RANK"
		grep -qx "NODE_RANK=$((r / 2))" "$f" || fail "rank $r: NODE_RANK"
		grep -qx "LOCAL_WORLD_SIZE=2" "$f" || fail "rank $r: LOCAL_WORLD_SIZE"
		grep -qx "LLMCTL_JOB_ID=$id" "$f" || fail "rank $r: LLMCTL_JOB_ID"
		grep -qx "LLMCTL_ATTEMPT=1" "$f" || fail "rank $r: LLMCTL_ATTEMPT"
		grep -q "^MASTER_ADDR=." "$f" || fail "rank $r: MASTER_ADDR"
		grep -q "^MASTER_PORT=[0-9]" "$f" || fail "rank $r: MASTER_PORT"
	done
	# every rank agrees on the rendezvous point
	[ "$(cat "$dir"/*.env | grep -c "^MASTER_ADDR=$(grep ^MASTER_ADDR= "$dir/rank-0.env" | cut -d= -f2)$")" = 4 ] ||
	    fail "ranks disagree on MASTER_ADDR"
	nodes=$(cat "$dir"/*.env | grep '^SLURMD_NODENAME=' | sort -u | wc -l)
	[ "$nodes" = 2 ] || fail "ranks ran on $nodes Slurm nodes, expected 2"
	[ "$(job_field "$id" world_size)" = 4 ] || fail "world_size"
	[ "$(job_field "$id" exit_code)" = 0 ] || fail "exit code not 0"
	llmctl status | grep -E "^ *$id +envjob .*COMPLETED" >/dev/null ||
	    fail "status table does not show job $id COMPLETED"
}

# A failing command: FAILED with its exit code, shown in status.
test_20_exit_code() {
	local id
	id=$(submit "$(spec exit3 1 0 "exit 3")")
	wait_state "$id" FAILED 60
	[ "$(job_field "$id" exit_code)" = 3 ] || fail "exit code $(job_field "$id" exit_code)"
	llmctl status "$id" | grep -q "exit code 3" || fail "status does not show exit code 3"
}

# A long job cancelled: CANCELLED, and gone from squeue.
test_30_cancel() {
	local id sid out
	id=$(submit "$(spec long 1 1 "sleep 300")")
	wait_state "$id" RUNNING 60
	sid=$(job_field "$id" slurm_job_id)
	[ -n "$sid" ] || fail "no Slurm job id"
	out=$(llmctl cancel "$id") || fail "cancel failed"
	echo "$out" | grep -q "cancelled $id" || fail "cancel printed: $out"
	wait_state "$id" CANCELLED 10
	for _ in $(seq 60); do
		squeue -h -j "$sid" -t PD,R,CG 2>/dev/null | grep -q . || break
		sleep 0.5
	done
	! squeue -h -j "$sid" -t PD,R,CG 2>/dev/null | grep -q . ||
	    fail "Slurm job $sid still in squeue"
	# cancelling again is a clear error, exit 1
	out=$(llmctl cancel "$id" 2>&1) && fail "second cancel succeeded"
	echo "$out" | grep -q "already CANCELLED" || fail "second cancel said: $out"
}

# Another user can neither see nor cancel root's job.
test_40_other_user() {
	local id out
	id=$(submit "$(spec mine 1 0 "sleep 60")")
	out=$(runuser -u nobody -- "$LLMCTL_BIN" --socket "$SOCK" cancel "$id" 2>&1) &&
	    fail "nobody cancelled root's job"
	echo "$out" | grep -q "belongs to another user" || fail "said: $out"
	out=$(runuser -u nobody -- "$LLMCTL_BIN" --socket "$SOCK" status 2>&1) ||
	    fail "status as nobody failed: $out"
	echo "$out" | grep -q " mine " && fail "nobody sees root's job"
	[ "$(job_field "$id" state)" != CANCELLED ] || fail "job was cancelled"
	llmctl cancel "$id" >/dev/null
}

# A bad spec is refused by the daemon too, with the line, and nothing stored.
test_50_bad_spec_refused() {
	local before after out
	before=$(job_count)
	printf 'version: 1\nname: bad\ncommand: true\nresources:\n  nodes: four\n  gpus_per_node: 1\n' > "$E2E_DIR/bad.yaml"
	out=$(curl -s --unix-socket "$SOCK" -X POST http://localhost/v1/jobs \
	    -d "$(python3 -c 'import json,sys; print(json.dumps({"spec": open(sys.argv[1]).read(), "file": "bad.yaml", "workdir": "/tmp"}))' "$E2E_DIR/bad.yaml")")
	echo "$out" | grep -q 'bad.yaml:5:10: resources.nodes' || fail "daemon said: $out"
	echo "$out" | grep -q '"code": "invalid_spec"' || fail "no invalid_spec code: $out"
	after=$(job_count)
	[ "$before" = "$after" ] || fail "a job was stored for a bad spec"
}

# slurmctld stopped: status still answers from SQLite within a second.
test_60_status_without_slurmctld() {
	local t0 t1 ms
	"$CLUSTER" pause-ctld "$E2E_DIR/cluster" || fail "cannot pause slurmctld"
	sleep 1
	t0=$(date +%s%N)
	llmctl status >/dev/null || { "$CLUSTER" resume-ctld "$E2E_DIR/cluster"; fail "status failed"; }
	t1=$(date +%s%N)
	"$CLUSTER" resume-ctld "$E2E_DIR/cluster"
	ms=$(((t1 - t0) / 1000000))
	echo "    status answered in $ms ms with slurmctld stopped"
	[ "$ms" -lt 1000 ] || fail "status took $ms ms"
}

# A job submitted while slurmctld is down waits, and says why: slurmctld
# unreachable, not "waiting for resources"; it runs once slurmctld is back.
test_61_outage_reason() {
	local id reason i
	"$CLUSTER" stop-ctld "$E2E_DIR/cluster" >/dev/null ||
	    fail "cannot stop slurmctld"
	id=$(submit "$(spec outage 1 1 "true")") ||
	    { "$CLUSTER" start-ctld "$E2E_DIR/cluster" >/dev/null; return 1; }
	for i in $(seq 60); do
		reason=$(job_field "$id" reason)
		case $reason in *unreachable*) break ;; esac
		sleep 0.5
	done
	"$CLUSTER" start-ctld "$E2E_DIR/cluster" >/dev/null ||
	    fail "cannot start slurmctld again"
	case $reason in
	"slurmctld unreachable: "*) ;;
	*) fail "reason during the outage: '$reason'" ;;
	esac
	wait_state "$id" COMPLETED 120
}

# kill -9 of llmctld right after Slurm accepted a job, before it was
# recorded: after a restart the job is found by its tag, not submitted again.
test_70_crash_restart_exactly_once() {
	local id tag n before after
	before=$(job_count)
	daemon_stop
	LLMCTLD_TEST_CRASH_AFTER_SUBMIT=1 daemon_start
	id=$(submit "$(spec crashy 1 1 "sleep 5")")
	for _ in $(seq 40); do
		[ -f "$E2E_DIR/llmctld.pid" ] && kill -0 "$(cat "$E2E_DIR/llmctld.pid")" 2>/dev/null || break
		sleep 0.25
	done
	! kill -0 "$(cat "$E2E_DIR/llmctld.pid")" 2>/dev/null || fail "daemon did not crash at the fault point"
	rm -f "$E2E_DIR/llmctld.pid"
	daemon_start
	wait_state "$id" COMPLETED 90
	tag=$(llmctl status -o json "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["attempts"][0]["tag"])')
	n=$(squeue -h -t all -o '%k' | grep -c "llmctl:$tag")
	[ "$n" = 1 ] || fail "tag $tag is on $n Slurm jobs, expected exactly 1"
	[ "$(job_field "$id" attempt)" = 1 ] || fail "more than one attempt"
	# every earlier job is still there, and only one was added
	after=$(job_count)
	[ "$after" = $((before + 1)) ] || fail "$before jobs before, $after after"
	llmctl events "$id" 2>/dev/null | grep -q "found in Slurm" ||
	    grep -q "found by tag" "$E2E_DIR/llmctld.log" || fail "restart did not find the job by tag"
}

# kill -9 at an arbitrary moment: nothing lost, nothing doubled.
test_80_kill9_while_running() {
	local id tag n
	id=$(submit "$(spec k9 2 1 "sleep 4")")
	wait_state "$id" RUNNING 60
	daemon_kill9
	daemon_start
	wait_state "$id" COMPLETED 90
	tag=$(llmctl status -o json "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["attempts"][0]["tag"])')
	n=$(squeue -h -t all -o '%k' | grep -c "llmctl:$tag")
	[ "$n" = 1 ] || fail "tag on $n Slurm jobs"
	[ "$(job_field "$id" attempt)" = 1 ] || fail "more than one attempt"
}
