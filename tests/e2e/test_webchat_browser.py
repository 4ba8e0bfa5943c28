"""The web-chat widget in a real browser: Debian's Chromium driven by playwright-core
(webchat_browser.mjs) against `omniroute serve` on the embedded Kafka. A visitor opens /chat/ and
writes in Russian; the contact reaches omni.contacts (read with kcat) and the router's queue notice
comes back to the page; an agent reply produced to
omni.outbound with kcat (keyed by conversation, as the desk does) appears in the page; after a
reload the history is still there. Screenshots are kept in artifacts_dir() and their paths printed."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from omni_testlib import Daemon, TempDirTest, requires, artifacts_dir, browser_result, kcat, topic_messages, wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CHROMIUM = os.environ.get("OMNI_CHROMIUM", "/usr/bin/chromium")
TEXT = "Здравствуйте! Заказ №42 так и не пришёл, подскажите, что случилось?"
REPLY = "Добрый день! Заказ передан в доставку, курьер привезёт его завтра."
CONNECTORS = """connectors:
  - type: webchat
    name: shop
    domain: acme
"""


@requires(os.path.exists(CHROMIUM), f"{CHROMIUM} missing: deploy/install-deps.sh --test")
@requires(os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")),
          "playwright-core missing: deploy/install-deps.sh --test (npm ci in tests/e2e)")
class WebChatInBrowser(TempDirTest):
    def test_visitor_writes_in_russian_gets_the_reply_and_keeps_history_over_reload(self):
        d = self.track(Daemon(self.tmp, extra_yaml=CONNECTORS))
        bootstrap = d.wait_ready(timeout=60)["kafka"]["bootstrap"]
        shot = os.path.join(artifacts_dir(), "webchat_browser.png")
        opts = {"url": f"http://127.0.0.1:{d.http_port}", "text": TEXT, "reply": REPLY,
                "screenshot": shot, "userDataDir": tempfile.mkdtemp(prefix="chat-chromium-", dir=self.tmp),
                "executablePath": CHROMIUM}
        node = subprocess.Popen(["node", os.path.join(HERE, "webchat_browser.mjs"), json.dumps(opts)],
                                cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: node.poll() is None and node.kill())
        line = node.stdout.readline().strip()
        if not line.startswith("SENT "):
            node.kill()
            self.fail(f"the widget did not send: {line} {node.stderr.read()}\n{d.logs()[-4000:]}")
        visitor = line.split(" ", 1)[1]

        def contact():
            for l in topic_messages(bootstrap, "omni.contacts", fmt="%k\t%s\n").splitlines():
                key, _, value = l.partition("\t")
                c = json.loads(value)
                if c["text"] == TEXT:
                    return key, c
            return None
        key, c = wait_for(contact, 20, what="the visitor's contact on omni.contacts")
        self.assertEqual(key, "acme")
        self.assertEqual((c["provider"], c["channel"], c["domain"]), ("webchat", "chat", "acme"))
        self.assertIn({"kind": "visitor", "value": visitor}, c["customer"]["identities"])
        self.assertTrue(c["conversation"].startswith("webchat:shop:"))
        self.assertEqual(c["language"], "ru-RU")

        # An agent answers after the contact was routed: wait until the router's queue notice has
        # reached the visitor's socket, so the page shows notice then reply whatever partitions
        # the two records took.
        wait_for(lambda: d.metric("omniroute_outbound_records_total", result="delivered") >= 1, 20,
                 what="the router's queue notice delivered to the visitor")
        reply = {"schema": "omni.outbound.v1", "id": "reply-browser-1", "kind": "reply", "domain": "acme",
                 "conversation": c["conversation"], "contact_id": c["id"], "channel": "chat",
                 "provider": "webchat", "recipient": {"kind": "visitor", "value": visitor},
                 "agent_id": "anna", "at": "2026-11-23T07:00:00.000Z", "text": REPLY}
        kcat("-b", bootstrap, "-P", "-t", "omni.outbound", "-k", c["conversation"],
             "-X", "partitioner=murmur2_random", input=json.dumps(reply, ensure_ascii=False) + "\n")

        r, result_line, err = browser_result(node, 120)
        if r is None:
            self.fail(f"browser run failed: {result_line}\n{err[-2000:]}\n{d.logs()[-6000:]}")
        print(f"\nscreenshots: {shot} {shot.replace('.png', '-reloaded.png')}", file=sys.stderr)

        self.assertEqual(r["visitor"], r["visitorAfter"], "the reload started a new visitor")
        # The visitor's message, the router's queue notice (no agent is signed in: position 1),
        # the agent's reply: all replayed after the reload, in order.
        self.assertEqual(len(r["afterReload"]), 3, r["afterReload"])
        self.assertEqual(r["afterReload"][0], TEXT)
        self.assertIn("number 1 in the queue", r["afterReload"][1])
        self.assertEqual(r["afterReload"][2], REPLY)
        self.assertTrue(r["panelOpen"])
        self.assertTrue(r["rendering"]["covered"], f"no font covers the Cyrillic text: {r['rendering']}")
        self.assertGreater(r["rendering"]["width"], 0)
        self.assertEqual(r["consoleErrors"], [])
        for f in (shot, shot.replace(".png", "-reloaded.png")):
            self.assertGreater(os.path.getsize(f), 5_000, f"screenshot {f} missing or empty")
        # One contact for the one message, though the widget reconnected.
        texts = [json.loads(v)["text"] for v in topic_messages(bootstrap, "omni.contacts").splitlines() if v]
        self.assertEqual(texts.count(TEXT), 1)


if __name__ == "__main__":
    unittest.main()
