#!/bin/sh
# The contract test: fake_llmctld.py, which cli-fake.sh drives llmctl
# against, must answer in the shapes the real llmctld answers in. Starts the
# real llmctld with the fake backend on a private socket, submits a job with
# llmctl, then api_contract.py asks both daemons every route llmctl uses and
# compares the replies key path by key path.
# Runs from the build directory (make check); needs /usr/bin/python3. As
# root it also checks the 403 reply, asking as nobody.
top_build=$(pwd)
top_src=$(cd "${srcdir:-.}" && pwd)
LLMCTL=${LLMCTL:-$top_build/cli/llmctl}
LLMCTLD=${LLMCTLD:-$top_build/daemon/llmctld}
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "SKIP: $PY not found"; exit 77; }
[ -x "$LLMCTL" ] || { echo "FAIL: $LLMCTL not built"; exit 1; }
[ -x "$LLMCTLD" ] || { echo "FAIL: $LLMCTLD not built"; exit 1; }

tmp=$(mktemp -d /tmp/llmctl-contract.XXXXXX) || exit 1
# the 403 check asks as nobody, who must reach the socket
chmod 755 "$tmp"
real_pid=
fake_pid=
cleanup() {
	[ -n "$real_pid" ] && kill "$real_pid" 2>/dev/null
	[ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null
	[ -n "$real_pid" ] && wait "$real_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
mkdir "$tmp/real" "$tmp/fake"

died() {
	echo "FAIL: $1"
	sed 's/^/  llmctld: /' "$tmp/real/llmctld.log" | tail -n 20
	exit 1
}

# --- the fake daemon ---------------------------------------------------------
fsock=$tmp/fake/llmctld.sock
"$PY" "$top_src/tests/unit/fake_llmctld.py" "$fsock" "$tmp/fake/requests.log" \
    "$tmp/fake/ready" &
fake_pid=$!
# its logs route reads these
mkdir -p "$tmp/fake/logs/13/2"
printf 'step 1\nstep 2\nstep 3\n' >"$tmp/fake/logs/13/2/rank-0.out"

# --- the real daemon, fake backend (4 nodes x 8 GPUs, never runs a job) ----
sock=$tmp/real/llmctld.sock
# start_real: heartbeats on a port that was free a moment ago; ready once
# llmctl gets an answer and the cluster is loaded (GET /v1/nodes); 1 if
# llmctld exited (another process took the port, say)
start_real() {
	port=$("$PY" -c "import socket
s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
	printf '%s\n' "socket: $sock" \
	    "database: $tmp/real/state/llmctld.db" \
	    "state_dir: $tmp/real/state" "backend: fake" "poll_interval: 1" \
	    "log_level: debug" "heartbeat_listen: 127.0.0.1:$port" \
	    >"$tmp/real/llmctld.conf"
	"$LLMCTLD" -d -f "$tmp/real/llmctld.conf" >"$tmp/real/llmctld.log" \
	    2>&1 &
	real_pid=$!
	i=0
	until [ -S "$sock" ] &&
	    LLMCTL_SOCKET=$sock "$LLMCTL" nodes >/dev/null 2>&1; do
		i=$((i + 1))
		kill -0 "$real_pid" 2>/dev/null || { real_pid=; return 1; }
		[ $i -gt 100 ] && died "llmctld did not start in 10s"
		sleep 0.1
	done
}
start_real || start_real || start_real || died "llmctld exited"

i=0
until [ -e "$tmp/fake/ready" ]; do
	i=$((i + 1))
	kill -0 "$fake_pid" 2>/dev/null || died "fake_llmctld.py exited"
	[ $i -gt 100 ] && died "fake_llmctld.py did not start in 10s"
	sleep 0.1
done
fport=$(cat "$tmp/fake/ready")

# --- a job through the real llmctl -----------------------------------------
if ! job=$(cd "$tmp" && LLMCTL_SOCKET=$sock "$LLMCTL" submit \
    "$top_src/conf/examples/hybrid.yaml" 2>"$tmp/err"); then
	cat "$tmp/err"
	died "llmctl submit failed"
fi
case $job in
''|*[!0-9]*) died "llmctl submit printed no job id: $job" ;;
esac

"$PY" "$top_src/tests/unit/api_contract.py" "$sock" "$port" \
    "$tmp/real/state/llmctld.db" "$fsock" "$fport" "$job"
rc=$?
kill -0 "$real_pid" 2>/dev/null || died "llmctld died during the test"
[ $rc = 0 ] || sed 's/^/  llmctld: /' "$tmp/real/llmctld.log" | tail -n 5
exit $rc
