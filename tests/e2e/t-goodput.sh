# t-goodput: the goodput ledger of a job with a fault whose timing the test
# controls (issue 15 section 1). The trainer below prints the wall-clock
# second of everything the ledger is made of, so each bucket is checked
# against what really happened, not against the daemon's own arithmetic.

# gp_trainer: one rank; START s of start-up silence, then a step a second
# with a heartbeat each, a checkpoint every 10 steps that takes SAVE s
# (heartbeats stop meanwhile: a checkpoint stall), failing at step FAIL of
# attempt 1; attempt 2 resumes after the newest checkpoint.
gp_trainer() {
	cat > "$SHARED/gp_trainer.sh" <<'SH'
#!/bin/bash
START=$1 SAVE=$2 FAIL=$3 STEPS=$4
ck=$LLMCTL_CHECKPOINT_DIR
beat() {
	curl -sf -m 1 -o /dev/null -X POST -H "Content-Type: application/json" \
	    -H "Authorization: Bearer $LLMCTL_HEARTBEAT_TOKEN" \
	    -d "{\"rank\": 0, \"step\": $1}" "$LLMCTL_HEARTBEAT_URL" &
}
start=1
[ -n "${LLMCTL_RESUME_FROM:-}" ] && start=$(( $(cat "$LLMCTL_RESUME_FROM/state") + 1 ))
echo "T pid $$"
sleep "$START"
echo "T first_beat $(date +%s)"
beat $((start - 1))
for ((s = start; s <= STEPS; s++)); do
	if [ "$LLMCTL_ATTEMPT" = 1 ] && [ "$s" = "$FAIL" ]; then
		echo "T fail $(date +%s)"
		exit 1
	fi
	sleep 1
	if [ $((s % 10)) = 0 ]; then
		sleep "$SAVE"
		mkdir -p "$ck/.tmp_$s" && echo "$s" > "$ck/.tmp_$s/state"
		mv "$ck/.tmp_$s" "$ck/step_$s" && touch "$ck/step_$s/COMPLETE"
		echo "T ckpt $s $(stat -c %Y "$ck/step_$s")"
	fi
	beat "$s"
	echo "T step $s $(date +%s)"
done
echo "T done $(date +%s)"
SH
	chmod 755 "$SHARED/gp_trainer.sh"
}

# gp_spec NAME "START SAVE FAIL STEPS" TIMEOUT: a job of gp_trainer with
# checkpoints, two restarts of each kind and that heartbeat_timeout.
gp_spec() {
	gp_trainer
	rm -rf "$SHARED/ck-$1"
	cat > "$E2E_DIR/$1.yaml" <<SPEC
version: 1
name: $1
command: $SHARED/gp_trainer.sh $2
workdir: $SHARED
resources:
  nodes: 1
  gpus_per_node: 1
checkpoint:
  dir: $SHARED/ck-$1
recovery:
  max_restarts: 2
  max_infra_restarts: 2
  backoff: 1s
health:
  heartbeat_timeout: $3
  startup_timeout: 60s
SPEC
	chmod 644 "$E2E_DIR/$1.yaml"
	echo "$E2E_DIR/$1.yaml"
}

# gp_t ID ATTEMPT WHAT: a second the trainer printed ("T WHAT N")
gp_t() {
	rank_log "$1" "$2" 0 | awk -v w="$3" '$1 == "T" && $2 == w { v = $NF } END { print v }'
}

# Attempt 1 fails at step 28 (checkpoints at 10 and 20), attempt 2 resumes
# at 21 and completes at 40. Tolerances, each a sum of what blurs it:
# a heartbeat is seen by the daemon's poll (1 s, so a first beat is dated
# up to 1 s late), Slurm's start and end are whole seconds and lag the
# trainer's own by up to a second, and stalls are sampled once per poll
# (each one's length is off by up to a poll either way).
test_goodput_ledger() {
	local id f out
	f=$(gp_spec goodput "4 5 28 40" 30s)
	id=$(usubmit "$f")
	wait_state "$id" COMPLETED 240
	[ "$(job_field "$id" attempt)" = 2 ] || fail "$(job_field "$id" attempt) attempts, expected 2"
	echo "    the faulted job's ledger (llmctl goodput $id):"
	ullmctl goodput "$id" | sed 's/^/      /'
	llmctl status -o json "$id" >"$E2E_DIR/goodput.json"
	python3 - "$E2E_DIR/goodput.json" \
	    "$(gp_t "$id" 1 first_beat)" "$(gp_t "$id" 1 ckpt)" "$(gp_t "$id" 1 fail)" \
	    "$(gp_t "$id" 2 first_beat)" <<'PY' || fail "ledger wrong (above)"
import json, sys
job = json.load(open(sys.argv[1]))
beat1, ck20, fail1, beat2 = (int(x) for x in sys.argv[2:6])
g, a1, a2 = job["goodput"], job["attempts"][0], job["attempts"][1]
bad = []
def near(what, got, want, tol):
    if abs(got - want) > tol:
        bad.append("%s: %s, expected %s +- %s" % (what, got, want, tol))
parts = ["queue_s", "startup_s", "productive_s", "lost_s", "recovery_s",
         "ckpt_stall_s"]
# a partition of the wall-clock time, exactly
near("sum of buckets", sum(g[k] for k in parts), g["wall_s"], 0)
near("recovery parts", sum(g["recovery"].values()), g["recovery_s"], 0)
near("wall", g["wall_s"], a2["ended_at"] - job["created_at"], 0)
# submission to Slurm's start of attempt 1
near("queue", g["queue_s"], a1["started_at"] - job["created_at"], 0)
# Slurm's start to the first beat: the trainer's 4 s silence and srun's
# launch; the beat is dated by the poll after it (+1 s)
near("startup", g["startup_s"], beat1 - a1["started_at"], 2)
# kept: first beat to the step-20 checkpoint, and attempt 2's beat to its
# end; stalls are carved out of that
near("productive + stalls", g["productive_s"] + g["ckpt_stall_s"],
     (ck20 - beat1) + (a2["ended_at"] - beat2), 4)
# four saves of 5 s (steps 10 and 20, then 30 and 40), each ending in
# that step's beat: a gap of 6 s less the usual 1 s, each give or take
# the poll (1 s) that samples the step
near("checkpoint stalls", g["ckpt_stall_s"], 20, 4)
# the step-20 checkpoint to Slurm's end of attempt 1 (exit at step 28)
near("lost", g["lost_s"], a1["ended_at"] - ck20, 1)
near("lost vs the trainer", g["lost_s"], fail1 - ck20, 2)
inc = g["incidents"]
if len(inc) != 1:
    bad.append("incidents: %s" % inc)
else:
    i = inc[0]
    if i["attempt"] != 1 or i["cause"] != "user_error":
        bad.append("incident %s" % i)
    near("failed_at", i["failed_at"], a1["ended_at"], 0)
    near("training again", i["training_again_at"], beat2, 2)
    near("incident recovery", i["recovery_s"],
         i["training_again_at"] - i["failed_at"], 0)
    near("incident = job recovery", i["recovery_s"], g["recovery_s"], 0)
    # progress was made: restarted at once, no backoff
    near("backoff", i["recovery"]["backoff_s"], 0, 0)
    # Slurm's start of attempt 2 to its first beat
    near("restart start-up", i["recovery"]["startup_s"],
         beat2 - a2["started_at"], 2)
near("ettr", g["ettr"] * g["wall_s"], g["productive_s"], 0.01)
print("      " + json.dumps({k: g[k] for k in parts + ["wall_s", "ettr"]}))
if bad:
    print("\n".join("    " + b for b in bad))
    sys.exit(1)
PY
	ullmctl status "$id" | grep -q "^goodput: *ETTR [0-9.]*% (productive" ||
	    fail "no goodput line in llmctl status: $(ullmctl status "$id")"
	# the totals: the owner's, not another user's
	ullmctl goodput --by user -o json | python3 -c '
import json, sys
t = {r["key"]: r for r in json.load(sys.stdin)["totals"]}
assert list(t) == [sys.argv[1]], t
assert t[sys.argv[1]]["productive_s"] >= int(sys.argv[2]), t' \
	    "$TEST_USER" "$(job_field "$id" goodput | python3 -c 'import ast,sys; print(ast.literal_eval(sys.stdin.read())["productive_s"])')" ||
	    fail "totals by user: $(ullmctl goodput --by user -o json)"
	u2llmctl goodput --by user -o json | grep -q "\"$TEST_USER\"" &&
	    fail "$TEST_USER2 sees $TEST_USER's totals"
	ullmctl goodput --by day | grep -q "^$(date -u +%Y-%m-%d) " ||
	    fail "no line for today: $(ullmctl goodput --by day)"
	# stored: the same ledger after a restart of llmctld
	out=$(ullmctl goodput -o json "$id")
	daemon_stop
	daemon_start
	[ "$(ullmctl goodput -o json "$id")" = "$out" ] ||
	    fail "ledger changed across a restart: $out / $(ullmctl goodput -o json "$id")"
}

# A hang: the trainer is stopped (SIGSTOP) at a time the test knows, after
# its step-10 checkpoint. The failure is dated at its last heartbeat, not
# when the hang was detected: lost is the checkpoint to that beat, and
# detection the heartbeat_timeout (5 s) and the kill after it.
test_goodput_hang() {
	local id f pid t_stop i
	f=$(gp_spec gphang "2 0 0 24" 5s)
	id=$(usubmit "$f")
	for i in $(seq 240); do
		rank_log "$id" 1 0 | grep -q '^T step 15 ' && break
		sleep 0.25
	done
	pid=$(gp_t "$id" 1 pid)
	[ -n "$pid" ] || fail "no trainer pid"
	kill -STOP "$pid"
	t_stop=$(date +%s)
	for i in $(seq 120); do
		[ "$(attempt_field "$id" 1 cause)" = hang ] && break
		sleep 0.25
	done
	kill -CONT "$pid" 2>/dev/null || true
	wait_state "$id" COMPLETED 120
	echo "    the hung job's ledger (llmctl goodput $id):"
	ullmctl goodput "$id" | sed 's/^/      /'
	llmctl status -o json "$id" >"$E2E_DIR/gphang.json"
	python3 - "$E2E_DIR/gphang.json" "$t_stop" \
	    "$(gp_t "$id" 1 ckpt)" <<'PY' || fail "ledger wrong (above)"
import json, sys
job = json.load(open(sys.argv[1]))
t_stop, ck10 = int(sys.argv[2]), int(sys.argv[3])
g, a1 = job["goodput"], job["attempts"][0]
bad = []
def near(what, got, want, tol):
    if abs(got - want) > tol:
        bad.append("%s: %s, expected %s +- %s" % (what, got, want, tol))
inc = g["incidents"]
if len(inc) != 1 or inc[0]["cause"] != "hang":
    sys.exit("incidents: %s" % inc)
i = inc[0]
# the last beat: sent (curl in the background) just before the step's
# line the test waits for, so it lands up to a second before the stop or
# shortly after it; its second is reckoned back from the detection and
# may round up by one
near("failed_at", i["failed_at"], t_stop - 0.5, 1.5)
near("lost", g["lost_s"], i["failed_at"] - ck10, 1)
# silent for heartbeat_timeout (5 s), then polled (1 s), killed, ended by
# Slurm and decided after a final scan: 5 to 12 s
near("detection", i["recovery"]["detect_s"], 8.5, 3.5)
near("sum of buckets", sum(g[k] for k in ("queue_s", "startup_s",
     "productive_s", "lost_s", "recovery_s", "ckpt_stall_s")),
     g["wall_s"], 0)
if a1["ended_at"] <= i["failed_at"] + 4:
    bad.append("attempt ended %s, failed_at %s: not before the end" %
               (a1["ended_at"], i["failed_at"]))
if bad:
    print("\n".join("    " + b for b in bad))
    sys.exit(1)
PY
}

# The site's goodput_alert: a job whose ETTR is below it at a decision gets
# one "goodput" event, delivered as the "goodput" notification.
test_goodput_alert() {
	local p=$((HB_PORT + 7)) id i
	rm -f "$SHARED"/hook-gp.log*
	touch "$SHARED/hook-gp.log"
	chown "$TEST_USER" "$SHARED/hook-gp.log"
	# (hook.py writes its pid beside the log)
	as_user "$TEST_USER" python3 "$TOP/tests/e2e/hook.py" ok "$p" "$SHARED/hook-gp.log" &
	trap 'kill "$(cat "$SHARED/hook-gp.log.pid")" 2>/dev/null; daemon_conf; kill -HUP "$(cat "$E2E_DIR/llmctld.pid")"' EXIT
	daemon_conf
	printf '%s\n' "goodput_alert: 90" "goodput_alert_after: 1" \
	    "webhook_url: http://127.0.0.1:$p/gp" >> "$E2E_DIR/llmctld.conf"
	kill -HUP "$(cat "$E2E_DIR/llmctld.pid")"
	sleep 0.5
	# fails at once, twice: hardly any progress, ETTR far below 90%; one event
	id=$(usubmit "$(spec gpalert 1 0 '"exit 3"' "recovery:
  max_restarts: 1
  backoff: 1s")")
	wait_state "$id" FAILED 90
	[ "$(llmctl events "$id" | grep -c ' goodput ')" = 1 ] ||
	    fail "not one goodput event: $(llmctl events "$id")"
	llmctl events "$id" | grep ' goodput ' | grep -q "ETTR [0-9.]*% is below goodput_alert 90%" ||
	    fail "goodput event: $(llmctl events "$id")"
	for i in $(seq 40); do
		grep -q "\"event\": \"goodput\", \"job_id\": $id," "$SHARED/hook-gp.log" && break
		sleep 0.25
	done
	grep -q "\"event\": \"goodput\", \"job_id\": $id," "$SHARED/hook-gp.log" ||
	    fail "no goodput notification: $(cat "$SHARED/hook-gp.log")"
}
