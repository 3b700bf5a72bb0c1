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

tmp=$(mktemp -d /tmp/llmctl-metrics.XXXXXX) || exit 1
chmod 755 "$tmp" # nobody must reach the socket
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
sock=$tmp/llmctld.sock

died() {
	echo "FAIL: $1"
	sed 's/^/  llmctld: /' "$tmp/llmctld.log" | tail -n 20
	exit 1
}

# start POLL: heartbeats on a port that was free a moment ago; ready once
# llmctl gets an answer and the cluster is loaded; 1 if llmctld exited
start() {
	port=$("$PY" -c "import socket
s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
	printf '%s\n' "socket: $sock" "database: $tmp/state/llmctld.db" \
	    "state_dir: $tmp/state" "backend: fake" "poll_interval: $1" \
	    "log_level: debug" "heartbeat_listen: 127.0.0.1:$port" \
	    >"$tmp/llmctld.conf"
	"$LLMCTLD" -d -f "$tmp/llmctld.conf" >>"$tmp/llmctld.log" 2>&1 &
	pid=$!
	i=0
	until [ -S "$sock" ] &&
	    LLMCTL_SOCKET=$sock "$LLMCTL" nodes >/dev/null 2>&1; do
		i=$((i + 1))
		kill -0 "$pid" 2>/dev/null || { pid=; return 1; }
		[ $i -gt 100 ] && died "llmctld did not start in 10s"
		sleep 0.1
	done
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
