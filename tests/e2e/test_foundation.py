"""Foundation end to end: the real `omniroute` binary, the embedded Kafka reached with kcat,
dev-kafka as a separate process, admin endpoints with curl, clean SIGTERM, check-config."""
import json
import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from omni_testlib import BIN, SOURCE_DIR, Daemon, DevKafka, TempDirTest, curl, free_port, kcat, wait_for  # noqa: E402

TOPICS = {"omni.contacts", "omni.agent-events", "omni.assignments", "omni.outbound", "omni.snapshots"}

CONTACT = {
    "schema": "omni.contact.v1",
    "id": "9f2c6a1e0b7d4c3a8e5f1a2b3c4d5e6f",
    "channel": "email",
    "provider": "imap",
    "source_id": "<m1@example.ru>",
    "received_at": "2026-11-23T03:37:48.123Z",
    "domain": "acme",
    "conversation": "<m1@example.ru>",
    "customer": {"identities": [{"kind": "email", "value": "ivan@example.ru"}],
                 "display_name": "Иван Петров"},
    "to": "support@acme.example",
    "subject": "Заказ не пришёл",
    "text": "Здравствуйте! Где мой заказ?",
}


def topics_of(bootstrap):
    meta = json.loads(kcat("-b", bootstrap, "-L", "-J", "-m", "10"))
    return {t["topic"]: len(t["partitions"]) for t in meta["topics"]}


def produce_and_consume(test, bootstrap, topic="omni.contacts"):
    payload = json.dumps(CONTACT, ensure_ascii=False)
    kcat("-b", bootstrap, "-P", "-t", topic, "-k", "acme", input=payload + "\n")
    out = kcat("-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-c", "1", "-e", "-f", "%k\t%s\n")
    key, _, value = out.rstrip("\n").partition("\t")
    test.assertEqual(key, "acme")
    test.assertEqual(json.loads(value), CONTACT)


class ServeEmbedded(TempDirTest):
    def test_kcat_lists_topics_and_round_trips_a_contact_then_sigterm_is_clean(self):
        d = self.track(Daemon(self.tmp))
        ready = d.wait_ready()
        bootstrap = ready["kafka"]["bootstrap"]
        self.assertTrue(ready["kafka"]["reachable"])
        self.assertRegex(bootstrap, r"^127\.0\.0\.1:\d+$")
        self.assertIn(f"embedded cluster (in memory, for trying out and tests) at {bootstrap}", d.logs())

        topics = topics_of(bootstrap)
        self.assertTrue(TOPICS.issubset(topics), topics)
        self.assertEqual(topics["omni.contacts"], 3)
        produce_and_consume(self, bootstrap)

        code, took = d.stop(signal.SIGTERM)
        self.assertEqual(code, 0, d.logs())
        self.assertLess(took, 5.0)
        self.assertIn("received SIGTERM, draining", d.logs())

    def test_admin_endpoints_answer_with_well_formed_bodies(self):
        d = self.track(Daemon(self.tmp))
        d.wait_ready()
        status, body = curl(d.url("/healthz"))
        self.assertEqual(status, 200)
        health = json.loads(body)
        self.assertEqual(health["status"], "ok")
        self.assertIn("version", health)

        status, body = curl(d.url("/readyz"))
        self.assertEqual(status, 200)
        ready = json.loads(body)
        self.assertIs(ready["ready"], True)
        self.assertEqual(ready["components"]["kafka"], "started")

        status, body = curl(d.url("/metrics"))
        self.assertEqual(status, 200)
        sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? '
                            r'[-+0-9.eE]+|[-+]Inf|NaN$')
        lines = [l for l in body.splitlines() if l]
        self.assertTrue(lines)
        for line in lines:
            if line.startswith("# "):
                self.assertRegex(line, r"^# (HELP|TYPE) \S+ .+$")
            else:
                self.assertRegex(line, sample)
        self.assertIn('omniroute_http_requests_total{listener="admin"}', body)

        status, body = curl(d.url("/nope"))
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(body)["error"], "not found")

        code, _ = d.stop(signal.SIGINT)
        self.assertEqual(code, 0)

    def test_a_connector_that_cannot_reach_its_peer_shows_in_readyz_without_making_it_503(self):
        # An IMAP server that is not there: the node still takes the other connectors' traffic.
        d = self.track(Daemon(self.tmp, extra_yaml=f"""connectors:
  - type: imap
    name: mailbox
    server: 127.0.0.1:{free_port()}
    tls: none
    username: support@example.com
    password: not-used
    reconnect_min: 200ms
    reconnect_max: 1s
"""))
        ready = d.wait_ready(timeout=60)

        def peer_down():
            status, body = curl(d.url("/readyz"))
            peers = json.loads(body).get("peers", {})
            state = peers.get("connector:mailbox", "")
            return (status, state) if state.startswith("disconnected") else None
        status, state = wait_for(peer_down, timeout=30, what="the IMAP peer reported down")
        self.assertEqual(status, 200, state)
        self.assertIs(ready["ready"], True)
        self.assertIn("connect", state)
        self.assertEqual(d.metric("omniroute_connector_peer_up", connector="mailbox"), 0)
        code, _ = d.stop()
        self.assertEqual(code, 0)

    def test_admin_token_protects_metrics_but_not_probes(self):
        port = free_port()
        d = self.track(Daemon(self.tmp))
        d.close()  # only its generated config is reused, with a token added
        with open(d.config_path) as f:
            cfg = f.read().replace("admin:\n", "admin:\n  token: ${OMNI_TEST_TOKEN}\n")
        cfg = cfg.replace(f"127.0.0.1:{d.admin_port}", f"127.0.0.1:{port}")
        path = os.path.join(self.tmp, "token.yaml")
        with open(path, "w") as f:
            f.write(cfg)
        env = dict(os.environ, OMNI_TEST_TOKEN="s3cret")
        proc = subprocess.Popen([BIN, "serve", "--config", path], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (proc.poll() is None and proc.kill(), proc.wait()))
        wait_for(lambda: curl(f"http://127.0.0.1:{port}/readyz")[0] == 200, what="ready")
        self.assertEqual(curl(f"http://127.0.0.1:{port}/metrics")[0], 401)
        self.assertEqual(curl(f"http://127.0.0.1:{port}/metrics", "-H", "Authorization: Bearer wrong")[0], 401)
        self.assertEqual(curl(f"http://127.0.0.1:{port}/metrics", "-H", "Authorization: Bearer s3cret")[0], 200)
        proc.terminate()
        self.assertEqual(proc.wait(timeout=10), 0)


class DevKafkaProcess(TempDirTest):
    def test_second_process_uses_dev_kafka_and_data_outlives_the_daemon(self):
        k = self.track(DevKafka(self.tmp))
        self.assertTrue(TOPICS.issubset(topics_of(k.bootstrap)))
        d = self.track(Daemon(self.tmp, brokers=k.bootstrap))
        ready = d.wait_ready()
        self.assertEqual(ready["kafka"]["bootstrap"], k.bootstrap)
        produce_and_consume(self, k.bootstrap)
        code, _ = d.stop()
        self.assertEqual(code, 0)
        # The broker and its data are still there after the daemon is gone.
        out = kcat("-b", k.bootstrap, "-C", "-t", "omni.contacts", "-o", "beginning", "-c", "1", "-e")
        self.assertEqual(json.loads(out)["id"], CONTACT["id"])

    def test_ready_within_seconds_against_dev_kafka_and_only_once_routing_can_work(self):
        """Readiness tells the truth: /readyz is 200 only when the router holds its partitions
        (rebuilt), the gateway has read the changelog and the outbound reader has its partitions;
        against a separate dev-kafka that takes a few seconds, and as much after a restart of the
        same node (its groups wait for the old member's session to end)."""
        k = self.track(DevKafka(self.tmp))

        def config(admin_port, http_port):
            return f"""node:
  id: e2e-restarted
  state_dir: {self.tmp}/state
kafka:
  brokers: {k.bootstrap}
admin:
  listen: 127.0.0.1:{admin_port}
http:
  listen: 127.0.0.1:{http_port}
connectors:
  - type: webchat
    name: shop
    token_secret: readiness-test-token-key-0123456789
"""
        for attempt in ("first start", "restart"):
            with self.subTest(attempt):
                d = self.track(Daemon(self.tmp, config=config, name=f"ready-{attempt[0]}"))
                started = time.monotonic()
                ready = d.wait_ready(timeout=60)
                took = time.monotonic() - started
                self.assertEqual(ready["components"]["router"], "started", ready)
                self.assertEqual(ready["components"]["gateway"], "started", ready)
                self.assertEqual(ready["components"]["outbound"], "started", ready)
                self.assertLess(took, 15, d.logs()[-4000:])
                logs = d.logs()
                self.assertNotIn("no answer from Kafka to CreateTopics", logs)
                self.assertRegex(logs, r"partition \d+: rebuilt")
                self.assertIn("desk: read model caught up", logs)
                code, _ = d.stop()
                self.assertEqual(code, 0)

    def test_fixed_port_relays_bootstrap(self):
        port = free_port()
        k = self.track(DevKafka(self.tmp, port=port))
        self.assertEqual(k.bootstrap, f"127.0.0.1:{port}")
        self.assertTrue(TOPICS.issubset(topics_of(k.bootstrap)))
        produce_and_consume(self, k.bootstrap, topic="omni.outbound")

    def test_daemon_started_against_a_dead_broker_is_alive_but_not_ready(self):
        d = self.track(Daemon(self.tmp, brokers=f"127.0.0.1:{free_port()}"))
        wait_for(lambda: curl(d.url("/healthz"))[0] == 200, timeout=40, what="healthz")
        status, body = curl(d.url("/readyz"))
        self.assertEqual(status, 503)
        self.assertIs(json.loads(body)["kafka"]["reachable"], False)
        code, _ = d.stop()
        self.assertEqual(code, 0)


class CommandLine(TempDirTest):
    def run_bin(self, *args):
        return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=30)

    def test_every_subcommand_has_help(self):
        for cmd in ["serve", "check-config", "dev-kafka", "version"]:
            out = self.run_bin(cmd, "--help")
            self.assertEqual(out.returncode, 0, cmd)
            self.assertIn(f"Usage: omniroute {cmd}", out.stdout)
        out = self.run_bin("--help")
        self.assertEqual(out.returncode, 0)
        for cmd in ["serve", "check-config", "dev-kafka", "version"]:
            self.assertIn(cmd, out.stdout)
        self.assertEqual(self.run_bin("frobnicate").returncode, 2)
        self.assertEqual(self.run_bin("serve", "--bogus").returncode, 2)
        self.assertIn("librdkafka", self.run_bin("version").stdout)

    def test_check_config_accepts_the_example(self):
        out = self.run_bin("check-config", os.path.join(SOURCE_DIR, "config/omniroute.yaml"))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("OK", out.stdout)

    def test_check_config_validates_every_connector_kind(self):
        # The PBX clients used to be built (with a null io_context) while validating: a segfault.
        out = self.run_bin("check-config",
                           os.path.join(SOURCE_DIR, "config/examples/all-connectors.yaml"))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("OK (13 connector(s))", out.stdout)

    def test_check_config_refuses_a_header_limit_the_parser_cannot_honour(self):
        path = os.path.join(self.tmp, "big-header.yaml")
        with open(path, "w") as f:
            f.write("http:\n  header_limit: 64KiB\n")
        out = self.run_bin("check-config", path)
        self.assertEqual(out.returncode, 2, out.stdout)
        self.assertIn(":2:17:", out.stderr)
        self.assertIn("65535", out.stderr)

    def test_check_config_prints_every_error_with_position(self):
        path = os.path.join(self.tmp, "bad.yaml")
        with open(path, "w") as f:
            f.write("node:\n  id: x\nkafak:\n  brokers: embedded\nhttp:\n  max_connections: lots\n"
                    "admin:\n  token: ${file:/nonexistent/secret}\n")
        out = self.run_bin("check-config", path)
        self.assertEqual(out.returncode, 2)
        err = out.stderr
        self.assertRegex(err, re.escape(path) + r":3:1: .*unknown key 'kafak'.*did you mean 'kafka'")
        self.assertRegex(err, re.escape(path) + r":6:20: .*max_connections")
        self.assertRegex(err, re.escape(path) + r":8:10: .*/nonexistent/secret")
        self.assertIn("3 error(s)", err)

    def test_serve_refuses_a_bad_config(self):
        path = os.path.join(self.tmp, "bad.yaml")
        with open(path, "w") as f:
            f.write("kafka:\n  partitons: 3\n")
        out = self.run_bin("serve", "--config", path)
        self.assertEqual(out.returncode, 2)
        self.assertIn(":2:3:", out.stderr)
        self.assertIn("did you mean 'partitions'", out.stderr)

    def test_serve_and_check_config_refuse_the_same_section_errors_before_anything_starts(self):
        # A connector entry, a queue rule and a gateway agent that only their own parsers check
        # (daemon/validate): serve refuses them as check-config does, before Kafka or a listener.
        path = os.path.join(self.tmp, "bad-sections.yaml")
        with open(path, "w") as f:
            f.write("connectors:\n  - type: telegram\n    name: t\n"
                    "routing:\n  queues:\n    q:\n      channels: [pigeon]\n"
                    "gateway:\n  agents:\n    a1:\n      token: short\n")
        check = self.run_bin("check-config", path)
        serve = self.run_bin("serve", "--config", path)
        self.assertEqual(check.returncode, 2, check.stdout)
        self.assertEqual(serve.returncode, 2, serve.stdout)
        errors = [line for line in check.stderr.splitlines() if re.match(re.escape(path) + r":\d", line)]
        self.assertEqual(len(errors), 3, check.stderr)
        for line in errors:
            self.assertIn(line, serve.stderr)
        self.assertIn("secret_token", check.stderr)
        self.assertIn("unknown value 'pigeon'", check.stderr)
        self.assertNotIn("kafka", serve.stderr.lower())


if __name__ == "__main__":
    unittest.main()
