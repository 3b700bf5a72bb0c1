#!/usr/bin/env python3
# tcp_server.py PORT TOKEN LOG: raw HTTP against llmctld's TCP listener
# (tests/unit/tcp-server.sh starts it with max_connections_per_user 8 and
# request_timeout 2 s). Each check prints its name; the first failure
# exits 1 with what was seen.
import json
import socket
import sys
import time

PORT, TOKEN, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3]
OK_BODY = b'{\n  "ok": true\n}\n'
beats = 0  # accepted, to compare with llmctld_heartbeats_total


def fail(msg):
    print("tcp_server: FAIL: " + msg)
    sys.exit(1)


def connect(src="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(5)
    s.bind((src, 0))
    s.connect(("127.0.0.1", PORT))
    return s


class Reader:
    """Replies off one connection, keeping what follows the last one."""

    def __init__(self, s):
        self.s, self.buf = s, b""

    def more(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError("closed with %r unread" % self.buf[:80])
        self.buf += d

    def reply(self):
        while b"\r\n\r\n" not in self.buf:
            self.more()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        version, status = lines[0].split(" ")[:2]
        if version != "HTTP/1.1":
            fail("status line %r" % lines[0])
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        if status == "100":
            return 100, hdrs, b""
        n = int(hdrs["content-length"])
        while len(self.buf) < n:
            self.more()
        body, self.buf = self.buf[:n], self.buf[n:]
        return int(status), hdrs, body

    def closed(self):
        """The server closed (FIN or reset) with nothing more sent."""
        try:
            return self.s.recv(65536) == b"" and self.buf == b""
        except ConnectionResetError:
            return self.buf == b""
        except socket.timeout:
            return False


def beat_req(token=TOKEN, rank=0, step=1, extra=""):
    body = json.dumps({"rank": rank, "step": step})
    return ("POST /v1/heartbeat HTTP/1.1\r\nHost: llmctld\r\n"
            "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n%s\r\n%s"
            % (token, len(body), extra, body)).encode()


def get_req(path, version="HTTP/1.1", extra=""):
    return ("GET %s %s\r\nHost: llmctld\r\n%s\r\n"
            % (path, version, extra)).encode()


def expect(what, got, status, body=None):
    if got[0] != status or (body is not None and got[2] != body):
        fail("%s: expected %d %r, got %d %r" % (what, status, body, got[0],
                                                got[2]))


def check(name):
    print("tcp_server: " + name)


# a beat goes through once the monitor registered the job's token
end = time.time() + 15
while True:
    r = Reader(connect())
    r.s.sendall(beat_req())
    got = r.reply()
    r.s.close()
    if got[0] == 200:
        beats += 1
        break
    if time.time() > end:
        fail("the token never took: %d %r" % (got[0], got[2]))
    time.sleep(0.2)

check("a good token: 200 and the body of server_reply()")
r = Reader(connect())
r.s.sendall(beat_req(step=2))
got = r.reply()
expect("heartbeat", got, 200, OK_BODY)
beats += 1
if got[1].get("content-type") != "application/json":
    fail("content-type %r" % got[1].get("content-type"))

check("a bad token: 403, on the same connection")
r.s.sendall(beat_req(token="0" * 64))
got = r.reply()
expect("bad token", got, 403)
if json.loads(got[2])["code"] != "permission_denied":
    fail("bad token: %r" % got[2])

check("keep-alive: three more requests on that connection")
for step in (3, 4, 5):
    r.s.sendall(beat_req(step=step))
    expect("keep-alive %d" % step, r.reply(), 200, OK_BODY)
    beats += 1
r.s.close()

check("pipelining: two requests in one send, two answers in order")
r = Reader(connect())
r.s.sendall(beat_req(step=6) + get_req("/v1/health"))
expect("pipelined 1", r.reply(), 200, OK_BODY)
beats += 1
expect("pipelined 2", r.reply(), 200, b'{\n  "status": "ok"\n}\n')
r.s.sendall(get_req("/v1/health") * 20)  # and many, a batch
for i in range(20):
    expect("pipelined batch %d" % i, r.reply(), 200)
r.s.close()

check("a request a byte at a time")
r = Reader(connect())
for b in beat_req(step=7):
    r.s.send(bytes([b]))
    time.sleep(0.001)
expect("byte by byte", r.reply(), 200, OK_BODY)
beats += 1
r.s.close()

check("Expect: 100-continue: 100 before the body, then 200")
r = Reader(connect())
req = beat_req(step=8, extra="Expect: 100-continue\r\n")
head, _, body = req.partition(b"\r\n\r\n")
r.s.sendall(head + b"\r\n\r\n")
got = r.reply()
if got[0] != 100:
    fail("no 100 Continue: %r" % (got,))
r.s.sendall(body)
expect("after 100", r.reply(), 200, OK_BODY)
beats += 1
r.s.close()

check("a head over 16 KiB: 431, closed")
r = Reader(connect())
r.s.sendall(get_req("/v1/health", extra="X-Pad: %s\r\n" % ("a" * 17000)))
got = r.reply()
expect("big head", got, 431)
if got[1].get("connection") != "close" or not r.closed():
    fail("big head: connection not closed")
r.s.close()

check("a body over 64 KiB: 413, closed, the reply read before the close")
r = Reader(connect())
body = b"x" * 70000
r.s.sendall(b"POST /v1/heartbeat HTTP/1.1\r\nContent-Length: %d\r\n\r\n"
            % len(body) + body)
expect("big body", r.reply(), 413)
if not r.closed():
    fail("big body: connection not closed")
r.s.close()

check("chunked: 411, closed")
r = Reader(connect())
r.s.sendall(b"POST /v1/heartbeat HTTP/1.1\r\nTransfer-Encoding: chunked"
            b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
expect("chunked", r.reply(), 411)
if not r.closed():
    fail("chunked: connection not closed")
r.s.close()

check("another method: 405 with Allow")
r = Reader(connect())
r.s.sendall(b"PUT /v1/health HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
got = r.reply()
expect("PUT", got, 405)
if got[1].get("allow") != "GET, POST":
    fail("405 without Allow: %r" % got[1])
r.s.sendall(get_req("/v1/health"))  # the body was read: the next one
expect("after 405", r.reply(), 200)
r.s.close()

check("HTTP/1.0: closed after the reply, kept with keep-alive")
r = Reader(connect())
r.s.sendall(get_req("/v1/health", "HTTP/1.0"))
expect("1.0", r.reply(), 200)
if not r.closed():
    fail("HTTP/1.0: connection not closed")
r.s.close()
r = Reader(connect())
r.s.sendall(get_req("/v1/health", "HTTP/1.0", "Connection: keep-alive\r\n"))
got = r.reply()
expect("1.0 keep-alive", got, 200)
if got[1].get("connection", "").lower() != "keep-alive":
    fail("HTTP/1.0 keep-alive: %r" % got[1])
r.s.sendall(get_req("/v1/health", "HTTP/1.0"))
expect("1.0 again", r.reply(), 200)
if not r.closed():
    fail("HTTP/1.0: connection not closed")
r.s.close()

check("Connection: close: closed after the reply")
r = Reader(connect())
r.s.sendall(beat_req(step=9, extra="Connection: close\r\n"))
got = r.reply()
expect("close", got, 200, OK_BODY)
beats += 1
if got[1].get("connection") != "close" or not r.closed():
    fail("Connection: close: not closed")
r.s.close()

check("GET /v1/health, GET /v1/jobs (not over TCP), a bad URI")
r = Reader(connect())
r.s.sendall(get_req("/v1/health"))
expect("health", r.reply(), 200, b'{\n  "status": "ok"\n}\n')
r.s.sendall(get_req("/v1/jobs"))
got = r.reply()
expect("jobs", got, 404)
if json.loads(got[2])["code"] != "not_found":
    fail("jobs: %r" % got[2])
r.s.sendall(get_req("/v1/health%00"))
got = r.reply()
expect("%00", got, 400)
if json.loads(got[2])["error"] != "malformed request URI":
    fail("%%00: %r" % got[2])
r.s.sendall(get_req("/v1/health?a=1&b"))
expect("query without =", r.reply(), 400)
r.s.sendall(get_req("/v1/%68ealth?a=1+2&b=%41"))
expect("decoded path, good query", r.reply(), 200)
r.s.close()

check("garbage: 400, closed")
for junk in (b"\x00\x01\x02garbage\r\n\r\n", b"GARBAGE\r\n\r\n",
             b"GET /v1/health HTTP/1.1\r\nno colon\r\n\r\n",
             b"GET /v1/health HTTP/1.1\r\nA: b\rc\r\n\r\n",
             b"GET /v1/health HTTP/1.1\r\n folded\r\n\r\n",
             b"GET /v1/health HTTP/1.1\r\nContent-Length: x\r\n\r\n",
             b"GET /v1/health HTTP/1.1\r\nContent-Length: 1\r\n"
             b"Content-Length: 2\r\n\r\nab"):
    r = Reader(connect())
    r.s.sendall(junk)
    got = r.reply()
    expect("garbage %r" % junk[:20], got, 400)
    if not r.closed():
        fail("garbage %r: connection not closed" % junk[:20])
    r.s.close()
r = Reader(connect())
r.s.sendall(get_req("/v1/health", "HTTP/2.0"))
expect("HTTP/2.0", r.reply(), 505)
r.s.close()

check("request_timeout: a trickle and an idle connection are closed")
r = Reader(connect())
t0 = time.time()
r.s.sendall(b"GET /v1/health HTTP/1.1\r\n")
r.s.settimeout(1)
while not r.closed():
    if time.time() - t0 > 6:
        fail("a partial request kept its connection for 6 s")
    try:
        r.s.sendall(b"X: y\r\n")
    except OSError:  # closed since
        break
t = time.time() - t0
r.s.close()
if not 1.5 <= t <= 4.5:
    fail("a partial request closed after %.1f s, request_timeout 2 s" % t)
r = Reader(connect())
r.s.sendall(get_req("/v1/health"))
expect("before idle", r.reply(), 200)
t0 = time.time()
r.s.settimeout(6)
if not r.closed():
    fail("idle connection not closed")
t = time.time() - t0
r.s.close()
if not 1.5 <= t <= 4.5:
    fail("an idle connection closed after %.1f s" % t)

check("max_connections_per_user 8 per address: the 9th is closed")
held = [connect("127.0.0.2") for _ in range(8)]
r = Reader(connect("127.0.0.2"))
r.s.settimeout(2)
if not r.closed():
    fail("a 9th connection from 127.0.0.2 stayed open")
r.s.close()
for s in held:  # every one of the 8 is served
    s.sendall(get_req("/v1/health"))
    expect("held", Reader(s).reply(), 200)
r = Reader(connect())  # another address is not counted with them
r.s.sendall(get_req("/v1/health"))
expect("other address", r.reply(), 200)
r.s.close()
for s in held:
    s.close()

check("after all that: alive, beats taken and counted")
time.sleep(0.2)
r = Reader(connect())
r.s.sendall(beat_req(step=10))
expect("last beat", r.reply(), 200, OK_BODY)
beats += 1
r.s.sendall(get_req("/metrics"))
got = r.reply()
expect("metrics", got, 200)
if got[1].get("content-type") != "text/plain; version=0.0.4":
    fail("metrics content-type %r" % got[1].get("content-type"))
n = [line for line in got[2].decode().split("\n")
     if line.startswith("llmctld_heartbeats_total ")]
if n != ["llmctld_heartbeats_total %d" % beats]:
    fail("expected llmctld_heartbeats_total %d, got %r" % (beats, n))
r.s.close()

log = open(LOG).read()
for line in ("127.0.0.2 has 8 connections open, ",
             "127.0.0.1 sent no whole request within 2000 ms: closing"):
    if line not in log:
        fail("not in the log: %r" % line)
print("tcp_server: ok, %d heartbeats" % beats)
