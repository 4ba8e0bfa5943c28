"""Live reload (SIGHUP) of the running daemon: the real `omniroute serve` on the embedded Kafka with
Telegram webhook connectors and a routing section, reconfigured while it serves.

Proves: a valid change applies at once — a new queue and rule route a new contact there, a changed
agent skill counts, an added connector answers on its path and a removed one stops answering —
while a contact waiting since before the reload stays waiting and is offered afterwards, and an
HTTP keep-alive connection opened before the reload still serves after it. A file with an error is
rejected with its position logged; routing and connectors go on exactly as before."""
import json
import os
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from omni_testlib import Daemon, TempDirTest, curl, kcat, wait_for  # noqa: E402

SECRET = "reload-secret_1"

ROUTING = """routing:
  queues:
    support:
      channels: [messenger, chat, email]
      skills: {{support: 1}}
{extra_queues}  default_queue: support
  rules:
{extra_rules}    - name: billing
      match: {{keywords: [invoice]}}
      queue: support
  agents:
    anna: {{name: Anna, skills: {{support: 5{anna_extra}}}}}
"""

CONNECTOR = """  - type: telegram
    name: {name}
    secret_token: {secret}
    bot: "@{name}_bot"
"""


def config(connectors=("tg1",), french=False, typo=False):
    text = ROUTING.format(
        extra_queues="    french:\n      channels: [messenger]\n      skills: {french: 3}\n" if french else "",
        extra_rules="    - name: french\n      match: {keywords: [bonjour]}\n      queue: french\n" if french else "",
        anna_extra=", french: 8" if french else "")
    if typo:
        text = text.replace("default_queue:", "default_queu:")
    text += "connectors:\n" + "".join(CONNECTOR.format(name=n, secret=SECRET) for n in connectors)
    return text


_update = [500000]


def update(text):
    """A Telegram `message` update from a chat of its own (a new conversation each time)."""
    _update[0] += 1
    u = _update[0]
    return u, json.dumps({"update_id": u, "message": {
        "message_id": u, "date": 1795405068, "text": text,
        "from": {"id": u, "is_bot": False, "first_name": "Жанна"},
        "chat": {"id": u, "type": "private"}}}, ensure_ascii=False)


def http_request(path, body):
    data = body.encode()
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"X-Telegram-Bot-Api-Secret-Token: {SECRET}\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data


def read_response(sock):
    """Status of one HTTP/1.1 response on a keep-alive connection (body read by Content-Length)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed; got {buf!r}")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    while len(rest) < length:
        rest += sock.recv(65536)
    return int(head.split(b" ")[1])


class LiveReload(TempDirTest):
    def setUp(self):
        super().setUp()
        self.daemon = self.track(Daemon(self.tmp, extra_yaml=config()))
        self.bootstrap = self.daemon.wait_ready(timeout=60)["kafka"]["bootstrap"]
        self.port = self.daemon.http_port

    def rewrite(self, text):
        with open(self.daemon.config_path) as f:
            head = f.read().split("routing:\n")[0]
        with open(self.daemon.config_path, "w") as f:
            f.write(head + text)

    def reload(self, marker):
        before = self.daemon.logs().count(marker)
        self.daemon.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: self.daemon.logs().count(marker) > before, 20, what=f"'{marker}' in the log")

    def post(self, connector, text):
        u, body = update(text)
        status, _ = curl(f"http://127.0.0.1:{self.port}/hooks/telegram/{connector}", "-X", "POST",
                         "-H", "Content-Type: application/json",
                         "-H", f"X-Telegram-Bot-Api-Secret-Token: {SECRET}", "--data-binary", body)
        return u, status

    def decisions(self, source_update, kind):
        contacts = [json.loads(l) for l in kcat("-b", self.bootstrap, "-C", "-q", "-e", "-o", "beginning",
                                                "-t", "omni.contacts").splitlines() if l]
        ids = {c["id"] for c in contacts if c["source_id"].endswith(f":{source_update}")}
        out = []
        for line in kcat("-b", self.bootstrap, "-C", "-q", "-e", "-o", "beginning",
                         "-t", "omni.assignments").splitlines():
            a = json.loads(line) if line else None
            if a and a["type"] == kind and a.get("contact_id") in ids:
                out.append(a)
        return out

    def login(self, agent):
        event = {"schema": "omni.agent_event.v1", "id": f"login-{agent}-{time.time()}", "type": "login",
                 "domain": "default", "agent_id": agent, "at": "2026-11-23T07:00:00.000Z"}
        kcat("-b", self.bootstrap, "-P", "-t", "omni.agent-events", "-k", "default",
             "-X", "partitioner=murmur2_random", input=json.dumps(event) + "\n")

    def test_valid_reload_applies_routing_and_connectors_keeping_waiting_contacts_and_sockets(self):
        # Nobody is logged in: this contact waits in `support` across the reload.
        waiting, status = self.post("tg1", "invoice question")
        self.assertEqual(status, 200)
        keep = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.addCleanup(keep.close)
        u, body = update("hello over keep-alive")
        keep.sendall(http_request("/hooks/telegram/tg1", body))
        self.assertEqual(read_response(keep), 200)
        self.assertEqual(self.post("tg2", "not yet")[1], 404)

        self.rewrite(config(connectors=("tg1", "tg2"), french=True))
        self.reload("reload: applied")
        self.assertIn("connectors: 1 kept, 1 started, 0 stopped", self.daemon.logs())

        u, body = update("still here")
        keep.sendall(http_request("/hooks/telegram/tg1", body))
        self.assertEqual(read_response(keep), 200, "the keep-alive connection did not survive")
        french, status = self.post("tg2", "bonjour, mon colis?")
        self.assertEqual(status, 200)

        self.login("anna")
        offered = wait_for(lambda: self.decisions(waiting, "offer"), 30, interval=0.3,
                           what="the offer of the contact that waited across the reload")
        self.assertEqual(offered[0]["agent_id"], "anna")
        self.assertEqual(offered[0]["queue"], "support")
        # Anna is busy with the first contact: the French one is offered later or waits, but in
        # the new queue either way.
        wait_for(lambda: self.decisions(french, "offer") or self.waiting_in("french"), 30,
                 interval=0.3, what="the French contact classified into the new queue")
        for offer in self.decisions(french, "offer"):
            self.assertEqual(offer["queue"], "french")

        # Removing a connector takes its path away; the one kept still serves.
        self.rewrite(config(connectors=("tg1",), french=True))
        self.reload("reload: applied")
        self.assertEqual(self.post("tg2", "gone?")[1], 404)
        self.assertEqual(self.post("tg1", "still served")[1], 200)
        self.assertIsNone(self.daemon.proc.poll())

    def test_restart_only_sections_are_named_once_and_the_rest_applies(self):
        with open(self.daemon.config_path) as f:
            text = f.read()
        # kafka.partitions and a new http key: only a restart can apply them.
        text = text.replace("  partitions: 3\n", "  partitions: 4\n", 1)
        text = text.replace("http:\n", "http:\n  read_timeout: 7s\n", 1)
        with open(self.daemon.config_path, "w") as f:
            f.write(text)
        self.reload("reload: applied")
        self.assertIn("reload: changes to kafka, http take effect at the next restart",
                      self.daemon.logs())
        # Reloading the same file again: nothing new to warn about.
        self.reload("reload: applied")
        self.assertEqual(self.daemon.logs().count("take effect at the next restart"), 1)
        self.assertEqual(self.post("tg1", "still served")[1], 200)

    def waiting_in(self, queue):
        """True once the router's statistics show a contact in `queue` (offered or waiting)."""
        for line in kcat("-b", self.bootstrap, "-C", "-q", "-e", "-o", "beginning",
                         "-t", "omni.assignments").splitlines():
            a = json.loads(line) if line else None
            if a and a["type"] == "stats":
                for q in json.loads(a["attributes"]["queues"]):
                    if q["name"] == queue and q["arrived"] >= 1:
                        return True
        return False

    def test_invalid_file_is_rejected_with_its_position_and_nothing_changes(self):
        self.rewrite(config(connectors=("tg1", "tg2"), typo=True))
        self.reload("reload: rejected")
        logs = self.daemon.logs()
        self.assertRegex(logs, r"omniroute-\d+\.yaml:\d+:\d+: .*default_queu")
        self.assertEqual(self.post("tg2", "not added")[1], 404)
        u, status = self.post("tg1", "invoice please")
        self.assertEqual(status, 200)
        self.login("anna")
        offered = wait_for(lambda: self.decisions(u, "offer"), 30, interval=0.3,
                           what="routing to go on with the running configuration")
        self.assertEqual(offered[0]["queue"], "support")
        status, body = curl(self.daemon.url("/healthz"))
        self.assertEqual(status, 200, body)


if __name__ == "__main__":
    unittest.main()
