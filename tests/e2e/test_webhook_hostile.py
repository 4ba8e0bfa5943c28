"""Hostile input against the running daemon: the real `omniroute serve` with a Telegram webhook
connector on the embedded Kafka and tight public-listener limits, attacked with raw sockets.

Proves: request smuggling framing (Content-Length + Transfer-Encoding) -> 400 and no contact;
headers over http.header_limit -> 431; a one-byte-a-second client is cut by http.read_timeout while
a concurrent valid update is answered 200 and lands on omni.contacts; 1,000 concurrent idle
connections neither stop the daemon nor starve a valid request, and are reclaimed; a 64 KiB trailer
field (Beast throws on it), an endless chunk extension (Beast buffers it), JSON nested a million
levels deep and a request without Host are refused with a status and a reason, and none of them
stops the daemon or grows it. After each: /healthz 200, the process alive, and the matching
omniroute_http_* counter moved.

One daemon serves the whole class (ASan start-up is the slow part); each test is independent of the
others' order because it compares counters before and after itself."""
import json
import os
import select
import signal
import socket
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from omni_testlib import Daemon, curl, kcat, raise_nofile, topic_messages, wait_for  # noqa: E402

CONNECTOR = "hostile"
SECRET = "hostile-secret_1"
PATH = f"/hooks/telegram/{CONNECTOR}"
READ_TIMEOUT = 2.0  # seconds; http.read_timeout below
HEADER_LIMIT = 4096  # bytes; http.header_limit below
IDLE_CONNECTIONS = 1000

HTTP_YAML = f"""
max_connections: {IDLE_CONNECTIONS + 500}
header_limit: 4KiB
body_limit: 4MiB
read_timeout: {READ_TIMEOUT:g}s
idle_timeout: 30s
"""
CONNECTORS_YAML = f"""connectors:
  - type: telegram
    name: {CONNECTOR}
    secret_token: {SECRET}
    bot: "@hostile_bot"
"""

_next_update = [880000]
_update_lock = threading.Lock()


def new_update_id():
    with _update_lock:
        _next_update[0] += 1
        return _next_update[0]


def telegram_update(update_id, text="Здравствуйте! Где мой заказ?"):
    """A real Telegram Bot API `message` update, as Telegram posts it."""
    return json.dumps({
        "update_id": update_id,
        "message": {
            "message_id": update_id % 100000,
            "from": {"id": 123456789, "is_bot": False, "first_name": "Иван", "last_name": "Петров",
                     "language_code": "ru"},
            "chat": {"id": 123456789, "first_name": "Иван", "type": "private"},
            "date": 1795405068,
            "text": text,
        },
    }, ensure_ascii=False).encode()


def source_id(update_id):
    return f"{CONNECTOR}:{update_id}"


def connect(port, timeout=10.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_to_eof(s, timeout=10.0):
    """Everything the peer sends until it closes (or resets) the connection."""
    deadline = time.monotonic() + timeout
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"peer kept the connection open for {timeout}s; got {b''.join(chunks)!r}")
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def parse_response(raw):
    """(status, headers dict with lower-case names, body) of one HTTP/1.1 response."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        raise AssertionError(f"no complete HTTP response: {raw!r}")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise AssertionError(f"bad status line: {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers, body


def exchange(port, data, timeout=10.0):
    """Sends raw bytes on a fresh connection, reads until the server closes; returns parse_response."""
    with connect(port, timeout) as s:
        s.sendall(data)
        return parse_response(read_to_eof(s, timeout))


def webhook_request(body, *, secret=SECRET, extra_headers=(), framing=None):
    """A POST to the connector's path. `framing` replaces the Content-Length line when given."""
    lines = [f"POST {PATH} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
             f"X-Telegram-Bot-Api-Secret-Token: {secret}", "Connection: close", *extra_headers]
    lines += framing if framing is not None else [f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def chunked(body):
    return f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"


class HostileWebhookInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # 1,000 client sockets here plus as many in the daemon (which inherits the limit).
        cls.nofile = raise_nofile(4 * IDLE_CONNECTIONS)
        cls._tmp = tempfile.TemporaryDirectory(prefix="omni-e2e-hostile-")
        cls.daemon = Daemon(cls._tmp.name, extra_yaml=CONNECTORS_YAML, http_yaml=HTTP_YAML)
        try:
            ready = cls.daemon.wait_ready(timeout=60)
        except BaseException:
            cls.daemon.close()
            cls._tmp.cleanup()
            raise
        cls.bootstrap = ready["kafka"]["bootstrap"]
        cls.port = cls.daemon.http_port

    @classmethod
    def tearDownClass(cls):
        d = cls.daemon
        try:
            alive = d.proc.poll() is None
            code = d.stop(signal.SIGTERM, timeout=20)[0] if alive else d.proc.returncode
            if code != 0:  # a crash, or ASan/LSan findings at exit
                raise AssertionError(f"daemon exited with {code} after the hostile tests:\n{d.logs()[-8000:]}")
        finally:
            d.close()
            cls._tmp.cleanup()

    # ---- helpers ----

    def public_metric(self, name):
        return self.daemon.metric(name, listener="public")

    def contact_source_ids(self):
        out = topic_messages(self.bootstrap, "omni.contacts")
        return [json.loads(line)["source_id"] for line in out.splitlines() if line.strip()]

    def post_valid_update(self, update_id):
        status, _, body = exchange(self.port, webhook_request(telegram_update(update_id)))
        return status, body

    def wait_contact(self, update_id, timeout=20):
        return wait_for(lambda: source_id(update_id) in self.contact_source_ids(), timeout,
                        interval=0.2, what=f"contact {source_id(update_id)} on omni.contacts")

    def assert_daemon_healthy(self):
        self.assertIsNone(self.daemon.proc.poll(), f"daemon died:\n{self.daemon.logs()[-8000:]}")
        status, body = curl(self.daemon.url("/healthz"))
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["status"], "ok")

    # ---- tests ----

    def test_content_length_with_transfer_encoding_is_400_and_produces_nothing(self):
        before = self.public_metric("omniroute_http_rejected_malformed_total")
        # (framing header lines, body on the wire) for a valid update's JSON body `b`.
        variants = {
            "CL then TE": lambda b: ([f"Content-Length: {len(chunked(b))}", "Transfer-Encoding: chunked"],
                                     chunked(b)),
            "TE then CL": lambda b: (["Transfer-Encoding: chunked", f"Content-Length: {len(b)}"], chunked(b)),
            "TE gzip + CL": lambda b: (["Transfer-Encoding: gzip", f"Content-Length: {len(b)}"], b),
        }
        refused = []
        for name, frame in variants.items():
            with self.subTest(variant=name):
                outer, hidden = new_update_id(), new_update_id()
                refused += [outer, hidden]
                framing, wire_body = frame(telegram_update(outer))
                # A second, complete request rides behind the first: it must not be served either.
                data = webhook_request(wire_body, framing=framing) + webhook_request(telegram_update(hidden))
                status, _, reply = exchange(self.port, data)
                self.assertEqual(status, 400, reply)
                self.assertIn("error", json.loads(reply))

        # Barrier: a valid update sent afterwards lands; nothing refused before it may be there.
        barrier = new_update_id()
        self.assertEqual(self.post_valid_update(barrier)[0], 200)
        self.wait_contact(barrier)
        stored = set(self.contact_source_ids())
        self.assertFalse(stored & {source_id(u) for u in refused}, "a refused request produced a contact")
        self.assertEqual(self.public_metric("omniroute_http_rejected_malformed_total") - before,
                         len(variants))
        self.assert_daemon_healthy()

    def test_header_over_the_limit_is_431_and_just_under_is_served(self):
        before = self.public_metric("omniroute_http_rejected_headers_too_large_total")
        refused = new_update_id()
        one_field = [f"X-Pad: {'a' * (2 * HEADER_LIMIT)}"]
        status, _, reply = exchange(self.port, webhook_request(telegram_update(refused), extra_headers=one_field))
        self.assertEqual(status, 431, reply)

        # Many small fields, three times the limit in total (see the expected failure below for
        # why not just over it).
        many = [f"X-Field-{i}: {'b' * 60}" for i in range(3 * HEADER_LIMIT // 64)]
        status, _, reply = exchange(self.port, webhook_request(telegram_update(new_update_id()),
                                                               extra_headers=many))
        self.assertEqual(status, 431, reply)

        # The same request with a header comfortably under the limit is served.
        ok_id = new_update_id()
        fits = webhook_request(telegram_update(ok_id), extra_headers=[f"X-Pad: {'a' * (HEADER_LIMIT // 2)}"])
        status, _, reply = exchange(self.port, fits)
        self.assertEqual(status, 200, reply)
        self.wait_contact(ok_id)
        self.assertNotIn(source_id(refused), self.contact_source_ids())
        self.assertEqual(self.public_metric("omniroute_http_rejected_headers_too_large_total") - before, 2)
        self.assert_daemon_healthy()

    def test_header_limit_counts_the_whole_header_not_what_is_left_after_the_first_read(self):
        """Boost 1.74's parser checks header_limit per parse step, so a header arriving as ~3.5 KiB
        of complete fields and then ~3 KiB more would pass a 4 KiB limit; the listener checks the
        bytes the whole header took."""
        fields = [f"X-Field-{i}: {'c' * 60}\r\n" for i in range(100)]  # ~7 KiB in all
        update_id = new_update_id()
        body = telegram_update(update_id)
        request = webhook_request(body, extra_headers=[f.strip() for f in fields])
        split = request.index(b"X-Field-50:")
        with connect(self.port) as s:
            s.sendall(request[:split])  # the listener's first read takes these complete fields
            time.sleep(0.3)  # the attack's shape: a pause between two writes
            s.sendall(request[split:])
            status, _, reply = parse_response(read_to_eof(s))
        self.assertEqual(status, 431, reply)

    def rss_kib(self):
        with open(f"/proc/{self.daemon.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def test_trailer_field_of_64k_is_431_and_the_daemon_lives(self):
        """Beast throws length_error on a field over 64 KiB; a trailer used to reach it (and abort
        the process) because nothing bounded trailers."""
        before = self.public_metric("omniroute_http_rejected_headers_too_large_total")
        refused = new_update_id()
        body = telegram_update(refused)
        wire = (f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\nX-Trailer: " + b"t" * 70000 +
                b"\r\n\r\n")
        status, _, reply = exchange(self.port, webhook_request(wire, framing=["Transfer-Encoding: chunked"]))
        self.assertEqual(status, 431, reply)
        self.assert_daemon_healthy()
        # A small trailer is fine, and the update behind it is stored.
        ok_id = new_update_id()
        body = telegram_update(ok_id)
        wire = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\nX-Trailer: small\r\n\r\n"
        status, _, reply = exchange(self.port, webhook_request(wire, framing=["Transfer-Encoding: chunked"]))
        self.assertEqual(status, 200, reply)
        self.wait_contact(ok_id)
        self.assertNotIn(source_id(refused), self.contact_source_ids())
        self.assertEqual(self.public_metric("omniroute_http_rejected_headers_too_large_total") - before, 1)

    def test_endless_chunk_extension_is_refused_at_the_header_limit_without_growing_the_daemon(self):
        rss_before = self.rss_kib()
        refused = new_update_id()
        body = telegram_update(refused)
        head = webhook_request(b"", framing=["Transfer-Encoding: chunked"]) + f"{len(body):x};x=".encode()
        sent = 0
        with connect(self.port) as s:
            s.sendall(head)
            piece = b"e" * 65536
            try:
                while sent < 64 * 1024 * 1024:  # 64 MiB of extension unless the daemon cuts it
                    s.sendall(piece)
                    sent += len(piece)
            except (BrokenPipeError, ConnectionResetError):
                pass
            try:
                raw = read_to_eof(s)
            except AssertionError:
                raw = b""
        self.assertLess(sent, 16 * 1024 * 1024, "the daemon kept reading the extension")
        if raw:  # usually the 431 arrives before the reset
            self.assertEqual(parse_response(raw)[0], 431, raw)
        growth_mib = (self.rss_kib() - rss_before) / 1024
        self.assertLess(growth_mib, 48, f"RSS grew {growth_mib:.0f} MiB")
        self.assert_daemon_healthy()
        ok_id = new_update_id()
        self.assertEqual(self.post_valid_update(ok_id)[0], 200)
        self.wait_contact(ok_id)
        self.assertNotIn(source_id(refused), self.contact_source_ids())

    def test_json_nested_a_million_levels_is_400_with_a_reason(self):
        """The fallback parser's re-serialization used to recurse once per level and overflow the
        io thread's stack; every parse of outside JSON now measures the depth first."""
        depth = 1_000_000
        body = b'{"update_id": 1, "message": ' + b"[" * depth + b"]" * depth + b"}"
        self.assertLess(len(body), 4 * 1024 * 1024)  # under body_limit: the parser sees it
        status, _, reply = exchange(self.port, webhook_request(body), timeout=30)
        self.assertEqual(status, 400, reply)
        reason = json.loads(reply)["error"]
        self.assertIn("nested deeper than", reason)
        self.assert_daemon_healthy()
        # Malformed JSON is answered with the place and the reason, not the library's internals.
        status, _, reply = exchange(self.port, webhook_request(b'{"update_id": tru}'))
        self.assertEqual(status, 400, reply)
        reason = json.loads(reply)["error"]
        self.assertIn("line 1, column", reason)
        self.assertNotIn("json.exception", reason)

    def test_http11_request_without_host_is_400(self):
        before = self.public_metric("omniroute_http_rejected_malformed_total")
        update_id = new_update_id()
        body = telegram_update(update_id)
        request = (f"POST {PATH} HTTP/1.1\r\nContent-Type: application/json\r\n"
                   f"X-Telegram-Bot-Api-Secret-Token: {SECRET}\r\nContent-Length: {len(body)}\r\n"
                   "Connection: close\r\n\r\n").encode() + body
        status, _, reply = exchange(self.port, request)
        self.assertEqual(status, 400, reply)
        self.assertIn("Host", json.loads(reply)["error"])
        self.assertEqual(self.public_metric("omniroute_http_rejected_malformed_total") - before, 1)
        barrier = new_update_id()
        self.assertEqual(self.post_valid_update(barrier)[0], 200)
        self.wait_contact(barrier)
        self.assertNotIn(source_id(update_id), self.contact_source_ids())

    def test_one_byte_a_second_client_is_cut_by_read_timeout_while_a_valid_update_is_served(self):
        before = self.public_metric("omniroute_http_timeouts_total")
        slow_payload = webhook_request(telegram_update(new_update_id()))
        result = {}

        def slow_client():
            s = connect(self.port)
            start = time.monotonic()
            sent = 0
            try:
                while sent < len(slow_payload) and time.monotonic() - start < 6 * READ_TIMEOUT:
                    try:
                        s.send(slow_payload[sent:sent + 1])
                    except (BrokenPipeError, ConnectionResetError):
                        break
                    sent += 1
                    readable, _, _ = select.select([s], [], [], 1.0)  # one byte a second
                    if readable:
                        try:
                            result["reply"] = s.recv(4096)
                        except ConnectionResetError:
                            result["reply"] = b""
                        break
            finally:
                result["elapsed"] = time.monotonic() - start
                result["sent"] = sent
                s.close()

        slow = threading.Thread(target=slow_client)
        slow.start()
        try:
            # While the slow client holds its connection, a real update is served and stored.
            update_id = new_update_id()
            status, body = self.post_valid_update(update_id)
            self.assertEqual(status, 200, body)
            self.assertTrue(slow.is_alive(), "the slow client was cut before the valid request finished")
            self.wait_contact(update_id)
        finally:
            slow.join(timeout=10 * READ_TIMEOUT)
        self.assertFalse(slow.is_alive())
        # Cut by the deadline, not after the whole request dribbled in, and with no response.
        self.assertEqual(result.get("reply"), b"", result)
        self.assertLess(result["sent"], len(slow_payload))
        self.assertGreaterEqual(result["elapsed"], READ_TIMEOUT - 0.5, result)
        self.assertLess(result["elapsed"], READ_TIMEOUT + 2.5, result)  # + one byte interval + ASan
        wait_for(lambda: self.public_metric("omniroute_http_timeouts_total") > before, 5,
                 what="omniroute_http_timeouts_total to move")
        self.assert_daemon_healthy()

    def test_read_timeout_bounds_the_whole_request_header_and_body(self):
        """read_timeout is one deadline from a request's first byte to its last: a client dribbling
        the header for just under read_timeout and then the body is cut at read_timeout."""
        request = webhook_request(telegram_update(new_update_id()))
        cut = request.index(b"\r\n\r\n") + 4
        head, body = request[:cut], request[cut:]
        pieces = 8
        with connect(self.port) as s:
            start = time.monotonic()
            for i in range(pieces):  # the header over ~0.85 x read_timeout
                s.sendall(head[i * len(head) // pieces:(i + 1) * len(head) // pieces])
                time.sleep(0.85 * READ_TIMEOUT / pieces)
            for i in range(len(body) - 1):  # then the body, a byte every 0.25 s, never finished
                try:
                    s.sendall(body[i:i + 1])
                except (BrokenPipeError, ConnectionResetError):
                    break
                if select.select([s], [], [], 0.25)[0]:
                    break
            elapsed = time.monotonic() - start
        self.assertLess(elapsed, READ_TIMEOUT + 1.0)

    def test_outbound_records_are_read_and_bad_ones_are_counted_not_fatal(self):
        """omni.outbound is read by this node's dispatcher: a reply for a channel this node cannot
        send on (a Telegram chat: no send API configured) is counted `unclaimed`, a record that is
        not an omni.outbound.v1 event is counted `invalid`; neither stops the reading."""
        def count(result):
            return self.daemon.metric("omniroute_outbound_records_total", result=result)
        before = {r: count(r) for r in ("unclaimed", "invalid")}
        reply = json.dumps({"schema": "omni.outbound.v1", "id": "reply-e2e-1", "kind": "reply",
                            "domain": "default", "conversation": "telegram:123456789",
                            "channel": "messenger", "provider": "telegram",
                            "recipient": {"kind": "telegram", "value": "123456789"},
                            "agent_id": "a1", "at": "2026-11-23T07:00:00.000Z",
                            "text": "Добрый день! Заказ в пути."}, ensure_ascii=False)
        kcat("-b", self.bootstrap, "-P", "-t", "omni.outbound", "-k", "default", input=reply + "\n")
        kcat("-b", self.bootstrap, "-P", "-t", "omni.outbound", "-k", "default", input="{not json\n")
        kcat("-b", self.bootstrap, "-P", "-t", "omni.outbound", "-k", "default", input=reply + "\n")
        wait_for(lambda: count("unclaimed") >= before["unclaimed"] + 2 and
                 count("invalid") >= before["invalid"] + 1, 20, interval=0.2,
                 what="the dispatcher to count two unclaimed and one invalid outbound record")
        self.assertEqual(count("invalid"), before["invalid"] + 1)
        self.assertIn("skipping undecodable record omni.outbound", self.daemon.logs())
        self.assert_daemon_healthy()

    def test_thousand_idle_connections_neither_stop_the_daemon_nor_starve_a_valid_update(self):
        self.assertGreaterEqual(self.nofile, 2 * IDLE_CONNECTIONS + 100, "RLIMIT_NOFILE too low")
        timeouts_before = self.public_metric("omniroute_http_timeouts_total")
        accepted_before = self.public_metric("omniroute_http_connections_accepted_total")
        idle = []
        try:
            for _ in range(IDLE_CONNECTIONS):
                idle.append(connect(self.port))
            # Accepted behind the 1,000 idle ones; must still be answered 200 and stored.
            update_id = new_update_id()
            status, body = self.post_valid_update(update_id)
            self.assertEqual(status, 200, body)
            self.assertGreaterEqual(self.public_metric("omniroute_http_connections_accepted_total")
                                    - accepted_before, IDLE_CONNECTIONS + 1)
            self.assert_daemon_healthy()
            self.wait_contact(update_id)

            # The daemon reclaims every idle connection at read_timeout: each client sees EOF.
            pending = set(idle)
            deadline = time.monotonic() + READ_TIMEOUT + 15
            while pending and time.monotonic() < deadline:
                readable, _, _ = select.select(list(pending)[:1000], [], [], 0.5)
                for s in readable:
                    try:
                        data = s.recv(1)
                    except ConnectionResetError:
                        data = b""
                    self.assertEqual(data, b"", "an idle connection got bytes it did not ask for")
                    pending.discard(s)
            self.assertFalse(pending, f"{len(pending)} idle connections still open after the deadline")
        finally:
            for s in idle:
                s.close()
        wait_for(lambda: self.public_metric("omniroute_http_timeouts_total") - timeouts_before
                 >= IDLE_CONNECTIONS, 10, what="timeouts counted for the idle connections")
        wait_for(lambda: self.public_metric("omniroute_http_connections_active") == 0, 10,
                 what="no open public connections left")
        # Still serving afterwards.
        update_id = new_update_id()
        self.assertEqual(self.post_valid_update(update_id)[0], 200)
        self.wait_contact(update_id)
        self.assert_daemon_healthy()


if __name__ == "__main__":
    unittest.main()
