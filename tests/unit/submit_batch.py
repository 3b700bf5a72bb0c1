#!/usr/bin/python3
"""Submits that arrive together: llmctld (SIGSTOPped by the caller) gets
every request at once when it is continued, stores them in shared
transactions and answers each. Asserts what the clients see.

usage: submit_batch.py SOCK PID LOG"""
import json
import os
import re
import signal
import socket
import sys
import time

SOCK, PID, LOG = sys.argv[1], int(sys.argv[2]), sys.argv[3]
CPU = "version: 1\nname: %s\ncommand: \"true\"\nworkdir: /tmp\n" \
    "resources:\n  nodes: 1\n  gpus_per_node: 0\n"
GPU = "version: 1\nname: %s\ncommand: \"true\"\nworkdir: /tmp\n" \
    "resources:\n  nodes: 1\n  gpus_per_node: 8\n"


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def request(method, path, body=None, key=None):
    s = socket.socket(socket.AF_UNIX)
    s.connect(SOCK)
    data = b"" if body is None else json.dumps(body).encode()
    head = "%s %s HTTP/1.1\r\nHost: llmctld\r\nConnection: close\r\n" \
        "Content-Type: application/json\r\nContent-Length: %d\r\n" % (
            method, path, len(data))
    if key is not None:
        head += "Idempotency-Key: %s\r\n" % key
    s.sendall(head.encode() + b"\r\n" + data)
    return s


def answer(s):
    s.settimeout(20)
    buf = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    head, _, body = buf.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    return status, json.loads(body) if body.strip() else None


def get(path):
    return answer(request("GET", path))


def submit(spec, key=None):
    return request("POST", "/v1/jobs", {"spec": spec, "file": "j.yaml"},
                   key)


# while llmctld is stopped every request waits in its socket
os.kill(PID, signal.SIGSTOP)
try:
    conns = [("gpu", submit(GPU % ("g%d" % i))) for i in range(4)]
    conns += [("cpu", submit(CPU % ("c%d" % i))) for i in range(16)]
    conns += [("dup", submit(CPU % "dup", key="batch-key-1"))
              for _ in range(2)]
    time.sleep(0.2)
finally:
    os.kill(PID, signal.SIGCONT)
answers = [(kind, answer(s)) for kind, s in conns]

ids = set()
for kind, (status, body) in answers:
    if kind != "dup" and status != 201:
        fail("%s submit answered %d: %s" % (kind, status, body))
    if kind != "dup":
        ids.add(body["id"])
if len(ids) != 20:
    fail("20 submits made %d distinct jobs" % len(ids))
dup = sorted((status, body["id"]) for kind, (status, body) in answers
             if kind == "dup")
if [d[0] for d in dup] != [200, 201] or dup[0][1] != dup[1][1]:
    fail("one Idempotency-Key twice in a batch: %s, not 201 and 200 for "
         "one job" % dup)
status, listing = get("/v1/jobs?limit=1000")
if status != 200 or len(listing["jobs"]) != 21:
    fail("21 jobs expected in the listing, got %s" %
         (status if status != 200 else len(listing["jobs"])))

# the four 8-GPU jobs were planned in one transaction: each saw the
# GPUs the ones before it took, so they went to four different nodes
nodes = []
for kind, (status, body) in answers:
    if kind == "gpu":
        st, job = get("/v1/jobs/%d" % body["id"])
        nodes.append(job["attempts"][0]["nodes"])
if None in nodes or len(set(nodes)) != 4:
    fail("four 8-GPU jobs submitted together are on %s, not 4 nodes" %
         nodes)

with open(LOG) as f:
    sizes = [int(m.group(1)) for m in
             re.finditer(r"(\d+) submits? in one transaction", f.read())]
if sum(sizes) != 22:
    fail("the log counts %d submits stored, not 22: %s" % (sum(sizes), sizes))
if max(sizes) < 10:
    fail("22 submits that arrived together took %d transactions: %s" %
         (len(sizes), sizes))
print("ok: 22 submits in %d transaction(s) %s; GPU jobs on %s" %
      (len(sizes), sizes, nodes))
