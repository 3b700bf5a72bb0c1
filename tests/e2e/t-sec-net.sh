# t-sec-net: issue 9 parts 3 and 6. One ordinary user (TEST_USER) floods
# the daemon's listeners; the other (TEST_USER2) must still be answered.
# The attack scripts are bounded by timeout and killed when a test ends.

FLOOD=$TOP/tests/e2e/flood.py

daemon_pid() {
	cat "$E2E_DIR/llmctld.pid"
}

# CPU ticks (user + system) the daemon has used.
daemon_ticks() {
	awk '{ print $14 + $15 }' "/proc/$(daemon_pid)/stat"
}

log_size() {
	stat -c %s "$E2E_DIR/llmctld.log"
}

# usage_start, then usage_stop sets CPU_PCT (of one core) and LOG_GROWTH
# (bytes) for the time between.
usage_start() {
	U_TICKS=$(daemon_ticks)
	U_SIZE=$(log_size)
	U_T0=$(date +%s%N)
}

usage_stop() {
	local ns=$(($(date +%s%N) - U_T0))
	CPU_PCT=$((($(daemon_ticks) - U_TICKS) * 100 * 1000000000 /
	    $(getconf CLK_TCK) / ns))
	LOG_GROWTH=$(($(log_size) - U_SIZE))
	[ "$LOG_GROWTH" -lt 1048576 ] ||
	    fail "the log grew by $LOG_GROWTH bytes in the flood"
}

# flood_start TARGET N SECONDS: TEST_USER holds N connections to TARGET.
flood_start() {
	rm -f "$E2E_DIR/flood.out" "$SHARED/flood.pid"
	as_user "$TEST_USER" env FLOOD_PIDFILE="$SHARED/flood.pid" \
	    timeout $(($3 + 20)) python3 "$FLOOD" hold "$1" "$2" "$3" \
	    > "$E2E_DIR/flood.out" 2>&1 &
	FLOOD_PID=$!
	trap flood_kill EXIT
}

# On any way out of the test: no flood may outlive it.
flood_kill() {
	local pid
	pid=$(cat "$SHARED/flood.pid" 2>/dev/null) &&
	    kill "$pid" 2>/dev/null || true
	kill "$FLOOD_PID" 2>/dev/null || true
	wait "$FLOOD_PID" 2>/dev/null || true
}

# daemon_start_with NOFILE [SETTING...]: llmctld with that many descriptors
# and these lines added to its configuration.
daemon_start_with() {
	local nofile=$1
	shift
	EXTRA_CONF=$(printf '%s\n' "$@")
	(
		ulimit -n "$nofile"
		eval "orig_$(declare -f daemon_conf)"
		daemon_conf() {
			orig_daemon_conf
			[ -z "$EXTRA_CONF" ] ||
			    echo "$EXTRA_CONF" >> "$E2E_DIR/llmctld.conf"
		}
		daemon_start
	)
}

flood_wait() {
	wait "$FLOOD_PID" || fail "flood script: $(cat "$E2E_DIR/flood.out")"
	trap - EXIT
}

# bystander_status N: N `llmctl status` as TEST_USER2, all must succeed;
# prints the 50th and 99th percentile latency.
bystander_status() {
	local i t0 t1 failed=0 ms=""
	: > "$E2E_DIR/bystander.err"
	for i in $(seq "$1"); do
		t0=$(date +%s%N)
		u2llmctl status > /dev/null 2>> "$E2E_DIR/bystander.err" ||
		    failed=$((failed + 1))
		t1=$(date +%s%N)
		ms="$ms $(((t1 - t0) / 1000000))"
	done
	echo "$ms" | tr ' ' '\n' | grep . | sort -n | awk -v n="$1" '
	    { v[NR] = $1 }
	    END { printf "    status under flood: p50 %d ms, p99 %d ms (%d runs)\n",
	        v[int(n * 0.5) + 1], v[int((n - 1) * 0.99) + 1], n }'
	[ "$failed" = 0 ] ||
	    fail "$failed of $1 status calls failed: $(cat "$E2E_DIR/bystander.err")"
}

# sec_flood TARGET [CHECK]: the flood of part 3 against one listener, with
# CHECK run while it lasts. llmctld gets the 1024 descriptors a service has
# without LimitNOFILE=, fewer than the attacker opens.
sec_flood() {
	local fds uid
	uid=$(id -u "$TEST_USER")
	daemon_stop
	daemon_start_with 1024
	usage_start
	flood_start "$1" 1500 20
	sleep 3
	# the attack is on: the daemon refuses the attacker's extra connections
	fds=$(ls "/proc/$(daemon_pid)/fd" | wc -l)
	bystander_status 30
	[ -n "${2:-}" ] && "$2"
	flood_wait
	usage_stop
	echo "    llmctld: $CPU_PCT% CPU, log +$LOG_GROWTH bytes, $fds fds," \
	    "attacker: $(cat "$E2E_DIR/flood.out") (open, closed by daemon)"
	[ "$fds" -lt 500 ] || fail "llmctld held $fds descriptors under the flood"
	# refusing costs CPU in proportion to how fast the attacker reconnects
	[ "$CPU_PCT" -lt 90 ] || fail "llmctld used $CPU_PCT% CPU under the flood"
	case $1 in
	unix:*) grep -q "uid $uid has 32 connections open" "$E2E_DIR/llmctld.log" ||
	    fail "no connection of uid $uid was refused: was there a flood?" ;;
	tcp:*) grep -q "127.0.0.1 has 32 connections open" "$E2E_DIR/llmctld.log" ||
	    fail "no TCP connection was refused: was there a flood?" ;;
	esac
	kill -0 "$(daemon_pid)" || fail "llmctld died"
	llmctl status > /dev/null || fail "status fails after the flood"
}

# /metrics from another loopback address: not the flooding one.
metrics_from_elsewhere() {
	curl -sf -m 5 --interface 127.0.0.2 -o /dev/null \
	    "http://127.0.0.1:$HB_PORT/metrics" ||
	    fail "/metrics from 127.0.0.2 failed under the flood from 127.0.0.1"
}

test_90_sec_fd_flood() {
	sec_flood "unix:$SOCK"
}

test_90_sec_fd_flood_tcp() {
	sec_flood "tcp:127.0.0.1:$HB_PORT" metrics_from_elsewhere
}

# Caps lifted, so the attacker's connections take every descriptor: the
# daemon must neither spin on accept() nor flood its log, and must serve
# again once the attacker lets go.
test_90_sec_emfile() {
	daemon_stop
	daemon_start_with 1024 "max_connections: 5000" \
	    "max_connections_per_user: 5000" "request_timeout: 60"
	usage_start
	flood_start "unix:$SOCK" 1500 15
	trap 'flood_kill; daemon_stop || true; daemon_start || true' EXIT
	flood_wait
	trap 'daemon_stop || true; daemon_start || true' EXIT
	usage_stop
	echo "    out of descriptors: llmctld $CPU_PCT% CPU, log +$LOG_GROWTH" \
	    "bytes, attacker: $(cat "$E2E_DIR/flood.out") (open, closed by daemon)"
	grep -q "accept: Too many open files" "$E2E_DIR/llmctld.log" ||
	    fail "llmctld never ran out of descriptors: was there a flood?"
	[ "$CPU_PCT" -lt 50 ] || fail "llmctld used $CPU_PCT% CPU out of descriptors"
	sleep 1
	u2llmctl status > /dev/null || fail "status fails after the flood"
}

# One header line every 2 s: closed at request_timeout (5 s), not kept.
test_91_sec_slowloris() {
	local t target
	for target in "unix:$SOCK" "tcp:127.0.0.1:$HB_PORT"; do
		t=$(as_user "$TEST_USER" timeout 30 python3 "$FLOOD" slow \
		    "$target" 2 20) || fail "slow client script failed"
		echo "    $target: slow client closed after $t s"
		[ "$t" != open ] || fail "$target: a slow client kept its connection for 20 s"
		[ "${t%.*}" -lt 8 ] || fail "$target: slow client closed after $t s"
		[ "${t%.*}" -ge 4 ] || fail "$target: closed after $t s, before the deadline"
	done
	u2llmctl status > /dev/null || fail "status failed"
}

# SIGHUP: alive, log_level applied, socket reported as needing a restart,
# a broken file changes nothing.
test_92_sec_sighup() {
	local conf=$E2E_DIR/llmctld.conf log=$E2E_DIR/llmctld.log pid before
	pid=$(daemon_pid)
	trap 'daemon_conf; kill -HUP $pid' EXIT
	before=$(grep -c 'GET /v1/jobs -> 200' "$log")
	u2llmctl status > /dev/null
	[ "$(grep -c 'GET /v1/jobs -> 200' "$log")" -gt "$before" ] ||
	    fail "no debug line for a request at log_level debug"

	sed -i "s/^log_level: debug/log_level: info/; s|^socket: .*|socket: $E2E_DIR/other.sock|" "$conf"
	kill -HUP "$pid"
	sleep 1
	kill -0 "$pid" || fail "llmctld died of SIGHUP"
	grep -q "reload: log_level changed, applied" "$log" || fail "log_level change not logged"
	grep -q "reload: socket changed, needs a restart" "$log" ||
	    fail "socket change not reported as needing a restart"
	before=$(grep -c 'GET /v1/jobs -> 200' "$log")
	u2llmctl status > /dev/null || fail "status on the old socket failed after reload"
	[ "$(grep -c 'GET /v1/jobs -> 200' "$log")" = "$before" ] ||
	    fail "still logging debug lines after log_level: info"

	echo "log_level: [broken" >> "$conf"
	kill -HUP "$pid"
	sleep 1
	kill -0 "$pid" || fail "llmctld died of a broken config on SIGHUP"
	grep -q "reload: keeping the running configuration" "$log" ||
	    fail "broken config not reported"
	u2llmctl status > /dev/null || fail "status failed after a broken reload"

	daemon_conf
	kill -HUP "$pid"
	sleep 1
	trap - EXIT
	before=$(grep -c 'GET /v1/jobs -> 200' "$log")
	u2llmctl status > /dev/null
	[ "$(grep -c 'GET /v1/jobs -> 200' "$log")" -gt "$before" ] ||
	    fail "log_level: debug not applied again"
}

# A newline in the spec's file name and in its job name does not start a
# line of its own in the daemon's log.
test_93_sec_log_forge() {
	local log=$E2E_DIR/llmctld.log body out
	body=$(python3 -c 'import json; print(json.dumps({
	    "spec": "version: 1\nname: \"x\\nFORGED-NAME llmctld: info: x\"\nresources:\n  nodes: four\n",
	    "file": "evil.yaml\nFORGED-FILE info: job 1: cancelled by root",
	    "workdir": "/tmp"}))')
	out=$(as_user "$TEST_USER" curl -s --unix-socket "$SOCK" -X POST \
	    http://localhost/v1/jobs -d "$body")
	echo "$out" | grep -q invalid_spec || fail "daemon said: $out"
	sleep 0.5
	grep -q 'evil.yaml\\nFORGED-FILE' "$log" || fail "the refused spec was not logged escaped"
	! grep -q '^FORGED' "$log" || fail "a client string forged a log line: $(grep '^FORGED' "$log")"
}
