"""Broker faults end to end: `omniroute dev-kafka` with three brokers and its fault-injection
interface in one process, the daemon (Telegram webhook, router, gateway) in another. Senders post
Telegram updates the whole time, as Telegram does: a 503 is retried after its Retry-After, a 200
is final, and web chat visitors write, sending a message again when it is refused. Meanwhile every
partition is moved to broker 1 and broker 1 goes down for 10 s, the
contacts' partition leaders move to broker 2, and produce requests fail.

Proves: while Kafka cannot store a contact the webhook answers 503 with Retry-After, never 200,
and a chat message is refused visibly (`unavailable`), never acknowledged;
afterwards every acknowledged contact is routed exactly once (counts printed: acknowledged, routed,
lost, duplicated assignments).
The delivery timeout is 3 s, shorter than the outage: the webhooks' records expire and are
answered 503, the router's changelog records wait for the broker (they never expire).

The daemon runs with max.in.flight.requests.per.connection=1 here. librdkafka's mock cluster checks
idempotent sequence numbers only for transactional producers: with several produce requests in
flight it accepts the one behind a request it failed on purpose, which a real broker refuses
(OUT_OF_ORDER_SEQUENCE_NUMBER), and librdkafka rightly takes that success as the acknowledgement
of the failed one, so the mock would drop a record and report it stored (seen: ~3 records per 10
injected errors). With one request in flight nothing is behind a failed request."""
import asyncio
import collections
import http.client
import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from omni_testlib import Daemon, DevKafka, TempDirTest, free_port, kcat, requires, wait_for  # noqa: E402

try:
    import websockets
except ImportError:  # reported by the skip below
    websockets = None

CONNECTOR = "faults"
SECRET = "faults-secret_1"
PATH = f"/hooks/telegram/{CONNECTOR}"
TOPICS = ["omni.contacts", "omni.agent-events", "omni.assignments", "omni.outbound"]
AGENTS = ["a1", "a2", "a3"]
SENDERS = 4
CHAT_ORIGIN = "https://shop.example"


def update(update_id):
    return json.dumps({
        "update_id": update_id,
        "message": {"message_id": update_id, "date": 1795405068, "text": f"Заказ {update_id}: где он?",
                    # Every update its own customer and chat: each one a contact to assign.
                    "from": {"id": update_id, "is_bot": False, "first_name": "Иван"},
                    "chat": {"id": update_id, "type": "private"}},
    }, ensure_ascii=False).encode()


def agent_login(agent):
    return {"schema": "omni.agent_event.v1", "id": f"login-default-{agent}", "type": "login",
            "domain": "default", "agent_id": agent, "at": "2026-11-23T03:37:48.123Z",
            "skills": {"support": 5}, "capacity": {"messenger": 1000, "chat": 1000}}


def records(bootstrap, topic):
    out = kcat("-b", bootstrap, "-C", "-q", "-e", "-o", "beginning", "-t", topic, "-f", "%s\n",
               timeout=120)
    return [json.loads(line) for line in out.splitlines() if line.strip()]


class Senders:
    """Threads that post updates until stopped; each update is retried on 503 until a 200."""

    def __init__(self, port):
        self.port = port
        self.lock = threading.Lock()
        self.next_id = 100000
        self.acknowledged = set()
        self.refused = 0          # 503 answers (each carried Retry-After)
        self.unexpected = []      # anything else
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run) for _ in range(SENDERS)]

    def start(self):
        for t in self.threads:
            t.start()

    def post(self, update_id):
        body = update(update_id)
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            c.request("POST", PATH, body=body, headers={
                "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET})
            r = c.getresponse()
            return r.status, r.getheader("Retry-After"), r.read()
        finally:
            c.close()

    def run(self):
        while not self.stop.is_set():
            with self.lock:
                self.next_id += 1
                update_id = self.next_id
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    status, retry_after, body = self.post(update_id)
                except OSError as e:
                    with self.lock:
                        self.unexpected.append(f"{update_id}: {e}")
                    return
                if status == 200:
                    with self.lock:
                        self.acknowledged.add(update_id)
                    break
                if status == 503 and retry_after:
                    with self.lock:
                        self.refused += 1
                    time.sleep(min(float(retry_after), 1.0))  # as Telegram would, sooner
                    continue
                with self.lock:
                    self.unexpected.append(f"{update_id}: {status} {retry_after} {body[:200]!r}")
                return
            time.sleep(0.05)

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=150)


class ChatVisitors:
    """New web chat visitors one after another, each writing one message until it is acknowledged:
    an `unavailable` / `busy` error (Kafka did not store it) is answered by sending the same
    client_id again, as the widget does."""

    def __init__(self, port):
        self.url = f"ws://127.0.0.1:{port}/chat/ws"
        self.acknowledged = set()   # source ids: "chat:<visitor>:<client_id>"
        self.refused = 0
        self.unexpected = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self.run()))

    async def visit(self, n):
        async with websockets.connect(self.url, origin=CHAT_ORIGIN) as ws:
            await ws.send(json.dumps({"type": "start", "v": 1, "name": f"Гость {n}"}))
            welcome = await self.next(ws, "welcome")
            client_id = f"m-{n}"
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                await ws.send(json.dumps({"type": "message", "client_id": client_id,
                                          "text": f"Вопрос {n}"}))
                m = await self.next(ws, ("ack", "error"))
                if m["type"] == "ack":
                    self.acknowledged.add(f"chat:{welcome['visitor']}:{client_id}")
                    return
                if m.get("code") in ("unavailable", "busy") and m.get("client_id") == client_id:
                    self.refused += 1
                    await asyncio.sleep(0.5)
                    continue
                self.unexpected.append(f"visitor {n}: {m}")
                return

    @staticmethod
    async def next(ws, want):
        want = (want,) if isinstance(want, str) else want
        while True:
            m = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if m["type"] in want:
                return m

    async def run(self):
        n = 0
        while not self.stop.is_set():
            n += 1
            try:
                await self.visit(n)
            except Exception as e:  # noqa: BLE001 - reported by the test
                self.unexpected.append(f"visitor {n}: {e!r}")
                return
            await asyncio.sleep(0.2)


@requires(websockets is not None, "python3-websockets missing: deploy/install-deps.sh --test")
class BrokerFaults(TempDirTest):
    def test_broker_down_leader_moves_and_failed_produces_lose_and_double_nothing(self):
        k = self.track(DevKafka(self.tmp, brokers=3, admin_port=free_port()))
        kcat("-b", k.bootstrap, "-P", "-t", "omni.agent-events", "-k", "default",
             input="".join(json.dumps(agent_login(a)) + "\n" for a in AGENTS))
        d = self.track(Daemon(self.tmp, brokers=k.bootstrap, extra_yaml=f"""connectors:
  - type: telegram
    name: {CONNECTOR}
    secret_token: {SECRET}
  - type: webchat
    name: chat
    allowed_origins: [{CHAT_ORIGIN}]
routing:
  queues:
    support:
      skills: {{support: 1}}
      notify_expected_wait: false
  channels:
    messenger: {{capacity: 1000, auto_accept: true}}
    chat: {{capacity: 1000, auto_accept: true}}
""", kafka_yaml="""delivery_timeout: 3s
client: {max.in.flight.requests.per.connection: "1"}"""))
        d.wait_ready(timeout=60)

        senders = Senders(d.http_port)
        senders.start()
        chat = ChatVisitors(d.http_port)
        chat.thread.start()
        try:
            time.sleep(2)
            # A broker down: every partition led by broker 1, then broker 1 gone for 10 s.
            for topic in TOPICS:
                for p in range(3):
                    k.fault(f"/partitions/{topic}/{p}/leader?broker=1")
            time.sleep(1)
            k.fault("/brokers/1/down")
            time.sleep(10)
            k.fault("/brokers/1/up")
            time.sleep(3)  # the answers to what was sent during the outage come in
            refused_during_outage = senders.refused + chat.refused
            # The contacts' leaders move while updates flow.
            for p in range(3):
                k.fault(f"/partitions/omni.contacts/{p}/leader?broker=2")
            time.sleep(3)
            # Produce requests fail (NOT_LEADER_OR_FOLLOWER, then REQUEST_TIMED_OUT): retried.
            k.fault("/errors?api=0&count=10&error=6")
            time.sleep(2)
            k.fault("/errors?api=0&count=10&error=7")
            time.sleep(3)
        finally:
            senders.join()
            chat.stop.set()
            chat.thread.join(timeout=150)
        self.assertEqual(senders.unexpected, [], d.logs()[-6000:])
        self.assertEqual(chat.unexpected, [], d.logs()[-6000:])
        # With a 5 s delivery timeout and 10 s down, what was sent early in the outage cannot be
        # stored: it must have been refused (503 + Retry-After, or `unavailable`), never acked.
        self.assertGreater(refused_during_outage, 0, "nothing refused while broker 1 was down")

        acked = {f"{CONNECTOR}:{u}" for u in senders.acknowledged} | chat.acknowledged
        self.assertGreater(len(chat.acknowledged), 10)
        progress = {}

        def all_routed():
            ids = {c["source_id"]: c["id"] for c in records(k.bootstrap, "omni.contacts")}
            decisions = {}
            for a in records(k.bootstrap, "omni.assignments"):
                if a.get("type") == "assign":
                    decisions.setdefault(a["id"], a)  # deduplicated by record id, as consumers do
            per_contact = collections.Counter(a["contact_id"] for a in decisions.values())
            wanted = {ids.get(s) for s in acked}
            routed = {c for c in wanted if c and per_contact.get(c)}
            progress.update(stored=len(wanted - {None}), routed=len(routed),
                            duplicated=sum(1 for c in wanted if per_contact.get(c, 0) > 1))
            return (ids, per_contact) if len(routed) == len(acked) else None
        try:
            ids, per_contact = wait_for(all_routed, timeout=180, interval=2.0,
                                        what="every acknowledged contact routed")
        except AssertionError:
            said = [l for l in d.logs().splitlines()
                    if "[omni.router]" in l or "assigned" in l or "revoked" in l or
                    " warning " in l or "fault injection" in l]
            ids = {c["source_id"]: c["id"] for c in records(k.bootstrap, "omni.contacts")}
            missing = sorted(s for s in acked if s not in ids)
            webhook = {r: d.metric("omniroute_webhook_requests_total", connector=CONNECTOR,
                                   outcome=r) for r in ("stored", "duplicate", "kafka_unavailable")}
            raise AssertionError(f"{progress} of {len(acked)} acknowledged; not on omni.contacts: "
                                 f"{missing[:20]}; webhook outcomes {webhook}; daemon said:\n" +
                                 "\n".join(said[-60:]))
        lost = [s for s in acked if s not in ids]
        duplicated = {ids[s]: per_contact[ids[s]] for s in acked if per_contact[ids[s]] > 1}
        sys.stderr.write(f"\n[broker-faults] acknowledged {len(acked)} ({len(chat.acknowledged)} of "
                         f"them chat messages), routed "
                         f"{sum(1 for s in acked if per_contact[ids[s]])}, lost {len(lost)}, "
                         f"duplicated assignments {len(duplicated)}; refused: {senders.refused} "
                         f"webhook 503s, {chat.refused} chat 'unavailable', "
                         f"{refused_during_outage} of them by 3 s after broker 1 came back\n")
        self.assertEqual(lost, [])
        self.assertEqual(duplicated, {})
        code, _ = d.stop()
        self.assertEqual(code, 0, d.logs()[-6000:])


if __name__ == "__main__":
    unittest.main()
