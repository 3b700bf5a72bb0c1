#!/usr/bin/python3
"""The contract between llmctld and fake_llmctld.py, for api-contract.sh.

Usage: api_contract.py REAL_SOCKET REAL_PORT DATABASE FAKE_SOCKET FAKE_PORT
    JOB_ID

REAL_SOCKET is a real llmctld with the fake backend, REAL_PORT its heartbeat
listener on 127.0.0.1 and DATABASE its store, JOB_ID a job llmctl submitted
to it; FAKE_SOCKET and FAKE_PORT are fake_llmctld.py's. Every route llmctl
uses is asked of both, and for every key path of the fake's reply (objects
recursed, arrays as the union of their elements) the real reply must hold
the same key with a compatible JSON type: null goes with anything, int with
number. Status codes must agree, and so must the "code" of an error reply.
Every difference is printed, naming the route, the key path and both
types; any difference exits 1.

The fake backend never runs a job, so nothing would ever fill a job's
checkpoints, heartbeat summary, excluded nodes or ended attempts: seed()
writes one finished job with that history into the store, as the monitor
would have, and the real daemon serialises it. Paths the real daemon still
leaves empty (a null, an empty array) are listed as "not checked".
"""

import http.client
import json
import os
import socket
import sqlite3
import sys
import time

# Keys fake_llmctld.py sends on purpose, which no llmctld sends: each tests
# that llmctl tolerates a field it does not know. (route label, key path)
ALLOWED = {
    # a newer daemon's field, passed through by status -o json
    ("list", "jobs[].health"),
    ("list", "jobs[].health.future"),
    # an unknown top-level object in a job's detail; the real "plan" lives
    # in attempts[].plan
    ("detail", "plan"),
    ("detail", "plan.unknown"),
    # only while an attempt runs and beats (health_get in job_health_json);
    # the fake backend runs nothing, and a stored summary has no "ranks"
    ("detail", "heartbeat.ranks"),
}

SPEC = """version: 1
name: %s
command: [python3, train.py]
resources:
  nodes: %d
  gpus_per_node: 2
parallel:
  tensor: 2
"""
GOOD = SPEC % ("contract", 2)
# "command" is an array (exec'd) or a string (run by a shell)
SHELL = GOOD.replace("[python3, train.py]", '"python3 train.py"')
UNPLACEABLE = SPEC % ("reject-me", 9)   # the fake cluster has 4 nodes
INVALID = "version: 1\nname: reject\ncommand: x\nresources:\n  nodes: four\n"


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.unix_path)


def request(sock, method, path, body=None, uid=None, auth=None):
    """(status, JSON reply) from the daemon on sock, a path or a TCP port on
    127.0.0.1; as uid if given."""
    if uid is not None:
        return request_as(uid, sock, method, path, body)
    if isinstance(sock, int):
        conn = http.client.HTTPConnection("127.0.0.1", sock, timeout=10)
    else:
        conn = UnixHTTP(sock)
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data else {}
    if auth is not None:
        headers["Authorization"] = auth
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    try:
        return resp.status, json.loads(raw)
    except ValueError:
        sys.exit("FAIL: %s %s: not JSON: %r" % (method, path, raw[:200]))


def request_as(uid, *args):
    """request() from a child that runs as uid (SO_PEERCRED sees it)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.setgid(uid)
            os.setuid(uid)
            out = json.dumps(request(*args)).encode()
            os.write(w, out)
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        out = f.read()
    os.waitpid(pid, 0)
    if not out:
        sys.exit("FAIL: %s %s as uid %d: no reply" % (args[1], args[2], uid))
    return tuple(json.loads(out))


def kind(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def shape(v, path="", out=None):
    """{key path: set of JSON types} of v; "" is the reply itself."""
    if out is None:
        out = {}
    out.setdefault(path, set()).add(kind(v))
    if isinstance(v, dict):
        for k, x in v.items():
            shape(x, path + "." + k if path else k, out)
    elif isinstance(v, list):
        for x in v:
            shape(x, path + "[]", out)
    return out


def parent(path):
    if path.endswith("[]"):
        return path[:-2]
    return path.rsplit(".", 1)[0] if "." in path else ""


def compatible(fake, real):
    real = {"number" if t == "int" else t for t in real}
    return all(t == "null" or ("number" if t == "int" else t) in real
               for t in fake)


def seed(db, spec, plan):
    """A finished job as the monitor leaves it: a failed attempt that blamed
    a node, a completed one that sent heartbeats, three checkpoints. The
    monitor never looks at a COMPLETED job again. Returns its id."""
    now = int(time.time())
    uid = os.getuid()
    con = sqlite3.connect(db, timeout=10)
    with con:
        cur = con.execute(
            "INSERT INTO jobs (name, uid, gid, user, state, reason, spec, "
            "created_at, updated_at, attempts, nodes, gpus_per_node, "
            "world_size, exit_code) VALUES ('history', ?, ?, 'contract', "
            "'COMPLETED', NULL, ?, ?, ?, 2, 2, 2, 4, 0)",
            (uid, os.getgid(), spec, now - 7200, now - 60))
        job = cur.lastrowid
        a = ("INSERT INTO attempts (job_id, attempt, tag, state, "
             "slurm_job_id, nodes, master_port, submitted_at, started_at, "
             "ended_at, exit_code, cause, reason, plan, last_beat_at, "
             "last_step, beats, blamed) VALUES "
             "(?, ?, ?, ?, ?, ?, 29500, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        con.execute(a, (job, 1, "contract-%d-1" % job, "FAILED", 501,
                        "n3,n4", now - 7200, now - 7100, now - 3600, 1,
                        "node_failure", "node n4 went DOWN", plan, None,
                        None, 0, "n4"))
        con.execute(a, (job, 2, "contract-%d-2" % job, "COMPLETED", 502,
                        "n1,n2", now - 3500, now - 3400, now - 60, 0, None,
                        None, plan, now - 70, 1500, 42, None))
        c = ("INSERT INTO checkpoints (job_id, step, path, bytes, complete, "
             "verified, problem, mtime) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        con.execute(c, (job, 10, "/ckpt/step_10", 512, 1, 1, None,
                        now - 7000))
        con.execute(c, (job, 20, "/ckpt/step_20", 1536, 0, 0,
                        "MANIFEST.sha256: model.pt: checksum mismatch",
                        now - 3000))
        con.execute(c, (job, 30, "/ckpt/step_30", 0, 0, 0,
                        "no COMPLETE marker or manifest", now - 100))
        con.execute("INSERT INTO events (job_id, at, kind, message) VALUES "
                    "(?, ?, 'state', 'job COMPLETED')", (job, now - 60))
    con.close()
    return job


def main():
    real_sock, real_port, db, fake_sock, fake_port, job = sys.argv[1:7]
    real_port, fake_port, job = int(real_port), int(fake_port), int(job)
    root = os.geteuid() == 0

    # the monitor hands the job to the fake backend within a poll or two
    for _ in range(100):
        st, detail = request(real_sock, "GET", "/v1/jobs/%d" % job)
        if st == 200 and detail.get("attempts"):
            break
        time.sleep(0.1)
    else:
        sys.exit("FAIL: job %d got no attempt: %s" % (job, detail))

    good = {"spec": GOOD, "file": "job.yaml", "workdir": "/tmp"}
    unplaceable = {"spec": UNPLACEABLE, "file": "job.yaml",
                   "workdir": "/tmp"}
    invalid = {"spec": INVALID, "file": "job.yaml", "workdir": "/tmp"}
    R = lambda *a, **k: request(real_sock, *a, **k)   # noqa: E731
    F = lambda *a, **k: request(fake_sock, *a, **k)   # noqa: E731

    # (label, real replies, fake reply); real ones first since the
    # POSTs change the real daemon's state
    pairs = []
    dry = R("POST", "/v1/jobs?dry_run=1", good)
    plan = R("POST", "/v1/plan", good)
    try:
        old = seed(db, json.dumps(dry[1]["spec"]),
                   json.dumps(plan[1]["plan"]))
    except (sqlite3.Error, KeyError) as e:
        sys.exit("FAIL: cannot seed %s (has the schema changed?): %s" %
                 (db, e))
    submitted = R("POST", "/v1/jobs", good)
    pairs.append(("submit", [submitted], F("POST", "/v1/jobs", good)))
    new = submitted[1].get("id")
    pairs += [
        ("dry run", [dry, R("POST", "/v1/jobs?dry_run=1",
                             dict(good, spec=SHELL))],
         F("POST", "/v1/jobs?dry_run=1", good)),
        ("submit invalid", [R("POST", "/v1/jobs", invalid)],
         F("POST", "/v1/jobs", invalid)),
        ("plan", [plan], F("POST", "/v1/plan", good)),
        ("plan unplaceable", [R("POST", "/v1/plan", unplaceable)],
         F("POST", "/v1/plan", unplaceable)),
        ("cancel", [R("POST", "/v1/jobs/%s/cancel" % new)],
         F("POST", "/v1/jobs/13/cancel")),
    ]
    final = R("POST", "/v1/jobs/%s/cancel" % new)
    pairs += [
        ("cancel final", [final], F("POST", "/v1/jobs/14/cancel")),
        ("cancel completed", [final], F("POST", "/v1/jobs/12/cancel")),
        ("cancel missing", [R("POST", "/v1/jobs/999/cancel")],
         F("POST", "/v1/jobs/99/cancel")),
    ]
    details = [R("GET", "/v1/jobs/%d" % job), R("GET", "/v1/jobs/%s" % new),
               R("GET", "/v1/jobs/%d" % old)]
    pairs += [
        ("list", [R("GET", "/v1/jobs")], F("GET", "/v1/jobs")),
        ("detail", details, F("GET", "/v1/jobs/13")),
        ("detail minimal", details, F("GET", "/v1/jobs/12")),
        ("missing job", [R("GET", "/v1/jobs/999")], F("GET", "/v1/jobs/99")),
        ("no endpoint", [R("GET", "/v1/nope")], F("GET", "/v1/nope")),
        ("events", [R("GET", "/v1/jobs/%d/events" % job)],
         F("GET", "/v1/jobs/13/events")),
        ("events none", [R("GET", "/v1/jobs/%d/events" % job)],
         F("GET", "/v1/jobs/12/events")),
        ("checkpoints", [R("GET", "/v1/jobs/%d/checkpoints" % old)],
         F("GET", "/v1/jobs/13/checkpoints")),
        ("checkpoints none", [R("GET", "/v1/jobs/%d/checkpoints" % job)],
         F("GET", "/v1/jobs/12/checkpoints")),
        ("logs", [R("GET", "/v1/jobs/%d/logs" % job),
                  R("GET", "/v1/jobs/%d/logs?tail=2" % job)],
         F("GET", "/v1/jobs/13/logs?tail=2")),
        ("logs no attempt", [R("GET", "/v1/jobs/%d/logs?attempt=9" % job)],
         F("GET", "/v1/jobs/13/logs?attempt=9")),
        ("logs no rank", [R("GET", "/v1/jobs/%d/logs?rank=99" % job)],
         F("GET", "/v1/jobs/13/logs?rank=99")),
        ("nodes", [R("GET", "/v1/nodes")], F("GET", "/v1/nodes")),
        ("version", [R("GET", "/v1/version")], F("GET", "/v1/version")),
    ]
    # the list's filters (llmctl status --state --name --since)
    for label, q in (("list filtered",
                      "state=COMPLETED,cancelled&since=0&name=history"),
                     ("list bad state", "state=RUNNING,bogus"),
                     ("list bad since", "since=soon"),
                     ("list bad name", "name=")):
        pairs.append((label, [R("GET", "/v1/jobs?" + q)],
                      F("GET", "/v1/jobs?" + q)))
    failed_filters = check_filters(R, job, new, old)
    # the TCP listener; a heartbeat that llmctld accepts needs the token of
    # a launched attempt, which only the job's environment ever holds
    beat = {"rank": 0, "step": 1}
    RT = lambda *a, **k: request(real_port, *a, **k)   # noqa: E731
    FT = lambda *a, **k: request(fake_port, *a, **k)   # noqa: E731
    pairs += [
        ("heartbeat without token", [RT("POST", "/v1/heartbeat", beat)],
         FT("POST", "/v1/heartbeat", beat)),
        ("heartbeat bad token",
         [RT("POST", "/v1/heartbeat", beat, auth="Bearer wrong")],
         FT("POST", "/v1/heartbeat", beat, auth="Bearer wrong")),
        ("tcp no endpoint", [RT("GET", "/v1/jobs")], FT("GET", "/v1/jobs")),
    ]
    print("note: an accepted heartbeat ({\"ok\": true}) is not checked")
    if root:
        # SO_PEERCRED: another user may not see root's job
        pairs.append(("other user's job",
                      [R("GET", "/v1/jobs/%d" % job, uid=65534)],
                      F("GET", "/v1/jobs/7")))
    else:
        print("note: not root: the 403 reply is not checked")

    failed, notes, n = 0, set(), 0
    for label, reals, (fst, fbody) in pairs:
        bad = []
        statuses = {st for st, _ in reals}
        if fst not in statuses:
            bad.append("status: the fake answers %d, llmctld %s" %
                       (fst, "/".join(map(str, sorted(statuses)))))
        if fst >= 400:
            codes = {b.get("code") for _, b in reals}
            if fbody.get("code") not in codes:
                bad.append("code: the fake sends %r, llmctld %s" %
                           (fbody.get("code"),
                            "/".join(map(repr, sorted(codes, key=str)))))
        real = [b for _, b in reals]
        # several replies: compare against what they hold together
        union = {}
        for b in real:
            for p, t in shape(b).items():
                union.setdefault(p, set()).update(t)
        bad += compare_shapes(label, union, shape(fbody), notes)
        n += 1
        for b in bad:
            print("FAIL: %s: %s" % (label, b))
            failed += 1
        if bad:
            print("  llmctld: %s" % json.dumps(real)[:2000])
            print("  fake:    %s" % json.dumps(fbody)[:2000])
    for note in sorted(notes):
        print("note: " + note)
    print("%d routes compared, %d differences" % (n, failed))
    return 1 if failed or failed_filters else 0


def check_filters(R, job, new, old):
    """What GET /v1/jobs returns for each filter, on the real daemon: job
    unfinished, new cancelled a moment ago, old completed 60 s ago. Prints
    each wrong answer; returns how many."""
    now = int(time.time())
    st, detail = R("GET", "/v1/jobs/%d" % job)
    active = detail.get("state") not in ("COMPLETED", "FAILED", "CANCELLED")
    cases = [
        ("state=COMPLETED", lambda ids, js: old in ids and
         all(j["state"] == "COMPLETED" for j in js)),
        ("state=completed,CANCELLED", lambda ids, js: old in ids and
         new in ids and job not in ids or not active),
        ("name=history", lambda ids, js: ids == [old]),
        ("name=history&state=RUNNING", lambda ids, js: ids == []),
        # final jobs that ended before since drop out, the rest stay
        ("since=%d" % (now + 3600), lambda ids, js: old not in ids and
         new not in ids and (job in ids or not active)),
        ("since=%d" % (now - 600), lambda ids, js: old in ids and new in ids),
        ("since=%d&state=COMPLETED" % (now - 30), lambda ids, js: ids == []),
        ("limit=1", lambda ids, js: len(ids) == 1),
        ("user=all&since=0", lambda ids, js: {job, new, old} <= set(ids)),
    ]
    bad = 0
    for q, good in cases:
        st, body = R("GET", "/v1/jobs?" + q)
        js = body.get("jobs", []) if st == 200 else []
        ids = [j["id"] for j in js]
        if st != 200 or not good(ids, js):
            print("FAIL: GET /v1/jobs?%s: %d, ids %s (job %d, cancelled %s, "
                  "completed %d)" % (q, st, ids, job, new, old))
            bad += 1
    for q, msg in (("state=bogus", "unknown state: bogus"),
                   ("since=-1", "bad since: -1"),
                   ("since=99999999999999999999", "bad since"),
                   ("name=" + "x" * 300, "name must be 1-256 bytes"),
                   ("limit=0", "limit must be 1-10000")):
        st, body = R("GET", "/v1/jobs?" + q)
        if st != 400 or not body.get("error", "").startswith(msg):
            print("FAIL: GET /v1/jobs?%s: %d %s, want 400 %s" %
                  (q, st, body, msg))
            bad += 1
    print("%d list filters checked, %d wrong" % (len(cases) + 5, bad))
    return bad


def compare_shapes(label, rs, fs, notes):
    """compare() on shapes already made."""
    bad = []
    for p in sorted(fs):
        if (label, p) in ALLOWED or p == "":
            continue
        if p in rs:
            if rs[p] == {"null"} and fs[p] != {"null"}:
                notes.add("%s: %s: llmctld sent only null" % (label, p))
            elif not compatible(fs[p], rs[p]):
                bad.append("%s: the fake sends %s, llmctld sends %s" %
                           (p, "|".join(sorted(fs[p])),
                            "|".join(sorted(rs[p]))))
            continue
        up = parent(p)
        if up not in rs:
            continue            # its parent is reported or noted
        if p.endswith("[]"):
            notes.add("%s: %s: not checked, llmctld sent only []" %
                      (label, p))
        elif "object" in rs[up]:
            bad.append("%s: the fake sends %s, llmctld sends no such key" %
                       (p, "|".join(sorted(fs[p]))))
        elif rs[up] != {"null"}:     # a null parent is noted already
            notes.add("%s: %s: not checked, llmctld sent only %s" %
                      (label, p, "|".join(sorted(rs[up]))))
    return bad


if __name__ == "__main__":
    sys.exit(main())
