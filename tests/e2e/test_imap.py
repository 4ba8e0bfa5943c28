"""The email connector in the real daemon against a real Dovecot (dovecot_harness.py) and Kafka
in its own process (`omniroute dev-kafka`), so the daemon can be killed without losing the broker.

Loss-free, duplicate-free resume: 500 messages (Russian KOI8-R / windows-1251 / UTF-8, plain and
HTML, of mixed size) are in INBOX; the daemon is `kill -9`'d twice while it is routing them and
started again each time. Afterwards every message is on omni.contacts under its deterministic
contact id (sha256("imap" 0x1f "<connector>:<Message-ID>")), none is missing, no record is a
stranger, and every message is in the processed folder with INBOX empty. The password comes from a
${file:...} secret. And an agent's reply on omni.outbound goes out by SMTP, threaded."""
import email
import email.policy
import hashlib
import json
import os
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from dovecot_harness import Dovecot, sample_message  # noqa: E402
from omni_testlib import Daemon, DevKafka, TempDirTest, kcat, topic_messages, wait_for  # noqa: E402

CONNECTOR = "mail"
TOTAL = 500


def contact_id(source_id):
    return hashlib.sha256(b"imap\x1f" + source_id.encode()).hexdigest()[:32]


class ImapResume(TempDirTest):
    def test_kill_nine_twice_loses_nothing(self):
        kafka = self.track(DevKafka(self.tmp))
        dovecot = Dovecot(os.path.join(self.tmp, "dovecot"))
        dovecot.start()
        self.addCleanup(dovecot.stop)
        expected = {}
        batch = []
        for i in range(TOTAL):
            raw, mid, subject = sample_message(i)
            expected[contact_id(f"{CONNECTOR}:{mid}")] = subject
            batch.append(raw)
        dovecot.append("INBOX", *batch)
        self.assertEqual(len(dovecot.uids("INBOX")), TOTAL)

        secret = os.path.join(self.tmp, "imap-password")
        with open(secret, "w") as f:
            f.write(dovecot.password + "\n")
        yaml = f"""connectors:
  - type: imap
    name: {CONNECTOR}
    domain: shop
    server: 127.0.0.1:{dovecot.imap_port}
    tls: starttls
    ca_file: {dovecot.cert}
    username: {dovecot.user}
    password: ${{file:{secret}}}
    address: support@shop.example
    processed_folder: Routed
    reconnect_min: 100ms
    reconnect_max: 1s
"""
        state = os.path.join(self.tmp, "state", CONNECTOR, "mailbox-INBOX.json")

        def last_uid():
            try:
                with open(state) as f:
                    return json.load(f)["last_uid"]
            except (OSError, ValueError):
                return 0

        # Two kills at different points of the stream, then a run to the end.
        for kill_at in (120, 330):
            d = self.track(Daemon(self.tmp, brokers=kafka.bootstrap, extra_yaml=yaml))
            wait_for(lambda: last_uid() >= kill_at, timeout=120, interval=0.005,
                     what=f"resume state past UID {kill_at}")
            d.proc.send_signal(signal.SIGKILL)
            d.proc.wait()
            self.assertLess(last_uid(), TOTAL, "the kill must land mid-stream")
        d = self.track(Daemon(self.tmp, brokers=kafka.bootstrap, extra_yaml=yaml))
        d.wait_ready()
        wait_for(lambda: last_uid() == TOTAL, timeout=120, what="every UID processed")
        wait_for(lambda: len(dovecot.uids("Routed")) == TOTAL, timeout=60,
                 what="every message in the processed folder")
        self.assertEqual(dovecot.uids("INBOX"), [])

        records = [json.loads(line) for line in
                   topic_messages(kafka.bootstrap, "omni.contacts").splitlines() if line.strip()]
        ids = [r["id"] for r in records]
        self.assertEqual(set(ids), set(expected), "every message routed, no stranger")
        for r in records:
            self.assertEqual(r["subject"], expected[r["id"]])
            self.assertEqual(r["channel"], "email")
            self.assertEqual(r["domain"], "shop")
        duplicates = len(ids) - len(set(ids))
        # A record stored by Kafka in the instant between its acknowledgement and the state file's
        # rename can be produced again after a kill -9 (consumers dedupe by id); at most the
        # contacts in flight at each kill.
        print(f"imap resume: {len(ids)} records, {len(set(ids))} distinct, {duplicates} duplicates",
              file=sys.stderr)
        self.assertLessEqual(duplicates, 2 * 200)
        self.assertEqual(d.metric("omniroute_imap_parse_failures_total", connector=CONNECTOR), 0)
        code, _ = d.stop()
        self.assertEqual(code, 0)


class ImapReply(TempDirTest):
    def test_agent_reply_on_outbound_is_mailed_in_thread(self):
        """A customer's mail becomes a contact; an agent's reply to it on omni.outbound (as the desk
        writes it) reaches a real SMTP server (aiosmtpd over STARTTLS with AUTH) through the daemon's
        outbound dispatcher, with In-Reply-To / References that thread it in the customer's
        client."""
        dovecot = Dovecot(os.path.join(self.tmp, "dovecot"))
        dovecot.start()
        self.addCleanup(dovecot.stop)
        sink_dir = os.path.join(self.tmp, "smtp")
        sink = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(__file__),
                                                              "smtp_sink.py"),
                                 sink_dir, "--tls", "--auth", "agent:pw-2"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(sink.stdout.close)
        self.addCleanup(sink.wait)
        self.addCleanup(sink.stdin.close)
        info = json.loads(sink.stdout.readline())
        raw, mid, subject = sample_message(0)
        dovecot.append("INBOX", raw)
        yaml = f"""connectors:
  - type: imap
    name: {CONNECTOR}
    domain: shop
    server: 127.0.0.1:{dovecot.imap_port}
    tls: starttls
    ca_file: {dovecot.cert}
    username: {dovecot.user}
    password: {dovecot.password}
    smtp:
      server: 127.0.0.1:{info["port"]}
      tls: starttls
      ca_file: {info["cert"]}
      username: agent
      password: pw-2
      from: support@shop.example
      from_name: Поддержка
"""
        d = self.track(Daemon(self.tmp, extra_yaml=yaml))
        bootstrap = d.wait_ready()["kafka"]["bootstrap"]

        def first_contact():
            lines = topic_messages(bootstrap, "omni.contacts").splitlines()
            return json.loads(lines[0]) if lines else None

        contact = wait_for(first_contact, timeout=30, what="the mail on omni.contacts")
        self.assertEqual(contact["subject"], subject)
        reply = {"schema": "omni.outbound.v1", "id": "reply-e2e-imap-1", "kind": "reply",
                 "domain": "shop", "conversation": contact["conversation"],
                 "contact_id": contact["id"], "channel": "email", "provider": "imap",
                 "recipient": contact["customer"]["identities"][0], "agent_id": "a1",
                 "at": "2026-11-23T08:00:00.000Z", "subject": "Re: " + subject,
                 "text": "Заказ отправлен сегодня.", "in_reply_to": mid, "references": [mid]}
        kcat("-b", bootstrap, "-P", "-t", "omni.outbound", "-k", contact["conversation"],
             "-X", "partitioner=murmur2_random", input=json.dumps(reply, ensure_ascii=False) + "\n")
        # The router also acknowledges the mail by email (its expected-wait notice, which goes out
        # through the same connector): find the agent's reply among what the server received.
        def mails():
            out = []
            for name in sorted(os.listdir(sink_dir)) if os.path.isdir(sink_dir) else []:
                if name.endswith(".eml"):
                    with open(os.path.join(sink_dir, name), "rb") as f:
                        out.append((name, email.message_from_bytes(f.read(), policy=email.policy.default)))
            return out

        def body_text(m):
            part = m.get_body(preferencelist=("plain",))
            return part.get_content().strip() if part is not None else ""

        def the_reply():
            for name, m in mails():
                if body_text(m) == "Заказ отправлен сегодня.":
                    return name, m
            return None
        name, sent = wait_for(the_reply, timeout=30, what="the reply at the SMTP server")
        path = os.path.join(sink_dir, name)
        self.assertEqual(sent["In-Reply-To"], f"<{mid}>")
        self.assertEqual(sent["References"], f"<{mid}>")
        self.assertEqual(sent["Subject"], "Re: " + subject)
        self.assertEqual(sent["To"], "c0@customer.example")
        self.assertEqual(sent.get_body().get_content().strip(), "Заказ отправлен сегодня.")
        with open(path[:-len(".eml")] + ".json") as f:
            envelope = json.load(f)
        self.assertTrue(envelope["tls"])
        self.assertTrue(envelope["auth"])
        # Every mail the server got was counted as sent, and the reply went out once.
        wait_for(lambda: d.metric("omniroute_smtp_sent_total", connector=CONNECTOR) == len(mails()),
                 timeout=10, what="omniroute_smtp_sent_total == mails received")
        replies = [n for n, m in mails() if body_text(m) == "Заказ отправлен сегодня."]
        self.assertEqual(len(replies), 1, replies)


if __name__ == "__main__":
    unittest.main()
