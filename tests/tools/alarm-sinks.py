#!/usr/bin/python3
# Stand-ins for the alarm channels in tests (docs/alarms.md), with real TLS:
#   alarm-sinks.py https PORT CERT KEY OUTDIR TOKEN WEBHOOK_KEY
#       Telegram Bot API stand-in (POST /bot<TOKEN>/sendMessage) and a webhook receiver
#       (POST /hook) that verifies X-Loopline-Signature itself; appends what it accepted
#       to OUTDIR/telegram.jsonl and OUTDIR/webhook.jsonl, refusals to OUTDIR/refused.log.
#   alarm-sinks.py smtp PORT CERT KEY OUTDIR USER PASSWORD
#       SMTP server that requires STARTTLS and a login (aiosmtpd); each message to
#       OUTDIR/mail-N.eml, preceded by the envelope and whether TLS was on.
# Prints "ready" on stdout once listening; runs until SIGTERM.
import hashlib, hmac, http.server, json, os, signal, ssl, sys, threading, time

def https(port, cert, key, out, token, wkey):
    lock = threading.Lock()

    def record(name, obj):
        with lock, open(os.path.join(out, name), "a") as f:
            f.write(json.dumps(obj, sort_keys=True) + "\n")

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def answer(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/bot%s/sendMessage" % token:
                record("telegram.jsonl", json.loads(body))
                return self.answer(200, {"ok": True, "result": {"message_id": 1}})
            if self.path == "/hook":
                ts = self.headers.get("X-Loopline-Timestamp", "")
                sig = self.headers.get("X-Loopline-Signature", "")
                want = "sha256=" + hmac.new(wkey.encode(), ts.encode() + b"." + body,
                                            hashlib.sha256).hexdigest()
                if not hmac.compare_digest(sig, want) or abs(time.time() - int(ts or 0)) > 300:
                    with lock, open(os.path.join(out, "refused.log"), "a") as f:
                        f.write("bad signature %s\n" % self.path)
                    return self.answer(401, {"error": "bad signature"})
                record("webhook.jsonl", json.loads(body))
                return self.answer(200, {})
            with lock, open(os.path.join(out, "refused.log"), "a") as f:
                f.write("unknown path\n")
            self.answer(404, {"ok": False, "description": "Not Found"})

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=srv.shutdown).start())
    print("ready", flush=True)
    srv.serve_forever()

def smtp(port, cert, key, out, user, password):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    def auth(server, session, envelope, mechanism, data):
        return AuthResult(success=data.login == user.encode() and data.password == password.encode())
    n = [0]

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            n[0] += 1
            with open(os.path.join(out, "mail-%d.eml" % n[0]), "wb") as f:
                f.write(("X-Envelope-From: %s\r\nX-Envelope-To: %s\r\nX-TLS: %s\r\n" % (
                    envelope.mail_from, ",".join(envelope.rcpt_tos),
                    "yes" if session.ssl else "no")).encode())
                f.write(envelope.original_content)
            return "250 OK"

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    c = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=ctx,
                   require_starttls=True, authenticator=auth, auth_require_tls=True)
    c.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    print("ready", flush=True)
    done.wait()
    c.stop()

if __name__ == "__main__":
    if sys.argv[1] == "https":
        https(int(sys.argv[2]), *sys.argv[3:8])
    else:
        smtp(int(sys.argv[2]), *sys.argv[3:8])
