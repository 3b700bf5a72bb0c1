#!/bin/bash
# accept-bench: how fast llmctld accepts submits as the number of active
# jobs grows (issue 13: "accept rate with 2,000 active jobs within 20% of
# the rate with 10"). llmctld runs on its fake backend (jobs it submits
# stay PENDING there: every job stays active) with the default poll
# interval; one client submits over one kept-alive connection, so the
# figure is the daemon's, not a process start per job. As root or not:
#   tests/bench/accept-bench.sh [BUILD]        (default: _build)
# Env: LEVELS ("10 500 2000") active jobs before each measure, M (200)
# submits timed at each level, BENCH_DIR.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=$(cd "${1:-$TOP/_build}" && pwd)
DIR=${BENCH_DIR:-/tmp/llmctl-accept-bench}
LEVELS=${LEVELS:-10 500 2000}
M=${M:-200}

rm -rf "$DIR"
mkdir -p "$DIR/state"
cat >"$DIR/d.conf" <<CONF
socket: $DIR/sock
database: $DIR/state/db
state_dir: $DIR/state
backend: fake
log_level: warn
master_port_count: 20000
CONF
"$B/daemon/llmctld" -d -f "$DIR/d.conf" 2>"$DIR/d.log" &
dpid=$!
echo "$dpid" >"$DIR/pid"
trap "kill $dpid 2>/dev/null" EXIT
for _ in $(seq 50); do [ -S "$DIR/sock" ] && break; sleep 0.1; done

echo "== llmctld $(git -C "$B/.." log -1 --format=%h 2>/dev/null || echo ?), fake backend, $(nproc) cores"
python3 - "$DIR/sock" "$dpid" "$M" $LEVELS <<'PY'
import http.client, json, os, socket, sys, time
path, pid, m = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
levels = [int(x) for x in sys.argv[4:]]

class Conn(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)

spec = ("version: 1\nname: a\ncommand: \"true\"\nworkdir: /tmp\n"
        "resources:\n  nodes: 1\n  gpus_per_node: 1\n")
body = json.dumps({"spec": spec, "file": "a.yaml"})
c = Conn("llmctld")

def submit():
    c.request("POST", "/v1/jobs", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    if r.status != 201:
        sys.exit(f"submit: HTTP {r.status}")

def cpu():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

def active():
    c.request("GET", "/v1/jobs?state=QUEUED,SUBMITTED&limit=1")
    r = c.getresponse()
    j = json.loads(r.read())
    return j

def reads():
    # read syscalls (SQLite's preads among them: a page cache too small
    # for the active jobs reads pages back per statement)
    for l in open(f"/proc/{pid}/io"):
        if l.startswith("syscr:"):
            return int(l.split()[1])

done = 0
def rss():
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS"):
            return int(l.split()[1]) // 1024

print(f"{'active jobs':>12} {'submits':>8} {'jobs/s':>9} {'ms CPU/job':>11}"
      f" {'RSS MiB':>8} {'reads/job':>10}")
for lv in levels:
    while done < lv:
        submit()
        done += 1
    # let the daemon plan and submit them: until it has been idle for a
    # second (at most 120 s), so that the measure is the submits' alone
    end = time.time() + 120
    while time.time() < end:
        c0 = cpu()
        time.sleep(1)
        if cpu() - c0 < 0.02:
            break
    t0, c0, r0 = time.time(), cpu(), reads()
    for _ in range(m):
        submit()
    dt, dc, dr = time.time() - t0, cpu() - c0, reads() - r0
    done += m
    print(f"{lv:>12} {m:>8} {m / dt:>9.1f} {dc / m * 1000:>11.2f}"
          f" {rss():>8} {dr / m:>10.1f}")
PY
