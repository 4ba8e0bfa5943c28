#!/usr/bin/env python3
"""Web chat load: (1) N idle visitor sockets (default 10,000) on one `omniroute serve` (embedded
Kafka), each having started a visitor session; reports the daemon's RSS per connection (goal
<= 4 KiB). (2) Message round-trip throughput: the same C++ client (ws_load_client, built with the
bench preset) sends {"type":"ping"} and reads the reply, W in flight per connection, first to
omniroute's /chat/ws (which parses it and answers {"type":"pong"}), then to an echo server on
Node's `ws` package, in the same run on the same machine; reports both rates and the ratio (goal
>= 2x Node).

  tests/bench/webchat_load.py --build-dir build/bench --results build/bench/results
Environment: OMNI_WEBCHAT_VISITORS (idle sockets, default 10000), OMNI_WEBCHAT_CONNECTIONS
             (round-trip connections, default 4), OMNI_WEBCHAT_WINDOW (messages in flight per
             connection, default 32), OMNI_BENCH_DURATION (seconds per round-trip run, default 20).
Needs node and tests/e2e/node_modules (deploy/install-deps.sh --bench)."""
import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_ws import Omniroute, RawWebSocket, connect_all, raise_nofile, rss_kib  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
VISITORS = int(os.environ.get("OMNI_WEBCHAT_VISITORS", "10000"))
CONNECTIONS = int(os.environ.get("OMNI_WEBCHAT_CONNECTIONS", "4"))
WINDOW = int(os.environ.get("OMNI_WEBCHAT_WINDOW", "32"))
DURATION = float(os.environ.get("OMNI_BENCH_DURATION", "20"))
ORIGIN = "http://bench.invalid"


async def idle_visitors(port, pid):
    socks = [RawWebSocket() for _ in range(VISITORS)]

    async def start(s):
        await s.connect(port, "/chat/ws", f"Origin: {ORIGIN}\r\n")
        s.send(0x1, b'{"type":"start","v":1}')
        welcome = json.loads(await s.read_text())
        if welcome["type"] != "welcome":
            raise RuntimeError(str(welcome)[:200])

    await asyncio.sleep(1)
    base = rss_kib(pid)
    t0 = time.monotonic()
    await connect_all(socks, start)
    connect_s = time.monotonic() - t0
    await asyncio.sleep(3)  # allocations settled
    loaded = rss_kib(pid)
    for s in socks:
        s.writer.close()
    return {"visitors": VISITORS, "connect_seconds": round(connect_s, 2), "rss_base_kib": base,
            "rss_loaded_kib": loaded,
            "rss_per_connection_bytes": round((loaded - base) * 1024 / VISITORS)}


def round_trips(client, port, path, start=None):
    args = [client, "127.0.0.1", str(port), path, str(CONNECTIONS), str(WINDOW), str(DURATION),
            '{"type":"ping"}'] + ([start] if start else [])
    out = subprocess.run(args, capture_output=True, text=True, timeout=DURATION + 60)
    if out.returncode != 0:
        raise SystemExit(f"ws_load_client failed: {out.stderr.strip()[:500]}")
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--results", required=True)
    args = ap.parse_args()
    binary = os.path.join(args.build_dir, "daemon", "omniroute")
    client = os.path.join(args.build_dir, "tests", "bench", "ws_load_client")
    raise_nofile(2 * VISITORS + 4096)
    tmp = tempfile.mkdtemp(prefix="webchat-load-")
    os.makedirs(args.results, exist_ok=True)
    d = Omniroute(binary, tmp, args.results, "webchat_load", f"""connectors:
  - type: webchat
    name: bench
    domain: bench
    allowed_origins: [{ORIGIN}]
    max_connections: {VISITORS + 1000}
    max_connections_per_ip: {VISITORS + 1000}
    idle_timeout: 600s
    start_timeout: 60s
""", http_extra=f"  max_connections: {VISITORS + 2000}\n")
    try:
        idle = asyncio.run(idle_visitors(d.http, d.proc.pid))
        ours = round_trips(client, d.http, "/chat/ws", '{"type":"start","v":1}')
    finally:
        d.close()

    e2e = os.path.join(os.path.dirname(HERE), "e2e")
    node = subprocess.Popen(["node", os.path.join(HERE, "ws_echo_server.mjs"), e2e],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = node.stdout.readline().strip()
        if not line.startswith("PORT "):
            raise SystemExit(f"ws echo server did not start ({line!r}): npm ci in tests/e2e?")
        theirs = round_trips(client, int(line.split()[1]), "/")
    finally:
        node.terminate()
        node.wait(timeout=10)

    ratio = ours["rate"] / theirs["rate"] if theirs["rate"] else float("nan")
    res = {"idle": idle, "omniroute": ours, "node_ws": theirs, "ratio": round(ratio, 2),
           "connections": CONNECTIONS, "window": WINDOW, "duration_s": DURATION,
           "node": subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()}
    with open(os.path.join(args.results, "webchat_load.json"), "w") as f:
        json.dump(res, f, indent=2)
    goal_mem = "met" if idle["rss_per_connection_bytes"] <= 4096 else "MISSED"
    goal_rate = "met" if ratio >= 2 else "MISSED"
    print(f"webchat: {VISITORS} idle visitor sockets (started) in {idle['connect_seconds']} s: RSS "
          f"{idle['rss_base_kib']} -> {idle['rss_loaded_kib']} KiB = "
          f"{idle['rss_per_connection_bytes']} B per connection (goal <= 4096: {goal_mem})")
    print(f"webchat: round trips, {CONNECTIONS} connections x {WINDOW} in flight, {DURATION:g} s: "
          f"omniroute {ours['rate']:.0f}/s, Node ws {res['node']} echo {theirs['rate']:.0f}/s, "
          f"ratio {ratio:.2f} (goal >= 2: {goal_rate})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
