#!/usr/bin/env python3
"""Soak: mixed traffic for a long time (default 30 minutes) on ONE `omniroute serve` node (every
role, embedded Kafka), sampling the daemon every 10 s: RSS, open file descriptors, threads, CPU and
the p99 latency of each kind of traffic in that window. Not run by CI nor by `make bench`.

  tests/bench/soak.py --build-dir build/release [--minutes 30] [--warmup-minutes 5]
      [--results DIR] [--webhook-rate 50] [--visitors 100] [--agents 500]

Traffic, all on 127.0.0.1, bounded by --minutes (it stops by itself):
- Telegram webhook updates at a steady rate (open loop, keep-alive connections); latency =
  scheduled send -> 200 (a 200 means Kafka stored the contact). Chat ids cycle through a pool of
  20,000, so each update starts a new contact (the previous one of that chat is long completed);
- web chat visitors (`/chat/ws`): `start`, then messages every 1-4 s, latency = message -> ack;
  after 3-12 messages a visitor leaves (half of them with `end` and a close frame, half by
  dropping the socket) and a new one comes;
- desk agents (`/agent/v1/ws`, static bearer tokens) logged in and available, accepting every
  offer and completing the contact 1-3 s later; offer latency = the contact's send time (carried
  in its text as `[soak <kind> <epoch ms>]`) -> offer read by the agent's socket.

Writes soak.csv (one row per sample), soak.json (summary: least-squares slopes of RSS and fds
after the warm-up, max p99s, totals, errors) and soak.svg (the plot, drawn here in plain SVG) to
--results (default BUILD/results), and prints the summary. Exit status 1 only when the daemon died
or the traffic could not run; a slope over its goal is reported, not failed."""
import argparse
import asyncio
import datetime
import json
import math
import multiprocessing as mp
import os
import queue
import random
import re
import shutil
import statistics
import struct
import sys
import tempfile
import time
from xml.sax.saxutils import escape

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_ws import (Omniroute, RawWebSocket, connect_all, cpu_snapshot,  # noqa: E402
                      raise_nofile, rss_kib, stat_cpu_ticks)

SAMPLE_SECONDS = 10
DOMAIN = "soak"
TELEGRAM = "soak"
SECRET = "soak-secret_0123456789"
ORIGIN = "http://soak.invalid"
CHAT_POOL = 2000  # distinct Telegram chats (customers): each returns every ~40 s at 50/s
TAG = re.compile(r"\[soak (\w) (\d+(?:\.\d+)?)\]")
DRAIN_SECONDS = 10  # after the end: in-flight requests and acks still counted


def token(i):
    return f"soak-token-{i:06d}-0123456789"


def tag(kind):
    return f"[soak {kind} {time.time() * 1000:.1f}]"


def percentile(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(math.ceil(p / 100 * len(v))) - 1)]


class Reporter:
    """A worker's link to the main process: latencies and counter deltas, sent once a second."""

    def __init__(self, q, name):
        self.q, self.name = q, name
        self.lat = {}
        self.counts = {}

    def latency(self, kind, ms):
        self.lat.setdefault(kind, []).append(ms)

    def count(self, key, n=1):
        self.counts[key] = self.counts.get(key, 0) + n

    def flush(self):
        if self.lat or self.counts:
            self.q.put(("data", self.lat, self.counts))
            self.lat, self.counts = {}, {}

    async def run(self):
        while True:
            await asyncio.sleep(1)
            self.flush()


def run_worker(coro_fn, q, name, *args):
    """Entry point of a worker process: runs `coro_fn(reporter, *args)` on a fresh event loop."""
    rep = Reporter(q, name)
    try:
        asyncio.run(coro_fn(rep, *args))
        rep.flush()
        q.put(("done", name))
    except BaseException as e:  # noqa: BLE001 - reported to the main process
        rep.flush()
        q.put(("fatal", name, f"{type(e).__name__}: {e}"))


# --- Telegram webhook ----------------------------------------------------------------------------

def telegram_update(n):
    chat = 700000 + n % CHAT_POOL
    return json.dumps({
        "update_id": n,
        "message": {
            "message_id": n,
            "from": {"id": chat, "is_bot": False, "first_name": "Иван", "last_name": "Петров",
                     "language_code": "ru"},
            "chat": {"id": chat, "first_name": "Иван", "type": "private"},
            "date": int(time.time()),
            "text": f"Здравствуйте! Мой заказ №{n} так и не пришёл {tag('w')}",
        },
    }, ensure_ascii=False).encode()


async def webhook_worker(rep, port, rate, end, connections):
    """Open loop: update n is due at start + n / rate; `connections` keep-alive connections take
    due updates from a queue. Latency counts from the due time, so a backlog shows."""
    path = f"/hooks/telegram/{TELEGRAM}"
    due = asyncio.Queue()
    reporter = asyncio.create_task(rep.run())

    async def connection():
        reader = writer = None
        while True:
            item = await due.get()
            if item is None:
                break
            n, t_due = item
            body = telegram_update(n)
            req = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                   "Content-Type: application/json\r\n"
                   f"X-Telegram-Bot-Api-Secret-Token: {SECRET}\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(req)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                status = int(head.split(b" ", 2)[1])
                length, close = 0, False
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    k = k.strip().lower()
                    if k == b"content-length":
                        length = int(v)
                    elif k == b"connection" and v.strip().lower() == b"close":
                        close = True
                if length:
                    await reader.readexactly(length)
                ms = (time.monotonic() - t_due) * 1000
                if status == 200:
                    rep.latency("webhook", ms)
                    rep.count("webhook_ok")
                else:
                    rep.count("webhook_errors")
                    rep.count(f"webhook_status_{status}")
                if close:
                    writer.close()
                    writer = None
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    asyncio.TimeoutError, ValueError, IndexError) as e:
                rep.count("webhook_errors")
                rep.count(f"webhook_{type(e).__name__}")
                if writer is not None:
                    writer.close()
                writer = None
        if writer is not None:
            writer.close()

    conns = [asyncio.create_task(connection()) for _ in range(connections)]
    start = time.monotonic()
    n = 0
    while True:
        t_due = start + n / rate
        if t_due >= end:
            break
        delay = t_due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        n += 1
        due.put_nowait((n, t_due))
        rep.count("webhook_sent")
    for _ in conns:
        due.put_nowait(None)
    await asyncio.wait(conns, timeout=DRAIN_SECONDS + 30)
    reporter.cancel()


# --- web chat visitors ---------------------------------------------------------------------------

class Visitor(RawWebSocket):
    def __init__(self, rep):
        self.rep = rep
        self.pending = {}  # client_id -> monotonic send time

    async def reader_loop(self):
        try:
            while True:
                m = json.loads(await self.read_text())
                t = m.get("type")
                if t == "ack":
                    sent = self.pending.pop(m.get("client_id"), None)
                    if sent is not None:
                        self.rep.latency("chat", (time.monotonic() - sent) * 1000)
                        self.rep.count("chat_acks")
                elif t == "error":
                    self.rep.count("chat_errors")
                    self.rep.count(f"chat_error_{m.get('code')}")
                    self.pending.pop(m.get("client_id"), None)
                elif t == "event":
                    self.rep.count(f"chat_event_{m.get('kind')}")
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass


async def visitor_life(rep, port, vid, end):
    v = Visitor(rep)
    try:
        await v.connect(port, "/chat/ws", f"Origin: {ORIGIN}\r\n")
        v.send(0x1, b'{"type":"start","v":1}')
        welcome = json.loads(await asyncio.wait_for(v.read_text(), 30))
        if welcome.get("type") != "welcome":
            raise RuntimeError(f"no welcome: {str(welcome)[:200]}")
    except (OSError, RuntimeError, ConnectionError, asyncio.IncompleteReadError,
            asyncio.TimeoutError) as e:
        rep.count("chat_connect_errors")
        rep.count(f"chat_connect_{type(e).__name__}")
        if getattr(v, "writer", None) is not None:
            v.writer.close()
        return
    rep.count("visitors_started")
    reader = asyncio.create_task(v.reader_loop())
    try:
        for k in range(random.randint(3, 12)):
            await asyncio.sleep(random.uniform(1, 4))
            if time.monotonic() >= end or reader.done():
                break
            cid = f"v{vid}-{k}"
            msg = {"type": "message", "client_id": cid,
                   "text": f"Где мой заказ? Сообщение {k} {tag('c')}"}
            v.pending[cid] = time.monotonic()
            v.send(0x1, json.dumps(msg, ensure_ascii=False).encode())
            rep.count("chat_sent")
        # Unanswered messages: wait for their acks (bounded), then count what is left as errors.
        deadline = time.monotonic() + DRAIN_SECONDS
        while v.pending and not reader.done() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if v.pending:
            rep.count("chat_ack_missing", len(v.pending))
        if random.random() < 0.5:
            v.send(0x1, b'{"type":"end"}')
            v.send(0x8, struct.pack("!H", 1000))
            rep.count("visitors_ended")
        else:
            rep.count("visitors_dropped")
    finally:
        reader.cancel()
        v.writer.close()


async def webchat_worker(rep, port, visitors, end):
    reporter = asyncio.create_task(rep.run())
    counter = [0]

    async def slot(i):
        await asyncio.sleep(random.uniform(0, 4))  # spread the first arrivals
        while time.monotonic() < end:
            counter[0] += 1
            await visitor_life(rep, port, f"{i}.{counter[0]}", end)
            await asyncio.sleep(random.uniform(0.2, 1.0))

    await asyncio.gather(*(slot(i) for i in range(visitors)))
    reporter.cancel()


# --- desk agents ---------------------------------------------------------------------------------

class Agent(RawWebSocket):
    def __init__(self, i, rep):
        self.i, self.rep = i, rep
        self.completing = {}  # contact_id -> task
        self.ready = asyncio.get_running_loop().create_future()

    async def login(self, port):
        await self.connect(port, "/agent/v1/ws", f"Authorization: Bearer {token(self.i)}\r\n")
        welcome = json.loads(await self.read_text())
        if welcome.get("type") != "welcome":
            raise RuntimeError(f"agent {self.i}: {str(welcome)[:200]}")

    def action(self, **m):
        self.send(0x1, json.dumps(m).encode())

    async def complete_later(self, contact_id):
        await asyncio.sleep(random.uniform(1, 3))
        self.action(type="complete", contact_id=contact_id, disposition="resolved",
                    ref=f"complete:{contact_id}")

    async def run(self):
        rep = self.rep
        self.action(type="presence", presence="available", ref="available")
        try:
            while True:
                text = await self.read_text()
                if '"type":"stats"' in text and '"offer_id"' not in text:
                    rep.count("desk_stats")  # every 5 s to every agent: not parsed, it is large
                    rep.count("desk_stats_bytes", len(text))
                    continue
                m = json.loads(text)
                t = m.get("type")
                if t == "offer":
                    rep.count("offers")
                    conv = m.get("conversation") or [{}]
                    hit = TAG.search(conv[0].get("text", ""))
                    if hit:
                        ms = time.time() * 1000 - float(hit.group(2))
                        rep.latency("offer", ms)
                        rep.latency(f"offer_{hit.group(1)}", ms)
                    else:
                        rep.count("offers_untagged")
                    cid = m["contact_id"]
                    self.action(type="accept", contact_id=cid, ref=f"accept:{cid}")
                elif t == "ack":
                    of, ref = m.get("of"), m.get("ref", "")
                    rep.count(f"acks_{of}")
                    if of == "accept":
                        cid = ref.split(":", 1)[1]
                        self.completing[cid] = asyncio.create_task(self.complete_later(cid))
                    elif of == "complete":
                        self.completing.pop(ref.split(":", 1)[1], None)
                    elif of == "presence" and not self.ready.done():
                        self.ready.set_result(True)
                elif t == "revoke":
                    rep.count(f"revokes_{m.get('reason')}")
                    task = self.completing.pop(m.get("contact_id"), None)
                    if task:
                        task.cancel()
                elif t == "error":
                    rep.count(f"desk_error_{m.get('code')}")
                    if m.get("code") != "conflict":
                        rep.count("desk_errors")
                    ref = m.get("ref", "")
                    if ref.startswith("complete:"):
                        self.completing.pop(ref.split(":", 1)[1], None)
                elif t == "presence":
                    rep.count(f"desk_presence_{m.get('presence')}")
                    if m.get("presence") != "available":  # e.g. not_responding: come back
                        self.action(type="presence", presence="available")
                elif t == "message":
                    rep.count("desk_followups")
                elif t in ("assigned", "logged_out"):
                    rep.count(f"desk_{t}")
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as e:
            rep.count("desk_disconnects")
            if not self.ready.done():
                self.ready.set_exception(e)


async def desk_worker(rep, port, agents, q, stop):
    desks = [Agent(i, rep) for i in range(agents)]
    await connect_all(desks, lambda a: a.login(port))
    runs = [asyncio.create_task(a.run()) for a in desks]
    await asyncio.wait_for(asyncio.gather(*(a.ready for a in desks)), 60)
    q.put(("ready", "desk"))
    reporter = asyncio.create_task(rep.run())
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, stop.wait)
    left = sum(len(a.completing) for a in desks)
    rep.count("desk_open_at_end", left)
    for r in runs:
        r.cancel()
    for a in desks:
        for task in a.completing.values():
            task.cancel()
        a.writer.close()
    reporter.cancel()


# --- sampling and the main process ---------------------------------------------------------------

def proc_status(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def thread_pct(before, after, ticks, seconds):
    """CPU % of each thread name between two cpu_snapshot()s (names over 0.5% only)."""
    by_name = {}
    for tid, (name, t) in after.items():
        by_name[name] = by_name.get(name, 0) + t - before.get(tid, (name, 0))[1]
    return {n: round(100 * t / ticks / seconds, 1) for n, t in
            sorted(by_name.items(), key=lambda kv: -kv[1]) if 100 * t / ticks / seconds >= 0.5}


def loadavg():
    return float(open("/proc/loadavg").read().split()[0])


def machine():
    model = "unknown"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": os.uname().release}


def slope_per_min(samples, key, since_s):
    pts = [(s["elapsed_s"] / 60, s[key]) for s in samples if s["elapsed_s"] >= since_s]
    if len(pts) < 2:
        return None
    return round(statistics.linear_regression(*zip(*pts)).slope, 3)


# Every store the daemon bounds by count or age, sized so that it is full within the first minutes
# (the warm-up) and a leak shows as a slope after it. The defaults' ceilings are the same stores
# with bigger numbers (docs/performance.md).
WINDOWS = {
    "routing.dedupe_window": 20000,  # default 200,000 ids per domain
    "routing.affinity.window": "3m",  # default 72h of customers' last agents
    "gateway.contacts_kept": 2000,  # default 20,000 finished contacts
    "gateway.dedupe_window": 20000,  # default 200,000 ids
    "webchat.retention": "3m",  # default 24h of offline visitors
}


def config_body(agents, visitors):
    tokens = "".join(f"    agent{i:03d}: {{token: {token(i)}, domain: {DOMAIN}}}\n"
                     for i in range(agents))
    return f"""connectors:
  - type: telegram
    name: {TELEGRAM}
    secret_token: {SECRET}
    bot: "@soak_bot"
    domain: {DOMAIN}
  - type: webchat
    name: soak-chat
    domain: {DOMAIN}
    allowed_origins: [{ORIGIN}]
    max_connections: {4 * visitors + 100}
    max_connections_per_ip: {4 * visitors + 100}
    retention: {WINDOWS["webchat.retention"]}
routing:
  dedupe_window: {WINDOWS["routing.dedupe_window"]}
  affinity: {{window: {WINDOWS["routing.affinity.window"]}}}
  default_queue: all
  queues:
    all:
      strategy: longest_idle
  channels:
    chat: {{capacity: 3, auto_accept: false, accept_timeout: 30s}}
    messenger: {{capacity: 3, auto_accept: false, accept_timeout: 30s}}
gateway:
  default_domain: {DOMAIN}
  max_connections: {agents + 100}
  contacts_kept: {WINDOWS["gateway.contacts_kept"]}
  dedupe_window: {WINDOWS["gateway.dedupe_window"]}
  agents:
{tokens}"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", default="build/release")
    ap.add_argument("--results", help="default: BUILD/results")
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--warmup-minutes", type=float, default=5)
    ap.add_argument("--webhook-rate", type=float, default=50, help="updates per second")
    ap.add_argument("--webhook-connections", type=int, default=16)
    ap.add_argument("--visitors", type=int, default=100, help="web chat visitors at a time")
    ap.add_argument("--agents", type=int, default=500)
    ap.add_argument("--rss-goal", type=float, default=64, help="KiB/min after the warm-up")
    ap.add_argument("--fd-goal", type=float, default=0.5, help="fds/min after the warm-up")
    args = ap.parse_args()
    binary = os.path.join(args.build_dir, "daemon", "omniroute")
    results = args.results or os.path.join(args.build_dir, "results")
    os.makedirs(results, exist_ok=True)
    if not os.access(binary, os.X_OK):
        raise SystemExit(f"{binary}: not built (cmake --build --preset release --target omniroute)")
    raise_nofile(4 * (args.agents + 4 * args.visitors) + 1024)
    wall_start = time.monotonic()
    started_utc = datetime.datetime.now(datetime.timezone.utc)
    load_start = open("/proc/loadavg").read().split()[:3]
    tmp = tempfile.mkdtemp(prefix="soak-")
    max_conn = args.agents + 4 * args.visitors + args.webhook_connections + 500
    http_extra = f"  max_connections: {max_conn}\n"
    d = Omniroute(binary, tmp, results, "soak", config_body(args.agents, args.visitors),
                  http_extra=http_extra)
    pid, port = d.proc.pid, d.http
    print(f"soak: omniroute pid {pid} on 127.0.0.1:{port} (admin 127.0.0.1:{d.admin}, Kafka "
          f"{d.bootstrap}), log {results}/soak.log", flush=True)

    ctx = mp.get_context("fork")
    q = ctx.Queue()
    stop = ctx.Event()
    workers = {}
    fatal = []
    lat_window, lat_all, totals = {}, {}, {}
    done = set()

    def handle(msg):
        if msg[0] == "data":
            for k, v in msg[1].items():
                lat_window.setdefault(k, []).extend(v)
                lat_all.setdefault(k, []).extend(v)
            for k, v in msg[2].items():
                totals[k] = totals.get(k, 0) + v
        elif msg[0] == "fatal":
            fatal.append(f"{msg[1]}: {msg[2]}")
        elif msg[0] == "done":
            done.add(msg[1])
        return msg[0]

    def start_worker(name, fn, *a):
        p = ctx.Process(target=run_worker, args=(fn, q, name) + a, name=f"soak-{name}")
        p.start()
        workers[name] = p

    samples = []
    died = None
    thread_cpu = {}
    try:
        start_worker("desk", desk_worker, port, args.agents, q, stop)
        t_ready = time.monotonic() + 180
        ready = False
        while not ready and time.monotonic() < t_ready and not fatal:
            try:
                ready = handle(q.get(timeout=1)) == "ready"
            except queue.Empty:
                if d.proc.poll() is not None:
                    break
        if not ready:
            raise SystemExit(f"soak: the {args.agents} agents did not log in: "
                             f"{'; '.join(fatal) or 'timeout'}; daemon rc {d.proc.poll()}")
        login_s = time.monotonic() - wall_start
        print(f"soak: {args.agents} agents logged in and available ({login_s:.1f} s after start); "
              f"traffic for {args.minutes:g} min")

        t0 = time.monotonic()
        end = t0 + args.minutes * 60
        # The traffic runs a few seconds past the last sample, so that sample sees it whole.
        start_worker("webhook", webhook_worker, port, args.webhook_rate, end + 3,
                     args.webhook_connections)
        start_worker("webchat", webchat_worker, port, args.visitors, end + 3)
        lat_window.clear()
        ticks = os.sysconf("SC_CLK_TCK")
        threads_before = threads_prev = cpu_snapshot(pid)[1]
        cpu_prev, t_prev = stat_cpu_ticks(f"/proc/{pid}/stat"), time.monotonic()
        totals_prev = {}
        k = 0
        print(f"{'min':>6} {'RSS MiB':>8} {'fds':>5} {'thr':>4} {'cpu%':>5} {'load':>5} "
              f"{'webhook p99':>11} {'chat p99':>9} {'offer p99':>9} {'wh/s':>5} {'chat/s':>6} "
              f"{'offer/s':>7}")
        while True:
            k += 1
            t_next = t0 + k * SAMPLE_SECONDS
            if t_next > end + 0.5:
                break
            while (left := t_next - time.monotonic()) > 0:
                try:
                    handle(q.get(timeout=left))
                except queue.Empty:
                    pass
            if d.proc.poll() is not None:
                died = d.proc.returncode
                break
            try:
                cpu = stat_cpu_ticks(f"/proc/{pid}/stat")
                now = time.monotonic()
                s = {"elapsed_s": round(now - t0, 1), "rss_kib": rss_kib(pid),
                     "fds": fd_count(pid), "threads": proc_status(pid, "Threads"),
                     "cpu_pct": round(100 * (cpu - cpu_prev) / ticks / (now - t_prev), 1),
                     "load1": loadavg()}
            except (FileNotFoundError, ProcessLookupError):
                died = d.proc.wait()
                break
            try:
                threads_now = cpu_snapshot(pid)[1]
            except OSError:
                threads_now = threads_prev
            s["threads_cpu"] = thread_pct(threads_prev, threads_now, ticks, now - t_prev)
            cpu_prev, t_prev, threads_prev = cpu, now, threads_now
            for kind in ("webhook", "chat", "offer"):
                p99 = percentile(lat_window.get(kind, []), 99)
                s[f"{kind}_p99_ms"] = round(p99, 2) if p99 is not None else None
            delta = {key: totals.get(key, 0) - totals_prev.get(key, 0)
                     for key in ("webhook_ok", "webhook_errors", "chat_acks", "chat_errors",
                                 "chat_connect_errors", "visitors_started", "offers",
                                 "acks_complete", "desk_errors")}
            s.update(delta)
            totals_prev = dict(totals)
            lat_window.clear()
            samples.append(s)

            def f(v):
                return f"{v:.1f}" if v is not None else "-"
            print(f"{s['elapsed_s'] / 60:6.2f} {s['rss_kib'] / 1024:8.1f} {s['fds']:5d} "
                  f"{s['threads']:4d} {s['cpu_pct']:5.1f} {s['load1']:5.2f} "
                  f"{f(s['webhook_p99_ms']):>11} {f(s['chat_p99_ms']):>9} "
                  f"{f(s['offer_p99_ms']):>9} {delta['webhook_ok'] / SAMPLE_SECONDS:5.1f} "
                  f"{delta['chat_acks'] / SAMPLE_SECONDS:6.1f} "
                  f"{delta['offers'] / SAMPLE_SECONDS:7.1f}", flush=True)
            if fatal:
                break
        try:
            threads_after = cpu_snapshot(pid)[1]
            by_name = {}
            for tid, (name, t) in threads_after.items():
                by_name[name] = by_name.get(name, 0) + t - threads_before.get(tid, (name, 0))[1]
            thread_cpu = {n: round(t / ticks, 1) for n, t in
                          sorted(by_name.items(), key=lambda kv: -kv[1]) if t > 0}
        except OSError:
            pass
        # The traffic workers stop by themselves at `end`; then let the agents finish their work.
        deadline = time.monotonic() + DRAIN_SECONDS + 40
        while {"webhook", "webchat"} - done - {f.split(":")[0] for f in fatal} \
                and time.monotonic() < deadline:
            try:
                handle(q.get(timeout=0.5))
            except queue.Empty:
                pass
        time.sleep(4)  # completes of the last offers
        stop.set()
        deadline = time.monotonic() + 30
        while "desk" not in done and time.monotonic() < deadline and not any(
                f.startswith("desk") for f in fatal):
            try:
                handle(q.get(timeout=0.5))
            except queue.Empty:
                pass
    finally:
        stop.set()
        for p in workers.values():
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
        while True:
            try:
                handle(q.get_nowait())
            except queue.Empty:
                break
        if died is None and d.proc.poll() is not None:
            died = d.proc.returncode
        d.close()
        shutil.rmtree(tmp, ignore_errors=True)  # config and state (history, webchat key)

    log_path = os.path.join(results, "soak.log")
    log_lines = open(log_path, errors="replace").read().splitlines()
    log_errors = [line for line in log_lines if re.search(r"\b(error|critical)\b", line, re.I)]
    log_warnings = [line for line in log_lines if re.search(r"\bwarn(ing)?\b", line, re.I)]
    since = args.warmup_minutes * 60
    if samples and samples[-1]["elapsed_s"] <= since:
        since = 0  # too short a run for the warm-up: slopes over everything
    summary = {
        "started_utc": started_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join(sys.argv),
        "binary": os.path.abspath(binary),
        "machine": machine(),
        "load_average_start": load_start,
        "load_average_end": open("/proc/loadavg").read().split()[:3],
        "minutes": args.minutes, "warmup_minutes": args.warmup_minutes,
        "windows": WINDOWS,
        "slopes_since_s": since,
        "traffic": {"webhook_rate_per_s": args.webhook_rate,
                    "webhook_connections": args.webhook_connections,
                    "visitors": args.visitors, "agents": args.agents},
        "samples": len(samples),
        "rss_kib": {"first": samples[0]["rss_kib"] if samples else None,
                    "last": samples[-1]["rss_kib"] if samples else None,
                    "max": max((s["rss_kib"] for s in samples), default=None),
                    "slope_kib_per_min": slope_per_min(samples, "rss_kib", since),
                    "goal_kib_per_min": args.rss_goal},
        "fds": {"first": samples[0]["fds"] if samples else None,
                "last": samples[-1]["fds"] if samples else None,
                "max": max((s["fds"] for s in samples), default=None),
                "slope_per_min": slope_per_min(samples, "fds", since),
                "goal_per_min": args.fd_goal},
        "threads": {"first": samples[0]["threads"] if samples else None,
                    "last": samples[-1]["threads"] if samples else None,
                    "max": max((s["threads"] for s in samples), default=None)},
        "cpu_pct_mean": round(statistics.mean(s["cpu_pct"] for s in samples), 1)
        if samples else None,
        "cpu_seconds_by_thread": thread_cpu,
        "cpu_pct_by_thread": [{"elapsed_s": x["elapsed_s"], **x["threads_cpu"]} for x in samples],
        "latency_ms": {},
        "totals": dict(sorted(totals.items())),
        "worker_failures": fatal,
        "daemon_died": died is not None,
        "daemon_exit_code": died if died is not None else d.proc.returncode,
        "log": {"path": log_path, "lines": len(log_lines), "errors": len(log_errors),
                "warnings": len(log_warnings), "first_errors": log_errors[:10],
                "first_warnings": log_warnings[:10]},
        "wall_seconds": round(time.monotonic() - wall_start, 1),
    }
    for kind in sorted(lat_all):
        v = lat_all[kind]
        summary["latency_ms"][kind] = {
            "n": len(v), "p50": round(percentile(v, 50), 2), "p99": round(percentile(v, 99), 2),
            "max": round(max(v), 2),
            "max_window_p99": max((s[f"{kind}_p99_ms"] for s in samples
                                   if s.get(f"{kind}_p99_ms") is not None), default=None)}
    rs, fs = summary["rss_kib"]["slope_kib_per_min"], summary["fds"]["slope_per_min"]
    summary["rss_goal_met"] = rs <= args.rss_goal if rs is not None else None
    summary["fd_goal_met"] = fs <= args.fd_goal if fs is not None else None

    cols = ["elapsed_s", "rss_kib", "fds", "threads", "cpu_pct", "load1", "webhook_p99_ms",
            "chat_p99_ms", "offer_p99_ms", "webhook_ok", "webhook_errors", "chat_acks",
            "chat_errors", "chat_connect_errors", "visitors_started", "offers", "acks_complete",
            "desk_errors"]
    with open(os.path.join(results, "soak.csv"), "w") as f:
        f.write(",".join(cols) + "\n")
        for s in samples:
            f.write(",".join("" if s.get(c) is None else str(s[c]) for c in cols) + "\n")
    with open(os.path.join(results, "soak.json"), "w") as f:
        json.dump(summary, f, indent=2, ensure_ascii=False)
    with open(os.path.join(results, "soak.svg"), "w") as f:
        f.write(svg_plot(samples, summary))

    print_summary(summary, results)
    if summary["daemon_died"]:
        print(f"soak: FAILED: the daemon died (exit code {died}); see {log_path}")
        return 1
    if fatal or not samples or not totals.get("webhook_ok") or not totals.get("chat_acks") \
            or not totals.get("offers"):
        print("soak: FAILED: the traffic could not run" + (f": {'; '.join(fatal)}" if fatal else ""))
        return 1
    return 0


def print_summary(s, results):
    def ms(kind, key):
        v = s["latency_ms"].get(kind, {}).get(key)
        return f"{v:.1f}" if v is not None else "-"
    r, fd = s["rss_kib"], s["fds"]

    def goal(met):
        return "n/a: too few samples" if met is None else "met" if met else "OVER"
    print(f"\nsoak: {s['minutes']:g} min, {s['samples']} samples, machine {s['machine']['nproc']} x "
          f"{s['machine']['cpu']}, load {' '.join(s['load_average_start'])} -> "
          f"{' '.join(s['load_average_end'])}; wall {s['wall_seconds']} s")
    print(f"  RSS   {r['first']} -> {r['last']} KiB (max {r['max']}); slope after "
          f"{s['slopes_since_s'] / 60:g} min: {r['slope_kib_per_min']} KiB/min (goal <= "
          f"{r['goal_kib_per_min']:g}: {goal(s['rss_goal_met'])})")
    print(f"  fds   {fd['first']} -> {fd['last']} (max {fd['max']}); slope {fd['slope_per_min']}/min "
          f"(goal <= {fd['goal_per_min']:g}: {goal(s['fd_goal_met'])}); threads "
          f"{s['threads']['first']} -> {s['threads']['last']}; daemon CPU {s['cpu_pct_mean']}%")
    for kind, label in (("webhook", "webhook 200"), ("chat", "chat ack"), ("offer", "offer"),
                        ("offer_w", "  telegram"), ("offer_c", "  web chat")):
        n = s["latency_ms"].get(kind, {}).get("n", 0)
        worst = f", worst 10-s p99 {ms(kind, 'max_window_p99')} ms" if "_" not in kind else ""
        print(f"  {label:<11} n={n:<7} p50 {ms(kind, 'p50')} ms, p99 {ms(kind, 'p99')} ms, "
              f"max {ms(kind, 'max')} ms{worst}")
    t = s["totals"]
    print(f"  totals: webhook {t.get('webhook_ok', 0)} ok / {t.get('webhook_errors', 0)} errors; "
          f"chat {t.get('chat_acks', 0)} acks / {t.get('chat_sent', 0)} sent, "
          f"{t.get('chat_errors', 0)} errors, {t.get('chat_ack_missing', 0)} unacked, "
          f"{t.get('visitors_started', 0)} visitors ({t.get('chat_connect_errors', 0)} refused); "
          f"desk {t.get('offers', 0)} offers, {t.get('acks_accept', 0)} accepts, "
          f"{t.get('acks_complete', 0)} completes, {t.get('desk_errors', 0)} errors, "
          f"{t.get('desk_error_conflict', 0)} conflicts, {t.get('desk_disconnects', 0)} drops; "
          f"{t.get('desk_stats', 0)} stats pushes to desks, "
          f"{t.get('desk_stats_bytes', 0) / 1e6:.0f} MB")
    top = ", ".join(f"{n} {v:g}" for n, v in list(s["cpu_seconds_by_thread"].items())[:6])
    print(f"  daemon CPU seconds by thread during the traffic: {top}")
    if s["cpu_pct_by_thread"]:
        for label, x in (("first", s["cpu_pct_by_thread"][0]), ("last", s["cpu_pct_by_thread"][-1])):
            top = ", ".join(f"{n} {v:g}" for n, v in list(x.items())[1:7])
            print(f"  CPU % by thread, {label} sample ({x['elapsed_s']:g} s): {top}")
    lg = s["log"]
    print(f"  daemon log: {lg['lines']} lines, {lg['errors']} errors, {lg['warnings']} warnings "
          f"({lg['path']}); exit code {s['daemon_exit_code']}")
    for line in lg["first_errors"][:5]:
        print(f"    {line[:200]}")
    print(f"  results: {results}/soak.csv, soak.json, soak.svg")


# --- the plot ------------------------------------------------------------------------------------

def nice_ticks(lo, hi, n=5):
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step) * step
    ticks = []
    v = first
    while v <= hi + step * 0.5:
        ticks.append(round(v, 10))
        v += step
    return ticks


def fmt(v):
    return f"{v:g}" if abs(v) >= 1 or v == 0 else f"{v:.2g}"


def svg_plot(samples, summary):
    W, H = 960, 680
    x0, x1 = 80, 860
    panels = [(60, 300), (380, 620)]  # (top, bottom) of each plot area
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>']
    overlay = []  # drawn last, over the series
    m = summary["machine"]
    title = (f"omniroute soak: {summary['minutes']:g} min, {summary['started_utc']}, "
             f"{m['nproc']} x {m['cpu']}")
    out.append(f'<text x="{W / 2}" y="24" text-anchor="middle" font-size="15" '
               f'font-weight="bold">{escape(title)}</text>')
    t_max = max([s["elapsed_s"] for s in samples] + [summary["minutes"] * 60]) / 60
    xt = nice_ticks(0, t_max, 8)
    t_max = xt[-1]

    def X(t_min):
        return x0 + (x1 - x0) * t_min / t_max

    def axes(top, bottom, yl, yr, left_label, right_label):
        out.append(f'<rect x="{x0}" y="{top}" width="{x1 - x0}" height="{bottom - top}" '
                   f'fill="none" stroke="#333"/>')
        for t in xt:
            out.append(f'<line x1="{X(t):.1f}" y1="{top}" x2="{X(t):.1f}" y2="{bottom}" '
                       f'stroke="#eee"/>')
            out.append(f'<text x="{X(t):.1f}" y="{bottom + 16}" text-anchor="middle">{fmt(t)}</text>')
        out.append(f'<text x="{(x0 + x1) / 2}" y="{bottom + 34}" text-anchor="middle">'
                   f'elapsed (min)</text>')
        for ticks, side, label in ((yl, "left", left_label), (yr, "right", right_label)):
            if not ticks:
                continue
            lo, hi = ticks[0], ticks[-1]
            for v in ticks:
                y = bottom - (bottom - top) * (v - lo) / (hi - lo)
                if side == "left":
                    out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}" stroke="#eee"/>')
                    out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{fmt(v)}</text>')
                else:
                    out.append(f'<text x="{x1 + 6}" y="{y + 4:.1f}">{fmt(v)}</text>')
            mid = (top + bottom) / 2
            xl = x0 - 55 if side == "left" else x1 + 55
            out.append(f'<text x="{xl}" y="{mid}" text-anchor="middle" '
                       f'transform="rotate(-90 {xl} {mid})">{escape(label)}</text>')
        w = summary["slopes_since_s"] / 60
        if 0 < w < t_max:
            out.append(f'<line x1="{X(w):.1f}" y1="{top}" x2="{X(w):.1f}" y2="{bottom}" '
                       f'stroke="#999" stroke-dasharray="4 4"/>')
            overlay.append(f'<text x="{X(w) + 4:.1f}" y="{top + 40}" fill="#777" stroke="white" '
                           f'stroke-width="3" paint-order="stroke">end of warm-up</text>')

    def series(values, ticks, top, bottom, color, dash=""):
        lo, hi = ticks[0], ticks[-1]
        seg = []
        segs = [seg]
        for s, v in zip(samples, values):
            if v is None:
                seg = []
                segs.append(seg)
                continue
            y = bottom - (bottom - top) * (v - lo) / (hi - lo)
            seg.append(f"{X(s['elapsed_s'] / 60):.1f},{y:.1f}")
        for sg in segs:
            if len(sg) == 1:
                x, y = sg[0].split(",")
                out.append(f'<circle cx="{x}" cy="{y}" r="2" fill="{color}"/>')
            elif sg:
                d = f' stroke-dasharray="{dash}"' if dash else ""
                out.append(f'<polyline points="{" ".join(sg)}" fill="none" stroke="{color}" '
                           f'stroke-width="1.8"{d}/>')

    def legend(top, entries):
        x = x0 + 10
        for label, color, dash in entries:
            d = f' stroke-dasharray="{dash}"' if dash else ""
            out.append(f'<line x1="{x}" y1="{top + 14}" x2="{x + 24}" y2="{top + 14}" '
                       f'stroke="{color}" stroke-width="2.5"{d}/>')
            out.append(f'<text x="{x + 30}" y="{top + 18}">{escape(label)}</text>')
            x += 40 + 7 * len(label)

    # Panel 1: RSS (MiB, left) and fds / threads (right).
    top, bottom = panels[0]
    rss = [s["rss_kib"] / 1024 for s in samples]
    counts = [s["fds"] for s in samples] + [s["threads"] for s in samples]
    yl = nice_ticks(min(rss, default=0) * 0.9, max(rss, default=1) * 1.12 + 1)
    yr = nice_ticks(0, max(counts, default=1) * 1.15 + 1)
    axes(top, bottom, yl, yr, "RSS (MiB)", "open fds, threads")
    series(rss, yl, top, bottom, "#1f77b4")
    series([s["fds"] for s in samples], yr, top, bottom, "#ff7f0e")
    series([s["threads"] for s in samples], yr, top, bottom, "#2ca02c", "5 3")
    r, f_ = summary["rss_kib"], summary["fds"]
    rs = r["slope_kib_per_min"]
    legend(top, [(f"RSS (slope {f'{rs:.0f}' if rs is not None else '-'} KiB/min)", "#1f77b4", ""),
                 (f"open fds (slope {f_['slope_per_min']}/min)", "#ff7f0e", ""),
                 ("threads", "#2ca02c", "5 3")])
    out.append(f'<text x="{x0}" y="{top - 8}" font-weight="bold">Daemon resources '
               f'(sampled every {SAMPLE_SECONDS} s)</text>')

    # Panel 2: p99 per 10-s window.
    top, bottom = panels[1]
    keys = [("webhook_p99_ms", "webhook POST -> 200", "#9467bd"),
            ("chat_p99_ms", "chat message -> ack", "#17becf"),
            ("offer_p99_ms", "contact -> desk offer", "#d62728")]
    vals = [s[k] for s in samples for k, _, _ in keys if s.get(k) is not None]
    yl = nice_ticks(0, max(vals, default=1) * 1.15)
    axes(top, bottom, yl, None, "p99 latency (ms)", "")
    for k, _, color in keys:
        series([s.get(k) for s in samples], yl, top, bottom, color)
    legend(top, [(label, color, "") for _, label, color in keys])
    out.append(f'<text x="{x0}" y="{top - 8}" font-weight="bold">p99 latency per '
               f'{SAMPLE_SECONDS}-s window</text>')
    out.extend(overlay)
    out.append("</svg>\n")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
