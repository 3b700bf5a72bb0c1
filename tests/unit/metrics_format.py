#!/usr/bin/python3
"""Checks llmctld's Prometheus text (metrics-format.sh drives it).

A parser of the text exposition format (version 0.0.4) that refuses what
Prometheus would refuse or what breaks its conventions: a sample before
its family's TYPE, a family declared twice, a duplicate series, a bad
name or label, a value that is not a float, a counter not named _total,
a histogram whose buckets are not cumulative or whose +Inf bucket is not
its _count. Then asserts the series a user relies on.

  metrics_format.py phase1 SOCK PORT      # jobs submitted, one cancelled
  metrics_format.py fabricate DB NOW      # llmctld stopped: a restart
  metrics_format.py phase2 SOCK PORT NOW  # after fabricate and a restart
"""
import http.client
import math
import os
import re
import socket
import sqlite3
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def fail(msg):
    sys.exit("FAIL: " + msg)


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.path)


def get(conn, path):
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read().decode()
    if r.status != 200:
        fail("GET %s: %d %s" % (path, r.status, body))
    ctype = r.getheader("Content-Type", "")
    if not ctype.startswith("text/plain"):
        fail("GET %s: Content-Type %r, not text/plain" % (path, ctype))
    return body


def get_unix_as(uid, sock, path):
    """GET over the Unix socket from a child running as uid."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.write(wfd, get(UnixHTTP(sock), path).encode())
        finally:
            os._exit(0)
    os.close(wfd)
    out = b""
    while True:
        chunk = os.read(rfd, 65536)
        if not chunk:
            break
        out += chunk
    os.close(rfd)
    os.waitpid(pid, 0)
    if not out:
        fail("GET %s as uid %d: no reply" % (path, uid))
    return out.decode()


def parse_labels(text, where):
    labels = {}
    pos = 0
    while pos < len(text):
        m = LABEL.match(text, pos)
        if m is None:
            fail("%s: bad labels {%s}" % (where, text))
        if m.group(1) in labels:
            fail("%s: label %s twice" % (where, m.group(1)))
        labels[m.group(1)] = m.group(2)
        pos = m.end()
        if pos < len(text):
            if text[pos] != ",":
                fail("%s: bad labels {%s}" % (where, text))
            pos += 1
    return labels


def family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)]
        if name.endswith(suffix) and types.get(base) == "histogram":
            return base
    return name


def parse(text):
    """{family: {"type", "help", "samples": [(name, labels, value)]}}"""
    fams = {}
    types = {}
    seen = set()
    if not text.endswith("\n"):
        fail("the text does not end in a newline")
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = "line %d (%r)" % (n, line)
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(" ", 3)
            if len(parts) < 4 or not NAME.match(parts[2]):
                fail("%s: malformed" % where)
            fam = fams.setdefault(parts[2], {"samples": []})
            key = "help" if parts[1] == "HELP" else "type"
            if key in fam:
                fail("%s: %s given twice" % (where, parts[1]))
            if fam["samples"]:
                fail("%s: after the family's samples" % where)
            if key == "type":
                if parts[3] not in TYPES:
                    fail("%s: unknown type" % where)
                types[parts[2]] = parts[3]
            fam[key] = parts[3]
            continue
        if line.startswith("#") or line == "":
            fail("%s: stray line" % where)
        m = re.match(r"([^{ ]+)(?:\{(.*)\})? (\S+)$", line)
        if m is None or not NAME.match(m.group(1)):
            fail("%s: not a sample" % where)
        name, labels = m.group(1), parse_labels(m.group(2) or "", where)
        try:
            value = float(m.group(3))
        except ValueError:
            fail("%s: value is not a float" % where)
        fam = family_of(name, types)
        if fam not in types:
            fail("%s: no TYPE before it" % where)
        key = (name, tuple(sorted(labels.items())))
        if key in seen:
            fail("%s: duplicate series" % where)
        seen.add(key)
        fams[fam]["samples"].append((name, labels, value))
    for name, fam in fams.items():
        check_family(name, fam)
    return fams


def check_family(name, fam):
    if "type" not in fam or "help" not in fam:
        fail("%s: needs both HELP and TYPE" % name)
    if not name.startswith("llmctld_"):
        fail("%s: not in the llmctld_ namespace" % name)
    if fam["type"] == "counter" and not name.endswith("_total"):
        fail("%s: a counter not named _total" % name)
    if fam["type"] != "counter" and name.endswith("_total"):
        fail("%s: _total on a %s" % (name, fam["type"]))
    if fam["type"] == "histogram":
        check_histogram(name, fam["samples"])
    if "duration" in name and not name.endswith("_seconds"):
        fail("%s: a duration not in seconds" % name)


def check_histogram(name, samples):
    series = {}
    for sname, labels, value in samples:
        rest = {k: v for k, v in labels.items() if k != "le"}
        s = series.setdefault(tuple(sorted(rest.items())), {"b": []})
        if sname == name + "_bucket":
            if "le" not in labels:
                fail("%s: a bucket without le" % name)
            s["b"].append((float(labels["le"]), value))
        elif sname == name + "_sum":
            s["sum"] = value
        elif sname == name + "_count":
            s["count"] = value
        else:
            fail("%s: sample %s" % (name, sname))
    for key, s in series.items():
        if "sum" not in s or "count" not in s or not s["b"]:
            fail("%s%s: needs _bucket, _sum and _count" % (name, key))
        les = [le for le, _ in s["b"]]
        if les != sorted(les) or les[-1] != math.inf:
            fail("%s%s: le not ascending to +Inf" % (name, key))
        counts = [c for _, c in s["b"]]
        if counts != sorted(counts):
            fail("%s%s: buckets not cumulative" % (name, key))
        if counts[-1] != s["count"]:
            fail("%s%s: +Inf bucket != _count" % (name, key))


def value(fams, series, **labels):
    """The sample's value, or None when absent."""
    fam = fams.get(family_of(series, {k: v.get("type") for k, v in
                                      fams.items()}))
    for sname, l, v in fam["samples"] if fam else []:
        if sname == series and l == labels:
            return v
    return None


def expect(fams, series, want, **labels):
    got = value(fams, series, **labels)
    if got != want:
        fail("%s%s = %r, expected %r" % (series, labels, got, want))


def expect_type(fams, name, typ):
    if fams.get(name, {}).get("type") != typ:
        fail("%s: type %r, expected %s" % (name, fams.get(name), typ))


PRIVATE = ("llmctld_user_jobs", "llmctld_job_info",
           "llmctld_job_heartbeat_age_seconds", "llmctld_job_last_step",
           "llmctld_job_checkpoint_age_seconds",
           "llmctld_job_checkpoint_step", "llmctld_job_goodput_ratio")


def common(fams):
    for name, typ in (("llmctld_build_info", "gauge"),
                      ("llmctld_jobs", "gauge"),
                      ("llmctld_attempts_total", "counter"),
                      ("llmctld_restarts_total", "counter"),
                      ("llmctld_node_recent_failures", "gauge"),
                      ("llmctld_attempt_queue_wait_seconds", "histogram"),
                      ("llmctld_attempt_duration_seconds", "histogram"),
                      ("llmctld_recovery_seconds", "histogram"),
                      ("llmctld_backend_op_duration_seconds", "histogram"),
                      ("llmctld_backend_op_errors_total", "counter"),
                      ("llmctld_poll_duration_seconds", "histogram"),
                      ("llmctld_api_requests_total", "counter"),
                      ("llmctld_api_request_duration_seconds", "histogram"),
                      ("llmctld_store_commit_duration_seconds", "histogram"),
                      ("llmctld_webhook_delivered_total", "counter"),
                      ("llmctld_goodput_seconds_total", "counter")):
        expect_type(fams, name, typ)
    if len(fams["llmctld_build_info"]["samples"]) != 1:
        fail("llmctld_build_info: not one series")


def scrape_all(sock, port):
    tcp = parse(get(http.client.HTTPConnection("127.0.0.1", port,
                                                timeout=10), "/metrics"))
    unix = parse(get(UnixHTTP(sock), "/v1/metrics"))
    other = parse(get_unix_as(65534, sock, "/v1/metrics"))
    for fams in (tcp, unix, other):
        common(fams)
    for name in PRIVATE:
        if name in tcp:
            fail("%s is served over TCP, to anyone" % name)
        if name not in unix:
            fail("%s: missing on the Unix socket" % name)
        if other[name]["samples"]:
            fail("%s: nobody sees root's series: %r" %
                 (name, other[name]["samples"]))
    return tcp, unix


def phase1(sock, port):
    tcp, unix = scrape_all(sock, port)
    expect(tcp, "llmctld_jobs", 1, state="CANCELLED")
    expect(tcp, "llmctld_attempts_total", 1, cause="cancelled")
    expect(tcp, "llmctld_attempts_total", 0, cause="node_failure")
    expect(tcp, "llmctld_restarts_total", 0, cause="cancelled")
    expect(unix, "llmctld_user_jobs", 1, user="root", state="CANCELLED")
    expect(tcp, "llmctld_api_requests_total", 1, route="/v1/jobs/{id}/cancel",
           listener="unix", code="200")
    if (value(tcp, "llmctld_api_requests_total", route="/v1/jobs",
              listener="unix", code="201") or 0) < 2:
        fail("two submits not counted in llmctld_api_requests_total")
    for op in ("submit", "list", "cancel"):
        if not value(tcp, "llmctld_backend_op_duration_seconds_count", op=op):
            fail("no %s op in llmctld_backend_op_duration_seconds" % op)
    if not value(tcp, "llmctld_store_commit_duration_seconds_count"):
        fail("no store commits counted")
    if not value(tcp, "llmctld_poll_duration_seconds_count"):
        fail("no polls counted")
    print("ok: phase 1: %d families over TCP, %d on the Unix socket" %
          (len(tcp), len(unix)))


def fabricate(db, now):
    """Job 2's attempt 1 ended in a node failure 40 s ago; attempt 2 runs."""
    now = int(now)
    c = sqlite3.connect(db)
    c.execute("UPDATE attempts SET state = 'NODE_FAIL', cause = "
              "'node_failure', submitted_at = ?, started_at = ?, "
              "ended_at = ?, decided = 1 WHERE job_id = 2 AND attempt = 1",
              (now - 130, now - 100, now - 40))
    c.execute("INSERT INTO attempts (job_id, attempt, tag, state, "
              "slurm_job_id, nodes, master_port, submitted_at, started_at, "
              "last_beat_at, last_step, beats) VALUES (2, 2, 'metricstag2', "
              "'RUNNING', 5000, 'n1', 29500, ?, ?, ?, 42, 10)",
              (now - 35, now - 30, now - 7))
    c.execute("UPDATE jobs SET state = 'RUNNING', attempts = 2 WHERE id = 2")
    c.execute("INSERT INTO checkpoints (job_id, step, path, bytes, "
              "complete, verified, mtime) VALUES (2, 40, '/x/step-40', 1, "
              "1, 1, ?), (2, 50, '/x/step-50', 1, 0, 0, ?)",
              (now - 20, now - 5))
    c.execute("INSERT INTO nodes (name, failures, last_failure_at) "
              "VALUES ('n1', 2, ?), ('old', 9, ?)", (now - 40, now - 90000))
    c.commit()
    c.close()


def phase2(sock, port, now):
    tcp, unix = scrape_all(sock, port)
    now = int(now)
    expect(tcp, "llmctld_attempts_total", 1, cause="node_failure")
    expect(tcp, "llmctld_restarts_total", 1, cause="node_failure")
    expect(tcp, "llmctld_jobs", 1, state="RUNNING")
    expect(tcp, "llmctld_node_recent_failures", 2, node="n1")
    expect(tcp, "llmctld_node_recent_failures", None, node="old")
    # queue waits 30 and 5; one attempt of 60 s; 10 s to run again
    expect(tcp, "llmctld_attempt_queue_wait_seconds_count", 2)
    expect(tcp, "llmctld_attempt_queue_wait_seconds_sum", 35)
    expect(tcp, "llmctld_attempt_queue_wait_seconds_bucket", 1, le="5")
    expect(tcp, "llmctld_attempt_queue_wait_seconds_bucket", 2, le="30")
    expect(tcp, "llmctld_attempt_duration_seconds_sum", 60)
    expect(tcp, "llmctld_recovery_seconds_count", 1)
    expect(tcp, "llmctld_recovery_seconds_sum", 10)
    expect(tcp, "llmctld_recovery_seconds_bucket", 0, le="5")
    expect(tcp, "llmctld_recovery_seconds_bucket", 1, le="15")
    expect(unix, "llmctld_job_info", 1, job="2",
           name="hybrid-tp2-pp2-dp2", user="root")
    expect(unix, "llmctld_job_last_step", 42, job="2")
    expect(unix, "llmctld_job_checkpoint_step", 40, job="2")
    age = value(unix, "llmctld_job_heartbeat_age_seconds", job="2")
    if age is None or not 7 <= age <= 7 + 30:
        fail("heartbeat age %r, expected 7 s and what the test took" % age)
    age = value(unix, "llmctld_job_checkpoint_age_seconds", job="2")
    if age is None or not 20 <= age <= 20 + 30:
        fail("checkpoint age %r, expected 20 s and what the test took" % age)
    if value(unix, "llmctld_job_info", job="1", name="hybrid-tp2-pp2-dp2",
             user="root") is not None:
        fail("a cancelled job has per-job series")
    print("ok: phase 2: restarts, histograms and per-job series")


def main():
    if sys.argv[1] == "phase1":
        phase1(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "fabricate":
        fabricate(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "phase2":
        phase2(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "check":
        # parse a file (the e2e tests): exit 1 on the first fault
        with open(sys.argv[2]) as f:
            parse(f.read())
        print("ok: %s parses" % sys.argv[2])
    else:
        fail("usage")


if __name__ == "__main__":
    main()
