#!/usr/bin/env python3
# flood.py: the attacks of t-sec-net.sh, bounded in time.
# With FLOOD_PIDFILE set, it writes its pid there first, to be killed.
#   flood.py hold unix:PATH|tcp:HOST:PORT N SECONDS
#       keep N connections open, reconnecting whatever the daemon closes;
#       prints how many were open at the end and how many were closed.
#   flood.py slow unix:PATH|tcp:HOST:PORT INTERVAL SECONDS
#       one request, one header line every INTERVAL s; prints the seconds
#       until the daemon closed the connection (or "open" after SECONDS).
import errno
import os
import resource
import select
import socket
import sys
import time


def connect(target):
    kind, _, where = target.partition(":")
    if kind == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(where)
        except BlockingIOError:
            pass
        return s
    host, _, port = where.rpartition(":")
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect((host, int(port)))
    except BlockingIOError:
        pass
    return s


def hold(target, n, seconds):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 64), hard))
    socks, closed, end = [], 0, time.time() + seconds
    poller = select.poll()
    byfd = {}
    while time.time() < end:
        while len(socks) < n:
            try:
                s = connect(target)
            except OSError as e:
                if e.errno in (errno.EAGAIN, errno.ECONNREFUSED,
                               errno.EMFILE):
                    break
                raise
            socks.append(s)
            byfd[s.fileno()] = s
            poller.register(s, select.POLLIN | select.POLLHUP)
        for fd, ev in poller.poll(100):
            s = byfd.pop(fd)
            poller.unregister(fd)
            socks.remove(s)
            s.close()
            closed += 1
    print(len(socks), closed)
    for s in socks:
        s.close()


def slow(target, interval, seconds):
    s = connect(target)
    s.setblocking(True)
    start = time.time()
    lines = [b"GET /v1/jobs HTTP/1.1\r\n"] + \
        [b"X-Slow-%d: 1\r\n" % i for i in range(1000)]
    s.settimeout(interval)
    for line in lines:
        if time.time() - start > seconds:
            print("open")
            return
        try:
            s.sendall(line)
            data = s.recv(4096)
            if data == b"" or data:
                # closed, or an error reply: either way the end
                print("%.1f" % (time.time() - start))
                return
        except socket.timeout:
            continue
        except OSError:
            print("%.1f" % (time.time() - start))
            return
    print("open")


if __name__ == "__main__":
    if os.environ.get("FLOOD_PIDFILE"):
        with open(os.environ["FLOOD_PIDFILE"], "w") as f:
            f.write("%d\n" % os.getpid())
    if sys.argv[1] == "hold":
        hold(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    elif sys.argv[1] == "slow":
        slow(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
    else:
        sys.exit("usage: flood.py hold|slow TARGET ...")
