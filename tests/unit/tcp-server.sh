#!/bin/sh
# The TCP listener's own HTTP/1.1 server (daemon/server-tcp.c), spoken to
# in raw bytes by tcp_server.py: heartbeats with a good and a bad token,
# keep-alive, pipelining, a request a byte at a time, Expect:
# 100-continue, what it refuses (big heads and bodies, chunked, other
# methods, garbage, a bad URI) and the connections it closes (HTTP/1.0,
# Connection: close, the per-address cap, request_timeout); then llmctld
# must still be alive and take a heartbeat. The token comes from the fake
# backend (LLMCTLD_FAKE_TOKENS) once a job was submitted on the socket.
# Runs from the build directory (make check); needs /usr/bin/python3.
top_build=$(pwd)
top_src=$(cd "${srcdir:-.}" && pwd)
LLMCTL=${LLMCTL:-$top_build/cli/llmctl}
LLMCTLD=${LLMCTLD:-$top_build/daemon/llmctld}
PY=/usr/bin/python3
CHECK=$top_src/tests/unit/tcp_server.py
[ -x "$PY" ] || { echo "SKIP: $PY not found"; exit 77; }
[ -x "$LLMCTL" ] || { echo "FAIL: $LLMCTL not built"; exit 1; }
[ -x "$LLMCTLD" ] || { echo "FAIL: $LLMCTLD not built"; exit 1; }

. "$top_src/tests/unit/daemon-lib.sh"
daemon_tmp tcp

# start: heartbeats on a port that was free a moment ago; ready once
# llmctl gets an answer; 1 if llmctld exited (the port was taken)
start() {
	port=$(free_port)
	printf '%s\n' "socket: $sock" "database: $tmp/state/llmctld.db" \
	    "state_dir: $tmp/state" "backend: fake" "poll_interval: 1" \
	    "log_level: info" "heartbeat_listen: 127.0.0.1:$port" \
	    "max_connections_per_user: 8" "request_timeout: 2" \
	    >"$tmp/llmctld.conf"
	LLMCTLD_FAKE_TOKENS=$tmp/tokens "$LLMCTLD" -d -f "$tmp/llmctld.conf" \
	    >>"$tmp/llmctld.log" 2>&1 &
	pid=$!
	daemon_wait status
}

start || start || start || died "llmctld exited"
printf '%s\n' "version: 1" "name: beat" 'command: "true"' "workdir: $tmp" \
    "resources:" "  nodes: 4" "  gpus_per_node: 8" >"$tmp/beat.yaml"
(cd "$tmp" && LLMCTL_SOCKET=$sock "$LLMCTL" submit beat.yaml >/dev/null) ||
    died "llmctl submit failed"
i=0
until [ -s "$tmp/tokens" ]; do
	i=$((i + 1))
	[ $i -gt 100 ] && died "the fake backend wrote no token in 10s"
	sleep 0.1
done
"$PY" "$CHECK" "$port" "$(cut -d' ' -f1 "$tmp/tokens")" "$tmp/llmctld.log" ||
    died "tcp_server.py"
kill -0 "$pid" 2>/dev/null || died "llmctld died during the test"
