"""The first run: `omniroute serve` on the shipped example config (config/omniroute.yaml, only its
ports and state directory changed), exactly what `make run` starts. The log names the customer
chat page and each demo agent's desk address and token; a newcomer writes in Russian as a
customer in one tab and answers as the agent in the other (Debian's Chromium, first_run_browser.mjs).

Also: demo credentials are refused where they must not be: by `check-config --production` (the
packaged service runs it) and by `serve` on a listener other machines can reach."""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from omni_testlib import (BIN, SOURCE_DIR, Daemon, TempDirTest, artifacts_dir, browser_result, free_port,  # noqa: E402
                          requires, wait_for)

HERE = os.path.dirname(os.path.abspath(__file__))
CHROMIUM = os.environ.get("OMNI_CHROMIUM", "/usr/bin/chromium")
SHIPPED = os.path.join(SOURCE_DIR, "config", "omniroute.yaml")
TEXT = "Здравствуйте! Мой заказ №1017 так и не пришёл."
REPLY = "Добрый день! Заказ №1017 отправлен сегодня, номер отслеживания придёт письмом."


def shipped_config(tmpdir, admin_port, http_port, http_host="127.0.0.1"):
    """The example file with only its ports, listen host and state directory changed."""
    with open(SHIPPED) as f:
        text = f.read()
    for old, new in (("listen: 127.0.0.1:8080", f"listen: {http_host}:{http_port}"),
                     ("listen: 127.0.0.1:9464", f"listen: 127.0.0.1:{admin_port}"),
                     ("state_dir: ./state", f"state_dir: {tmpdir}/state")):
        assert old in text, f"{old!r} not in {SHIPPED}: update this test with the example"
        text = text.replace(old, new)
    return text


class FirstRun(TempDirTest):
    @requires(os.path.exists(CHROMIUM), f"{CHROMIUM} missing: deploy/install-deps.sh --test")
    @requires(os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")),
              "playwright-core missing: deploy/install-deps.sh --test (npm ci in tests/e2e)")
    def test_the_shipped_config_routes_a_chat_to_a_demo_agent_in_the_browser(self):
        d = self.track(Daemon(self.tmp, name="omniroute",
                              config=lambda a, h: shipped_config(self.tmp, a, h)))
        d.wait_ready(timeout=60)

        def announced():
            logs = d.logs()
            chat = re.search(r"demo: write as a customer at (\S+)", logs)
            agent = re.search(r"demo: answer as agent alice at (\S+) with the token (\S+)", logs)
            return (chat.group(1), agent.group(1), agent.group(2)) if chat and agent else None
        chat_url, desk_url, token = wait_for(announced, 10, what="the demo lines in the log")
        self.assertEqual(chat_url, f"http://127.0.0.1:{d.http_port}/chat/")
        self.assertEqual(desk_url, f"http://127.0.0.1:{d.http_port}/desk/")
        self.assertTrue(token.startswith("demo-"), token)
        self.assertIn("demo: answer as agent boris", d.logs())

        shot = os.path.join(artifacts_dir(), "first_run.png")
        opts = {"chatUrl": chat_url, "deskUrl": desk_url, "token": token, "text": TEXT,
                "reply": REPLY, "screenshot": shot, "executablePath": CHROMIUM,
                "userDataDir": tempfile.mkdtemp(prefix="first-run-chromium-", dir=self.tmp)}
        node = subprocess.Popen(["node", os.path.join(HERE, "first_run_browser.mjs"), json.dumps(opts)],
                                cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: node.poll() is None and node.kill())
        result, line, err = browser_result(node, 180)
        if result is None:
            self.fail(f"browser run failed: {line}\n{err[-2000:]}\n{d.logs()[-6000:]}")
        self.assertIn(TEXT, result["offerText"])
        self.assertEqual(result["customerMessage"], TEXT)
        self.assertIn(REPLY, "\n".join(result["chatShows"]))
        self.assertEqual(result["consoleErrors"], [])

    def test_check_config_production_refuses_the_demo_credentials(self):
        ok = subprocess.run([BIN, "check-config", SHIPPED], capture_output=True, text=True)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        out = subprocess.run([BIN, "check-config", "--production", SHIPPED],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 2, out.stdout)
        self.assertRegex(out.stderr, re.escape(SHIPPED) + r":\d+:\d+: .*alice.*token.*demo credential")
        self.assertRegex(out.stderr, r"boris.*token.*demo credential")
        self.assertIn("2 error(s)", out.stderr)
        packaged = os.path.join(SOURCE_DIR, "deploy", "omniroute.yaml")
        clean = subprocess.run([BIN, "check-config", "--production", packaged],
                               capture_output=True, text=True)
        self.assertEqual(clean.returncode, 0, clean.stderr)

    def test_serve_refuses_demo_credentials_on_a_reachable_listener(self):
        admin, http = free_port(), free_port()
        path = os.path.join(self.tmp, "exposed.yaml")
        with open(path, "w") as f:
            f.write(shipped_config(self.tmp, admin, http, http_host="0.0.0.0"))
        out = subprocess.run([BIN, "serve", "--config", path], capture_output=True, text=True,
                             timeout=60)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("demo token", out.stdout + out.stderr)
        self.assertIn(f"0.0.0.0:{http}", out.stdout + out.stderr)


if __name__ == "__main__":
    unittest.main()
