#!/usr/bin/python3
"""A fake llmctld for tests/unit/cli-fake.sh.

Serves canned replies on a Unix socket, in the shapes the contract test
checks against the real daemon (api-contract.sh: change a reply here and
that test says whether llmctld still answers so), and appends every request
it gets to LOG as one JSON line ({"method", "path", "body", "auth"}), so the
test can check what llmctl sent as well as what it printed. Usage:
fake_llmctld.py SOCKET LOG READY; READY is written once both listeners
accept connections and holds the port of the heartbeat listener (TCP,
127.0.0.1), which takes the token "s3cret" and, like llmctld, answers 401
without a bearer token and 403 with another one.

Logs are real files the test writes, DIR/logs/JOB/ATTEMPT/rank-R.out with
DIR the directory of LOG; a file "done" beside them says the attempt ended.
Replies carry at most LOG_CHUNK bytes, so llmctl must ask again.

GET /v1/jobs checks its parameters as llmctld does (400 bad_request) and
filters by state=; the other filters are llmctld's to apply, and
api-contract.sh checks that it does.

For llmctl's HTTP client (cli/http.c): each logged request names its
connection ("conn", counted from 1), GET /v1/jobs/600-604 are replies
written byte by byte (see raw()), and after answering GET /v1/jobs/13/logs
at offset 16, POST /v1/jobs/17/cancel or a submit of a spec holding
"drop-next", the connection stays open and the next request on it is read
and dropped unanswered: the race of a server closing a kept connection.
"""

import http.server
import itertools
import json
import os
import re
import socketserver
import sys
import threading
import time
import urllib.parse

NOW = int(time.time())

JOBS = [
    {"id": 14, "name": "llama-7b-pretrain-with-a-rather-long-name-for-tables",
     "user": "alice", "uid": 1000, "state": "QUEUED",
     "reason": "waiting for 64 nodes on one leaf switch; the cluster has 12 "
               "idle nodes on leaf1 and 9 on leaf2 right now",
     "created_at": NOW - 30, "updated_at": NOW - 30, "nodes": 64,
     "gpus_per_node": 8, "world_size": 512, "attempt": 0,
     "slurm_job_id": None, "node_list": None, "exit_code": None,
     "health": {"future": "field"}},
    {"id": 13, "name": "hello", "user": "bob", "uid": 1001,
     "state": "RUNNING", "reason": "evil\x1b[2J\nsecond line",
     "created_at": NOW - 7200, "updated_at": NOW - 60, "nodes": 2,
     "gpus_per_node": 2, "world_size": 4, "attempt": 2,
     "slurm_job_id": 1234, "node_list": "n1,n2", "exit_code": None},
    # Only what an older daemon might send: everything else shows "-".
    {"id": 12, "name": "minimal", "state": "COMPLETED", "exit_code": 0},
]

DETAIL = dict(JOBS[1])
DETAIL.update({
    "spec": {"version": 1, "name": "hello", "workdir": "/shared/hello",
             "command": ["python3", "train.py", "--lr", "3e-4 x"]},
    "plan": {"unknown": True},
    "attempts": [
        {"attempt": 1, "tag": "9f00aa", "slurm_job_id": 1200,
         "state": "FAILED", "nodes": "n3,n4", "submitted_at": NOW - 7200,
         "started_at": NOW - 7100, "ended_at": NOW - 3600, "exit_code": 1,
         "cause": "node_failure", "reason": "node n4 went DOWN"},
        {"attempt": 2, "tag": "9f00ab", "slurm_job_id": 1234,
         "state": "RUNNING", "nodes": "n1,n2", "submitted_at": NOW - 3500,
         "started_at": NOW - 3400, "ended_at": None, "exit_code": None,
         "cause": None, "reason": None},
    ],
})


# the goodput ledger as api-goodput.c writes it; the buckets add up
RECOVERY = {"detect_s": 30, "backoff_s": 10, "queue_s": 100,
            "startup_s": 100}
GOODPUT = {"wall_s": 7200, "queue_s": 100, "startup_s": 60,
           "productive_s": 6000, "lost_s": 500, "recovery_s": 240,
           "ckpt_stall_s": 300, "ettr": 0.8333, "recovery": RECOVERY,
           "incidents": [{"attempt": 1, "cause": "node_failure",
                          "nodes": "n4", "failed_at": NOW - 3600,
                          "training_again_at": NOW - 3360,
                          "recovery_s": 240, "recovery": RECOVERY}],
           "final": False}
TOTALS = {"by": "user", "totals": [
    dict({k: v for k, v in GOODPUT.items()
          if k not in ("incidents", "final")},
         key="bob", jobs=2, incidents=1)]}

DETAIL.update({
    "goodput": GOODPUT,
    "checkpoint": {"step": 20, "path": "/ckpt/hello/step_20"},
    "heartbeat": {"age_s": 12, "step": 1500, "ranks": 4},
    "excluded_nodes": ["n4", "n2"],
})

EVENTS = [
    {"id": 1, "at": NOW - 7200, "kind": "submitted",
     "message": "submitted by bob"},
    {"id": 2, "at": NOW - 3600, "kind": "attempt_ended",
     "message": "attempt 1 ended: node_failure: node n4 went DOWN while the "
                "job ran; the next attempt excludes n4; restarting in 30s "
                "(infrastructure restarts left: 9 of 10)"},
    {"id": 3, "at": NOW - 60, "kind": "evil\x1b[2J", "message": "a\nb"},
]

CHECKPOINTS = [
    {"step": 30, "path": "/ckpt/hello/step_30", "bytes": 1288490189,
     "layout": "step", "complete": False, "verified": False,
     "problem": "MANIFEST.sha256: model.pt: checksum mismatch",
     "mtime": NOW - 120},
    {"step": 10, "path": "/ckpt/hello/step_10", "bytes": 512,
     "layout": "step", "complete": True, "verified": True, "problem": None,
     "mtime": NOW - 7200},
    {"step": 20, "path": "/ckpt/hello/step_20", "bytes": 1536,
     "layout": "step", "complete": True, "verified": False, "problem": None,
     "mtime": NOW - 3600},
    {"step": 40, "path": "/ckpt/hello/step_40", "bytes": 0,
     "layout": "step", "complete": False, "verified": False,
     "problem": "no COMPLETE marker or manifest", "mtime": NOW - 10},
]


def make_plan():
    """A plan as plan_to_json() writes it: 3 nodes x 2 ranks, TP 2, DP 3,
    over two leaves, in rank order (not name order)."""
    where = [("n3", "leaf1", 0), ("n4", "leaf1", 0), ("n1", "leaf0", 1)]
    nodes, ranks = [], []
    for i, (name, leaf, failures) in enumerate(where):
        nodes.append({"name": name, "leaf": leaf, "path": ["spine0", leaf],
                      "node_rank": i, "ranks": [2 * i, 2 * i + 1],
                      "failures": failures})
        for lr in range(2):
            ranks.append({"rank": 2 * i + lr, "node": name, "node_rank": i,
                          "local_rank": lr, "gpu": lr + 2, "tp": lr,
                          "pp": 0, "dp": i})
    return {"policy": "pack", "world_size": 6, "tasks_per_node": 2,
            "gpus_per_node": 2, "tensor": 2, "pipeline": 1, "data": 3,
            "gpus": [2, 3], "nodelist": "n3,n4,n1", "nodes": nodes,
            "ranks": ranks,
            "metrics": {"spanning_switch": "spine0", "levels_spanned": 2,
                        "switches_per_level": [2, 1], "leaf_switches": 2,
                        "ring_leaf_crossings": 1, "failures": 1}}


SNAPSHOT = """version: 1
switches:
  - { name: "spine0", switches: [leaf0, leaf1] }
  - { name: "leaf0", nodes: "n[1-2]" }
  - { name: "leaf1", nodes: "n[3-5]" }
nodes:
  - { names: "n[1-5]", gpus: 8 }
  - { names: "n1", free: [0, 1, 2, 3, 4], state: mixed }
  - { names: "n2", state: down, failures: 3 }
  - { names: "n4", state: allocated, gpu_type: "h100" }
  - { names: "n5", state: drain }
  - { names: "n9", gpus: 4 }
"""

NODES = {
    "loaded_at": NOW - 5,
    "snapshot": SNAPSHOT,
    "switches": [
        {"name": "spine0", "level": 1, "children": ["leaf0", "leaf1"],
         "nodes": []},
        {"name": "leaf0", "level": 0, "children": [], "nodes": ["n1", "n2"]},
        {"name": "leaf1", "level": 0, "children": [],
         "nodes": ["n3", "n4", "n5"]},
    ],
    "nodes": [
        {"name": "n1", "gpus": 8, "free_gpus": 5, "gpu_type": None,
         "state": "mixed", "leaf": "leaf0", "failures": 0},
        {"name": "n2", "gpus": 8, "free_gpus": 8, "gpu_type": None,
         "state": "down", "leaf": "leaf0", "failures": 3},
        {"name": "n3", "gpus": 8, "free_gpus": 8, "gpu_type": None,
         "state": "idle", "leaf": "leaf1", "failures": 0},
        {"name": "n4", "gpus": 8, "free_gpus": 0, "gpu_type": "h100",
         "state": "allocated", "leaf": "leaf1", "failures": 0},
        {"name": "n5", "gpus": 8, "free_gpus": 8, "gpu_type": None,
         "state": "drain", "leaf": "leaf1", "failures": 0},
        {"name": "n9", "gpus": 4, "free_gpus": 4, "gpu_type": None,
         "state": "idle", "leaf": None, "failures": 0},
    ],
    # node health records (api-nodes.c); another user's job is null
    "health": [
        {"name": "n2", "state": "quarantined", "score": 1.9712,
         "quarantines": 1, "until": NOW + 3000, "drained": True,
         "failures_total": 3,
         "failures": [
             {"at": NOW - 600, "cause": "node_failure", "job": 13,
              "attempt": 2},
             {"at": NOW - 900, "cause": "hang", "job": None,
              "attempt": None}]},
        {"name": "n4", "state": "ok", "score": 0.5, "quarantines": 0,
         "until": None, "drained": False, "failures_total": 1,
         "failures": [{"at": NOW - 86400, "cause": "preflight_failed",
                       "job": 12, "attempt": 1}]},
    ],
}

# POST /v1/nodes/n2/clear: n2's record after the clear
CLEARED = {"name": "n2", "state": "ok", "score": 0.0, "quarantines": 0,
           "until": None, "drained": False, "failures_total": 3,
           "failures": []}

# POST /v1/jobs: the new job, as job_to_json() writes it without detail;
# with ?dry_run=1 the spec as the daemon parsed it.
SUBMITTED_SPEC = {"version": 1, "name": "hello", "command": "echo hi",
                  "workdir": "/shared/hello", "env": {},
                  "resources": {"nodes": 2, "gpus_per_node": 2,
                                "tasks_per_node": 2}}
SUBMITTED = {"id": 42, "name": "hello", "user": "carol", "uid": 1002,
             "state": "QUEUED", "reason": None, "created_at": NOW,
             "updated_at": NOW, "nodes": 2, "gpus_per_node": 2,
             "world_size": 4, "attempt": 0, "slurm_job_id": None,
             "node_list": None, "exit_code": None}

LOG_CHUNK = 16
CONNS = itertools.count(1)
WORLD_SIZE = 4

STATES = ("QUEUED", "SUBMITTED", "RUNNING", "RESTARTING", "COMPLETED",
          "FAILED", "CANCELLED")

# Job 16: text every YAML reader must get back as it was sent, for the
# -o yaml round trip in cli-habits.sh.
AWKWARD = ["yes", "no", "on", "off", "y", "n", "true", "False", "null",
           "NULL", "~", "", " ", " lead", "trail ", "a  b", "a: b", "a #b",
           "#x", "- x", "-", "?", ":", "*alias", "&anchor", "!tag", "%pct",
           "@at", "`tick", "|", ">", "=", "<<", "[1]", "{a: 1}", "'q'",
           '"dq"', "back\\slash", "123", "-5", "1e3", "0x1f", "0o17",
           "1_000", ".inf", ".nan", "3.14", "2026-01-31", "12:30:00",
           "/abs/path", "tab\there", "one\ntwo", "one\ntwo\n",
           "one\n\n\n", "\nlead", " x\ny", "cr\r\nlf", "esc\x1b[2Jx",
           "del\x7fx", "c1\x85\x9bx", "\u2028\u2029",
           "\ufeffbom", "\ufffe\uffff", "ünïcødé", "日本語", "\U0001f600",
           "line\n  indented\n", "x" * 300]
FUNNY = {"id": 16, "name": "funny", "state": "RUNNING", "strings": AWKWARD,
         "keys": {s: i for i, s in enumerate(AWKWARD[:40])},
         "numbers": [0, -1, 2 ** 53, -2 ** 62, 0.1, -2.5, 1e300, 1e-300,
                     1.0, -0.0, 123456789.125],
         "flags": [True, False, None], "empty": {"o": {}, "a": []},
         "nested": [[1, [2, []]], [{"a": {"b": [{}]}}], {"c": [[], {}]}]}


def list_query(query):
    """GET /v1/jobs's parameters as llmctld checks them: (error, states)."""
    q = urllib.parse.parse_qs(query, keep_blank_values=True)
    states = None
    if "state" in q:
        states = [w.upper() for w in q["state"][0].split(",")]
        for w in states:
            if w not in STATES:
                return "unknown state: %s (use QUEUED, SUBMITTED, RUNNING, " \
                    "RESTARTING, COMPLETED, FAILED or CANCELLED)" % w, None
    for key in ("since", "after", "limit"):
        if key in q and not q[key][0].isdigit():
            return "bad %s: %s" % (key, q[key][0]), None
    if "name" in q and not q["name"][0]:
        return "name must be 1-256 bytes", None
    return None, states


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive: llmctl reuses connections

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        self.conn = next(CONNS)
        self.drop_next = False

    def handle_one_request(self):
        if not self.drop_next:
            return super().handle_one_request()
        self.rfile.readline()
        self.close_connection = True

    def raw(self, path):
        """GET /v1/jobs/60x: replies as llmctld's evhttp may send them, or
        as no server should, byte by byte; True if path is one."""
        if not (path.startswith("/v1/jobs/60") and len(path) == 12):
            return False
        w = self.wfile
        body = json.dumps(dict(JOBS[2], id=int(path[9:]))).encode()
        json_head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        if path == "/v1/jobs/600":
            # chunked, with extensions and a trailer, in 7-byte pieces
            data = json_head + b"transfer-encoding: Chunked\r\n\r\n"
            for part in (body[:5], body[5:]):
                data += b"%x;ext=1\r\n%s\r\n" % (len(part), part)
            data += b"0\r\nX-Trailer: 1\r\n\r\n"
            for i in range(0, len(data), 7):
                w.write(data[i:i + 7])
                time.sleep(0.005)
        elif path == "/v1/jobs/601":
            # no length: the body ends when the connection closes
            w.write(json_head + b"\r\n" + body)
            self.close_connection = True
        elif path == "/v1/jobs/602":
            # one byte over llmctl's 64 MiB cap
            w.write(json_head + b"Content-Length: %d\r\n\r\n"
                    % (64 * 1024 * 1024 + 1))
            try:
                for _ in range(65):
                    w.write(b" " * (1024 * 1024))
            except OSError:
                pass
            self.close_connection = True
        elif path == "/v1/jobs/603":
            time.sleep(3)   # never answers in time
            self.close_connection = True
        elif path == "/v1/jobs/604":
            w.write(b"HTTP/1.1 OK\r\n\r\n")
            self.close_connection = True
        else:
            return False
        return True

    def reply(self, status, obj=None, raw=None):
        data = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, code, msg):
        self.reply(status, {"error": msg, "code": code})

    def record(self, body):
        with open(self.server.log, "a") as f:
            f.write(json.dumps({"method": self.command, "path": self.path,
                                "body": body, "conn": self.conn,
                                "key": self.headers.get("Idempotency-Key"),
                                "auth": self.headers.get("Authorization")})
                    + "\n")

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return {"unparsable": raw.decode("utf-8", "replace")}

    def do_GET(self):
        self.record(None)
        path = self.path.split("?")[0]
        if path == "/v1/jobs":
            err, states = list_query(urllib.parse.urlsplit(self.path).query)
            if err:
                return self.error(400, "bad_request", err)
            self.reply(200, {"jobs": [j for j in JOBS if states is None or
                                      j["state"] in states]})
        elif path == "/v1/jobs/16":
            self.reply(200, FUNNY)
        elif path == "/v1/jobs/13":
            self.reply(200, DETAIL)
        elif path == "/v1/jobs/12":
            self.reply(200, JOBS[2])
        elif path == "/v1/version":
            # llmctl dashboard asks first, to fail early without a daemon
            self.reply(200, {"version": "0.0-fake", "api": "v1"})
        elif path == "/v1/nodes":
            self.reply(200, NODES)
        elif path == "/v1/goodput":
            query = urllib.parse.parse_qs(
                urllib.parse.urlsplit(self.path).query)
            by = query.get("by", ["user"])[0]
            if by not in ("user", "day", "job"):
                return self.error(400, "bad_request",
                                  "by must be user, day or job: " + by)
            self.reply(200, dict(TOTALS, by=by))
        elif path == "/v1/jobs/13/events":
            self.reply(200, {"events": EVENTS})
        elif path == "/v1/jobs/12/events":
            self.reply(200, {"events": []})
        elif path == "/v1/jobs/13/checkpoints":
            self.reply(200, {"checkpoints": CHECKPOINTS, "newest": 20,
                             "resume_from": "/ckpt/hello/step_20"})
        elif path == "/v1/jobs/12/checkpoints":
            self.reply(200, {"checkpoints": [], "newest": None,
                             "resume_from": None})
        elif path.endswith("/logs") and path.startswith("/v1/jobs/"):
            self.logs(path[9:-5])
        elif path == "/v1/jobs/7":
            self.error(403, "permission_denied",
                       "job 7 belongs to another user")
        elif path == "/v1/jobs/500":
            self.reply(500, raw=b"<html>internal error</html>\nmore")
        elif path == "/v1/jobs/501":
            self.reply(200, raw=b"not json")
        elif self.raw(path):
            pass
        elif path.startswith("/v1/jobs/"):
            self.error(404, "not_found",
                       "no such job: " + path[9:].split("/")[0])
        else:
            self.error(404, "not_found", "no such endpoint")

    def logs(self, job):
        """GET /v1/jobs/JOB/logs as api-history.c answers it."""
        q = {k: v[0] for k, v in
             urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
             .items()}
        top = os.path.join(self.server.dir, "logs", job)
        if not os.path.isdir(top):
            return self.error(404, "not_found", "no such job: " + job)
        attempt = int(q.get("attempt", max(int(a) for a in os.listdir(top))))
        rank = int(q.get("rank", 0))
        if not os.path.isdir(os.path.join(top, str(attempt))):
            return self.error(404, "not_found", "job %s has no attempt %d"
                              % (job, attempt))
        if rank >= WORLD_SIZE:
            return self.error(404, "not_found", "job %s has no rank %d "
                              "(world size %d)" % (job, rank, WORLD_SIZE))
        done = os.path.exists(os.path.join(top, str(attempt), "done"))
        try:
            with open(os.path.join(top, str(attempt),
                                   "rank-%d.out" % rank), "rb") as f:
                text = f.read()
        except FileNotFoundError:
            text = b""
        if "offset" in q:
            offset = int(q["offset"])
        elif "tail" in q:
            lines = text.splitlines(keepends=True)
            n = int(q["tail"])
            offset = len(text) - len(b"".join(lines[-n:] if n else []))
        else:
            offset = 0
        data = text[offset:offset + LOG_CHUNK]
        self.reply(200, {"attempt": attempt, "rank": rank,
                         "offset": offset + len(data),
                         "data": data.decode("utf-8", "replace"),
                         "done": done and offset + len(data) >= len(text)})
        self.drop_next = job == "13" and offset == 16

    def do_POST(self):
        body = self.read_body()
        self.record(body)
        path = self.path.split("?")[0]
        if path == "/v1/jobs":
            spec = (body or {}).get("spec", "")
            if "reject" in spec:
                self.error(400, "invalid_spec",
                           "job.yaml:3:8: resources.nodes: too many")
            elif "dry_run=1" in self.path:
                self.reply(200, {"valid": True, "spec": SUBMITTED_SPEC})
            else:
                # "name: multi-N" is job N, any other is job 42
                m = re.search(r"^name: multi-(\d+)$", spec, re.M)
                self.reply(201, dict(SUBMITTED, id=int(m.group(1)) if m
                                     else 42))
                self.drop_next = "drop-next" in spec
        elif path == "/v1/plan":
            spec = (body or {}).get("spec", "")
            if "reject" in spec:
                self.error(409, "unplaceable",
                           "needs 12 nodes with 2 free GPUs; 3 have them")
            else:
                self.reply(200, {"plan": make_plan(),
                                 "cluster_loaded_at": NOW - 5})
        elif path in ("/v1/jobs/13/cancel", "/v1/jobs/17/cancel"):
            job = dict(JOBS[1], id=int(path[9:11]), state="CANCELLED")
            self.reply(200, job)
            self.drop_next = path == "/v1/jobs/17/cancel"
        elif path == "/v1/jobs/12/cancel":
            self.error(409, "conflict", "job 12 already COMPLETED")
        elif path == "/v1/jobs/14/cancel":
            self.error(409, "conflict", "job 14 already FAILED")
        elif path == "/v1/nodes/n2/clear":
            self.reply(200, CLEARED)
        elif path == "/v1/nodes/n7/clear":
            self.error(403, "permission_denied",
                       "only root and the admin group clear nodes")
        elif path.startswith("/v1/jobs/"):
            self.error(404, "not_found", "no such job: " + path[9:-7])
        else:
            self.error(404, "not_found", "no such endpoint")


class Beat(Handler):
    """The TCP listener: POST /v1/heartbeat with a bearer token only."""

    def do_GET(self):
        self.record(None)
        self.error(404, "not_found", "no such endpoint")

    def do_POST(self):
        body = self.read_body()
        self.record(body)
        if self.path != "/v1/heartbeat":
            self.error(404, "not_found", "no such endpoint")
        elif not (self.headers.get("Authorization") or "").startswith(
                "Bearer "):
            self.error(401, "unauthorized", "expected Authorization: "
                       "Bearer <LLMCTL_HEARTBEAT_TOKEN>")
        elif self.headers.get("Authorization") != "Bearer s3cret":
            self.error(403, "permission_denied", "unknown or expired "
                       "heartbeat token, or rank out of range")
        else:
            self.reply(200, {"ok": True})


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True   # llmctl logs -f holds its connection open


class TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True


def main():
    sock, log, ready = sys.argv[1:4]
    if os.path.exists(sock):
        os.unlink(sock)
    srv = Server(sock, Handler)
    srv.log = log
    srv.dir = os.path.dirname(os.path.abspath(log))
    tcp = TCPServer(("127.0.0.1", 0), Beat)
    tcp.log = log
    tcp.dir = srv.dir
    threading.Thread(target=tcp.serve_forever, daemon=True).start()
    with open(ready + ".tmp", "w") as f:
        f.write("%d\n" % tcp.server_address[1])
    os.rename(ready + ".tmp", ready)
    srv.serve_forever()


if __name__ == "__main__":
    main()
