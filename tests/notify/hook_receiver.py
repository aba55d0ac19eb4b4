#!/usr/bin/python3
"""A webhook receiver for the tests: checks each POST's X-Cardwatch-Signature (HMAC-SHA-256 over
"timestamp.body" with the shared secret, computed here with Python's own hmac module), counts
deliveries by X-Cardwatch-Delivery, and writes one JSON line per request to OUT_FILE.
--fail N answers the first N requests with HTTP 503. Prints "ready PORT" once listening."""
import argparse
import hashlib
import hmac
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--secret", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--fail", type=int, default=0)
args = parser.parse_args()
lock = threading.Lock()
state = {"requests": 0}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ts = self.headers.get("X-Cardwatch-Timestamp", "")
        expected = "sha256=" + hmac.new(
            args.secret.encode(), ts.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        good = hmac.compare_digest(expected, self.headers.get("X-Cardwatch-Signature", ""))
        with lock:
            state["requests"] += 1
            failing = state["requests"] <= args.fail
            with open(args.out, "a") as f:
                f.write(json.dumps({
                    "signature_ok": good,
                    "delivery": self.headers.get("X-Cardwatch-Delivery"),
                    "event": self.headers.get("X-Cardwatch-Event"),
                    "answered": 503 if failing else (204 if good else 401),
                    "body": json.loads(body or b"null"),
                }) + "\n")
        self.send_response(503 if failing else (204 if good else 401))
        self.end_headers()

    def log_message(self, *a):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("ready", server.server_address[1], flush=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
sys.stdin.read()
server.shutdown()
