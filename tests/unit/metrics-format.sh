#!/bin/sh
# The metrics test: the real llmctld with the fake backend serves GET
# /metrics (TCP) and GET /v1/metrics (Unix socket); metrics_format.py parses
# both as Prometheus would, checks the naming conventions and asserts the
# series after two submits and a cancel; then, llmctld stopped, it rewrites
# job 2 into a failed-then-restarted running job with a checkpoint and a
# failed node, and checks the counters, histograms and per-job series the
# restarted llmctld computes from the store. As root it also asks as
# nobody, who must see no series of root's jobs.
# Runs from the build directory (make check); needs /usr/bin/python3.
top_build=$(pwd)
top_src=$(cd "${srcdir:-.}" && pwd)
LLMCTL=${LLMCTL:-$top_build/cli/llmctl}
LLMCTLD=${LLMCTLD:-$top_build/daemon/llmctld}
PY=/usr/bin/python3
CHECK=$top_src/tests/unit/metrics_format.py
[ -x "$PY" ] || { echo "SKIP: $PY not found"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: asks as nobody, needs root"; exit 77; }
[ -x "$LLMCTL" ] || { echo "FAIL: $LLMCTL not built"; exit 1; }
[ -x "$LLMCTLD" ] || { echo "FAIL: $LLMCTLD not built"; exit 1; }

. "$top_src/tests/unit/daemon-lib.sh"
daemon_tmp metrics
chmod 755 "$tmp" # nobody must reach the socket

# start POLL: heartbeats on a port that was free a moment ago; ready once
# llmctl gets an answer and the cluster is loaded; 1 if llmctld exited
start() {
	port=$(free_port)
	printf '%s\n' "socket: $sock" "database: $tmp/state/llmctld.db" \
	    "state_dir: $tmp/state" "backend: fake" "poll_interval: $1" \
	    "log_level: debug" "heartbeat_listen: 127.0.0.1:$port" \
	    >"$tmp/llmctld.conf"
	"$LLMCTLD" -d -f "$tmp/llmctld.conf" >>"$tmp/llmctld.log" 2>&1 &
	pid=$!
	daemon_wait nodes
}
stop() {
	kill "$pid" && wait "$pid"
	pid=
}

start 1 || start 1 || start 1 || died "llmctld exited"
for n in 1 2; do
	(cd "$tmp" && LLMCTL_SOCKET=$sock "$LLMCTL" submit \
	    "$top_src/conf/examples/hybrid.yaml" >/dev/null) ||
	    died "llmctl submit failed"
done
LLMCTL_SOCKET=$sock "$LLMCTL" cancel 1 >/dev/null || died "cancel failed"
# two polls, so the cancel is seen and every op has run
sleep 2.5
"$PY" "$CHECK" phase1 "$sock" "$port" || died "phase 1"

stop
now=$(date +%s)
"$PY" "$CHECK" fabricate "$tmp/state/llmctld.db" "$now" || died "fabricate"
# a long poll interval: the fabricated attempt is not lost before the scrape
start 300 || start 300 || start 300 || died "llmctld exited on restart"
"$PY" "$CHECK" phase2 "$sock" "$port" "$now" || died "phase 2"
kill -0 "$pid" 2>/dev/null || died "llmctld died during the test"
