#!/usr/bin/python3
"""browser.py: drive a real headless chromium for t-dashboard.sh.

    browser.py OUTDIR NAME WHERE WAIT [NAME WHERE WAIT ...]

For each step, in one browser (so a cookie set by one step is sent by the
next): WHERE is a URL to load, "#..." to set as the page's hash, or
"!COMMAND" to run a shell command and stay on the page; WAIT is the value
of <body data-loaded> to wait for (at most 60 s), "-" for the load to
finish, or "js:EXPR" for a JavaScript expression to be true. Then writes
OUTDIR/NAME.txt (the text a user sees: document.body.innerText),
OUTDIR/NAME.html (the DOM), OUTDIR/NAME.png (a screenshot of the whole
page) and OUTDIR/NAME.time (seconds the wait took) and prints the PNG's
name.

DevTools protocol over --remote-debugging-pipe (fd 3 in, fd 4 out, each
message JSON ending in NUL): standard library only.
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


class Browser:
    def __init__(self, profile):
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if exe is None:
            sys.exit("browser.py: no chromium on PATH")
        to_r, self.to_w = os.pipe()
        self.from_r, from_w = os.pipe()

        def fds():
            # copies first: a pipe end may itself be fd 3 or 4, and
            # dup2 onto itself would keep its close-on-exec flag
            t, f = os.dup(to_r), os.dup(from_w)
            os.dup2(t, 3)
            os.dup2(f, 4)

        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--no-first-run",
             "--no-default-browser-check", "--remote-debugging-pipe",
             "--user-data-dir=" + profile, "--window-size=1280,1000",
             "about:blank"],
            preexec_fn=fds, close_fds=False, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(profile, "chromium.log"), "w"))
        os.close(to_r)
        os.close(from_w)
        self.buf = b""
        self.next_id = 0
        self.session = None

    def call(self, method, params=None, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if self.session is not None:
            msg["sessionId"] = self.session
        os.write(self.to_w, json.dumps(msg).encode() + b"\0")
        end = time.time() + timeout
        while time.time() < end:
            while b"\0" not in self.buf:
                chunk = os.read(self.from_r, 1 << 20)
                if not chunk:
                    sys.exit("browser.py: chromium went away")
                self.buf += chunk
            raw, self.buf = self.buf.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    sys.exit("browser.py: %s: %s" % (method, reply["error"]))
                return reply.get("result", {})
        sys.exit("browser.py: no answer to " + method)

    def open_page(self):
        target = self.call("Target.createTarget", {"url": "about:blank"})
        self.session = self.call("Target.attachToTarget", {
            "targetId": target["targetId"], "flatten": True})["sessionId"]
        self.call("Page.enable")
        self.call("Emulation.setDeviceMetricsOverride", {
            "width": 1280, "height": 1000, "deviceScaleFactor": 1,
            "mobile": False})

    def eval(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr,
                                           "returnByValue": True})
        return r.get("result", {}).get("value")

    def wait(self, expr, want, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            if self.eval(expr) == want:
                return True
            time.sleep(0.25)
        return False

    def screenshot(self, path):
        m = self.call("Page.getLayoutMetrics")["cssContentSize"]
        shot = self.call("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": m["width"],
                     "height": min(m["height"], 8000), "scale": 1}})
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))

    def close(self):
        try:
            self.session = None
            self.call("Browser.close", timeout=5)
        except SystemExit:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def main():
    out, steps = sys.argv[1], sys.argv[2:]
    if len(steps) == 0 or len(steps) % 3 != 0:
        sys.exit(__doc__)
    os.makedirs(out, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="chromium-", dir=out)
    b = Browser(profile)
    rc = 0
    try:
        b.open_page()
        for i in range(0, len(steps), 3):
            name, where, want = steps[i:i + 3]
            t0 = time.time()
            if where.startswith("!"):
                subprocess.run(where[1:], shell=True, check=False)
                t0 = time.time()
            elif where.startswith("#"):
                b.eval("document.body.dataset.loaded = ''; "
                       "location.hash = %s" % json.dumps(where))
            else:
                b.call("Page.navigate", {"url": where})
            if want == "-":
                ok = b.wait("document.readyState", "complete")
            elif want.startswith("js:"):
                ok = b.wait("!!(%s)" % want[3:], True)
            else:
                ok = b.wait("document.body && document.body.dataset.loaded"
                            " || ''", want)
            if not ok:
                print("browser.py: %s: the page never showed %s" %
                      (name, want), file=sys.stderr)
                rc = 1
            base = os.path.join(out, name)
            with open(base + ".time", "w") as f:
                f.write("%.1f\n" % (time.time() - t0))
            with open(base + ".txt", "w") as f:
                f.write(b.eval("document.body ? document.body.innerText"
                               " : ''") or "")
            with open(base + ".html", "w") as f:
                f.write(b.eval("document.documentElement.outerHTML") or "")
            b.screenshot(base + ".png")
            print(base + ".png")
    finally:
        b.close()
        shutil.rmtree(profile, ignore_errors=True)
    sys.exit(rc)


if __name__ == "__main__":
    main()
