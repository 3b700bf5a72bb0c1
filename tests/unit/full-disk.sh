#!/bin/sh
# A full disk heals itself (issue 12 section 2). The database lives on a
# small tmpfs the test mounts and fills: submits then fail with a clear
# error and store nothing, the daemon stays up and answers reads; once the
# filler is gone, writes work again without an operator, the WAL is
# checkpointed and cut back, and a restarted daemon finds every
# acknowledged job and nothing else. Real llmctld, fake backend. Root only.
top_build=$(pwd)
LLMCTL=${LLMCTL:-$top_build/cli/llmctl}
LLMCTLD=${LLMCTLD:-$top_build/daemon/llmctld}
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root to mount a tmpfs"; exit 77; }
command -v sqlite3 >/dev/null || { echo "SKIP: no sqlite3"; exit 77; }

tmp=$(mktemp -d /tmp/llmctl-full.XXXXXX) || exit 1
disk=$tmp/disk
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	umount "$disk" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
mkdir "$disk"
mount -t tmpfs -o size=2m,mode=0700 llmctl-full "$disk" ||
    { echo "SKIP: cannot mount a tmpfs"; exit 77; }
sock=$tmp/llmctld.sock
db=$disk/llmctld.db
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
	i=0
	until "$LLMCTL" status >/dev/null 2>&1; do
		i=$((i + 1))
		kill -0 "$pid" 2>/dev/null || fail "llmctld exited"
		[ $i -gt 100 ] && fail "llmctld did not start in 10s"
		sleep 0.1
	done
}
# a spec of ~40 KB, so a few of them fill what is left
big=$(head -c 30000 /dev/zero | tr '\0' x)
printf '%s\n' "version: 1" "name: big" "command: sleep 1" "workdir: /tmp" \
    "resources: {nodes: 1, gpus_per_node: 1, time_limit: 5m}" \
    "env: {PAD: $big}" >"$tmp/big.yaml"
: >"$tmp/acked"

start
"$LLMCTL" submit "$tmp/big.yaml" >>"$tmp/acked" || fail "submit before full"
dd if=/dev/zero of="$disk/filler" bs=4k 2>/dev/null
refused=0
n=0
while [ $n -lt 10 ]; do
	n=$((n + 1))
	if "$LLMCTL" submit "$tmp/big.yaml" >>"$tmp/acked" 2>"$tmp/err"; then
		:
	else
		grep -q "cannot record the job (is the disk full?); nothing was \
submitted" "$tmp/err" || fail "unclear error: $(cat "$tmp/err")"
		refused=$((refused + 1))
	fi
done
[ $refused -gt 0 ] || fail "no submit failed on a full disk"
kill -0 "$pid" 2>/dev/null || fail "llmctld died on a full disk"
"$LLMCTL" status >/dev/null || fail "status failed on a full disk"

rm -f "$disk/filler"
"$LLMCTL" submit "$tmp/big.yaml" >>"$tmp/acked" 2>"$tmp/err" ||
    fail "submit failed after space came back: $(cat "$tmp/err")"
i=0
until grep -q "store: writes work again" "$tmp/llmctld.log"; do
	i=$((i + 1))
	[ $i -gt 150 ] && fail "the WAL was not checkpointed within 15 s"
	sleep 0.1
done
wal=$(stat -c %s "$db-wal" 2>/dev/null || echo 0)
[ "$wal" -le 1048576 ] || fail "the WAL kept $wal bytes"
kill "$pid"
wait "$pid"
pid=
start
"$LLMCTL" submit "$tmp/big.yaml" >>"$tmp/acked" ||
    fail "submit failed after a restart"
acked=$(wc -l <"$tmp/acked")
stored=$(sqlite3 "$db" 'SELECT count(*) FROM jobs')
[ "$stored" = "$acked" ] || fail "$stored jobs stored, $acked acknowledged"
[ "$(sqlite3 "$db" 'PRAGMA integrity_check')" = ok ] ||
    fail "integrity_check"
kill "$pid"
wait "$pid"
pid=
echo "PASS: $refused of 10 submits refused on a full disk, $acked" \
    "acknowledged and stored, WAL $wal bytes after the checkpoint"
