#!/usr/bin/env python3
"""A webhook receiver for t-feed.sh: hook.py MODE PORT LOG

Appends one JSON line per POST to LOG ({"t": arrival time, "path",
"body"}), then answers by MODE: ok (200), error (500), hang (holds the
connection for a minute without answering) or redirect=URL (302 to URL).
"""
import http.server
import json
import os
import sys
import time

mode, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"unparsed": raw.decode("utf-8", "replace")}
        with open(log, "a") as f:
            f.write(json.dumps({"t": time.time(), "path": self.path,
                                "body": body}) + "\n")
        if mode == "hang":
            time.sleep(60)
            return
        if mode.startswith("redirect="):
            self.send_response(302)
            self.send_header("Location", mode[len("redirect="):])
        else:
            self.send_response(500 if mode == "error" else 200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


with open(log + ".pid", "w") as f:
    f.write("%d\n" % os.getpid())
http.server.ThreadingHTTPServer(("127.0.0.1", port), Hook).serve_forever()
