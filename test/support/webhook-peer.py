"""A webhook receiver for Sluice's tests, written apart from Sluice's own code so that it
checks the signature scheme independently (docs/notifications.md).

argv: secret, optionally the port to listen on (default: any free one). Prints "listening <port>" once, then one JSON line per request received:
{path, deliveryId, eventType, contentType, body, signature: "ok" | reason,
signatureHeader, duplicate}.
The path says how to answer: /status/<code> answers <code>, /slow/<ms> waits <ms> first,
/redirect answers 302 to /status/200, anything else 200.
"""
import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = sys.argv[1].encode()
TOLERANCE = 300
seen = set()
lock = threading.Lock()


def check(header, body):
    parts = {}
    signatures = []
    for item in (header or "").split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            return "malformed"
        if key == "v1":
            signatures.append(value)
        else:
            parts[key] = value
    if "t" not in parts or not parts["t"].isdigit() or not signatures:
        return "malformed"
    expected = hmac.new(SECRET, parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        return "mismatch"
    if abs(time.time() - int(parts["t"])) > TOLERANCE:
        return "too-old"
    return "ok"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        delivery = self.headers.get("Sluice-Delivery")
        signature = check(self.headers.get("Sluice-Signature"), body)
        with lock:
            # A receiver drops a redelivery by its id, but only once the signature holds.
            duplicate = signature == "ok" and delivery in seen
            if signature == "ok":
                seen.add(delivery)
            print(json.dumps({
                "path": self.path,
                "deliveryId": delivery,
                "eventType": self.headers.get("Sluice-Event"),
                "contentType": self.headers.get("Content-Type"),
                "body": body.decode("utf-8"),
                "signature": signature,
                "signatureHeader": self.headers.get("Sluice-Signature"),
                "duplicate": duplicate,
            }), flush=True)
        status = 200
        if self.path.startswith("/status/"):
            status = int(self.path.split("/")[2])
        elif self.path.startswith("/slow/"):
            time.sleep(int(self.path.split("/")[2]) / 1000)
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/status/200")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        reply = b'{"received":true}' if signature == "ok" else b'{"error":"bad signature"}'
        if signature != "ok" and status == 200:
            status = 401
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        try:
            self.wfile.write(reply)
        except BrokenPipeError:
            pass


server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 0), Handler)
server.daemon_threads = True
print(f"listening {server.server_address[1]}", flush=True)
server.serve_forever()
