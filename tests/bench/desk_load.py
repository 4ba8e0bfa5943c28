#!/usr/bin/env python3
"""Desk gateway load: N agent WebSocket connections (default 5,000) on one `omniroute serve`
(role gateway, embedded Kafka), then offers produced onto omni.assignments (kcat) to random
connected agents. Reports the daemon's RSS per connection and the offer-delivery latency (record
produced -> offer message read by the agent's socket) p50/p99.

  tests/bench/desk_load.py --build-dir build/bench --results build/bench/results
Environment: OMNI_DESK_AGENTS (connections, default 5000), OMNI_DESK_OFFERS (default 2000),
             OMNI_DESK_RATE (offers per second, default 200).
Run by tests/bench/run.sh (`make bench`); needs kcat. The WebSocket client is a minimal RFC 6455
client on asyncio (text frames, masking, ping/pong), so nothing beyond Python is needed."""
import argparse
import asyncio
import base64
import json
import os
import random
import resource
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

AGENTS = int(os.environ.get("OMNI_DESK_AGENTS", "5000"))
OFFERS = int(os.environ.get("OMNI_DESK_OFFERS", "2000"))
RATE = float(os.environ.get("OMNI_DESK_RATE", "200"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def token(i):
    return f"bench-token-{i:06d}-0123456789"


class Desk:
    """One agent socket: pre-authenticated with a bearer token at the upgrade."""

    def __init__(self, i, latencies):
        self.i = i
        self.latencies = latencies
        self.offers = 0

    async def connect(self, port):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        self.writer.write((f"GET /agent/v1/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"Authorization: Bearer {token(self.i)}\r\n\r\n").encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"agent {self.i}: upgrade refused: {head[:80]!r}")
        welcome = await self.read_text()
        if json.loads(welcome)["type"] != "welcome":
            raise RuntimeError(f"agent {self.i}: {welcome[:200]}")

    def send(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        masked = bytes(b ^ mask[k % 4] for k, b in enumerate(payload))
        self.writer.write(head + mask + masked)

    async def read_text(self):
        while True:
            b0, b1 = await self.reader.readexactly(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", await self.reader.readexactly(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", await self.reader.readexactly(8))[0]
            payload = await self.reader.readexactly(n)
            op = b0 & 0x0F
            if op == 0x9:
                self.send(0xA, payload)  # pong
            elif op == 0x8:
                raise ConnectionError("closed by the gateway")
            elif op == 0x1:
                return payload.decode()

    async def run(self):
        try:
            while True:
                m = json.loads(await self.read_text())
                if m["type"] == "offer":
                    sent = float(m["contact"]["subject"])
                    self.latencies.append(time.time() * 1000 - sent)
                    self.offers += 1
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass


async def connect_all(port, desks, concurrency=100):
    sem = asyncio.Semaphore(concurrency)

    async def one(d):
        async with sem:
            for attempt in range(5):
                try:
                    await d.connect(port)
                    return
                except (OSError, RuntimeError):
                    if attempt == 4:
                        raise
                    await asyncio.sleep(0.2 * (attempt + 1))
    await asyncio.gather(*(one(d) for d in desks))


def offer_record(n, agent):
    return {"schema": "omni.assignment.v1", "id": f"bench-{n}", "type": "offer", "domain": "bench",
            "seq": n, "at": "2026-11-23T03:37:48.123Z", "contact_id": f"c{n}",
            "agent_id": f"agent{agent}", "queue": "support",
            "reason": {"strategy": "longest_idle", "candidates": 1, "text": "bench"},
            "attributes": {"display_name": "Иван", "channel": "chat", "provider": "webchat",
                           "conversation": f"conv{n}", "snippet": "Где мой заказ?",
                           "history": "[]",
                           "subject": ""}}


async def produce_offers(bootstrap, desks):
    kc = subprocess.Popen(["kcat", "-b", bootstrap, "-P", "-t", "omni.assignments", "-K", "\t",
                           "-X", "queue.buffering.max.ms=1"],
                          stdin=subprocess.PIPE, text=True, bufsize=1)
    start = time.monotonic()
    for n in range(OFFERS):
        due = start + n / RATE
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        rec = offer_record(n, random.randrange(len(desks)))
        rec["attributes"]["subject"] = f"{time.time() * 1000:.3f}"
        kc.stdin.write("bench\t" + json.dumps(rec, ensure_ascii=False) + "\n")
        kc.stdin.flush()
    kc.stdin.close()
    kc.wait(timeout=30)


def percentile(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


async def main_async(args, port, pid, bootstrap):
    latencies = []
    desks = [Desk(i, latencies) for i in range(AGENTS)]
    base = rss_kib(pid)
    t0 = time.monotonic()
    await connect_all(port, desks)
    connect_s = time.monotonic() - t0
    readers = [asyncio.create_task(d.run()) for d in desks]
    await asyncio.sleep(3)  # login events stored, allocations settled
    loaded = rss_kib(pid)
    await produce_offers(bootstrap, desks)
    deadline = time.monotonic() + 30
    while len(latencies) < OFFERS and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    for r in readers:
        r.cancel()
    for d in desks:
        d.writer.close()
    return {"agents": AGENTS, "connect_seconds": round(connect_s, 2), "rss_base_kib": base,
            "rss_loaded_kib": loaded,
            "rss_per_connection_kib": round((loaded - base) / AGENTS, 2),
            "offers_sent": OFFERS, "offers_received": len(latencies), "rate_per_s": RATE,
            "latency_ms_p50": round(percentile(latencies, 50), 2),
            "latency_ms_p99": round(percentile(latencies, 99), 2),
            "latency_ms_max": round(max(latencies), 2) if latencies else None}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--results", required=True)
    args = ap.parse_args()
    binary = os.path.join(args.build_dir, "daemon", "omniroute")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 4 * AGENTS + 1024) if hard != resource.RLIM_INFINITY else 4 * AGENTS + 1024
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    tmp = tempfile.mkdtemp(prefix="desk-load-")
    admin, http = free_port(), free_port()
    agents = "".join(f"    agent{i}: {{token: {token(i)}, domain: bench}}\n" for i in range(AGENTS))
    cfg = os.path.join(tmp, "omniroute.yaml")
    with open(cfg, "w") as f:
        f.write(f"""node:
  id: desk-load
  roles: [gateway]
  state_dir: {tmp}/state
logging:
  level: warn
kafka:
  brokers: embedded
  partitions: 3
admin:
  listen: 127.0.0.1:{admin}
http:
  listen: 127.0.0.1:{http}
  max_connections: {AGENTS + 1000}
gateway:
  max_connections: {AGENTS + 500}
  heartbeat_interval: 60s
  disconnect_grace: 60s
  agents:
{agents}""")
    log = open(os.path.join(args.results, "desk_load.log"), "w")
    proc = subprocess.Popen([binary, "serve", "--config", cfg], stdout=log, stderr=subprocess.STDOUT)
    try:
        bootstrap = None
        for _ in range(600):
            if proc.poll() is not None:
                raise SystemExit(f"omniroute exited with {proc.returncode}; see results/desk_load.log")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{admin}/readyz", timeout=2) as r:
                    bootstrap = json.load(r)["kafka"]["bootstrap"]
                    break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.1)
        if not bootstrap:
            raise SystemExit("omniroute did not become ready")
        res = asyncio.run(main_async(args, http, proc.pid, bootstrap))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    with open(os.path.join(args.results, "desk_load.json"), "w") as f:
        json.dump(res, f, indent=2)
    print(f"desk: {res['agents']} agent sockets connected+authenticated in {res['connect_seconds']} s")
    print(f"desk: RSS {res['rss_base_kib']} KiB idle -> {res['rss_loaded_kib']} KiB loaded = "
          f"{res['rss_per_connection_kib']} KiB per connection")
    print(f"desk: offer delivery {res['offers_received']}/{res['offers_sent']} at {RATE:g}/s: "
          f"p50 {res['latency_ms_p50']} ms, p99 {res['latency_ms_p99']} ms, max {res['latency_ms_max']} ms")
    return 0 if res["offers_received"] == res["offers_sent"] else 1


if __name__ == "__main__":
    sys.exit(main())
