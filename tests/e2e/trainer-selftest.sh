#!/bin/bash
# trainer-selftest: run the example trainers (conf/examples/train_ddp.py,
# train_hybrid.py, train_shell.sh) locally, without Slurm or llmctld, under torchrun with the
# gloo backend on CPU, and check what they print and write.
#   tests/e2e/trainer-selftest.sh        (needs Debian's python3-torch)
# Ends with "trainer-selftest: N passed, N failed"; exit 0 only if none failed.
#
# torchrun notes for Debian 12's torch 1.13 on Python 3.11:
#  - options are spelled with underscores (--nproc_per_node, --master_port);
#  - its default --redirects/--tee "0" crash on Python 3.11 (IntFlag iteration
#    changed), so pass "--redirects 2 --tee 2": stdout stays untouched,
#    stderr is teed through a log file;
#  - we use the static rendezvous (--master_addr/--master_port on a free
#    port), as llmctl's torchrun launcher does, not --standalone (fixed 29400).
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
PY=${PYTHON:-/usr/bin/python3}
EX=$TOP/conf/examples
W=$(mktemp -d /tmp/trainer-selftest.XXXXXX)
PASSED=0 FAILED=0 HB_PID=
trap 'cleanup' EXIT
cleanup() {
	[ -n "$HB_PID" ] && kill "$HB_PID" 2>/dev/null
	[ -n "${KEEP:-}" ] && echo "kept $W" || rm -rf "$W"
}
unset LLMCTL_CHECKPOINT_DIR LLMCTL_RESUME_FROM LLMCTL_RESUME_STEP \
    LLMCTL_HEARTBEAT_URL LLMCTL_HEARTBEAT_TOKEN LLMCTL_TP_SIZE LLMCTL_PP_SIZE \
    LLMCTL_DP_SIZE LLMCTL_TP_RANK LLMCTL_PP_RANK LLMCTL_DP_RANK LLMCTL_ATTEMPT \
    RANK WORLD_SIZE LOCAL_RANK MASTER_ADDR MASTER_PORT SLURMD_NODENAME

ok() { PASSED=$((PASSED + 1)); echo "  ok   $*"; }
no() { FAILED=$((FAILED + 1)); echo "  FAIL $*"; }
check() { # check "description" command...
	local what=$1; shift
	if "$@"; then ok "$what"; else no "$what"; fi
}
free_port() {
	"$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# torchrun N OUT ARGS...: run N local ranks; stdout+stderr to OUT; returns rc
torchrun() {
	local n=$1 out=$2; shift 2
	"$PY" -m torch.distributed.run --nnodes 1 --node_rank 0 --nproc_per_node "$n" \
	    --master_addr 127.0.0.1 --master_port "$(free_port)" \
	    --redirects 2 --tee 2 --monitor_interval 0.5 --log_dir "$W/torchrun-logs" "$@" > "$out" 2>&1
}
# wait_for FILE REGEX SECONDS
wait_for() {
	local i
	for i in $(seq $(($3 * 10))); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
pid_of_rank() { sed -n "s/^rank $2\/.* pid=\([0-9]*\)$/\1/p" "$1" | head -1; }
same_checksum() { # every one of N ranks printed the same final checksum
	[ "$(grep -c '^final rank=' "$1")" = "$2" ] &&
	    [ "$(grep '^final rank=' "$1" | sed 's/.*checksum=\([^ ]*\).*/\1/' | sort -u | wc -l)" = 1 ]
}
checksum() { grep -m1 '^final rank=' "$1" | sed 's/.*checksum=\([^ ]*\).*/\1/'; }
loss_decreases() { # every final line has loss_last < loss_first
	grep '^final rank=' "$1" | sed 's/.*loss_first=\([^ ]*\) loss_last=\([^ ]*\).*/\1 \2/' |
	    awk 'NF == 2 && $2 < $1 { n++ } END { exit !(n > 0 && n == NR) }'
}
valid_ckpt() { # DIR: COMPLETE present, MANIFEST lists model.pt and verifies
	[ -f "$1/COMPLETE" ] && grep -q '  model.pt$' "$1/MANIFEST.sha256" &&
	    (cd "$1" && sha256sum --quiet -c MANIFEST.sha256)
}
valid_ckpt_sh() {
	[ -f "$1/COMPLETE" ] && grep -q '  state$' "$1/MANIFEST.sha256" &&
	    (cd "$1" && sha256sum --quiet -c MANIFEST.sha256)
}
no_tmp_left() { ! ls -a "$1" | grep -q '^\.step_'; }

T0=$(date +%s)
echo "trainer-selftest: work dir $W, $PY"

# ---- 1. DDP, 4 ranks, checkpoints, heartbeats, SIGUSR1 --------------------
echo "DDP: 4 ranks, 20 steps, checkpoint every 10, heartbeats, SIGUSR1 (+$(($(date +%s) - T0))s)"
cat > "$W/hb.py" <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(sys.argv[1], "a") as f:
            f.write("%s %s %s\n" % (self.path, self.headers.get("Authorization"), body.decode()))
        self.send_response(204); self.end_headers()
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[2], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
"$PY" "$W/hb.py" "$W/beats" "$W/hb.port" & HB_PID=$!
wait_for "$W/hb.port" . 10
export LLMCTL_CHECKPOINT_DIR=$W/ckpt
export LLMCTL_HEARTBEAT_URL=http://127.0.0.1:$(cat "$W/hb.port")/v1/heartbeat
export LLMCTL_HEARTBEAT_TOKEN=tok-$RANDOM$RANDOM
torchrun 4 "$W/ddp1.out" "$EX/train_ddp.py" --steps 20 --checkpoint-every 10 --sleep 0.05 &
run=$!
if wait_for "$W/ddp1.out" '^rank 0 step 3 ' 120; then
	kill -USR1 "$(pid_of_rank "$W/ddp1.out" 2)"
fi
wait $run; rc=$?
check "ddp exits 0" [ $rc = 0 ]
check "ddp: 4 start lines with host, local_rank, tp/pp/dp, start_step=1" \
    [ "$(grep -cE '^rank [0-3]/4 host=[^ ]+ local_rank=[0-3] tp/pp/dp=1/1/4 start_step=1 pid=[0-9]+$' "$W/ddp1.out")" = 4 ]
check "ddp: every rank prints the same checksum" same_checksum "$W/ddp1.out" 4
check "ddp: loss_last < loss_first" loss_decreases "$W/ddp1.out"
for s in 10 20; do
	check "ddp: step_$s has COMPLETE and a valid MANIFEST.sha256" valid_ckpt "$W/ckpt/step_$s"
done
check "ddp: no .step_*.tmp left behind" no_tmp_left "$W/ckpt"
usr1=$(sed -n 's/^checkpoint step=\([0-9]*\) .*/\1/p' "$W/ddp1.out" | grep -vxE '10|20' | head -1)
check "ddp: SIGUSR1 to one rank made a checkpoint at step ${usr1:-?}" \
    eval '[ -n "$usr1" ] && grep -q "got SIGUSR1" "$W/ddp1.out" && valid_ckpt "$W/ckpt/step_$usr1"'
check "heartbeats: some arrived, all to /v1/heartbeat with the bearer token" \
    eval '[ -s "$W/beats" ] && ! grep -v "^/v1/heartbeat Bearer $LLMCTL_HEARTBEAT_TOKEN {" "$W/beats" | grep -q .'
check "heartbeats: from all 4 ranks, up to step 20" \
    eval '[ "$(grep -o "\"rank\": [0-9]" "$W/beats" | sort -u | wc -l)" = 4 ] && grep -q "\"step\": 20}" "$W/beats"'

# ---- 1b. the shell trainer (no torch), same contract ------------------------
echo "shell trainer: checkpoints, heartbeats, resume, SIGUSR1, SIGTERM (+$(($(date +%s) - T0))s)"
export LLMCTL_CHECKPOINT_DIR=$W/ckpt-sh LLMCTL_HEARTBEAT_TOKEN=sh-$RANDOM$RANDOM
"$EX/train_shell.sh" --steps 5 --checkpoint-every 2 --sleep 0.05 > "$W/sh1.out" 2>&1
rc=$?
check "shell: exit 0, step_2 step_4 step_5 complete and valid" \
    eval '[ $rc = 0 ] && valid_ckpt_sh "$W/ckpt-sh/step_2" && valid_ckpt_sh "$W/ckpt-sh/step_4" &&
          valid_ckpt_sh "$W/ckpt-sh/step_5" && grep -qx "final rank=0 step=5" "$W/sh1.out"'
sleep 1.5                               # beats are sent in the background
check "shell: heartbeats with the bearer token, up to step 5" \
    grep -q "^/v1/heartbeat Bearer $LLMCTL_HEARTBEAT_TOKEN {\"rank\": 0, \"step\": 5}$" "$W/beats"
LLMCTL_RESUME_FROM=$W/ckpt-sh/step_4 "$EX/train_shell.sh" --steps 6 --sleep 0.05 > "$W/sh2.out" 2>&1
rc=$?
check "shell: resume from step_4 starts at 5 and ends at 6" \
    eval '[ $rc = 0 ] && grep -q "start_step=5 " "$W/sh2.out" && grep -q "^resumed from step 4 " "$W/sh2.out" &&
          [ "$(grep -m1 "^rank 0 step " "$W/sh2.out")" = "rank 0 step 5" ]'
"$EX/train_shell.sh" --steps 1000 --sleep 0.2 > "$W/sh3.out" 2>&1 &
run=$!
wait_for "$W/sh3.out" '^rank 0 step 2$' 20 && kill -USR1 $run &&
    wait_for "$W/sh3.out" '^checkpoint step=' 20 && kill -TERM $run
wait $run; rc=$?
check "shell: SIGUSR1 checkpoints, SIGTERM stops with 143" \
    eval '[ $rc = 143 ] && grep -q "^rank 0 stopped at step [0-9]* (SIGTERM)$" "$W/sh3.out" &&
          valid_ckpt_sh "$W/ckpt-sh/step_$(sed -n "s/^checkpoint step=\([0-9]*\) .*/\1/p" "$W/sh3.out")"'
kill "$HB_PID" 2>/dev/null; wait "$HB_PID" 2>/dev/null; HB_PID=

# ---- 2. DDP resume ---------------------------------------------------------
unset LLMCTL_HEARTBEAT_URL LLMCTL_HEARTBEAT_TOKEN
export LLMCTL_CHECKPOINT_DIR=$W/ckpt     # step_10 and step_20 get replaced
from=${usr1:-10}
echo "DDP: resume from step_$from, with no heartbeat endpoint (+$(($(date +%s) - T0))s)"
LLMCTL_RESUME_FROM=$W/ckpt/step_$from torchrun 4 "$W/ddp2.out" "$EX/train_ddp.py" --steps 20 --checkpoint-every 10
rc=$?
check "resume exits 0" [ $rc = 0 ]
check "resume: every rank starts at step $((from + 1)) and says so" \
    eval '[ "$(grep -c "start_step=$((from + 1)) " "$W/ddp2.out")" = 4 ] &&
          [ "$(grep -c "^resumed from step $from " "$W/ddp2.out")" = 4 ]'
check "resume: first step run is $((from + 1))" \
    eval '[ "$(grep -m1 "^rank 0 step " "$W/ddp2.out" | cut -d" " -f4)" = $((from + 1)) ]'
check "resume: replaced step_20 is complete and valid" \
    eval 'grep -qx "replacing existing step_20" "$W/ddp2.out" && valid_ckpt "$W/ckpt/step_20" && no_tmp_left "$W/ckpt"'
check "resume: same final checksum as the uninterrupted run ($(checksum "$W/ddp1.out"))" \
    eval 'same_checksum "$W/ddp2.out" 4 && [ "$(checksum "$W/ddp2.out")" = "$(checksum "$W/ddp1.out")" ]'

# ---- 3. SIGTERM and --fail-at-step ----------------------------------------
echo "DDP: SIGTERM to one of 2 ranks; then --fail-at-step alone (no launcher) (+$(($(date +%s) - T0))s)"
export LLMCTL_CHECKPOINT_DIR=$W/ckpt3
torchrun 2 "$W/ddp3.out" "$EX/train_ddp.py" --steps 200 --sleep 0.1 &
run=$!
wait_for "$W/ddp3.out" '^rank 1 step 2 ' 120 && kill -TERM "$(pid_of_rank "$W/ddp3.out" 1)"
wait $run; rc=$?
stop=$(sed -n 's/^rank 0 stopped at step \([0-9]*\) (SIGTERM)$/\1/p' "$W/ddp3.out")
check "sigterm: both ranks stop at the same step ($stop) and torchrun fails" \
    eval '[ $rc != 0 ] && [ -n "$stop" ] && grep -qx "rank 1 stopped at step $stop (SIGTERM)" "$W/ddp3.out"'
export LLMCTL_CHECKPOINT_DIR=$W/ckpt4
"$PY" "$EX/train_ddp.py" --steps 6 --checkpoint-every 2 --fail-at-step 5 > "$W/ddp4.out" 2>&1
rc=$?
check "fail-at-step: exit 1 at step 5, step_4 complete, nothing after" \
    eval '[ $rc = 1 ] && grep -q "^rank 0/1 .* start_step=1 " "$W/ddp4.out" &&
          grep -q "failing on purpose at step 5" "$W/ddp4.out" && valid_ckpt "$W/ckpt4/step_4" &&
          [ ! -e "$W/ckpt4/step_6" ]'
LLMCTL_RESUME_FROM=$W/ckpt4/step_4 "$PY" "$EX/train_ddp.py" --steps 6 --checkpoint-every 2 --fail-at-step 5 --fail-attempt 1 \
    > "$W/ddp5.out" 2>&1
rc=$?
check "fail-at-step --fail-attempt 1: attempt 1 (default) resumed at 5 fails again" [ $rc = 1 ]
LLMCTL_ATTEMPT=2 LLMCTL_RESUME_FROM=$W/ckpt4/step_4 "$PY" "$EX/train_ddp.py" --steps 6 --checkpoint-every 2 --fail-at-step 5 --fail-attempt 1 \
    > "$W/ddp6.out" 2>&1
rc=$?
check "fail-at-step --fail-attempt 1: attempt 2 completes from step 5" \
    eval '[ $rc = 0 ] && grep -q "start_step=5 " "$W/ddp6.out" && valid_ckpt "$W/ckpt4/step_6"'
unset LLMCTL_CHECKPOINT_DIR

# ---- 4. hybrid TP=2 x PP=2 x DP=2 ------------------------------------------
echo "hybrid: 8 ranks, TP=2 PP=2 DP=2 (+$(($(date +%s) - T0))s)"
# torchrun gives every process of a node the same environment, so llmctl's
# per-task LLMCTL_*_RANK (here those of rank 0) are wrong for the others.
LLMCTL_TP_RANK=0 LLMCTL_PP_RANK=0 LLMCTL_DP_RANK=0 \
LLMCTL_TP_SIZE=2 LLMCTL_PP_SIZE=2 LLMCTL_DP_SIZE=2 \
    torchrun 8 "$W/hyb.out" "$EX/train_hybrid.py" --steps 20
rc=$?
check "hybrid exits 0" [ $rc = 0 ]
coords_ok() {
	local r tp pp dp
	for r in 0 1 2 3 4 5 6 7; do
		tp=$((r % 2)) pp=$((r / 2 % 2)) dp=$((r / 4))
		grep -qE "^coords rank=$r tp=$tp pp=$pp dp=$dp host=[^ ]+ tp_group=\[$((r - tp)),$((r - tp + 1))\] pp_group=\[$((r - 2 * pp)),$((r - 2 * pp + 2))\] dp_group=\[$((r % 4)),$((r % 4 + 4))\]$" "$1" || return 1
	done
}
check "hybrid: coords of every rank follow rank = (dp*PP + pp)*TP + tp" coords_ok "$W/hyb.out"
for c in tp_allreduce tp_one_node pp_chain dp_allreduce dp_in_sync; do
	check "hybrid: check $c ok on all 8 ranks" [ "$(grep -cx "check $c ok" "$W/hyb.out")" = 8 ]
done
check "hybrid: under torchrun, LLMCTL_*_RANK reported as ignored where they differ" \
    eval '[ "$(grep -c "source=RANK (LLMCTL_\*_RANK=0/0/0 ignored under torchrun)$" "$W/hyb.out")" = 7 ]'
check "hybrid: 8 final lines, loss_last < loss_first" \
    eval '[ "$(grep -c "^final rank=" "$W/hyb.out")" = 8 ] && loss_decreases "$W/hyb.out"'

echo "hybrid: TP=1 PP=2 DP=2, 4 ranks started like llmctl's srun launcher (+$(($(date +%s) - T0))s)"
# One process per rank with the variables of docs/design.md section 3 (no
# torchrun), including LLMCTL_TP/PP/DP_RANK; TP=1 must compute exactly what TP=2 did.
srun_like() { # N OUT SCRIPT ARGS...: returns the highest exit status
	local n=$1 out=$2 port r pids= rc=0 TP=$LLMCTL_TP_SIZE PP=$LLMCTL_PP_SIZE
	shift 2
	port=$(free_port)
	for r in $(seq 0 $((n - 1))); do
		RANK=$r LOCAL_RANK=$r WORLD_SIZE=$n LOCAL_WORLD_SIZE=$n NODE_RANK=0 \
		    MASTER_ADDR=127.0.0.1 MASTER_PORT=$port LLMCTL_TP_RANK=$((r % TP)) \
		    LLMCTL_PP_RANK=$((r / TP % PP)) LLMCTL_DP_RANK=$((r / (TP * PP))) \
		    "$PY" "$@" >> "$out" 2>&1 &
		pids="$pids $!"
	done
	for r in $pids; do wait "$r" || rc=$?; done
	return $rc
}
export LLMCTL_TP_SIZE=1 LLMCTL_PP_SIZE=2 LLMCTL_DP_SIZE=2
srun_like 4 "$W/hyb1.out" "$EX/train_hybrid.py" --steps 20
rc=$?
check "hybrid srun-like: exit 0, LLMCTL_*_RANK agree with RANK on all 4 ranks" \
    eval '[ $rc = 0 ] && [ "$(grep -c "source=RANK, LLMCTL_\*_RANK agree$" "$W/hyb1.out")" = 4 ]'
loss_of() { grep -m1 '^final rank=0 ' "$1" | cut -d' ' -f3-; }
check "hybrid: TP=1 and TP=2 final losses agree ($(loss_of "$W/hyb.out"))" \
    eval '[ -n "$(loss_of "$W/hyb1.out")" ] && [ "$(loss_of "$W/hyb1.out")" = "$(loss_of "$W/hyb.out")" ]'

echo "hybrid: LLMCTL_*_RANK that contradict RANK (as if from a broken srun launch) (+$(($(date +%s) - T0))s)"
LLMCTL_TP_SIZE=1 LLMCTL_PP_SIZE=1 LLMCTL_DP_SIZE=1 LLMCTL_TP_RANK=0 LLMCTL_PP_RANK=0 LLMCTL_DP_RANK=1 \
    RANK=0 WORLD_SIZE=1 MASTER_ADDR=127.0.0.1 MASTER_PORT=$(free_port) \
    "$PY" "$EX/train_hybrid.py" > "$W/hyb2.out" 2>&1
rc=$?
check "hybrid: exit 2 with a clear message" \
    eval '[ $rc = 2 ] && grep -q "error: rank 0: LLMCTL_TP/PP/DP_RANK=0/0/1 but RANK=0" "$W/hyb2.out"'

if [ "$FAILED" != 0 ]; then
	for f in "$W"/*.out; do echo "==== $f"; tail -15 "$f"; done
fi
echo "trainer-selftest: took $(($(date +%s) - T0))s"
echo "trainer-selftest: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
