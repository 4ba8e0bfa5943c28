"""The reference desk page in a real browser: Debian's Chromium driven by playwright-core
(desk_browser.mjs), against `omniroute serve` with every role (router + gateway) on the embedded
Kafka. A contact with Cyrillic text produced onto omni.contacts appears as an offer in the page;
the test accepts it, reads the conversation, replies and completes, then checks the reply on
omni.outbound and the completion on omni.agent-events. Screenshots are kept as artifacts in
$OMNI_ARTIFACTS_DIR (default: artifacts/ at the repository root, gitignored)."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from omni_testlib import Daemon, TempDirTest, requires, artifacts_dir, browser_result, curl, kcat, topic_messages, wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CHROMIUM = os.environ.get("OMNI_CHROMIUM", "/usr/bin/chromium")
TOKEN = "desk-e2e-token-anna-0123456789"
CUSTOMER = "Иван Петров"
TEXT = "Здравствуйте! Где мой заказ №42? Жду уже неделю."
REPLY = "Добрый день, Иван! Заказ передан в доставку, будет завтра."

CONTACT = {
    "schema": "omni.contact.v1",
    "id": "d35c0e1a2b3c4d5e6f708192a3b4c5d6",
    "channel": "chat",
    "provider": "webchat",
    "source_id": "desk-e2e-1",
    "received_at": "2026-11-23T03:37:48.123Z",
    "domain": "acme",
    "conversation": "webchat-session-77",
    "customer": {"identities": [{"kind": "visitor", "value": "visitor-77"}], "display_name": CUSTOMER},
    "to": "site-chat",
    "subject": "Заказ не пришёл",
    "text": TEXT,
}

GATEWAY_YAML = f"""gateway:
  agents:
    anna: {{token: {TOKEN}, name: Анна Смирнова, domain: acme}}
  admin_token: desk-e2e-admin-0123456789
  disconnect_grace: 5s
"""


@requires(os.path.exists(CHROMIUM), f"{CHROMIUM} missing: deploy/install-deps.sh --test")
@requires(os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")),
          "playwright-core missing: deploy/install-deps.sh --test (npm ci in tests/e2e)")
class DeskInBrowser(TempDirTest):
    def test_offer_accept_reply_complete_with_cyrillic(self):
        d = self.track(Daemon(self.tmp, extra_yaml=GATEWAY_YAML))
        bootstrap = d.wait_ready(timeout=60)["kafka"]["bootstrap"]
        url = f"http://127.0.0.1:{d.http_port}"
        shot = os.path.join(artifacts_dir(), "desk_browser.png")
        profile = tempfile.mkdtemp(prefix="desk-chromium-", dir=self.tmp)
        opts = {"url": url, "token": TOKEN, "customer": CUSTOMER, "text": TEXT, "reply": REPLY,
                "screenshot": shot, "userDataDir": profile, "executablePath": CHROMIUM}
        node = subprocess.Popen(["node", os.path.join(HERE, "desk_browser.mjs"), json.dumps(opts)],
                                cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: node.poll() is None and node.kill())
        line = node.stdout.readline().strip()
        if line != "READY":
            node.kill()
            self.fail(f"desk page did not sign in: {line} {node.stderr.read()}\n{d.logs()[-4000:]}")

        # The agent is signed in and available: a customer writes. murmur2, like omniroute's own
        # producer: the router needs a domain's contacts and agent events on the same partition.
        kcat("-b", bootstrap, "-P", "-t", "omni.contacts", "-k", "acme", "-X", "partitioner=murmur2_random",
             input=json.dumps(CONTACT, ensure_ascii=False) + "\n")

        result, result_line, err = browser_result(node, 120)
        if result is None:
            topics = {t: topic_messages(bootstrap, t)[-3000:]
                      for t in ("omni.agent-events", "omni.assignments")}
            self.fail(f"browser run failed: {result_line}\n{err[-2000:]}\n{d.logs()[-6000:]}\n{topics}")

        self.assertIn(CUSTOMER, result["offerText"])
        self.assertEqual(result["customerMessage"], TEXT)
        r = result["rendering"]
        self.assertTrue(r["covered"], f"no font covers the Cyrillic text: {r}")
        self.assertGreater(r["width"], 0, r)
        self.assertEqual(result["consoleErrors"], [])
        self.assertTrue(os.path.getsize(shot) > 10_000, "screenshot missing or empty")

        # The reply went to the customer's conversation, the completion to the router.
        def reply_on_outbound():
            for line in topic_messages(bootstrap, "omni.outbound", fmt="%k\t%s\n").splitlines():
                key, _, value = line.partition("\t")
                o = json.loads(value)
                if o.get("kind") == "reply" and o.get("text") == REPLY:
                    return key, o
            return None
        key, reply = wait_for(reply_on_outbound, 20, what="the reply on omni.outbound")
        self.assertEqual(key, CONTACT["conversation"])
        self.assertEqual(reply["conversation"], CONTACT["conversation"])
        self.assertEqual(reply["contact_id"], CONTACT["id"])
        self.assertEqual(reply["agent_id"], "anna")
        self.assertEqual(reply["provider"], "webchat")
        self.assertEqual(reply["recipient"], {"kind": "visitor", "value": "visitor-77"})

        def events():
            return [json.loads(l) for l in topic_messages(bootstrap, "omni.agent-events").splitlines() if l]
        done = wait_for(lambda: [e for e in events() if e["type"] == "complete"], 20,
                        what="the completion on omni.agent-events")
        self.assertEqual(done[0]["contact_id"], CONTACT["id"])
        self.assertEqual(done[0]["agent_id"], "anna")
        self.assertEqual(done[0]["disposition"], "solved")
        types = [e["type"] for e in events() if e["agent_id"] == "anna"]
        for t in ("login", "presence", "accept", "reply", "complete"):
            self.assertIn(t, types)

        # Why did it go to Anna? The REST view answers from the router's decisions.
        status, body = curl(f"{url}/api/v1/contacts/{CONTACT['id']}", "-H",
                            "Authorization: Bearer desk-e2e-admin-0123456789")
        self.assertEqual(status, 200, body)
        why = json.loads(body)["why"]
        self.assertEqual(why["agent_id"], "anna")

        # Live queue statistics come from the router's `stats` records (every few seconds).
        def queues_with_answered():
            status, body = curl(f"{url}/api/v1/queues", "-H",
                                "Authorization: Bearer desk-e2e-admin-0123456789")
            self.assertEqual(status, 200, body)
            for d in json.loads(body)["domains"]:
                for q in d["queues"]:
                    if q.get("answered", 0) >= 1:
                        return d["domain"], q
            return None
        domain, queue = wait_for(queues_with_answered, 20, what="router statistics on /api/v1/queues")
        self.assertEqual(domain, CONTACT["domain"])
        self.assertIn("service_level", queue)


if __name__ == "__main__":
    unittest.main()
