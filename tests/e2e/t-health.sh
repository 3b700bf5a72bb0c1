# t-health: stragglers and node health shared across jobs (issue 16,
# sections 2 and 3), on the private cluster. Each test restarts llmctld
# with short windows and quarantines, and restores the default on exit.

HEALTH_TRAINER=$TOP/conf/examples/train_shell.sh

# health_daemon CONF_LINES: llmctld again, with these llmctld.conf lines.
health_daemon() {
	daemon_stop
	E2E_CONF_EXTRA=$1 daemon_start
	# under set -e: nothing in it may fail
	trap 'daemon_stop || true; E2E_CONF_EXTRA= daemon_start || true' EXIT
}

# health_events ID KIND: the messages of the job's events of that kind
health_events() {
	llmctl events -o json "$1" | python3 -c '
import json, sys
for e in json.load(sys.stdin)["events"]:
    if e["kind"] == sys.argv[1]:
        print(e["message"])' "$2"
}

# health_node NODE FIELD: a field of the node's record in llmctl nodes
health_node() {
	llmctl nodes -o json | python3 -c '
import json, sys
for r in json.load(sys.stdin)["health"]:
    if r["name"] == sys.argv[1]:
        v = r.get(sys.argv[2])
        print("" if v is None else v)' "$1" "$2"
}

# health_fresh NODE: clear what earlier tests left on NODE's record; print
# how many failures its log holds (a clear keeps them).
health_fresh() {
	llmctl nodes clear "$1" >/dev/null 2>&1 || true
	local n
	n=$(health_node "$1" failures_total)
	echo "${n:-0}"
}

# A rank made slow on purpose is flagged, by rank and node, in the job's
# events, in llmctl status and in the metrics; its fast peer is not.
test_nh1_straggler() {
	local id node t0 i msg
	health_daemon "straggler_factor: 1.5
straggler_window: 4"
	t0=$SECONDS
	id=$(usubmit "$(spec strag 2 1 "$HEALTH_TRAINER --steps 400 --sleep 0.25 --slow-rank 1 --slow-sleep 1")")
	wait_state "$id" RUNNING 60
	for i in $(seq 240); do
		msg=$(health_events "$id" straggler)
		[ -n "$msg" ] && break
		sleep 0.25
	done
	[ -n "$msg" ] || fail "no straggler event in 60 s: $(llmctl events "$id" | tail -5)"
	echo "    straggler flagged $((SECONDS - t0)) s after submit (window 4 s): $msg"
	node=$(llmctl status -o json "$id" | python3 -c '
import json, sys
print(json.load(sys.stdin)["attempts"][0]["plan"]["ranks"][1]["node"])')
	echo "$msg" | grep -q "^attempt 1: rank 1 on $node is a straggler: [0-9.]*x slower" ||
	    fail "event does not name rank 1 on $node: $msg"
	[ "$(echo "$msg" | wc -l)" = 1 ] || fail "more than rank 1 flagged: $msg"
	llmctl status "$id" | grep -Eq "^ *stragglers: +rank 1 on $node, [0-9.]+x its peers" ||
	    fail "status shows no straggler: $(llmctl status "$id")"
	curl -s "http://$HB_ADDR:$HB_PORT/metrics" | grep -q '^llmctld_stragglers_total [1-9]' ||
	    fail "llmctld_stragglers_total not counted"
	curl -s "http://$HB_ADDR:$HB_PORT/metrics" | grep -q '^llmctld_stragglers 1$' ||
	    fail "llmctld_stragglers gauge is not 1"
	llmctl cancel "$id" >/dev/null
}

# Ranks all equally slow: nobody is a straggler.
test_nh2_uniform_no_straggler() {
	local id i ranks=""
	health_daemon "straggler_factor: 1.5
straggler_window: 4"
	id=$(usubmit "$(spec uniform 2 1 "$HEALTH_TRAINER --steps 30 --sleep 0.6")")
	for i in $(seq 240); do
		ranks=$(llmctl status -o json "$id" | python3 -c '
import json, sys
h = json.load(sys.stdin).get("heartbeat") or {}
print(h.get("ranks", ""))')
		[ "$ranks" = 2 ] && break
		sleep 0.25
	done
	[ "$ranks" = 2 ] || fail "both ranks never beat"
	wait_state "$id" COMPLETED 120
	[ -z "$(health_events "$id" straggler)" ] ||
	    fail "a uniform job was flagged: $(health_events "$id" straggler)"
}

# hspec NAME NODE EXTRA: a 1-node job that can only run on NODE (every
# other node excluded), no restarts; EXTRA adds top-level lines.
hspec() {
	local others f=$E2E_DIR/$1.yaml
	others=$(scontrol show hostnames "$(sinfo -h -p debug -o %N)" | grep -vx "$2" | paste -sd,)
	cat > "$f" <<SPEC
version: 1
name: $1
command: $HEALTH_TRAINER --steps 2 --sleep 0.1
workdir: $SHARED
resources:
  nodes: 1
  gpus_per_node: 1
placement:
  exclude: $others
recovery:
  max_restarts: 0
  max_infra_restarts: 0
$3
SPEC
	chmod 644 "$f"
	echo "$f"
}

# hfail_job NAME NODE: such a job whose preflight fails on NODE: NODE is
# blamed (preflight_failed) and the job fails.
hfail_job() {
	cat > "$SHARED/hpf.sh" <<'SH'
#!/bin/sh
[ "$SLURMD_NODENAME" != "$HPF_BAD" ] || { echo "GPU 0 fell off the bus" >&2; exit 1; }
SH
	chmod 755 "$SHARED/hpf.sh"
	usubmit "$(hspec "$1" "$2" "env:
  HPF_BAD: $2
health:
  preflight: $SHARED/hpf.sh")"
}

# A node failing in two jobs is quarantined: the planner leaves it out (a
# job that can only run there waits), llmctl nodes shows it; after the
# quarantine the node is used again, on probation; a failure then
# quarantines it for twice as long; an admin clears it.
test_nh3_quarantine_probation() {
	local bad a b c d until left f0
	health_daemon "node_quarantine_score: 1.5
node_quarantine: 25s
node_probation: 120s"
	bad=$(e2e_node 3)
	f0=$(health_fresh "$bad")
	a=$(hfail_job hq-a "$bad")
	wait_state "$a" FAILED 90
	[ "$(attempt_field "$a" 1 cause)" = preflight_failed ] || fail "job a: cause $(attempt_field "$a" 1 cause)"
	[ "$(health_node "$bad" state)" = ok ] || fail "one failure quarantined $bad: $(llmctl nodes)"
	b=$(hfail_job hq-b "$bad")
	wait_state "$b" FAILED 90
	llmctl nodes > "$E2E_DIR/nodes.out"
	cat "$E2E_DIR/nodes.out" | sed -n '/^NODE/,$p' | sed 's/^/    /'
	grep -Eq "^$bad +quarantined +[12]\.[0-9]{2} +[0-9-]+ [0-9:]+ +$((f0 + 2)) +preflight_failed job $b\.1 " "$E2E_DIR/nodes.out" ||
	    fail "llmctl nodes does not show $bad quarantined by job $b"
	health_events "$b" node_quarantined | grep -q "node $bad quarantined for 25s" ||
	    fail "no node_quarantined event: $(llmctl events "$b")"
	until=$(health_node "$bad" until)
	# a job that fits only on the quarantined node waits for it
	c=$(usubmit "$(hspec hq-c "$bad")")
	sleep 5
	[ "$(job_field "$c" state)" = QUEUED ] ||
	    fail "job $c is $(job_field "$c" state) while $bad is quarantined"
	[ -z "$(attempt_field "$c" 1 nodes)" ] || fail "job $c was given $(attempt_field "$c" 1 nodes)"
	# then it runs there, after the quarantine, and the node is on probation
	wait_state "$c" COMPLETED 90
	[ "$(date +%s)" -ge "$until" ] || fail "job $c ran before the quarantine ended"
	[ "$(attempt_field "$c" 1 nodes)" = "$bad" ] || fail "job $c ran on $(attempt_field "$c" 1 nodes)"
	echo "    $bad quarantined until $(date -d @"$until" +%T); job $c waited and ran there at $(date -d @"$(attempt_field "$c" 1 started_at)" +%T)"
	[ "$(health_node "$bad" state)" = probation ] || fail "$bad is $(health_node "$bad" state), not on probation"
	# a failure on probation: quarantined again, twice as long
	d=$(hfail_job hq-d "$bad")
	wait_state "$d" FAILED 90
	[ "$(health_node "$bad" state)" = quarantined ] || fail "a failure on probation left $bad $(health_node "$bad" state)"
	[ "$(health_node "$bad" quarantines)" = 2 ] || fail "quarantines: $(health_node "$bad" quarantines)"
	health_events "$d" node_quarantined | grep -q "node $bad quarantined for 50s" ||
	    fail "second quarantine not 50s: $(health_events "$d" node_quarantined)"
	left=$(( $(health_node "$bad" until) - $(date +%s) ))
	[ "$left" -gt 25 ] || fail "second quarantine ends in $left s"
	# only an admin clears it
	ullmctl nodes clear "$bad" 2> "$E2E_DIR/clear.err" && fail "a user cleared $bad"
	grep -q "only root and the admin group clear nodes" "$E2E_DIR/clear.err" ||
	    fail "refusal: $(cat "$E2E_DIR/clear.err")"
	llmctl nodes clear "$bad" | grep -qx "cleared $bad: ok" || fail "clear did not print the new state"
	[ "$(health_node "$bad" state)" = ok ] || fail "$bad not ok after clear"
	[ "$(health_node "$bad" score)" = 0.0 ] || fail "score after clear: $(health_node "$bad" score)"
}

# With node_drain_score, a node whose score passes it is drained in Slurm
# with a reason, and resumed when an admin clears it.
test_nh4_drain_and_resume() {
	local a b i state reason f0
	health_daemon "node_quarantine_score: off
node_drain_score: 1.5"
	HD_BAD=$(e2e_node 4)
	local bad=$HD_BAD
	f0=$(health_fresh "$bad")
	# the trap runs under set -e, after the locals are gone
	trap 'scontrol update nodename="$HD_BAD" state=resume 2>/dev/null || true
daemon_stop || true; E2E_CONF_EXTRA= daemon_start || true' EXIT
	a=$(hfail_job hd-a "$bad")
	wait_state "$a" FAILED 90
	sleep 3
	sinfo -h -n "$bad" -o %T | grep -q drain && fail "$bad drained after one failure"
	b=$(hfail_job hd-b "$bad")
	wait_state "$b" FAILED 90
	for i in $(seq 40); do
		state=$(sinfo -h -n "$bad" -o %T)
		case $state in *drain*) break ;; esac
		sleep 0.5
	done
	reason=$(sinfo -h -n "$bad" -o %E)
	echo "    $bad in Slurm: $state, reason \"$reason\""
	case $state in *drain*) ;; *) fail "$bad not drained: $state" ;; esac
	echo "$reason" | grep -q "^llmctl: health score 2.0 after $((f0 + 2)) failures; llmctl nodes clear $bad resumes it" ||
	    fail "reason: $reason"
	[ "$(health_node "$bad" drained)" = True ] || fail "llmctl nodes does not say drained"
	llmctl nodes | grep -Eq "^$bad +ok,drained " || fail "table: $(llmctl nodes | grep "^$bad ")"
	llmctl nodes clear "$bad" >/dev/null || fail "clear failed"
	for i in $(seq 40); do
		state=$(sinfo -h -n "$bad" -o %T)
		case $state in *drain*) ;; *) break ;; esac
		sleep 0.5
	done
	case $state in *drain*) fail "$bad still $state after clear" ;; esac
	[ "$(health_node "$bad" drained)" = False ] || fail "still drained in the record"
}
