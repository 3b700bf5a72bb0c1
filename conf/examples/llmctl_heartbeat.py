"""llmctl_heartbeat: heartbeats to llmctld from any Python trainer.

    from llmctl_heartbeat import Heartbeat
    hb = Heartbeat(rank)          # once per rank; a no-op outside llmctl
    ...
    hb.beat(step)                 # after each optimizer step (never blocks)

Copy this file next to the training script (or onto PYTHONPATH); it needs
only the standard library.  A daemon thread POSTs {"rank": R, "step": S} to
$LLMCTL_HEARTBEAT_URL with $LLMCTL_HEARTBEAT_TOKEN, over one kept-alive
HTTP/1.1 connection, reconnecting when llmctld closed it (a restart, a
network blip).  Beats go out only when the step advances, so a hung loop
looks hung to llmctld, and at most one is in flight: a slow or absent
llmctld never slows training.  Failures are reported once on stderr.

`llmctl heartbeat --step S` does the same from a shell script, a process
per beat: the slow path (about 100 beats/s against this helper's
thousands).
"""
import http.client, json, os, sys, threading, urllib.parse


class Heartbeat:
    def __init__(self, rank, timeout=1.0):
        self.url = os.environ.get("LLMCTL_HEARTBEAT_URL")
        self.token = os.environ.get("LLMCTL_HEARTBEAT_TOKEN", "")
        self.rank, self.timeout = rank, timeout
        self.step, self.warned, self.conn = None, False, None
        self.cond = threading.Condition()
        if self.url:
            u = urllib.parse.urlsplit(self.url)
            self.host, self.port = u.hostname, u.port or 80
            self.path = u.path or "/v1/heartbeat"
            threading.Thread(target=self._run, daemon=True).start()

    def beat(self, step):
        if self.url:
            with self.cond:
                self.step = step
                self.cond.notify()

    def _send(self, body):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port,
                                                   timeout=self.timeout)
        self.conn.request("POST", self.path, body, {
            "Content-Type": "application/json",
            "Authorization": "Bearer " + self.token})
        r = self.conn.getresponse()
        r.read()
        if r.status != 200:
            raise RuntimeError("HTTP %d" % r.status)

    def _run(self):
        sent = None
        while True:
            with self.cond:
                while self.step == sent:
                    self.cond.wait()
                sent = self.step
            body = json.dumps({"rank": self.rank, "step": sent})
            for retry in (0, 1):    # a kept connection llmctld closed
                try:
                    self._send(body)
                    break
                except Exception as e:      # never fatal
                    if self.conn is not None:
                        self.conn.close()
                    self.conn = None
                    if retry and not self.warned:
                        print("heartbeat to %s failed (%s); continuing "
                              "without" % (self.url, e), file=sys.stderr,
                              flush=True)
                        self.warned = True
