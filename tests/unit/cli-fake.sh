#!/bin/sh
# llmctl against a fake llmctld (fake_llmctld.py) on a private socket: what
# the user sees on stdout and stderr, the exit status, and what llmctl sent.
# Runs from the build directory (make check); needs /usr/bin/python3.
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

# --- dispatch, usage, global options ---------------------------------------
run 0 -h && has out '^usage: llmctl \[-h\] \[--version\] \[--socket path\]'
run 0 --version && expect out "llmctl 0.1.0"
run 1 && has err '^usage: llmctl'
run 1 s && expect err "llmctl: ambiguous command: s, could be: status, submit"
run 1 frobnicate && expect err "llmctl: unknown command: frobnicate"
run 1 status -x && expect err "$(printf '%s\n%s' \
    "llmctl status: invalid option -- 'x'" \
    "usage: llmctl status [-a] [-o json] [id]")"
run 0 status -h && expect out "usage: llmctl status [-a] [-o json] [id]"
run 1 status -o yaml && has err 'unknown output format: yaml'
[ "$(requests)" = 0 ] && ok || fail "requests sent for usage errors"

# The usage text is the man page's SYNOPSIS.
if command -v mandoc >/dev/null; then
	"$LLMCTL" -h | sed 's/^usage: //; s/^ *//' >"$tmp/usage"
	mandoc -Tascii -Owidth=200 "$top_src/man/llmctl.1" |
	    sed 's/.\x08//g' | sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' |
	    sed '1d;$d;/^ *$/d;s/^ *//' >"$tmp/synopsis"
	if cmp -s "$tmp/usage" "$tmp/synopsis"; then ok; else
		fail "usage differs from SYNOPSIS: $(diff "$tmp/usage" \
		    "$tmp/synopsis")"
	fi
	# Cross-references resolve only once every page is installed.
	if mandoc -Tlint -W warning "$top_src/man/llmctl.1" >"$tmp/out" \
	    2>"$tmp/err"; then ok; else fail "mandoc -Tlint warns"; fi
fi

# --- no daemon -------------------------------------------------------------
run 1 --socket "$tmp/none.sock" status &&
    expect err "llmctl: cannot connect to llmctld at $tmp/none.sock: No such file or directory"
"$PY" -c "import socket; socket.socket(socket.AF_UNIX).bind('$tmp/dead.sock')"
run 1 --socket "$tmp/dead.sock" cancel 1 2 &&
    expect err "llmctl: cannot connect to llmctld at $tmp/dead.sock: Connection refused"
# --socket wins over LLMCTL_SOCKET, which wins over the default.
run 0 --socket "$sock" status && has out '^ID +NAME'
(cd "$tmp" && LLMCTL_SOCKET=$tmp/none.sock "$LLMCTL" status) >"$tmp/out" \
    2>"$tmp/err"
has err "at $tmp/none.sock:"
: >"$log"

# --- status: list ----------------------------------------------------------
me=$(id -un)
if run 0 status; then
	has out '^ID +NAME +USER +STATE +NODES +GPUS +ATTEMPT +SLURM_ID +AGE +REASON$'
	has out '^14 +llama-7b-pretrain.*\.\.\. +alice +QUEUED +64 +512 +0 +- +[0-9]+s +waiting for.*\.\.\.$'
	has out '^13 +hello +bob +RUNNING +2 +4 +2 +1234 +2h +evil\?\[2J second'
	has out '^12 +minimal +- +COMPLETED +- +- +- +- +- +-$'
	[ "$(sed -n '2p;3p;4p' "$tmp/out" | cut -c1-2 | tr '\n' ' ')" = "14 13 12 " ] &&
	    ok || fail "jobs not in the daemon's order (newest first)"
	[ "$(wc -l <"$tmp/out")" = 4 ] && ok || fail "not one line per job"
	awk 'length($0) > 100 { bad = 1 } END { exit bad }' "$tmp/out" && ok ||
	    fail "a status line is wider than 100 columns"
	LC_ALL=C grep -q "$(printf '\033')" "$tmp/out" &&
	    fail "an escape character reached the terminal" || ok
	last_request "r['method'] == 'GET' and r['path'] == '/v1/jobs?user=$me'"
fi
run 0 status -a && last_request "r['path'] == '/v1/jobs'"
if run 0 stat -o json -a; then
	"$PY" -c "import json,sys
d = json.load(open('$tmp/out'))
assert [j['id'] for j in d['jobs']] == [14, 13, 12]
assert d['jobs'][0]['health'] == {'future': 'field'}" && ok ||
	    fail "status -o json is not the daemon's reply"
	has out '^  "jobs": \['
fi

# --- status ID -------------------------------------------------------------
if run 0 status 13; then
	last_request "r['path'] == '/v1/jobs/13'"
	has out '^id: +13$'
	has out '^user: +bob \(uid 1001\)$'
	has out '^state: +RUNNING$'
	has out '^node list: +n1,n2$'
	has out "^command: +python3 train.py --lr '3e-4 x'$"
	has out '^workdir: +/shared/hello$'
	has out '^ATTEMPT +SLURM_ID +STATE +NODES +EXIT +CAUSE +STARTED +ENDED +REASON$'
	has out '^1 +1200 +FAILED +n3,n4 +1 +node_failure +[0-9-]+ [0-9:]+ +[0-9-]+ [0-9:]+ +node n4 went DOWN$'
	has out '^2 +1234 +RUNNING +n1,n2 +- +- +[0-9-]+ [0-9:]+ +- +-$'
	awk 'length($0) > 100 { bad = 1 } END { exit bad }' "$tmp/out" && ok ||
	    fail "a status line is wider than 100 columns"
fi
run 0 status 12 && has out '^user: +-$' && has out '^no attempts yet$' &&
    has out '^state: +COMPLETED \(exit code 0\)$'
run 0 status -o json 13 && has out '"tag": "9f00aa"'
run 1 status 99 && expect err "llmctl: no such job: 99"
run 1 status 7 && expect err "llmctl: job 7 belongs to another user"
run 1 status 500 &&
    expect err "llmctl: llmctld answered HTTP 500: <html>internal error</html>"
run 1 status 501 && has err '^llmctl: invalid JSON from llmctld: '
before=$(requests)
run 1 status 12abc && expect err "llmctl: invalid job id: 12abc"
run 1 status 1 2 && has err '^usage: llmctl status'
[ "$(requests)" = "$before" ] && ok || fail "bad ids were sent"

# --- submit ----------------------------------------------------------------
cat >"$tmp/good.yaml" <<'EOF'
version: 1
name: hello
command: "echo \"hi\" $HOME"
resources:
  nodes: 2
  gpus_per_node: 2
EOF
cat >"$tmp/bad.yaml" <<'EOF'
version: 1
name: hello
command: echo hi
resources:
  nodes: four   # bad
  gpus_per_node: 2
EOF
sed 's/^name: hello/name: reject-me/' "$tmp/good.yaml" >"$tmp/reject.yaml"

if run 0 submit good.yaml; then
	expect out 42
	expect err ""
	last_request "r['method'] == 'POST' and r['path'] == '/v1/jobs' and
r['body']['spec'] == open('$tmp/good.yaml').read() and
r['body']['file'] == 'good.yaml' and r['body']['workdir'] == '$tmp'"
fi
run 0 sub -o json good.yaml && has out '^  "id": 42,$'
run 0 submit --dry-run good.yaml &&
    expect out "dry run: hello would be accepted" &&
    last_request "r['path'] == '/v1/jobs?dry_run=1'"
before=$(requests)
run 1 submit bad.yaml && has err '^bad.yaml:[0-9]+:[0-9]+: resources\.nodes: ' &&
    expect out ""
run 1 submit missing.yaml &&
    expect err "llmctl: missing.yaml: No such file or directory"
head -c 1048577 /dev/zero | tr '\0' '#' >"$tmp/huge.yaml"
run 1 submit huge.yaml && has err '^llmctl: huge.yaml: file is larger than'
run 1 submit && has err '^usage: llmctl submit \[-o json\] \[--dry-run\] file$'
[ "$(requests)" = "$before" ] && ok || fail "an invalid spec was sent"
run 1 submit reject.yaml &&
    expect err "llmctl: job.yaml:3:8: resources.nodes: too many"

# --- cancel ----------------------------------------------------------------
run 0 cancel 13 && expect out "cancelled 13" &&
    last_request "r['method'] == 'POST' and r['path'] == '/v1/jobs/13/cancel'"
before=$(requests)
if run 1 can 13 14 x 99 12; then
	expect out "cancelled 13"
	expect err "$(printf '%s\n' "llmctl: job 14 already FAILED" \
	    "llmctl: invalid job id: x" "llmctl: no such job: 99" \
	    "llmctl: job 12 already COMPLETED")"
	[ "$(requests)" = $((before + 4)) ] && ok ||
	    fail "cancel did not try every valid id"
fi
run 1 cancel && has err '^usage: llmctl cancel id \.\.\.$'

# --- validate: never talks to the daemon -----------------------------------
before=$(requests)
(cd "$tmp" && "$LLMCTL" --socket "$tmp/none.sock" validate good.yaml) \
    >"$tmp/out" 2>"$tmp/err"
[ $? = 0 ] && ok || fail "validate good.yaml failed without a daemon"
expect out "good.yaml: ok"
if run 1 validate good.yaml bad.yaml missing.yaml; then
	expect out "good.yaml: ok"
	has err '^bad.yaml:[0-9]+:[0-9]+: resources\.nodes: '
	has err '^missing.yaml: No such file or directory$'
fi
run 1 validate -q bad.yaml good.yaml && expect out "" && expect err ""
run 0 val -q good.yaml && expect out ""
[ "$(requests)" = "$before" ] && ok || fail "validate contacted llmctld"

if [ $fails -gt 0 ]; then
	echo "FAIL: $fails of $((n + fails)) checks failed"
	exit 1
fi
echo "PASS: $n checks"
