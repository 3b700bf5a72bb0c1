#!/bin/sh
# heartbeat-helper: conf/examples/llmctl_heartbeat.py against a small HTTP
# server that counts its connections: 200 steps go over one kept-alive
# connection, each beat carries the rank, the bearer and a step that only
# grows; after the server drops the connection the helper reconnects and
# beats go on; outside llmctl (no URL) it does nothing.
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
exec python3 - "$TOP/conf/examples" <<'PY'
import http.server, json, os, sys, threading, time
sys.path.insert(0, sys.argv[1])
from llmctl_heartbeat import Heartbeat

conns, beats, drop = [], [], threading.Event()

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def setup(self):
        super().setup()
        conns.append(self.client_address)
    def do_POST(self):
        n = int(self.headers["Content-Length"])
        b = json.loads(self.rfile.read(n))
        assert self.headers["Authorization"] == "Bearer tok", self.headers
        beats.append(b)
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        if drop.is_set():
            drop.clear()
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()

def wait(cond, what):
    end = time.time() + 10
    while not cond():
        if time.time() > end:
            sys.exit("heartbeat-helper: FAIL: " + what)
        time.sleep(0.005)

os.environ.pop("LLMCTL_HEARTBEAT_URL", None)
Heartbeat(0).beat(1)                      # outside llmctl: a no-op
os.environ["LLMCTL_HEARTBEAT_URL"] = \
    "http://127.0.0.1:%d/v1/heartbeat" % srv.server_address[1]
os.environ["LLMCTL_HEARTBEAT_TOKEN"] = "tok"
hb = Heartbeat(3)
for s in range(200):
    hb.beat(s)
    time.sleep(0.001)
wait(lambda: beats and beats[-1]["step"] == 199, "the last step never came")
steps = [b["step"] for b in beats]
assert steps == sorted(steps) and len(set(steps)) == len(steps), steps
assert all(b["rank"] == 3 for b in beats)
assert len(conns) == 1, "%d connections for %d beats" % (len(conns), len(beats))
drop.set()
hb.beat(200)
wait(lambda: beats[-1]["step"] == 200, "step 200 never came")
hb.beat(201)
wait(lambda: beats[-1]["step"] == 201, "no beat after the server closed")
assert len(conns) == 2, "%d connections after one drop" % len(conns)
print("heartbeat-helper: %d beats over %d connections: ok"
      % (len(beats), len(conns)))
PY
