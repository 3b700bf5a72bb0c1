#!/usr/bin/python3
"""A fake llmctld for tests/unit/cli-fake.sh.

Serves canned replies in the shape of DESIGN.md section 4 on a Unix socket
and appends every request it gets to LOG as one JSON line
({"method", "path", "body"}), so the test can check what llmctl sent as well
as what it printed. Usage: fake_llmctld.py SOCKET LOG READY; READY is created
once the socket accepts connections.
"""

import http.server
import json
import os
import socketserver
import sys
import time

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


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive: llmctl reuses connections

    def log_message(self, fmt, *args):
        pass

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
                                "body": body}) + "\n")

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
            self.reply(200, {"jobs": JOBS})
        elif path == "/v1/jobs/13":
            self.reply(200, DETAIL)
        elif path == "/v1/jobs/12":
            self.reply(200, JOBS[2])
        elif path == "/v1/jobs/7":
            self.error(403, "forbidden", "job 7 belongs to another user")
        elif path == "/v1/jobs/500":
            self.reply(500, raw=b"<html>internal error</html>\nmore")
        elif path == "/v1/jobs/501":
            self.reply(200, raw=b"not json")
        elif path.startswith("/v1/jobs/"):
            self.error(404, "not_found", "no such job: " + path[9:])
        else:
            self.error(404, "not_found", "no such endpoint")

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
                self.reply(200, {"name": "hello", "dry_run": True})
            else:
                self.reply(201, {"id": 42, "name": "hello",
                                 "state": "QUEUED", "plan": None})
        elif path == "/v1/jobs/13/cancel":
            job = dict(JOBS[1], state="CANCELLED")
            self.reply(200, job)
        elif path == "/v1/jobs/12/cancel":
            self.reply(200, dict(JOBS[2]))      # already COMPLETED
        elif path == "/v1/jobs/14/cancel":
            self.error(409, "conflict", "job 14 already FAILED")
        elif path.startswith("/v1/jobs/"):
            self.error(404, "not_found", "no such job: " + path[9:-7])
        else:
            self.error(404, "not_found", "no such endpoint")


class Server(socketserver.UnixStreamServer):
    pass


def main():
    sock, log, ready = sys.argv[1:4]
    if os.path.exists(sock):
        os.unlink(sock)
    srv = Server(sock, Handler)
    srv.log = log
    open(ready, "w").close()
    srv.serve_forever()


if __name__ == "__main__":
    main()
