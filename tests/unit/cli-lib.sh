# The harness of the CLI tests (cli-fake.sh, cli-habits.sh), sourced: a
# fake llmctld (fake_llmctld.py) on a private socket in $tmp, and checks of
# what the user sees on stdout and stderr, the exit status, and what llmctl
# sent. Runs from the build directory (make check); needs /usr/bin/python3.
# The test ends with cli_done.
top_build=$(pwd)
top_src=$(cd "${srcdir:-.}" && pwd)
LLMCTL=${LLMCTL:-$top_build/cli/llmctl}
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "SKIP: $PY not found"; exit 77; }
[ -x "$LLMCTL" ] || { echo "FAIL: $LLMCTL not built"; exit 1; }

tmp=$(mktemp -d /tmp/llmctl-cli-test.XXXXXX) || exit 1
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

sock=$tmp/llmctld.sock
log=$tmp/requests.log
"$PY" "$top_src/tests/unit/fake_llmctld.py" "$sock" "$log" "$tmp/ready" &
pid=$!
i=0
while [ ! -e "$tmp/ready" ]; do
	i=$((i + 1))
	[ $i -gt 100 ] && { echo "FAIL: fake llmctld did not start"; exit 1; }
	sleep 0.1
done
: >"$log"

fails=0
n=0
fail() {
	echo "FAIL: $*"
	echo "  stdout: $(cat "$tmp/out")"
	echo "  stderr: $(cat "$tmp/err")"
	fails=$((fails + 1))
}
ok() {
	n=$((n + 1))
}

# run EXPECTED_RC ARGS...: run llmctl on the fake socket from $tmp.
run() {
	want=$1
	shift
	(cd "$tmp" && LLMCTL_SOCKET=$sock "$LLMCTL" "$@") >"$tmp/out" \
	    2>"$tmp/err"
	rc=$?
	if [ "$rc" != "$want" ]; then
		fail "llmctl $*: exit $rc, want $want"
		return 1
	fi
	ok
}
# expect FILE TEXT: FILE (out or err) is exactly TEXT.
expect() {
	if [ "$(cat "$tmp/$1")" = "$2" ]; then ok; else
		fail "$1 is not: $2"; fi
}
# has FILE PATTERN: a line of FILE matches the grep -E PATTERN.
has() {
	if grep -Eq -- "$2" "$tmp/$1"; then ok; else
		fail "$1 lacks /$2/"; fi
}
# last_request PYTHON-EXPR: the latest logged request r satisfies EXPR.
last_request() {
	if tail -n 1 "$log" | "$PY" -c "import json,sys
r = json.loads(sys.stdin.read())
sys.exit(0 if ($1) else 1)"; then ok; else
		fail "last request: not $1: $(tail -n 1 "$log")"; fi
}
requests() {
	wc -l <"$log" | tr -d ' '
}

cli_done() {
	if [ $fails -gt 0 ]; then
		echo "FAIL: $fails of $((n + fails)) checks failed"
		exit 1
	fi
	echo "PASS: $n checks"
	exit 0
}
