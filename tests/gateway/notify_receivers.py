#!/usr/bin/env python3
"""Test receivers for the gateway's notifications (tests only), on 127.0.0.1:
  notify_receivers.py https PORT CERT KEY OUT   every POST appended to OUT as one JSON line
                                                {"path", "headers", "body"}; answers 200
  notify_receivers.py smtp PORT OUT             a minimal SMTP server (EHLO/HELO, MAIL, RCPT, DATA,
                                                RSET, NOOP, QUIT); every message appended to OUT as one
                                                JSON line {"from", "to", "data"}
Both write OUT.ready once listening, so a test can start them late (a receiver that was down)."""
import http.server, json, socketserver, ssl, sys


def append(out, record):
    with open(out, "a") as f:
        f.write(json.dumps(record) + "\n")


class PostHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode("utf-8", "replace")
        append(self.server.out, {"path": self.path, "headers": dict(self.headers.items()), "body": body})
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


class SmtpHandler(socketserver.StreamRequestHandler):
    def reply(self, line):
        self.wfile.write((line + "\r\n").encode())

    def handle(self):
        self.reply("220 127.0.0.1 test SMTP")
        sender, rcpts = "", []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode("utf-8", "replace").rstrip("\r\n")
            verb = cmd[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 127.0.0.1")
            elif verb == "MAIL":
                sender, rcpts = cmd.split(":", 1)[1].strip(), []
                self.reply("250 OK")
            elif verb == "RCPT":
                rcpts.append(cmd.split(":", 1)[1].strip())
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                lines = []
                while True:
                    l = self.rfile.readline()
                    if not l or l in (b".\r\n", b".\n"):
                        break
                    if l.startswith(b".."):
                        l = l[1:]
                    lines.append(l.decode("utf-8", "replace"))
                append(self.server.out, {"from": sender, "to": rcpts, "data": "".join(lines)})
                self.reply("250 OK queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            elif verb in ("RSET", "NOOP"):
                self.reply("250 OK")
            else:
                self.reply("502 not implemented")


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    kind, port = sys.argv[1], int(sys.argv[2])
    if kind == "https":
        cert, key, out = sys.argv[3], sys.argv[4], sys.argv[5]
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), PostHandler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    else:
        out = sys.argv[3]
        server = Server(("127.0.0.1", port), SmtpHandler)
    server.out = out
    open(out + ".ready", "w").close()
    server.serve_forever()


main()
