"""Web chat replies survive a node restart: `omniroute dev-kafka` in one process, the web-chat node
(`omniroute serve`, role ingest) in another. A visitor writes, a reply reaches them, they go
offline, a second reply comes while they are away, and the node restarts (its memory of the chat
gone). The visitor comes back with their token and gets the reply they missed, in the same chat,
with the reply they saw already carrying the same outbound id (the widget shows it once); the
node read the chat's partition from the chat's first record on, not the topic from its start
(2,000 unrelated records written before the chat are not read)."""
import asyncio
import json
import os
import re
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from omni_testlib import Daemon, DevKafka, TempDirTest, requires, kcat, wait_for  # noqa: E402

try:
    import websockets
except ImportError:  # reported by the skip below
    websockets = None

ORIGIN = "https://shop.example"
FILLER = 2000


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 90))


async def recv_json(ws, want=None, timeout=20, match=None):
    while True:
        m = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if (want is None or m["type"] == want) and (match is None or match(m)):
            return m


def reply(chat, visitor, rid, text):
    return json.dumps({"schema": "omni.outbound.v1", "id": rid, "kind": "reply", "domain": "acme",
                       "conversation": chat, "channel": "chat", "provider": "webchat",
                       "recipient": {"kind": "visitor", "value": visitor}, "agent_id": "anna",
                       "at": "2026-12-07T10:00:00.000Z", "text": text}, ensure_ascii=False)


@requires(websockets is not None, "python3-websockets missing: deploy/install-deps.sh --test")
class WebChatRestart(TempDirTest):
    def node(self, k, n):
        return self.track(Daemon(self.tmp, name=f"chat-node-{n}", config=lambda admin, http: f"""node:
  id: chat-node
  roles: [ingest]
  state_dir: {self.tmp}/state
kafka:
  brokers: {k.bootstrap}
admin:
  listen: 127.0.0.1:{admin}
http:
  listen: 127.0.0.1:{http}
connectors:
  - type: webchat
    name: shop
    domain: acme
    allowed_origins: [{ORIGIN}]
"""))

    def test_a_reply_sent_while_the_visitor_was_away_reaches_them_after_a_restart(self):
        k = self.track(DevKafka(self.tmp))
        # Unrelated replies written before the chat: recovery must not read them.
        kcat("-b", k.bootstrap, "-P", "-t", "omni.outbound", "-K", "\t", input="".join(
            f"webchat:other:{i}\t{reply(f'webchat:other:{i}', 'someone', f'filler-{i}', 'x')}\n"
            for i in range(FILLER)), timeout=120)
        d = self.node(k, 1)
        d.wait_ready(timeout=60)
        url = f"ws://127.0.0.1:{d.http_port}/chat/ws"

        async def first_visit():
            async with websockets.connect(url, origin=ORIGIN) as ws:
                await ws.send(json.dumps({"type": "start", "v": 1, "name": "Иван"}))
                welcome = await recv_json(ws, "welcome")
                await ws.send(json.dumps({"type": "message", "client_id": "c-1",
                                          "text": "Здравствуйте! Где мой заказ?"}))
                mine = await recv_json(ws, "event", match=lambda m: m["kind"] == "visitor")
                chat = mine["chat"]
                kcat("-b", k.bootstrap, "-P", "-t", "omni.outbound", "-k", chat,
                     input=reply(chat, welcome["visitor"], "reply-1", "Заказ в пути.") + "\n")
                seen = await recv_json(ws, "event", match=lambda m: m["kind"] == "agent")
                return welcome, chat, seen
        try:
            welcome, chat, seen = run(first_visit())
        except Exception as e:
            raise AssertionError(f"first visit failed ({e!r}); node said:\n{d.logs()[-5000:]}")
        self.assertEqual(seen["id"], "reply-1")
        # Away: the second reply is kept by the node, in memory only.
        kcat("-b", k.bootstrap, "-P", "-t", "omni.outbound", "-k", chat,
             input=reply(chat, welcome["visitor"], "reply-2", "Курьер будет завтра.") + "\n")
        wait_for(lambda: d.metric("omniroute_outbound_records_total", result="delivered") >= 2, 20,
                 what="the node to take the second reply")
        code, _ = d.stop()
        self.assertEqual(code, 0)

        d2 = self.node(k, 2)
        d2.wait_ready(timeout=60)
        url = f"ws://127.0.0.1:{d2.http_port}/chat/ws"

        async def come_back():
            async with websockets.connect(url, origin=ORIGIN) as ws:
                await ws.send(json.dumps({"type": "start", "v": 1, "token": welcome["token"],
                                          "last_seq": seen["seq"]}))
                back = await recv_json(ws, "welcome")
                events = [await recv_json(ws, "event"), await recv_json(ws, "event")]
                # The chat goes on: the next message belongs to the same conversation.
                await ws.send(json.dumps({"type": "message", "client_id": "c-2", "text": "Спасибо!"}))
                mine = await recv_json(ws, "event", match=lambda m: m["kind"] == "visitor")
                return back, events, mine
        try:
            back, events, mine = run(come_back())
        except Exception as e:
            raise AssertionError(f"coming back failed ({e!r}); node said:\n{d2.logs()[-5000:]}")
        self.assertEqual(back["visitor"], welcome["visitor"])
        self.assertEqual(back["chat"], chat)
        self.assertEqual(sorted(e["id"] for e in events), ["reply-1", "reply-2"])
        self.assertTrue(all(e["seq"] > seen["seq"] for e in events), events)
        self.assertEqual(next(e["text"] for e in events if e["id"] == "reply-2"),
                         "Курьер будет завтра.")
        self.assertEqual(mine["chat"], chat)
        line = re.search(r"recovered (\d+) record\(s\) of chat \S+ for visitor \S+ \(read (\d+) "
                         r"record\(s\)", d2.logs())
        self.assertIsNotNone(line, d2.logs()[-3000:])
        self.assertEqual(int(line.group(1)), 2)
        self.assertLess(int(line.group(2)), 50, "recovery read more than the chat's records")
        self.assertEqual(d2.metric("omniroute_webchat_recoveries_total", connector="shop"), 1)


if __name__ == "__main__":
    unittest.main()
