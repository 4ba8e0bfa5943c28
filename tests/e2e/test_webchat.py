"""The web chat's visitor WebSocket protocol against `omniroute serve` on the embedded Kafka, with a
real WebSocket client (python3-websockets) and kcat: start, a message becoming a contact, resume
with the same token after a disconnect, a resend of the same client id stored once, replies on
omni.outbound delivered (and kept for an offline visitor), and the robustness limits: oversized
message (also after permessage-deflate inflation) -> 1009, invalid UTF-8 -> 1007, bad Origin ->
403, per-IP connection limit -> 429, forged token / identity signature -> 4401, with metrics."""
import asyncio
import hashlib
import hmac
import json
import os
import socket
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from omni_testlib import Daemon, TempDirTest, requires, kcat, topic_messages, wait_for  # noqa: E402

try:
    import websockets
    from websockets.exceptions import ConnectionClosed, InvalidStatusCode
except ImportError:  # reported by the skip below
    websockets = None

IDENTITY_SECRET = "site-identity-secret-0123456789"
CONNECTORS = f"""connectors:
  - type: webchat
    name: shop
    domain: acme
    allowed_origins: [https://shop.example]
    identity_secrets: [{IDENTITY_SECRET}]
    max_message_bytes: 4KiB
    max_connections_per_ip: 6
  - type: webchat
    name: zipped
    path: /zchat/
    domain: acme
    allowed_origins: ["*"]
    permessage_deflate: true
    max_message_bytes: 4KiB
"""
ORIGIN = "https://shop.example"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def recv_json(ws, want=None, timeout=20, match=None):
    """The next message (of type `want` when given, and for which `match(m)` holds when given;
    others are skipped)."""
    while True:
        m = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if (want is None or m["type"] == want) and (match is None or match(m)):
            return m


async def close_code(ws, timeout=20):
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except ConnectionClosed as e:
        return e.code


def raw_frame(opcode, payload):
    """One masked client frame (RFC 6455 5.2), built by hand for what a library refuses to send."""
    mask = os.urandom(4)
    head = bytes([0x80 | opcode])
    n = len(payload)
    head += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


@requires(websockets is not None, "python3-websockets missing: deploy/install-deps.sh --test")
class WebChatProtocol(TempDirTest):
    @classmethod
    def setUpClass(cls):
        import tempfile
        cls._tmp = tempfile.TemporaryDirectory(prefix="omni-e2e-webchat-")
        cls.d = Daemon(cls._tmp.name, extra_yaml=CONNECTORS)
        cls.bootstrap = cls.d.wait_ready(timeout=60)["kafka"]["bootstrap"]
        cls.ws_url = f"ws://127.0.0.1:{cls.d.http_port}/chat/ws"

    @classmethod
    def tearDownClass(cls):
        cls.d.close()
        cls._tmp.cleanup()

    def connect(self, url=None, origin=ORIGIN, **kw):
        return websockets.connect(url or self.ws_url, origin=origin, max_size=None, **kw)

    def contacts(self):
        return [json.loads(l) for l in topic_messages(self.bootstrap, "omni.contacts").splitlines() if l]

    def test_start_message_resume_and_resend_once(self):
        async def scenario():
            async with self.connect() as ws:
                await ws.send(json.dumps({"type": "start", "v": 1, "name": "Иван Петров",
                                          "language": "ru"}))
                welcome = await recv_json(ws, "welcome")
                self.assertEqual(welcome["v"], 1)
                self.assertFalse(welcome["resumed"])
                self.assertEqual(welcome["chat"], "")
                await ws.send(json.dumps({"type": "message", "client_id": "c-1",
                                          "text": "Здравствуйте! Где мой заказ?"}))
                ack = await recv_json(ws, "ack")
                event = await recv_json(ws, "event")
            self.assertEqual(ack["client_id"], "c-1")
            self.assertEqual(event["kind"], "visitor")
            self.assertEqual(event["seq"], ack["seq"])
            self.assertEqual(event["text"], "Здравствуйте! Где мой заказ?")
            # The disconnected visitor comes back with its token, resends the same message (its
            # ack was lost, say) and asks for everything after seq 0.
            async with self.connect() as ws:
                await ws.send(json.dumps({"type": "start", "v": 1, "token": welcome["token"],
                                          "last_seq": 0}))
                back = await recv_json(ws, "welcome")
                replay = await recv_json(ws, "event")
                await ws.send(json.dumps({"type": "message", "client_id": "c-1",
                                          "text": "Здравствуйте! Где мой заказ?"}))
                ack2 = await recv_json(ws, "ack")
                await ws.send(json.dumps({"type": "message", "client_id": "c-2", "text": "Ау?"}))
                ack3 = await recv_json(ws, "ack")
            # Everything after the first message, replayed: the router's queue notice for the
            # first contact may have taken a seq before the second message (it races with it).
            async with self.connect() as ws:
                await ws.send(json.dumps({"type": "start", "v": 1, "token": welcome["token"],
                                          "last_seq": ack["seq"]}))
                await recv_json(ws, "welcome")
                after = [await recv_json(ws, "event")]
                while after[-1]["seq"] < ack3["seq"]:
                    after.append(await recv_json(ws, "event"))
            return welcome, event, back, replay, ack, ack2, ack3, after

        welcome, event, back, replay, ack, ack2, ack3, after = run(scenario())
        self.assertTrue(back["resumed"])
        self.assertEqual(back["visitor"], welcome["visitor"])
        self.assertTrue(back["chat"].startswith("webchat:shop:"))
        self.assertEqual(replay["seq"], event["seq"])
        self.assertEqual(ack2["seq"], ack["seq"])  # the resend is the same stored message
        # The second message is the next visitor event: only notices may stand between.
        self.assertEqual([(e["seq"], e["kind"], e["text"]) for e in after if e["kind"] == "visitor"],
                         [(ack3["seq"], "visitor", "Ау?")])
        self.assertEqual({e["kind"] for e in after if e["seq"] != ack3["seq"]} - {"notice"}, set())

        def mine():
            return [c for c in self.contacts()
                    if {"kind": "visitor", "value": welcome["visitor"]} in c["customer"]["identities"]]
        got = wait_for(lambda: len(mine()) >= 2 and mine(), 20, what="two contacts")
        self.assertEqual([c["text"] for c in got], ["Здравствуйте! Где мой заказ?", "Ау?"])
        first = got[0]
        self.assertEqual(first["provider"], "webchat")
        self.assertEqual(first["channel"], "chat")
        self.assertEqual(first["domain"], "acme")
        self.assertEqual(first["conversation"], back["chat"])
        self.assertEqual(got[1]["conversation"], back["chat"])
        self.assertEqual(first["customer"]["display_name"], "Иван Петров")
        self.assertEqual(first["language"], "ru")
        self.assertNotIn(welcome["token"], json.dumps(got))  # the secret token never leaves
        self.assertGreaterEqual(self.d.metric("omniroute_webchat_messages_total", connector="shop",
                                              direction="in"), 5)

    def test_agent_reply_reaches_the_socket_and_waits_for_an_offline_visitor(self):
        async def open_chat():
            async with self.connect() as ws:
                await ws.send(json.dumps({"type": "start"}))
                w = await recv_json(ws, "welcome")
                await ws.send(json.dumps({"type": "message", "client_id": "a", "text": "Привет"}))
                await recv_json(ws, "ack")
                await ws.send(json.dumps({"type": "start"}))
                self.assertEqual((await recv_json(ws, "error"))["code"], "bad_request")
                return w
        w = run(open_chat())

        async def chat_of(token):
            async with self.connect() as ws:
                await ws.send(json.dumps({"type": "start", "token": token, "last_seq": 1}))
                return (await recv_json(ws, "welcome"))["chat"]
        chat = run(chat_of(w["token"]))

        def outbound(oid, kind, text, **attrs):
            o = {"schema": "omni.outbound.v1", "id": oid, "kind": kind, "domain": "acme",
                 "conversation": chat, "contact_id": "c0ffee", "channel": "chat",
                 "provider": "webchat", "recipient": {"kind": "visitor", "value": w["visitor"]},
                 "agent_id": "anna", "at": "2026-11-23T07:00:00.000Z", "text": text}
            if attrs:
                o["attributes"] = attrs
            # Keyed by conversation, as the desk and the router produce omni.outbound.
            kcat("-b", self.bootstrap, "-P", "-t", "omni.outbound", "-k", chat,
                 "-X", "partitioner=murmur2_random", input=json.dumps(o, ensure_ascii=False) + "\n")

        async def online():
            async with self.connect() as ws:
                await ws.send(json.dumps({"type": "start", "token": w["token"], "last_seq": 1}))
                await recv_json(ws, "welcome")
                outbound("notice-1", "notice", "Все операторы заняты.", queue_position="2",
                         expected_wait_seconds="60")
                # The router's own queue notice for this chat (position 1) may arrive in between.
                n = await recv_json(ws, "event", match=lambda e: e.get("queue_position") == 2)
                outbound("reply-1", "reply", "Добрый день! Чем помочь?")
                outbound("reply-1", "reply", "Добрый день! Чем помочь?")  # re-read record
                r = await recv_json(ws, "event", match=lambda e: e["kind"] == "agent")
                return n, r
        n, r = run(online())
        self.assertEqual((n["kind"], n["queue_position"], n["expected_wait_seconds"]), ("notice", 2, 60))
        self.assertEqual((r["kind"], r["text"], r["agent"]), ("agent", "Добрый день! Чем помочь?", "anna"))

        # Offline now: the next reply is kept and replayed once on resume, after the last seen.
        outbound("reply-2", "reply", "Вы ещё здесь?")

        async def resume():
            async with self.connect() as ws:
                await ws.send(json.dumps({"type": "start", "token": w["token"], "last_seq": r["seq"]}))
                await recv_json(ws, "welcome")
                got = [await recv_json(ws, "event")]
                await ws.send(json.dumps({"type": "ping"}))
                while True:
                    m = await recv_json(ws)
                    if m["type"] == "pong":
                        return got
                    got.append(m)
        got = wait_for(lambda: [e for e in run(resume()) if e.get("text") == "Вы ещё здесь?"], 20,
                       what="the offline reply replayed")
        self.assertEqual(len(got), 1)

    def test_verified_identity_links_the_customer_and_forgery_is_refused(self):
        value = "ivan.petrov@example.ru"
        good = hmac.new(IDENTITY_SECRET.encode(), value.encode(), hashlib.sha256).hexdigest()

        async def scenario():
            async with self.connect() as ws:
                await ws.send(json.dumps({"type": "start", "identity": {"kind": "email", "value": value,
                                                                        "hash": good}}))
                w = await recv_json(ws, "welcome")
                await ws.send(json.dumps({"type": "message", "client_id": "v1", "text": "Это Иван"}))
                await recv_json(ws, "ack")
            async with self.connect() as ws:
                await ws.send(json.dumps({"type": "start", "identity": {"kind": "email", "value": value,
                                                                        "hash": "0" * 64}}))
                err = await recv_json(ws, "error")
                code = await close_code(ws)
            async with self.connect() as ws:
                await ws.send(json.dumps({"type": "start", "token": w["visitor"] + ".00"}))
                terr = await recv_json(ws, "error")
                tcode = await close_code(ws)
            return w, err, code, terr, tcode
        w, err, code, terr, tcode = run(scenario())
        self.assertEqual((err["code"], code), ("bad_identity", 4401))
        self.assertEqual((terr["code"], tcode), ("bad_token", 4401))
        c = wait_for(lambda: [c for c in self.contacts() if c["text"] == "Это Иван"], 20)[0]
        self.assertIn({"kind": "visitor", "value": w["visitor"]}, c["customer"]["identities"])
        self.assertIn({"kind": "email", "value": value}, c["customer"]["identities"])

    def test_oversized_message_closes_1009_also_after_inflation(self):
        async def scenario():
            async with self.connect() as ws:
                await ws.send(json.dumps({"type": "start"}))
                await recv_json(ws, "welcome")
                await ws.send("x" * 5000)
                plain = await close_code(ws)
            # 100 KB of one letter deflates to a few hundred bytes on the wire; the server must
            # judge the inflated size.
            url = f"ws://127.0.0.1:{self.d.http_port}/zchat/ws"
            async with websockets.connect(url, compression="deflate", max_size=None) as ws:
                self.assertIn("permessage-deflate", ws.response_headers.get("Sec-WebSocket-Extensions", ""))
                await ws.send(json.dumps({"type": "start"}))
                await recv_json(ws, "welcome")
                await ws.send(json.dumps({"type": "message", "client_id": "z", "text": "я" * 50000}))
                zipped = await close_code(ws)
            return plain, zipped
        plain, zipped = run(scenario())
        self.assertEqual(plain, 1009)
        self.assertEqual(zipped, 1009)
        self.assertGreaterEqual(self.d.metric("omniroute_webchat_closes_total", connector="zipped",
                                              code="1009", cause="too_big"), 1)

    def test_invalid_utf8_closes_1007(self):
        s = socket.create_connection(("127.0.0.1", self.d.http_port), timeout=10)
        self.addCleanup(s.close)
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        s.sendall((f"GET /chat/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                   f"Origin: {ORIGIN}\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
        self.assertIn(b" 101 ", head.split(b"\r\n")[0])
        s.sendall(raw_frame(0x1, b'{"type":"ping","x":"\xff\xfe"}'))
        frame = s.recv(4096)
        self.assertEqual(frame[0] & 0x0F, 0x8, frame)  # a close frame
        self.assertEqual(struct.unpack("!H", frame[2:4])[0], 1007)

    def test_bad_origin_and_per_ip_limit_reject_the_handshake(self):
        async def scenario():
            with self.assertRaises(InvalidStatusCode) as bad:
                async with self.connect(origin="https://evil.example"):
                    pass
            held = [await self.connect() for _ in range(6)]
            try:
                with self.assertRaises(InvalidStatusCode) as over:
                    async with self.connect():
                        pass
            finally:
                for ws in held:
                    await ws.close()
            return bad.exception.status_code, over.exception.status_code
        bad, over = run(scenario())
        self.assertEqual(bad, 403)
        self.assertEqual(over, 429)
        self.assertGreaterEqual(self.d.metric("omniroute_webchat_handshakes_rejected_total",
                                              connector="shop", reason="origin"), 1)
        self.assertGreaterEqual(self.d.metric("omniroute_webchat_handshakes_rejected_total",
                                              connector="shop", reason="per_ip_limit"), 1)

    def test_widget_files_are_served(self):
        import urllib.request
        base = f"http://127.0.0.1:{self.d.http_port}/chat/"
        with urllib.request.urlopen(base) as r:
            self.assertIn("widget.js", r.read().decode())
        with urllib.request.urlopen(base + "widget.js") as r:
            self.assertEqual(r.headers["Content-Type"], "text/javascript; charset=utf-8")
            self.assertIn("omni-webchat", r.read().decode())


if __name__ == "__main__":
    unittest.main()
