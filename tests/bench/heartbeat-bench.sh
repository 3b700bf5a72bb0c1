#!/bin/bash
# heartbeat-bench: the heartbeats one llmctld takes and what they cost it
# (issue 13: 16,000 beats/s, 16k ranks at 1 Hz, under 50% of one core,
# with keep-alive). llmctld runs on its fake backend with the TCP
# heartbeat listener; JOBS jobs of 4 nodes x 8 GPUs (world 32) are
# submitted and their heartbeat tokens taken from the fake
# (LLMCTLD_FAKE_TOKENS); tests/bench/beatgen offers RATE beats/s over
# kept-alive connections for DURATION s, round the JOBS x 32 ranks: first
# over CONNS connections, then over MANY, one per rank as the ranks of a
# big job hold them, PER_HOST from each address (127.1.0.1, ...: llmctld
# caps the connections per address). Prints beatgen's counts and latency
# and llmctld's CPU over each run. Then
# the same number of beats the way a shell script sends them, one
# `llmctl heartbeat` process each (the slow path), for comparison.
#   tests/bench/heartbeat-bench.sh [BUILD]        (default: _build)
# Env: JOBS (500), RATE (16000), DURATION (10) s, CONNS (16), MANY
# (16000), PER_HOST (8), SLOW (200) beats for the slow path, BENCH_DIR.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=$(cd "${1:-$TOP/_build}" && pwd)
DIR=${BENCH_DIR:-/tmp/llmctl-beat-bench}
JOBS=${JOBS:-500}
RATE=${RATE:-16000}
DURATION=${DURATION:-10}
CONNS=${CONNS:-16}
MANY=${MANY:-16000}
PER_HOST=${PER_HOST:-8}
SLOW=${SLOW:-200}
PORT=${PORT:-17611} # below the ephemeral range, where 16000 clients take ports

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
rm -rf "$DIR"
mkdir -p "$DIR/state"
cc -O2 -Wall -o "$DIR/beatgen" "$TOP/tests/bench/beatgen.c"
cat >"$DIR/d.conf" <<CONF
socket: $DIR/sock
database: $DIR/state/db
state_dir: $DIR/state
backend: fake
heartbeat_listen: 127.0.0.1:$PORT
master_port_count: 20000
log_level: warn
CONF
LLMCTLD_FAKE_TOKENS=$DIR/tokens "$B/daemon/llmctld" -d -f "$DIR/d.conf" \
    2>"$DIR/d.log" &
dpid=$!
trap 'kill $dpid 2>/dev/null' EXIT
for _ in $(seq 50); do [ -S "$DIR/sock" ] && break; sleep 0.1; done

python3 - "$DIR/sock" "$JOBS" <<'PY'
import http.client, json, socket, sys
path, jobs = sys.argv[1], int(sys.argv[2])
class Conn(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
spec = ("version: 1\nname: beat\ncommand: \"true\"\nworkdir: /tmp\n"
        "resources:\n  nodes: 4\n  gpus_per_node: 8\n")
c = Conn("llmctld")
for _ in range(jobs):
    c.request("POST", "/v1/jobs", json.dumps({"spec": spec}),
              {"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    assert r.status == 201, r.status
PY
for _ in $(seq 100); do
	[ "$(wc -l <"$DIR/tokens" 2>/dev/null || echo 0)" -ge "$JOBS" ] && break
	sleep 0.2
done
sleep 2 # a sweep registers every token
echo "== llmctld $(git -C "$TOP" log -1 --format=%h 2>/dev/null || echo ?), fake backend, $(nproc) cores: $JOBS jobs x 32 ranks = $((JOBS * 32)) ranks"
# run CONNS [PER_HOST]: beatgen's line and llmctld's CPU from the first
# beat to the last answer
run() {
	BEATGEN_PID=$dpid "$DIR/beatgen" 127.0.0.1 "$PORT" "$DIR/tokens" 32 \
	    "$RATE" "$DURATION" "$@" | sed "s/^process $dpid:/llmctld CPU:/"
}
run "$CONNS"
run "$MANY" "$PER_HOST"
sleep 2 # the MANY connections closed
rss=$(awk '/VmRSS/ {print $2}' "/proc/$dpid/status")
echo "llmctld RSS: $((rss / 1024)) MiB"

# the slow path: a process per beat, as a shell script's loop sends them
tok=$(head -1 "$DIR/tokens" | cut -d' ' -f1)
t0=$(date +%s%N)
for i in $(seq "$SLOW"); do
	LLMCTL_HEARTBEAT_URL=http://127.0.0.1:$PORT/v1/heartbeat \
	    LLMCTL_HEARTBEAT_TOKEN=$tok RANK=$((i % 32)) \
	    "$B/cli/llmctl" heartbeat --step "$i" >/dev/null
done
t1=$(date +%s%N)
awk -v n="$SLOW" -v ns=$((t1 - t0)) 'BEGIN {
	printf "llmctl heartbeat (a process per beat): %.0f beats/s\n", n / (ns / 1e9) }'
