#!/bin/sh
# Exactly-once for the client (issue 12 section 3): a submit's
# Idempotency-Key makes a repeat answer with the first job, never a second.
# Against the real llmctld with the fake backend on a private socket:
#  1. the same key twice gives one job (201, then 200 with the same id);
#     the same key with another spec is refused (422); a bad key is 400;
#     another user's same key is another job;
#  2. kill -9 torture: clients submit while llmctld is killed and restarted
#     over and over; every submit that llmctl acknowledged is one job, and
#     the store holds exactly the acknowledged jobs (none lost, none doubled).
# Runs from the build directory (make check).
top_build=$(pwd)
top_src=$(cd "${srcdir:-.}" && pwd)
LLMCTL=${LLMCTL:-$top_build/cli/llmctl}
LLMCTLD=${LLMCTLD:-$top_build/daemon/llmctld}
CLIENTS=${CLIENTS:-3}
KILLS=${KILLS:-20}	# the clients submit until llmctld was killed so often
command -v sqlite3 >/dev/null || { echo "SKIP: no sqlite3"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: no curl"; exit 77; }

tmp=$(mktemp -d /tmp/llmctl-once.XXXXXX) || exit 1
chmod 755 "$tmp"
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
sock=$tmp/llmctld.sock
db=$tmp/state/llmctld.db
export LLMCTL_SOCKET=$sock
printf '%s\n' "socket: $sock" "database: $db" "state_dir: $tmp/state" \
    "backend: fake" "poll_interval: 1" >"$tmp/llmctld.conf"

fail() {
	echo "FAIL: $1"
	tail -n 20 "$tmp/llmctld.log" | sed 's/^/  llmctld: /'
	exit 1
}

start() {
	"$LLMCTLD" -d -f "$tmp/llmctld.conf" >>"$tmp/llmctld.log" 2>&1 &
	pid=$!
}
wait_up() {
	i=0
	until "$LLMCTL" status >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -gt 100 ] && fail "llmctld did not start in 10s"
		sleep 0.1
	done
}

# submit KEY FILE: HTTP status and body of one POST with that key
submit() {
	curl -s -o "$tmp/body" -w '%{http_code}' --unix-socket "$sock" \
	    -H "Idempotency-Key: $1" -H 'Content-Type: application/json' \
	    --data-binary @"$2" http://localhost/v1/jobs
}

spec() {
	printf '%s\n' "version: 1" "name: $1" "command: sleep 1" "workdir: /tmp" \
	    "resources: {nodes: 1, gpus_per_node: 1, time_limit: 5m}" \
	    >"$tmp/$1.yaml"
	python3 -c 'import json, sys
print(json.dumps({"spec": open(sys.argv[1]).read(), "file": "x.yaml",
    "workdir": "/tmp"}))' "$tmp/$1.yaml" >"$tmp/$1.json"
}

start
wait_up

# --- 1. the rules --------------------------------------------------------
spec a
spec b
a1=$("$LLMCTL" submit --idempotency-key k-1 "$tmp/a.yaml") ||
    fail "first submit failed"
a2=$("$LLMCTL" submit --idempotency-key k-1 "$tmp/a.yaml") ||
    fail "repeated submit failed"
[ "$a1" = "$a2" ] || fail "same key gave two jobs: $a1 and $a2"
code=$(submit k-1 "$tmp/a.json")
[ "$code" = 200 ] || fail "repeat answered $code, not 200"
grep -q "\"id\": *$a1\b" "$tmp/body" || fail "repeat named another job"
code=$(submit k-1 "$tmp/b.json")
[ "$code" = 422 ] || fail "same key, other spec answered $code, not 422"
grep -q "used for job $a1 with another spec" "$tmp/body" ||
    fail "422 did not say why: $(cat "$tmp/body")"
code=$(submit 'bad key!' "$tmp/a.json")
[ "$code" = 400 ] || fail "bad key answered $code, not 400"
code=$(submit k-2 "$tmp/a.json")
[ "$code" = 201 ] || fail "a new key answered $code, not 201"
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	chmod 755 "$tmp"
	n1=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    env LLMCTL_SOCKET="$sock" "$LLMCTL" submit --idempotency-key k-1 \
	    "$tmp/a.yaml") || fail "nobody's submit failed"
	[ "$n1" != "$a1" ] || fail "another user's key found root's job"
fi
# Several files in one run: a job each (keys m-1, m-2, m-3), over one
# connection, which llmctld keeps alive between them.
if strace -o /dev/null true 2>/dev/null; then
	# (LeakSanitizer cannot run under ptrace: an ASan build's check)
	ids=$(ASAN_OPTIONS=detect_leaks=0 strace -f -qq -e trace=connect \
	    -o "$tmp/strace" "$LLMCTL" submit \
	    --idempotency-key m "$tmp/a.yaml" "$tmp/b.yaml" "$tmp/a.yaml") ||
	    fail "a submit of 3 files failed"
	[ "$(echo "$ids" | sort -u | wc -l)" = 3 ] ||
	    fail "3 files gave the jobs $ids"
	n=$(grep -c 'connect(' "$tmp/strace")
	[ "$n" = 1 ] || fail "3 files were submitted over $n connections"
fi
before=$(sqlite3 "$db" 'SELECT count(*) FROM jobs')
rbefore=$(grep -c 'submit repeated with its Idempotency-Key' "$tmp/llmctld.log")

# --- 2. kill -9 while clients submit ------------------------------------
client() {
	while [ ! -e "$tmp/stop" ]; do
		if id=$("$LLMCTL" submit "$tmp/a.yaml" 2>>"$tmp/client-$1.err")
		then
			echo "$id" >>"$tmp/acked-$1"
		else
			echo "x" >>"$tmp/failed-$1"
		fi
	done
}
c=0
cpids=
while [ $c -lt "$CLIENTS" ]; do
	c=$((c + 1))
	client $c &
	cpids="$cpids $!"
done
# A count of kills, not of submits: a faster llmctl must not mean fewer.
kills=0
while [ $kills -lt "$KILLS" ]; do
	sleep "0.$(shuf -i 1-4 -n 1)"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	kills=$((kills + 1))
	start
done
touch "$tmp/stop"
for p in $cpids; do wait "$p"; done
wait_up
kill "$pid"
wait "$pid"
pid=

acked=$(cat "$tmp"/acked-* 2>/dev/null | wc -l)
failed=$(cat "$tmp"/failed-* 2>/dev/null | wc -l)
distinct=$(cat "$tmp"/acked-* 2>/dev/null | sort -u | wc -l)
stored=$(($(sqlite3 "$db" 'SELECT count(*) FROM jobs') - before))
repeats=$(($(grep -c 'submit repeated with its Idempotency-Key' \
    "$tmp/llmctld.log") - rbefore))
echo "kill -9: $kills; submits: $((acked + failed)); acknowledged: $acked;" \
    "failed: $failed; distinct ids: $distinct; stored: $stored;" \
    "lost replies answered by a repeat: $repeats"
[ "$failed" = 0 ] || fail "$failed submits failed: $(cat "$tmp"/client-*.err)"
[ "$acked" -ge "$KILLS" ] || fail "only $acked submits acknowledged"
[ "$distinct" = "$acked" ] || fail "one job acknowledged twice"
[ "$stored" = "$acked" ] || fail "stored $stored jobs for $acked submits"
[ "$(sqlite3 "$db" 'PRAGMA integrity_check')" = ok ] ||
    fail "integrity_check"

# --- 3. a listing is never cut silently ----------------------------------
start
wait_up
total=$(sqlite3 "$db" "SELECT count(*) FROM jobs WHERE uid = $(id -u)")
count() { python3 -c 'import json, sys
r = json.load(sys.stdin); print(len(r["jobs"]), "next" in r)'; }
[ "$("$LLMCTL" status --since all --limit 30 -o json | count)" = "30 True" ] ||
    fail "--limit 30: not 30 jobs and a cursor"
[ "$("$LLMCTL" status --since all --limit 0 -o json | count)" = \
    "$total False" ] || fail "--limit 0: not all $total jobs"
"$LLMCTL" status --since all --limit 10 >/dev/null 2>"$tmp/err"
grep -q "the newest 10 jobs shown, more are older" "$tmp/err" ||
    fail "a cut table did not say so: $(cat "$tmp/err")"
kill "$pid"
wait "$pid"
pid=
echo "PASS: one job per submit through $kills kill -9; $total jobs paged"
