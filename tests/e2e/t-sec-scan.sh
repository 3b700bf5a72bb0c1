# t-sec-scan: one user's checkpoint scan must not stall another user's
# recovery (issue 9, part 5). $TEST_USER attacks through its own scans,
# which run as it and so are its to stop or to feed a slow file; the jobs of
# $TEST_USER2 must be decided as if nothing happened. The daemon runs with
# scan_timeout: 5 (lib.sh).

SCAN_TIMEOUT=5

# sspec NAME COMMAND: a job with checkpoints in $SHARED/ck-NAME, no restarts.
sspec() {
	local f=$E2E_DIR/$1.yaml
	rm -rf "$SHARED/ck-$1"
	cat > "$f" <<SPEC
version: 1
name: $1
command: $2
workdir: $SHARED
resources:
  nodes: 1
  gpus_per_node: 1
checkpoint:
  dir: $SHARED/ck-$1
recovery:
  max_restarts: 0
SPEC
	chmod 644 "$f"
	echo "$f"
}

# usubmit as the bystander (ullmctl reads $TEST_USER when called)
u2submit() {
	TEST_USER=$TEST_USER2 usubmit "$1"
}

# The bystander: a verified checkpoint, two seconds of work, success.
# Prints the seconds from submission to COMPLETED.
bystander() {
	local id t0 t1
	cat > "$SHARED/bystander.sh" <<'SH'
#!/bin/sh
c=$LLMCTL_CHECKPOINT_DIR/step_1
mkdir -p "$c" && echo weights > "$c/model.pt"
(cd "$c" && sha256sum model.pt > MANIFEST.sha256)
sleep 2
SH
	chmod 755 "$SHARED/bystander.sh"
	t0=$(date +%s)
	id=$(u2submit "$(sspec "$1" "$SHARED/bystander.sh")")
	wait_state "$id" COMPLETED "$2" >&2 || return 1
	t1=$(date +%s)
	u2llmctl checkpoints -o json "$id" | python3 -c '
import json, sys
c = json.load(sys.stdin)["checkpoints"]
assert len(c) == 1 and c[0]["verified"] and c[0]["problem"] is None, c' ||
	    { fail "bystander's checkpoint: $(u2llmctl checkpoints "$id")"; return 1; }
	echo $((t1 - t0))
}

# attacker_script GIB SECONDS stop|wait DAEMON_PID TAG: step_1 lists a
# sparse file of GIB GiB (minutes to hash); for SECONDS, with "stop", every
# child of DAEMON_PID running as us (its scans) is stopped; then the time it
# ended goes to $SHARED/ended-TAG and it exits 0.
attacker_script() {
	cat > "$SHARED/attacker.sh" <<SH
#!/bin/sh
c=\$LLMCTL_CHECKPOINT_DIR/step_1
mkdir -p "\$c" && truncate -s ${1}G "\$c/big"
echo "0000000000000000000000000000000000000000000000000000000000000000  big" > "\$c/MANIFEST.sha256"
end=\$((\$(date +%s) + $2))
while [ "\$(date +%s)" -lt "\$end" ]; do
	if [ "$3" = stop ]; then
		for p in \$(pgrep -u "\$(id -u)" -P $4); do
			kill -STOP "\$p" && echo "stopped \$p"
		done
	fi
	sleep 0.1
done
date +%s > "\$LLMCTL_CHECKPOINT_DIR/../ended-$5"
SH
	chmod 755 "$SHARED/attacker.sh"
}

# attacker_decided ID NAME: the attacker's job completes within the deadline
# (and slack) of its command's end, and its user sees step_1 unverified,
# with the reason.
attacker_decided() {
	local done_at ended
	wait_state "$1" COMPLETED 90
	done_at=$(date +%s)
	ended=$(cat "$SHARED/ended-$2")
	echo "    attacker's job decided $((done_at - ended)) s after its command ended"
	[ $((done_at - ended)) -le $((SCAN_TIMEOUT + 10)) ] ||
	    fail "attacker's decision took $((done_at - ended)) s"
	ullmctl checkpoints -o json "$1" | python3 -c '
import json, sys
c = json.load(sys.stdin)["checkpoints"]
assert len(c) == 1, c
assert c[0]["state"] == "unverified", c
assert c[0]["problem"] == "scan timed out after %s s" % sys.argv[1], c
' "$SCAN_TIMEOUT" || fail "attacker's checkpoints: $(ullmctl checkpoints "$1")"
}

# (a) The attacker SIGSTOPs its own scan child for 40 s. The bystander's
#     job is decided without waiting for it, and the attacker's own job is
#     decided within the deadline, its entry unverified with the reason.
test_98_sec_scan_sigstop() {
	local atk dpid took i
	dpid=$(cat "$E2E_DIR/llmctld.pid")
	rm -f "$SHARED/ended-stop"
	attacker_script 20 40 stop "$dpid" stop
	atk=$(usubmit "$(sspec scanstop "$SHARED/attacker.sh")")
	for i in $(seq 120); do
		rank_log "$atk" 1 0 | grep -q "^stopped" && break
		sleep 0.25
	done
	rank_log "$atk" 1 0 | grep -q "^stopped" || fail "the attacker never stopped a scan"
	took=$(bystander bystop 60) || return 1
	echo "    bystander's job completed $took s after submission, attacker's scan stopped"
	# the stall lasts 40 s; without a deadline and a fair pool it waits it out
	[ "$took" -le 25 ] || fail "bystander took $took s (stall 40 s, deadline $SCAN_TIMEOUT s)"
	attacker_decided "$atk" stop
	llmctl events "$atk" | grep "step_1" | grep -q "scan timed out after $SCAN_TIMEOUT s" ||
	    fail "timeout not reported: $(llmctl events "$atk")"
}

# (b) A 20 GiB sparse file in a MANIFEST: the bystander is unaffected, and
#     the entry is hashed once, then "not hashed again: unchanged" on every
#     later scan while the attacker's job runs.
test_99_sec_scan_sparse_manifest() {
	local atk took n
	rm -f "$SHARED/ended-sparse"
	attacker_script 20 25 wait 0 sparse
	atk=$(usubmit "$(sspec scansparse "$SHARED/attacker.sh")")
	wait_state "$atk" RUNNING 60
	sleep 3
	took=$(bystander bysparse 60) || return 1
	echo "    bystander's job completed $took s after submission, next to a 20 GiB manifest entry"
	[ "$took" -le 25 ] || fail "bystander took $took s"
	attacker_decided "$atk" sparse
	# scans every 5 s for 25 s and one at the end: all but the first reuse it
	n=$(grep -c "job $atk: checkpoint $SHARED/ck-scansparse/step_1 not hashed again: unchanged (scan timed out after $SCAN_TIMEOUT s)" "$E2E_DIR/llmctld.log")
	echo "    later scans that did not hash the entry again: $n"
	[ "$n" -ge 2 ] || fail "the entry was hashed again ($n scans reused it)"
	n=$(llmctl events "$atk" | grep -c "scan timed out")
	[ "$n" = 1 ] || fail "$n timeout events, expected 1: $(llmctl events "$atk")"
}
