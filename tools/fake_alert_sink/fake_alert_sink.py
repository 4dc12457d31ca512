#!/usr/bin/env python3
"""A fake receiver of alerts for the tests: webhooks over HTTP and email over real SMTP.

  fake_alert_sink.py --http-port P [--smtp-port Q --cert CERT --key KEY [--user U --password W]]

HTTP: every POST is recorded (path, headers, body) and answered 200 {"ok": true}, unless
POST /_sink/fail {"count": N, "status": S} asked for the next N to be answered S.
GET /_sink/received -> {"webhooks": [...], "emails": [...]}; POST /_sink/reset forgets them.

SMTP (RFC 5321): EHLO offers STARTTLS; after STARTTLS (RFC 3207) the session is TLS with
CERT/KEY and EHLO offers AUTH PLAIN LOGIN (RFC 4954). MAIL is refused before TLS, and before
AUTH when a user is set. Each message is recorded with its envelope, whether it came over TLS
and the user it authenticated as. Standard library only.
"""
import argparse
import base64
import json
import socketserver
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
received = {"webhooks": [], "emails": []}
failures = {"count": 0, "status": 500}


class Hooks(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/_sink/received":
            with lock:
                self.answer(200, received)
        else:
            self.answer(404, {"error": "not found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        if self.path == "/_sink/fail":
            order = json.loads(body or "{}")
            with lock:
                failures["count"], failures["status"] = int(order.get("count", 1)), int(order.get("status", 500))
            return self.answer(200, {"ok": True})
        if self.path == "/_sink/reset":
            with lock:
                received["webhooks"].clear()
                received["emails"].clear()
            return self.answer(200, {"ok": True})
        with lock:
            if failures["count"] > 0:
                failures["count"] -= 1
                return self.answer(failures["status"], {"ok": False})
            received["webhooks"].append({"path": self.path, "body": body,
                                         "headers": {k.lower(): v for k, v in self.headers.items()}})
        self.answer(200, {"ok": True})


class Smtp(socketserver.StreamRequestHandler):
    def setup(self):
        super().setup()
        self.tls = False
        self.user = None

    def say(self, line):
        self.wfile.write((line + "\r\n").encode())
        self.wfile.flush()

    def read_line(self):
        line = self.rfile.readline(65536)
        if not line:
            raise ConnectionError("closed")
        return line.decode("utf-8", "replace").rstrip("\r\n")

    def start_tls(self):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server.cert, self.server.key)
        self.connection = context.wrap_socket(self.connection, server_side=True)
        self.rfile = self.connection.makefile("rb")
        self.wfile = self.connection.makefile("wb")
        self.tls = True

    def auth(self, args):
        mechanism, _, initial = args.partition(" ")
        if mechanism.upper() == "PLAIN":
            if not initial:
                self.say("334 ")
                initial = self.read_line()
            parts = base64.b64decode(initial).split(b"\0")
            user, password = parts[1].decode(), parts[2].decode()
        elif mechanism.upper() == "LOGIN":
            self.say("334 VXNlcm5hbWU6")
            user = base64.b64decode(self.read_line()).decode()
            self.say("334 UGFzc3dvcmQ6")
            password = base64.b64decode(self.read_line()).decode()
        else:
            return self.say("504 5.5.4 Unrecognized authentication type")
        if user == self.server.user and password == self.server.password:
            self.user = user
            return self.say("235 2.7.0 Authentication successful")
        self.say("535 5.7.8 Authentication credentials invalid")

    def handle(self):
        mail_from, rcpts = None, []
        self.say("220 fake-smtp ESMTP")
        try:
            while True:
                line = self.read_line()
                verb, _, args = line.partition(" ")
                verb = verb.upper()
                if verb in ("EHLO", "HELO"):
                    extras = ["AUTH PLAIN LOGIN"] if self.tls else ["STARTTLS"]
                    lines = ["fake-smtp"] + extras
                    for i, l in enumerate(lines):
                        self.say(("250 " if i == len(lines) - 1 else "250-") + l)
                elif verb == "STARTTLS":
                    self.say("220 2.0.0 Ready to start TLS")
                    self.start_tls()
                elif verb == "AUTH":
                    if not self.tls:
                        self.say("538 5.7.11 Encryption required")
                    else:
                        self.auth(args)
                elif verb == "MAIL":
                    if not self.tls:
                        self.say("530 5.7.0 Must issue a STARTTLS command first")
                    elif self.server.user and not self.user:
                        self.say("530 5.7.0 Authentication required")
                    else:
                        mail_from, rcpts = args.split(":", 1)[1].strip().strip("<>"), []
                        self.say("250 2.1.0 OK")
                elif verb == "RCPT":
                    rcpts.append(args.split(":", 1)[1].strip().strip("<>"))
                    self.say("250 2.1.5 OK")
                elif verb == "DATA":
                    self.say("354 End data with <CR><LF>.<CR><LF>")
                    data = []
                    while True:
                        l = self.read_line()
                        if l == ".":
                            break
                        data.append(l[1:] if l.startswith("..") else l)
                    with lock:
                        received["emails"].append({"from": mail_from, "to": rcpts, "data": "\n".join(data),
                                                   "tls": self.tls, "user": self.user})
                    self.say("250 2.0.0 OK queued")
                elif verb == "RSET":
                    mail_from, rcpts = None, []
                    self.say("250 2.0.0 OK")
                elif verb == "NOOP":
                    self.say("250 2.0.0 OK")
                elif verb == "QUIT":
                    self.say("221 2.0.0 Bye")
                    return
                else:
                    self.say("502 5.5.2 Command not recognized")
        except (ConnectionError, ssl.SSLError, OSError):
            return


class SmtpServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--smtp-port", type=int, default=0)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--user", default="")
    ap.add_argument("--password", default="")
    args = ap.parse_args()
    ThreadingHTTPServer.allow_reuse_address = True
    hooks = ThreadingHTTPServer(("127.0.0.1", args.http_port), Hooks)
    hooks.daemon_threads = True
    if args.smtp_port:
        smtp = SmtpServer(("127.0.0.1", args.smtp_port), Smtp)
        smtp.cert, smtp.key, smtp.user, smtp.password = args.cert, args.key, args.user, args.password
        threading.Thread(target=smtp.serve_forever, daemon=True).start()
    print("ready", flush=True)
    sys.stdout.flush()
    hooks.serve_forever()


if __name__ == "__main__":
    main()
