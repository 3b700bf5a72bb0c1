#!/bin/sh
# Event streams against the real llmctld (fake backend, private socket): a
# reader that falls behind is paused (what waits for it stays bounded) and,
# behind for 10 s, closed, saying so in the log, while the daemon goes on
# answering and other streams get every event;
# a stream is a connection, so it counts against max_connections_per_user.
# The events are rows written straight into the database, as committed
# events are: the feed reads nothing else. Runs from the build directory.
top_build=$(pwd)
top_src=$(cd "${srcdir:-.}" && pwd)
LLMCTL=${LLMCTL:-$top_build/cli/llmctl}
LLMCTLD=${LLMCTLD:-$top_build/daemon/llmctld}
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "SKIP: $PY not found"; exit 77; }
[ -x "$LLMCTLD" ] || { echo "FAIL: $LLMCTLD not built"; exit 1; }

tmp=$(mktemp -d /tmp/llmctl-feed.XXXXXX) || exit 1
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
printf '%s\n' "socket: $sock" "database: $tmp/state/llmctld.db" \
    "state_dir: $tmp/state" "backend: fake" "poll_interval: 1" \
    "log_level: debug" "max_connections_per_user: 4" >"$tmp/llmctld.conf"
"$LLMCTLD" -d -f "$tmp/llmctld.conf" >"$tmp/llmctld.log" 2>&1 &
pid=$!
i=0
until [ -S "$sock" ] && LLMCTL_SOCKET=$sock "$LLMCTL" nodes >/dev/null 2>&1
do
	i=$((i + 1))
	kill -0 "$pid" 2>/dev/null || died "llmctld exited"
	[ $i -gt 100 ] && died "llmctld did not start in 10s"
	sleep 0.1
done
job=$(cd "$tmp" && LLMCTL_SOCKET=$sock "$LLMCTL" submit \
    "$top_src/conf/examples/hybrid.yaml") || died "submit failed"

"$PY" - "$sock" "$tmp/state/llmctld.db" "$job" "$LLMCTL" "$pid" <<'PY'
import json, os, socket, sqlite3, subprocess, sys, threading, time

sock, db, job, llmctl, pid = sys.argv[1:6]

def rss_kb():
    for line in open("/proc/%s/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

def stream(query, rcvbuf=0):
    s = socket.socket(socket.AF_UNIX)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(sock)
    s.sendall(("GET /v1/events?%s HTTP/1.1\r\nHost: x\r\n\r\n" % query)
              .encode())
    return s

def served(query):
    """A stream the daemon took: its reply's head is in. A refused one is
    closed unanswered, and one just closed may count a moment longer on a
    loaded machine, so that is asked again, for up to 10 s."""
    deadline = time.time() + 10
    while True:
        s = stream(query)
        s.settimeout(10)
        head = b""
        try:
            while b"\r\n\r\n" not in head:
                data = s.recv(4096)
                if not data:
                    break
                head += data
        except socket.timeout:
            pass
        if head.startswith(b"HTTP/1.1 200"):
            return s
        s.close()
        assert time.time() < deadline, "a stream was refused: %r" % head[:80]
        time.sleep(0.2)

def status_ok():
    t = time.time()
    r = subprocess.run([llmctl, "--socket", sock, "status"],
                       capture_output=True)
    return r.returncode == 0, time.time() - t

# a reader that reads nothing, and one that reads everything
t0 = time.time()
slow = stream("follow=1&since=0", 4096)
fast = stream("follow=1&job=%s" % job)
fast.settimeout(10)
got = 0

def read_fast():
    global got
    buf, deadline = b"", time.time() + 30
    while got < 8000 and time.time() < deadline:
        data = fast.recv(65536)
        if not data:
            break
        buf += data
        got = buf.count(b'"kind":"test"')

reader = threading.Thread(target=read_fast)
reader.start()
time.sleep(0.5)
rss0 = rss_kb()
con = sqlite3.connect(db, timeout=10)
msg = "x" * 400
for k in range(8):
    con.executemany("INSERT INTO events (job_id, at, kind, message) "
                    "VALUES (?, 0, 'test', ?)",
                    [(int(job), "%d %s" % (k * 1000 + i, msg))
                     for i in range(1000)])
    con.commit()
con.close()
# the reading stream gets all 8000 (after the job's own first events)
reader.join()
assert got == 8000, "the reading stream got %d of 8000 test events" % got
# the other stays behind, taking nothing: after 10 s of that it is closed,
# so reading it now ends in EOF, not 3.4 MB later
time.sleep(max(0, t0 + 12 - time.time()))
slow.settimeout(10)
total = 0
while True:
    data = slow.recv(65536)
    if not data:
        break
    total += len(data)
assert total < 3 * 1024 * 1024, "the slow reader got %d bytes" % total
# answered while a reader stays behind (a loaded machine may take seconds;
# a stalled loop never answers)
ok, took = status_ok()
assert ok and took < 10, (ok, took)
grow = rss_kb() - rss0
print("slow reader closed after %d bytes; llmctld RSS grew %d KiB; "
      "status %.0f ms" % (total, grow, took * 1000))
# (ASan keeps freed memory in quarantine: no measure there)
if "libasan" not in open("/proc/%s/maps" % pid).read():
    assert grow < 64 * 1024, "llmctld grew by %d KiB" % grow
# streams are connections: 4 per user here, so with 4 served the 5th is
# refused, and once they close the user is served again (as soon as the
# daemon has seen them close: up to 10 s on a loaded machine)
fast.close()
slow.close()
held = [served("follow=1") for _ in range(4)]
ok, took = status_ok()
assert not ok, "a 5th connection was served beside 4 streams"
for s in held:
    s.close()
deadline = time.time() + 10
while True:
    ok, took = status_ok()
    if ok or time.time() > deadline:
        break
    time.sleep(0.2)
assert ok, "not served 10 s after the streams closed"
PY
rc=$?
grep -q "event stream: the reader stayed behind" "$tmp/llmctld.log" ||
    died "no log line for the slow reader"
kill -0 "$pid" 2>/dev/null || died "llmctld died"
[ $rc = 0 ] || died "feed-stream checks failed"
echo "PASS: event streams: slow reader closed, others served, streams counted"
