"""Telephony end to end: the real `omniroute serve` (every role, embedded Kafka) with a generic
webhook connector and an Asterisk connector logged in to a scripted AMI server (this test: the
documented banner, Login, CRLF-framed events). A customer first writes an email (posted by a CRM
through the generic hook, carrying their email address and phone number); later they call from
"8 (912) 345-67-89". The call is identified by its E.164 number, routed to the agent as a voice
offer whose customer history holds the email, and the PBX's answer and hangup reach the router as
the agent's accept and completion."""
import json
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from omni_testlib import Daemon, TempDirTest, curl, free_port, kcat, topic_messages, wait_for  # noqa: E402

HOOK_TOKEN = "crm-hook-token-0123456789abcdef"
LINKEDID = "1795405068.42"

EMAIL_CONTACT = {
    "channel": "email", "source_id": "<order-42@mail.example.ru>", "domain": "acme",
    "customer": {"identities": [{"kind": "email", "value": "Ivan.Petrov@example.ru"},
                                {"kind": "phone", "value": "+7 912 345-67-89"}],
                 "display_name": "Иван Петров"},
    "to": "support@acme.ru", "subject": "Заказ №42 не доставлен", "text": "Где мой заказ?",
}


def ami_message(**fields):
    return "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in fields.items()) + "\r\n"


class FakeAsterisk:
    """A scripted AMI server: banner, checks the Login, then sends what the test queues."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.logins = []
        self.outbox = []
        self.cond = threading.Condition()
        self.closed = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"Asterisk Call Manager/6.0.0\r\n")
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                login = data.decode()
                with self.cond:
                    self.logins.append(login)
                    self.cond.notify_all()
                if "Secret: ami-s3cret" not in login:
                    conn.sendall(ami_message(Response="Error", Message="Authentication failed").encode())
                    continue
                conn.sendall(ami_message(Response="Success", ActionID="omni-login",
                                         Message="Authentication accepted").encode())
                while not self.closed:
                    with self.cond:
                        self.cond.wait_for(lambda: self.outbox or self.closed, timeout=0.5)
                        out, self.outbox = self.outbox, []
                    for text in out:
                        data = text.encode()
                        for i in range(0, len(data), 11):  # split mid-line on purpose
                            conn.sendall(data[i:i + 11])

    def send(self, text):
        with self.cond:
            self.outbox.append(text)
            self.cond.notify_all()

    def close(self):
        self.closed = True
        with self.cond:
            self.cond.notify_all()
        self.sock.close()


def records(bootstrap, topic):
    return [json.loads(line) for line in topic_messages(bootstrap, topic).splitlines() if line]


def produce(bootstrap, topic, key, record):
    kcat("-b", bootstrap, "-P", "-t", topic, "-k", key, "-X", "partitioner=murmur2_random",
         input=json.dumps(record, ensure_ascii=False) + "\n")


def agent_event(kind, n, **extra):
    return {"schema": "omni.agent_event.v1", "id": f"e2e-{kind}-{n}", "type": kind, "domain": "acme",
            "agent_id": "anna", "at": "2026-11-23T07:00:00.000Z", **extra}


class Telephony(TempDirTest):
    def test_caller_known_by_email_reaches_the_agent_with_history(self):
        pbx = self.track(FakeAsterisk())
        d = self.track(Daemon(self.tmp, extra_yaml=f"""connectors:
  - type: generic
    name: crm
    domain: acme
    tokens: [{HOOK_TOKEN}]
  - type: asterisk
    name: pbx1
    domain: acme
    host: 127.0.0.1
    port: {pbx.port}
    username: omniroute
    secret: ami-s3cret
    auth: plain
    default_region: RU
    agents: {{"101": anna}}
"""))
        bootstrap = d.wait_ready(timeout=60)["kafka"]["bootstrap"]
        wait_for(lambda: pbx.logins, what="the AMI login")
        self.assertIn("Username: omniroute\r\n", pbx.logins[0])
        wait_for(lambda: d.metric("omniroute_telephony_reconnects_total", connector="pbx1") == 0 and
                 "logged in to" in d.logs(), what="logged in to the PBX")

        produce(bootstrap, "omni.agent-events", "acme",
                agent_event("login", 1, skills={"support": 5}, capacity={"email": 5, "voice": 1}))

        # 1. The customer writes (their CRM posts the email with both identities).
        status, body = curl(f"http://127.0.0.1:{d.http_port}/hooks/generic/crm", "-H",
                            f"Authorization: Bearer {HOOK_TOKEN}", "-H", "Content-Type: application/json",
                            "--data-binary", json.dumps(EMAIL_CONTACT, ensure_ascii=False))
        self.assertEqual(status, 200, body)
        email = wait_for(lambda: next((c for c in records(bootstrap, "omni.contacts")
                                       if c["channel"] == "email"), None), what="the email contact")

        def offer_of(contact_id):
            return next((a for a in records(bootstrap, "omni.assignments")
                         if a["type"] == "offer" and a.get("contact_id") == contact_id), None)
        email_offer = wait_for(lambda: offer_of(email["id"]), timeout=30, what="the email offer")
        self.assertEqual(email_offer["agent_id"], "anna")
        produce(bootstrap, "omni.agent-events", "acme", agent_event("accept", 1, contact_id=email["id"]))
        produce(bootstrap, "omni.agent-events", "acme",
                agent_event("complete", 1, contact_id=email["id"], disposition="answered"))

        # 2. Later they call, the number written the Russian national way.
        pbx.send(ami_message(Event="Newchannel", Privilege="call,all", Channel="PJSIP/trunk-00000007",
                             ChannelState="0", ChannelStateDesc="Down", CallerIDNum="8 (912) 345-67-89",
                             CallerIDName="<unknown>", Context="from-trunk", Exten="74951234567",
                             Priority="1", Uniqueid=LINKEDID, Linkedid=LINKEDID))
        pbx.send(ami_message(Event="DialBegin", Channel="PJSIP/trunk-00000007", Uniqueid=LINKEDID,
                             Linkedid=LINKEDID, DestChannel="PJSIP/101-00000008", DestCallerIDNum="101",
                             DestUniqueid="1795405068.43", DestLinkedid=LINKEDID, DialString="101"))
        call = wait_for(lambda: next((c for c in records(bootstrap, "omni.contacts")
                                      if c["channel"] == "voice"), None), what="the call contact")
        self.assertEqual(call["provider"], "asterisk")
        self.assertEqual(call["customer"]["identities"], [{"kind": "phone", "value": "+79123456789"}])
        self.assertEqual(call["conversation"], f"asterisk:pbx1:{LINKEDID}")

        call_offer = wait_for(lambda: offer_of(call["id"]), timeout=30, what="the call offer")
        self.assertEqual(call_offer["agent_id"], "anna")
        details = call_offer["contact"]
        self.assertEqual(details["channel"], "voice")
        self.assertEqual(details["customer_id"], email_offer["contact"]["customer_id"])
        history = details["history"]
        mails = [h for h in history if h["contact_id"] == email["id"]]
        self.assertEqual(len(mails), 1, history)
        self.assertEqual(mails[0]["channel"], "email")
        self.assertEqual(mails[0]["subject"], "Заказ №42 не доставлен")

        # 3. Anna's phone (extension 101) answers, then the caller hangs up.
        pbx.send(ami_message(Event="DialEnd", Channel="PJSIP/trunk-00000007", Uniqueid=LINKEDID,
                             Linkedid=LINKEDID, DestChannel="PJSIP/101-00000008", DestCallerIDNum="101",
                             DestUniqueid="1795405068.43", DestLinkedid=LINKEDID, DialStatus="ANSWER"))
        pbx.send(ami_message(Event="Hangup", Channel="PJSIP/trunk-00000007", Uniqueid=LINKEDID,
                             Linkedid=LINKEDID, Cause="16", Cause_txt="Normal Clearing"))

        def from_pbx():
            evs = [e for e in records(bootstrap, "omni.agent-events")
                   if e.get("attributes", {}).get("source") == "asterisk"]
            return evs if len(evs) >= 2 else None
        evs = wait_for(from_pbx, timeout=30, what="the PBX's agent events")
        self.assertEqual([(e["type"], e["agent_id"], e["contact_id"]) for e in evs],
                         [("accept", "anna", call["id"]), ("complete", "anna", call["id"])])
        self.assertEqual(evs[1]["disposition"], "Normal Clearing")
        decided = wait_for(lambda: {a["type"] for a in records(bootstrap, "omni.assignments")
                                    if a.get("contact_id") == call["id"]} >= {"offer", "assign"} or None,
                           timeout=30, what="the router to assign the answered call")
        self.assertTrue(decided)
        self.assertEqual(d.metric("omniroute_telephony_calls_completed_total", connector="pbx1"), 1.0)
        self.assertEqual(d.metric("omniroute_contacts_received_total", channel="voice",
                                  provider="asterisk"), 1.0)


if __name__ == "__main__":
    unittest.main()
