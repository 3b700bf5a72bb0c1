# t-multihost: the cluster whose nodes are separate hosts (issue 14,
# E2E_MULTIHOST=1): each slurmd in its own network and mount namespace,
# slurmctld and llmctld on the head (tests/cluster/README.md). These tests
# run only there; MULTIHOST_TESTS is what `E2E_MULTIHOST=1 tests/e2e/run`
# runs by default: these, plus the PyTorch, MPI and recovery tests, now
# with every address, port and file crossing hosts.

MULTIHOST_TESTS="test_mh_hosts test_mh_wildcard_listen test_mh_workdir_head_only test_b0_ddp_srun test_b1_ddp_torchrun
test_b2_hybrid test_b3_rank_map test_b4_ports test_b5_logs_follow test_b6_mpi
test_c1_kill_rank_resumes test_c2_sigstop_hang test_c3_node_failure
test_c4_preflight test_c5_bad_manifest test_c6_restart_budget
test_c7_timeout_continues test_c8_kill9_during_recovery test_c9_heartbeat_cli
test_mh_link_down test_nh1_straggler test_nh3_quarantine_probation
test_s1_spare_rank_kill test_s2_spare_node_failure"

mh_require() {
	[ -n "$E2E_MULTIHOST" ] || fail "runs only with E2E_MULTIHOST=1"
}

# node_addr NODE: the NodeAddr Slurm has for NODE.
mh_node_addr() {
	scontrol show node "$1" | sed -n 's/.*NodeAddr=\([^ ]*\).*/\1/p'
}

# A 2-node job as the test user shows what each rank sees: its own
# address (the NodeAddr), MASTER_ADDR = the first node's address, gloo and
# NCCL told the interface that reaches it, a heartbeat URL on the bridge
# (and heartbeats that arrive from both hosts), a /tmp and /var of its own,
# the shared workdir, and no route off the machine.
test_mh_hosts() {
	local dir=$SHARED/mh f id n0 r
	mh_require
	mkdir -p "$dir"
	chmod 1777 "$dir"
	cat > "$dir/probe.sh" <<'SH'
#!/bin/sh
out=$PROBE_DIR/rank-$RANK
addr=$(ip -o -4 addr show dev eth0 | awk '{ split($4, a, "/"); print a[1] }')
echo "private $RANK" > /tmp/mh-probe-$RANK
mkdir -p /var/tmp && echo "private $RANK" > /var/tmp/mh-probe-$RANK
sleep 2		# both ranks have written before either looks
{
	echo "node=$SLURMD_NODENAME addr=$addr master=$MASTER_ADDR"
	echo "gloo=${GLOO_SOCKET_IFNAME:-} nccl=${NCCL_SOCKET_IFNAME:-}"
	echo "hb=$LLMCTL_HEARTBEAT_URL"
	echo "tmp=$(ls /tmp | grep '^mh-probe-' | tr '\n' ' ')"
	echo "var=$(ls /var/tmp | grep '^mh-probe-' | tr '\n' ' ')"
	[ -e "$HEAD_ONLY" ] && echo "head_only=visible" || echo "head_only=hidden"
	ip route get 192.0.2.1 >/dev/null 2>&1 && echo "outside=routed" || echo "outside=unreachable"
} > "$out"
"$LLMCTL" heartbeat --step "$((RANK + 1))" && echo "heartbeat=ok" >> "$out"
SH
	chmod 755 "$dir/probe.sh"
	f=$(spec mh-hosts 2 1 "$dir/probe.sh" "env:
  PROBE_DIR: $dir
  HEAD_ONLY: $E2E_DIR/llmctld.conf
  LLMCTL: $LLMCTL_BIN
recovery:
  max_restarts: 0")
	id=$(usubmit "$f")
	wait_state "$id" COMPLETED 90
	n0=$(scontrol show hostnames "$(attempt_field "$id" 1 nodes)" | head -1)
	for r in 0 1; do
		sed "s/^/    rank $r: /" "$dir/rank-$r" 2>/dev/null || fail "rank $r wrote nothing"
	done
	"$TORCH_PY" - "$dir" "$(mh_node_addr "$n0")" "$HB_ADDR" \
	    "$(mh_node_addr n1) $(mh_node_addr n2) $(mh_node_addr n3) $(mh_node_addr n4)" <<'PY' ||
import sys
d, master, hb, addrs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split()
bad, seen = [], set()
for r in (0, 1):
    kv = {}
    for word in open("%s/rank-%d" % (d, r)).read().split():
        k, _, v = word.partition("=")
        kv.setdefault(k, v)
    seen.add(kv.get("addr"))
    want = {"master": master, "gloo": "eth0", "nccl": "eth0",
            "tmp": "mh-probe-%d" % r, "var": "mh-probe-%d" % r,
            "head_only": "hidden", "outside": "unreachable", "heartbeat": "ok"}
    for k, v in want.items():
        if kv.get(k) != v:
            bad.append("rank %d: %s=%s, want %s" % (r, k, kv.get(k), v))
    if kv.get("addr") not in addrs:
        bad.append("rank %d: address %s is no node's NodeAddr %s" % (r, kv.get("addr"), addrs))
    if not kv.get("hb", "").startswith("http://%s:" % hb):
        bad.append("rank %d: heartbeat URL %s is not on the bridge (%s)" % (r, kv.get("hb"), hb))
if len(seen) != 2:
    bad.append("both ranks have address %s" % seen)
for b in bad:
    print("    " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
	    fail "ranks did not see separate hosts"
	# nothing a rank wrote to its /tmp or /var reached the head
	ls /tmp/mh-probe-* /var/tmp/mh-probe-* 2>/dev/null && fail "a node's private file is on the head"
	llmctl status -o json "$id" | "$TORCH_PY" -c '
import json, sys
h = json.load(sys.stdin)["heartbeat"]
assert h is not None and h["beats"] >= 2, h' ||
	    fail "heartbeats from the nodes not recorded: $(llmctl status -o json "$id" | grep -A4 heartbeat)"
}

# The shipped llmctld.conf listens on 0.0.0.0 without a heartbeat_url:
# ranks must be told the head node's name (which the nodes resolve), not
# http://0.0.0.0:..., which on a node is that node itself. llmctld runs
# with that listen address for this test only.
test_mh_wildcard_listen() {
	local f id r
	mh_require
	trap 'daemon_stop; daemon_start' EXIT	# back on the bridge address
	daemon_stop
	HB_ADDR=0.0.0.0 daemon_start
	# (sleep: a heartbeat counts once llmctld has seen the attempt run, c9)
	f=$(spec mh-wild 2 0 "echo \"hb=\$LLMCTL_HEARTBEAT_URL\"; sleep 3; $LLMCTL_BIN heartbeat --step 3 && sleep 3")
	id=$(usubmit "$f")
	wait_state "$id" COMPLETED 60
	for r in 0 1; do
		rank_log "$id" 1 "$r" | grep -qx "hb=http://$(hostname):$HB_PORT/v1/heartbeat" ||
		    fail "rank $r: $(rank_log "$id" 1 "$r")"
	done
	llmctl status -o json "$id" | "$TORCH_PY" -c '
import json, sys
h = json.load(sys.stdin)["heartbeat"]
assert h is not None and h["beats"] >= 2, h' ||
	    fail "heartbeats not recorded: $(llmctl status -o json "$id" | grep -A4 heartbeat)"
}

# A workdir that exists on the head node only (not shared): Slurm would
# start the ranks in /tmp and the job "complete" there; llmctl stops each
# rank with a message naming the node, and the job fails.
test_mh_workdir_head_only() {
	local dir=$E2E_DIR/head-only f id
	mh_require
	mkdir -p "$dir"
	chmod 1777 "$dir"
	f=$(spec mh-workdir 2 0 "touch ran-here")
	sed -i "s|^workdir: .*|workdir: $dir|" "$f"
	id=$(usubmit "$f")
	wait_state "$id" FAILED 60
	[ "$(job_field "$id" exit_code)" = 96 ] || fail "exit code $(job_field "$id" exit_code)"
	grep -q "llmctl: workdir $dir is not on node n[0-9]" "$E2E_DIR/state/logs/$id/1/launch.out" ||
	    fail "no message in launch.out: $(cat "$E2E_DIR/state/logs/$id/1/launch.out")"
	[ ! -e "$dir/ran-here" ] || fail "a rank ran in the head's $dir"
}

# A real network fault: the link of a node running a 2-node job goes down
# (the node and its slurmd stay up but reach nothing). Slurm declares the
# node dead, the attempt ends as node_failure, and the job continues on
# other nodes from its checkpoint. Then the link comes back and the node
# returns to service.
test_mh_link_down() {
	local id nodes victim t0 t1 ck
	mh_require
	id=$(usubmit "$(rspec linkdown 2 "$TRAINER --steps 200 --checkpoint-every 5 --sleep 0.5")")
	wait_log "$id" 1 0 "checkpoint step=5" 60
	nodes=$(attempt_field "$id" 1 nodes)
	victim=$(scontrol show hostnames "$nodes" | tail -1)
	trap "'$CLUSTER' link-up '$E2E_DIR/cluster' $victim 2>/dev/null" EXIT
	t0=$(date +%s)
	"$CLUSTER" link-down "$E2E_DIR/cluster" "$victim" 2>/dev/null
	for _ in $(seq 120); do
		[ -n "$(attempt_field "$id" 1 ended_at)" ] && break
		sleep 1
	done
	t1=$(date +%s)
	echo "    link of $victim down -> attempt 1 ended after $((t1 - t0)) s ($(attempt_field "$id" 1 reason))"
	[ "$(attempt_field "$id" 1 cause)" = node_failure ] || fail "cause '$(attempt_field "$id" 1 cause)'"
	wait_state "$id" RUNNING 90
	scontrol show hostnames "$(attempt_field "$id" 2 nodes)" | grep -qx "$victim" &&
	    fail "attempt 2 runs on $victim again"
	wait_log "$id" 2 0 "^resumed from step" 60
	ck=$(rank_log "$id" 2 0 | sed -n 's/^resumed from step \([0-9]*\).*/\1/p')
	[ -n "$ck" ] && [ "$ck" -ge 5 ] || fail "attempt 2 did not resume from a checkpoint >= 5: '$ck'"
	wait_log "$id" 2 1 "rank 1 step $((ck + 2))" 60
	echo "    attempt 2 on $(attempt_field "$id" 2 nodes) resumed from step $ck, $(($(date +%s) - t0)) s after the fault"
	# attempt 1's rank on the cut-off node still ran (Slurm cannot reach
	# it): llmctld's fence stopped it, so it no longer trains beside
	# attempt 2 (its log, on the shared state_dir, stops growing)
	assert_fenced "$id" 1 1 "$victim"
	llmctl cancel "$id" >/dev/null
	"$CLUSTER" link-up "$E2E_DIR/cluster" "$victim" 2>/dev/null
	# ReturnToService=2: the node is idle again once slurmctld reaches it
	for _ in $(seq 120); do
		case $(sinfo -h -N -n "$victim" -o %t) in idle|mix|alloc) break ;; esac
		scontrol update nodename="$victim" state=resume 2>/dev/null || true
		sleep 0.5
	done
	case $(sinfo -h -N -n "$victim" -o %t) in idle|mix|alloc) ;; *)
		fail "$victim did not return after its link came back: $(sinfo -h -N -n "$victim" -o %t)" ;;
	esac
}

