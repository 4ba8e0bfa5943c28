#!/usr/bin/env python3
"""An SMTP submission server for tests (aiosmtpd, Debian python3-aiosmtpd): STARTTLS with a
self-signed certificate and AUTH PLAIN when asked, every accepted message written to DIR as
<n>.eml with its envelope in <n>.json.

  smtp_sink.py DIR [--tls] [--auth USER:PASSWORD]
      prints {"port":..,"cert":..} on one line and serves until stdin closes.
"""
import json
import os
import socket
import ssl
import subprocess
import sys
import threading

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult
except ImportError:  # a python3 other than Debian's (pyenv): use the Debian package's copy
    sys.path.append("/usr/lib/python3/dist-packages")
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult


class Handler:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
        base = os.path.join(self.out_dir, str(n))
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(base + ".json", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                       "tls": session.ssl is not None,
                       "auth": session.authenticated}, f)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 OK stored"


def main(argv):
    out_dir = os.path.abspath(argv[1])
    os.makedirs(out_dir, exist_ok=True)
    tls = "--tls" in argv
    auth = argv[argv.index("--auth") + 1] if "--auth" in argv else None
    kwargs = {}
    cert = os.path.join(out_dir, "smtp-cert.pem")
    if tls:
        key = os.path.join(out_dir, "smtp-key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        kwargs.update(tls_context=ctx, require_starttls=True)
    if auth:
        user, password = auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = auth_data.login == user.encode() and auth_data.password == password.encode()
            return AuthResult(success=ok)

        kwargs.update(authenticator=authenticator, auth_required=True,
                      auth_require_tls=tls)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Handler(out_dir), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    print(json.dumps({"port": port, "cert": cert}), flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
