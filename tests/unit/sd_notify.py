#!/usr/bin/python3
"""The systemd notification protocol, as systemd sees it: listen on a
datagram socket named in NOTIFY_SOCKET, start llmctld (fake backend), and
check what arrives: READY=1 only once `llmctl status` answers, a STATUS=
line, WATCHDOG=1 at half of WATCHDOG_USEC, RELOADING=1 then READY=1 around
SIGHUP (with the log saying what was applied and what needs a restart), and
STOPPING=1 on SIGTERM. usage: sd_notify.py LLMCTLD LLMCTL TMPDIR"""
import os
import signal
import socket
import subprocess
import sys
import time

llmctld, llmctl, tmp = sys.argv[1:4]
sock = os.path.join(tmp, "llmctld.sock")
conf = os.path.join(tmp, "llmctld.conf")
logf = os.path.join(tmp, "llmctld.log")
db = os.path.join(tmp, "state", "llmctld.db")
fails = 0


def check(ok, what):
    global fails
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        fails += 1


def write_conf(level, sockpath):
    with open(conf, "w") as f:
        f.write(f"socket: {sockpath}\ndatabase: {tmp}/state/llmctld.db\n"
                f"state_dir: {tmp}/state\nbackend: fake\npoll_interval: 1\n"
                f"log_level: {level}\n")


def status_ok():
    r = subprocess.run([llmctl, "--socket", sock, "status"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return r.returncode == 0


listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
listener.bind(os.path.join(tmp, "notify.sock"))
listener.settimeout(0.05)
messages = []   # (time, set of lines) in arrival order


def wait_for(line, deadline_s, after=0):
    """The index of the first message from index `after` with this line."""
    end = time.monotonic() + deadline_s
    while True:
        for i in range(after, len(messages)):
            if line in messages[i][1] or any(
                    l.startswith(line) for l in messages[i][1]):
                return i
        if time.monotonic() > end:
            return None
        try:
            data = listener.recv(4096)
        except socket.timeout:
            continue
        lines = data.decode().split("\n")
        messages.append((time.monotonic(), lines))
        # The moment READY=1 arrives, a client must get an answer: stop
        # llmctld right there, check the socket listens and the database is
        # there, let it go on and ask it.
        if "READY=1" in lines:
            os.kill(d.pid, signal.SIGSTOP)
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                c.connect(sock)
                listening = os.path.exists(db)
            except OSError:
                listening = False
            c.close()
            os.kill(d.pid, signal.SIGCONT)
            messages[-1] = (messages[-1][0], lines + [
                "#status_ok=%d" % (listening and status_ok())])


write_conf("info", sock)
env = dict(os.environ, NOTIFY_SOCKET=os.path.join(tmp, "notify.sock"),
           WATCHDOG_USEC="400000")
env.pop("WATCHDOG_PID", None)
log = open(logf, "w")
d = None
try:
    d = subprocess.Popen([llmctld, "-d", "-f", conf], stdout=log,
                         stderr=subprocess.STDOUT, env=env)
    r = wait_for("READY=1", 15)
    check(r is not None, "READY=1 arrives")
    if r is None:
        sys.exit(1)
    check("#status_ok=1" in messages[r][1],
          "at READY=1 the socket listens, the database exists and "
          "llmctl status answers")
    check(all("READY=1" not in m[1] for m in messages[:r]),
          "READY=1 is sent once at start-up")
    s = wait_for("STATUS=", 5)
    check(s is not None and any("jobs running" in l and "slurmctld" in l
                                for l in messages[s][1]),
          "STATUS= says jobs running and slurmctld: %s" %
          (messages[s][1] if s is not None else None))
    w1 = wait_for("WATCHDOG=1", 2, r)
    w2 = wait_for("WATCHDOG=1", 2, (w1 or 0) + 1)
    check(w1 is not None and w2 is not None and
          0.1 < messages[w2][0] - messages[w1][0] < 1.0,
          "WATCHDOG=1 every 200 ms for WATCHDOG_USEC=400000")

    time.sleep(1.5)     # the fake backend's cluster is loaded by now
    write_conf("debug", os.path.join(tmp, "other.sock"))
    n = len(messages)
    d.send_signal(signal.SIGHUP)
    rl = wait_for("RELOADING=1", 5, n)
    check(rl is not None and any(l.startswith("MONOTONIC_USEC=")
                                 for l in messages[rl][1]),
          "SIGHUP: RELOADING=1 with MONOTONIC_USEC=")
    rd = wait_for("READY=1", 5, (rl or n) + 1)
    check(rl is not None and rd is not None and rd > rl,
          "SIGHUP: READY=1 after RELOADING=1")
    st = wait_for("STATUS=", 5, (rl or n) + 1)
    check(st is not None and
          "STATUS=0 jobs running, 0 queued; slurmctld reachable" in
          messages[st][1], "STATUS= after reload: %s" %
          (messages[st][1] if st is not None else None))
    time.sleep(0.3)
    text = open(logf).read()
    check("reload: log_level changed, applied" in text,
          "reload applies log_level")
    check("reload: socket changed, needs a restart to take effect" in text,
          "reload says socket needs a restart")
    check(status_ok(), "still answering on the old socket after reload")

    n = len(messages)
    d.send_signal(signal.SIGTERM)
    sp = wait_for("STOPPING=1", 5, n)
    check(sp is not None, "SIGTERM: STOPPING=1")
    check(d.wait(10) == 0, "llmctld exits 0 after SIGTERM")
finally:
    if d is not None and d.poll() is None:
        d.kill()
        d.wait()
    log.close()
if fails:
    print("llmctld log:\n" + open(logf).read()[-3000:])
sys.exit(1 if fails else 0)
