#!/usr/bin/env python3
"""A real Dovecot (Debian dovecot-imapd) on loopback with a generated config, for the email
connector's tests, e2e tests and benchmark. One place, used three ways:

  from dovecot_harness import Dovecot          # Python tests and the benchmark
  with Dovecot(workdir) as d: d.append("INBOX", raw_bytes); d.uids("Routed")

  dovecot_harness.py serve DIR [--no-idle] [--no-move] [--no-tls]
      starts one, prints {"imap_port":..,"imaps_port":..,"cert":..,"user":..,"password":..} on one
      line, and runs until stdin closes (the C++ tests start it with popen and close the pipe)
  dovecot_harness.py append PORT MAILBOX FILE...    appends messages over IMAP (imaplib)
  dovecot_harness.py uids PORT MAILBOX              prints the UIDs in a mailbox, one per line

Dovecot's login processes refuse to run as root, so as root the packaged dovenull/dovecot users
run them and the mail user is `mail`, owning the maildir; as another user everything runs as that
user. A static passdb accepts USER/PASSWORD. TLS uses a self-signed certificate made with openssl.
"""
import base64
import imaplib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time

USER = "support@shop.example"
PASSWORD = "s3cret-pass"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dovecot:
    def __init__(self, workdir, idle=True, move=True, tls=True, extra_conf=""):
        self.dir = os.path.abspath(workdir)
        self.idle, self.move, self.tls = idle, move, tls
        self.extra_conf = extra_conf
        self.imap_port = _free_port()
        self.imaps_port = _free_port()
        self.user, self.password = USER, PASSWORD
        self.cert = os.path.join(self.dir, "cert.pem")
        self.proc = None

    def _users(self):
        if os.geteuid() == 0:
            return "dovecot", "dovenull", "mail"
        me = pwd.getpwuid(os.geteuid()).pw_name
        return me, me, me

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)  # the mail user walks into home/ ...
        parent = os.path.dirname(self.dir)
        while parent != "/":  # ... through our private temporary directories (search bit only)
            st = os.stat(parent)
            if st.st_uid != os.geteuid() or st.st_mode & 0o001:
                break
            os.chmod(parent, st.st_mode | 0o001)
            parent = os.path.dirname(parent)
        internal, login, mail_user = self._users()
        home = os.path.join(self.dir, "home")
        os.makedirs(home, exist_ok=True)
        pw = pwd.getpwnam(mail_user)
        if os.geteuid() == 0:
            os.chown(home, pw.pw_uid, pw.pw_gid)
        key = os.path.join(self.dir, "key.pem")
        if self.tls and not os.path.exists(self.cert):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                            "-keyout", key, "-out", self.cert], check=True, capture_output=True)
        caps = "IMAP4rev1 SASL-IR LITERAL+ ENABLE UIDPLUS ESEARCH"
        if self.idle:
            caps += " IDLE"
        if self.move:
            caps += " MOVE"
        ssl_conf = (f"ssl = yes\nssl_cert = <{self.cert}\nssl_key = <{key}\n" if self.tls else "ssl = no\n")
        conf = f"""base_dir = {self.dir}/run
state_dir = {self.dir}/state
log_path = {self.dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
default_internal_user = {internal}
default_login_user = {login}
{ssl_conf}disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={pw.pw_uid} gid={pw.pw_gid} home={home}/%u
}}
first_valid_uid = 1
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
}}
imap_capability = {caps}
protocol imap {{
  imap_idle_notify_interval = 1 secs
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.imaps_port if self.tls else 0}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
{self.extra_conf}
"""
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        with open(self.conf + ".err", "w") as err:
            self.proc = subprocess.Popen(["dovecot", "-F", "-c", self.conf],
                                         stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("dovecot exited: " + open(self.conf + ".err").read() + self.log())
            try:
                with socket.create_connection(("127.0.0.1", self.imap_port), timeout=1) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("dovecot did not start: " + self.log())

    def log(self):
        try:
            return open(os.path.join(self.dir, "dovecot.log")).read()
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def info(self):
        return {"imap_port": self.imap_port, "imaps_port": self.imaps_port, "cert": self.cert,
                "user": self.user, "password": self.password, "dir": self.dir}

    # --- a real IMAP client (imaplib) for putting mail in and looking at it ---

    def client(self):
        return login(self.imap_port, self.user, self.password)

    def append(self, mailbox, *messages):
        with_client(self.imap_port, lambda c: append_with(c, mailbox, messages))

    def uids(self, mailbox):
        return with_client(self.imap_port, lambda c: uids_with(c, mailbox))


def sample_message(i):
    """Customer mail number i for load and resume tests: KOI8-R, windows-1251 (about 1 KiB), HTML
    and plain UTF-8 (about 23 KiB) in turn, each with its own Message-ID. Returns
    (raw bytes, Message-ID without brackets, decoded subject)."""
    kind = i % 4
    mid = f"load-{i}@customer.example"
    if kind == 0:
        cs, subject, body = "koi8-r", f"Заказ {i} не пришёл", "Здравствуйте! Где мой заказ?\n"
    elif kind == 1:
        cs, subject, body = "windows-1251", f"Возврат {i}", "Хочу вернуть товар.\n" * 50
    elif kind == 2:
        cs, subject, body = "utf-8", f"Question {i}", "<p>Hello &amp; thanks</p>\n"
    else:
        cs, subject, body = "utf-8", f"Big {i}", ("x" * 76 + "\n") * 300
    ctype = "text/html" if kind == 2 else "text/plain"
    enc_subject = "=?%s?B?%s?=" % (cs, base64.b64encode(subject.encode(cs)).decode())
    head = (f"From: Customer {i} <c{i}@customer.example>\r\nTo: support@shop.example\r\n"
            f"Subject: {enc_subject}\r\nMessage-ID: <{mid}>\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: {ctype}; charset={cs}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
    return head.encode() + body.replace("\n", "\r\n").encode(cs), mid, subject


def login(port, user=USER, password=PASSWORD):
    c = imaplib.IMAP4("127.0.0.1", port)
    c.login(user, password)
    return c


def with_client(port, fn):
    c = login(port)
    try:
        return fn(c)
    finally:
        c.logout()


def append_with(c, mailbox, messages):
    if mailbox.upper() != "INBOX":
        c.create(mailbox)  # NO when it exists; fine
    for m in messages:
        typ, data = c.append(mailbox, None, None, m)
        if typ != "OK":
            raise RuntimeError(f"APPEND failed: {data}")


def uids_with(c, mailbox):
    typ, _ = c.select(mailbox, readonly=True)
    if typ != "OK":
        return []
    typ, data = c.uid("SEARCH", None, "ALL")
    return [int(x) for x in data[0].split()] if typ == "OK" and data and data[0] else []


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "serve":
        d = Dovecot(argv[2], idle="--no-idle" not in argv, move="--no-move" not in argv,
                    tls="--no-tls" not in argv)
        d.start()
        print(json.dumps(d.info()), flush=True)
        try:
            sys.stdin.read()  # until the parent closes the pipe
        finally:
            d.stop()
        return 0
    if cmd == "append":
        port, mailbox = int(argv[2]), argv[3]
        msgs = [open(p, "rb").read() for p in argv[4:]]
        with_client(port, lambda c: append_with(c, mailbox, msgs))
        return 0
    if cmd == "uids":
        for u in with_client(int(argv[2]), lambda c: uids_with(c, argv[3])):
            print(u)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
