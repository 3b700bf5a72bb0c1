# Sourced by the unit scripts that run a real llmctld on its fake backend
# (tcp-server.sh, metrics-format.sh): a scratch dir removed on exit with
# the daemon, a failure that shows the daemon's log, a free port, and the
# wait for the daemon to answer. Set LLMCTL, LLMCTLD and PY first; then
# `daemon_tmp NAME` sets tmp, sock and pid. What is not set yet gets the
# defaults of a run from the build directory (make check), and
# `daemon_need` skips without python3 and fails without llmctld.

top_build=${top_build:-$(pwd)}
top_src=${top_src:-$(cd "${srcdir:-.}" && pwd)}
LLMCTL=${LLMCTL:-$top_build/cli/llmctl}
LLMCTLD=${LLMCTLD:-$top_build/daemon/llmctld}
PY=${PY:-/usr/bin/python3}

daemon_need() {
	[ -x "$PY" ] || { echo "SKIP: $PY not found"; exit 77; }
	[ -x "$LLMCTLD" ] || { echo "FAIL: $LLMCTLD not built"; exit 1; }
}

daemon_tmp() {
	tmp=$(mktemp -d "/tmp/llmctl-$1.XXXXXX") || exit 1
	pid=
	sock=$tmp/llmctld.sock
	trap daemon_cleanup EXIT
	trap 'exit 1' INT TERM
}

daemon_cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}

died() {
	echo "FAIL: $1"
	sed 's/^/  llmctld: /' "$tmp/llmctld.log" | tail -n 20
	exit 1
}

# a TCP port of 127.0.0.1 that was free a moment ago
free_port() {
	"$PY" -c "import socket
s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"
}

# daemon_wait LLMCTL-ARGS...: until `llmctl ARGS` answers (10 s at most);
# 1 if llmctld ($pid) exited first (its port was taken, say)
daemon_wait() {
	i=0
	until [ -S "$sock" ] &&
	    LLMCTL_SOCKET=$sock "$LLMCTL" "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		kill -0 "$pid" 2>/dev/null || { pid=; return 1; }
		[ $i -gt 100 ] && died "llmctld did not start in 10s"
		sleep 0.1
	done
}
