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
import json
import os
import random
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_ws import Omniroute, RawWebSocket, connect_all, raise_nofile, rss_kib  # noqa: E402

AGENTS = int(os.environ.get("OMNI_DESK_AGENTS", "5000"))
OFFERS = int(os.environ.get("OMNI_DESK_OFFERS", "2000"))
RATE = float(os.environ.get("OMNI_DESK_RATE", "200"))


def token(i):
    return f"bench-token-{i:06d}-0123456789"


class Desk(RawWebSocket):
    """One agent socket: pre-authenticated with a bearer token at the upgrade."""

    def __init__(self, i, latencies):
        self.i = i
        self.latencies = latencies
        self.offers = 0

    async def connect_agent(self, port):
        await self.connect(port, "/agent/v1/ws", f"Authorization: Bearer {token(self.i)}\r\n")
        welcome = await self.read_text()
        if json.loads(welcome)["type"] != "welcome":
            raise RuntimeError(f"agent {self.i}: {welcome[:200]}")

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
    await connect_all(desks, lambda d: d.connect_agent(port))
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
    raise_nofile(4 * AGENTS + 1024)
    tmp = tempfile.mkdtemp(prefix="desk-load-")
    agents = "".join(f"    agent{i}: {{token: {token(i)}, domain: bench}}\n" for i in range(AGENTS))
    d = Omniroute(binary, tmp, args.results, "desk_load", f"""gateway:
  max_connections: {AGENTS + 500}
  heartbeat_interval: 60s
  disconnect_grace: 60s
  agents:
{agents}""", http_extra=f"  max_connections: {AGENTS + 1000}\n", roles=["gateway"])
    try:
        res = asyncio.run(main_async(args, d.http, d.proc.pid, d.bootstrap))
    finally:
        d.close()
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
