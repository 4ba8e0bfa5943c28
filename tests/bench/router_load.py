#!/usr/bin/env python3
"""Router load benchmark: contacts through Kafka -> router -> omni.assignments on the embedded
cluster (`omniroute serve`, roles [router], kafka.brokers: embedded), against kcat's raw
produce + consume of the same messages in the same run (the ceiling).

  1. ceiling:    kcat produces N contacts to a scratch topic and consumes them back (one pass each)
  2. sustained:  kcat produces N contacts to omni.contacts at once; time until the router has
                 published N assignments (auto-accept channel: one assign per contact)
  3. latency:    a fresh daemon; contacts at a fixed rate (default 2,000/s) for a few seconds;
                 latency = Kafka timestamp of the contact's assign record (router's produce time)
                 - Kafka timestamp of the contact (kcat's produce time); p50 / p99

Goals: sustained >= half of the ceiling; p99 < 20 ms at 2,000/s.
Run by tests/bench/run.sh (`make bench`) as:  router_load.py --build-dir BUILD --results DIR
Alone:  tests/bench/router_load.py --build-dir build/bench [--contacts 10000] [--rate 2000]
"""
import argparse
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_ws import cpu_snapshot  # noqa: E402

PARTITIONS = 6


def murmur2(data):
    """Kafka's murmur2 (the Java client's partitioner), to spread domains evenly."""
    length, m, r = len(data), 0x5bd1e995, 24
    h = (0x9747b28c ^ length) & 0xffffffff
    for i in range(length // 4):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * m) & 0xffffffff
        k ^= k >> r
        k = (k * m) & 0xffffffff
        h = ((h * m) & 0xffffffff) ^ k
    rest, idx = length % 4, length & ~3
    if rest == 3:
        h ^= data[idx + 2] << 16
    if rest >= 2:
        h ^= data[idx + 1] << 8
    if rest >= 1:
        h ^= data[idx]
        h = (h * m) & 0xffffffff
    h ^= h >> 13
    h = (h * m) & 0xffffffff
    h ^= h >> 15
    return h


def domains(per_partition=2):
    """Domain names, `per_partition` in each partition (the embedded cluster keeps only the newest
    5 MiB of a partition, so the load is spread)."""
    out, count, i = [], [0] * PARTITIONS, 0
    while len(out) < per_partition * PARTITIONS:
        name = f"tenant{i}"
        p = (murmur2(name.encode()) & 0x7fffffff) % PARTITIONS
        if count[p] < per_partition:
            count[p] += 1
            out.append(name)
        i += 1
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def contact_line(i, doms, tag):
    d = doms[i % len(doms)]
    cid = hashlib.md5(f"{tag}-{i}".encode()).hexdigest()
    body = {"schema": "omni.contact.v1", "id": cid, "channel": "email", "provider": "imap",
            "source_id": f"<{tag}-{i}@example.ru>", "received_at": "2026-11-23T03:37:48.123Z",
            "domain": d, "conversation": f"<{tag}-{i}@example.ru>",
            "customer": {"identities": [{"kind": "email", "value": f"c{i}@example.ru"}],
                         "display_name": f"Customer {i}"},
            "to": "support@example.ru", "subject": f"Order {i}", "text": "Where is my order?"}
    return f"{d}\t{json.dumps(body)}\n"


class Daemon:
    def __init__(self, binary, tmp, agents_capacity=1000):
        self.tmp = tempfile.mkdtemp(dir=tmp)
        self.admin = free_port()
        cfg = os.path.join(self.tmp, "omniroute.yaml")
        with open(cfg, "w") as f:
            f.write(f"""node:
  id: bench
  roles: [router]
  state_dir: {self.tmp}/state
logging:
  level: warn
kafka:
  brokers: embedded
  partitions: {PARTITIONS}
admin:
  listen: 127.0.0.1:{self.admin}
routing:
  queues:
    support:
      skills: {{support: 1}}
      notify_expected_wait: false
  channels:
    email: {{capacity: {agents_capacity}, auto_accept: true}}
""")
        self.log = open(os.path.join(self.tmp, "daemon.log"), "w")
        self.proc = subprocess.Popen([binary, "serve", "--config", cfg], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                body = json.loads(urllib.request.urlopen(self.url("/readyz"), timeout=2).read())
                if body.get("components", {}).get("router") == "started":
                    self.bootstrap = body["kafka"]["bootstrap"]
                    break
            except Exception:  # noqa: BLE001 - not up yet
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit("daemon did not become ready; see " + self.log.name)
            time.sleep(0.2)

    def url(self, path):
        return f"http://127.0.0.1:{self.admin}{path}"

    def assigned(self):
        text = urllib.request.urlopen(self.url("/metrics"), timeout=5).read().decode()
        for line in text.splitlines():
            if line.startswith('omniroute_router_decisions_total{type="assign"}'):
                return int(float(line.split()[-1]))
        return 0

    def cpu_seconds(self, thread=None):
        """CPU time (user + system) of the daemon, or of its threads named `thread` (the router
        thread is omni-router): a figure that the other load on a shared machine disturbs far
        less than rates do."""
        total, threads = cpu_snapshot(self.proc.pid)
        if thread:
            total = sum(t for name, t in threads.values() if name == thread)
        return total / os.sysconf("SC_CLK_TCK")

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def kcat(*args, input=None, timeout=300):
    return subprocess.run(["kcat", *args], input=input, capture_output=True, text=True,
                          timeout=timeout, check=True).stdout


def login_agents(bootstrap, doms, n_contacts):
    per_domain = n_contacts // len(doms) + 1
    agents = max(1, -(-per_domain // 1000)) + 1
    lines = ""
    for d in doms:
        for a in range(agents):
            ev = {"schema": "omni.agent_event.v1", "id": f"login-{d}-{a}", "type": "login",
                  "domain": d, "agent_id": f"agent{a}", "at": "2026-11-23T03:37:48.123Z",
                  "skills": {"support": 5}, "capacity": {"email": 1000}}
            lines += f"{d}\t{json.dumps(ev)}\n"
    kcat("-b", bootstrap, "-P", "-t", "omni.agent-events", "-K", "\t", "-X",
         "partitioner=murmur2_random", input=lines)


def warm_up(d, doms):
    """One contact per domain, assigned: the router owns its partitions (the group's first
    rebalance takes a few seconds) and has rebuilt them. Returns the number of assigns so far."""
    lines = "".join(contact_line(i, doms, "warm") for i in range(len(doms)))
    kcat("-b", d.bootstrap, "-P", "-t", "omni.contacts", "-K", "\t", "-X",
         "partitioner=murmur2_random", input=lines)
    wait_assigned(d, len(doms), 120)
    return len(doms)


def wait_assigned(d, n, timeout):
    deadline = time.monotonic() + timeout
    while d.assigned() < n:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {d.assigned()} of {n} assigned after {timeout}s")
        time.sleep(0.05)
    return time.monotonic()


def percentile(sorted_values, q):
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--results", default=None)
    ap.add_argument("--contacts", type=int, default=10000)
    ap.add_argument("--rate", type=int, default=2000)
    ap.add_argument("--seconds", type=int, default=5)
    args = ap.parse_args()
    binary = os.path.join(args.build_dir, "daemon", "omniroute")
    results = args.results or tempfile.mkdtemp()
    os.makedirs(results, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="omni-router-bench-")
    doms = domains()
    n = args.contacts
    out = {"contacts": n, "rate": args.rate, "partitions": PARTITIONS, "domains": len(doms)}
    try:
        # ---- 1 + 2: ceiling and sustained rate on the same daemon and cluster ----
        d = Daemon(binary, tmp)
        try:
            login_agents(d.bootstrap, doms, n + len(doms))
            base = warm_up(d, doms)
            lines = "".join(contact_line(i, doms, "ceiling") for i in range(n))
            t0 = time.monotonic()
            kcat("-b", d.bootstrap, "-P", "-t", "omni.outbound", "-K", "\t", "-X",
                 "partitioner=murmur2_random", input=lines)
            t1 = time.monotonic()
            # fetch.wait.max.ms as the router's consumer has it: the embedded (mock) cluster holds
            # an empty fetch for the whole wait, which would add ~0.5 s to kcat's time, not work.
            got = kcat("-b", d.bootstrap, "-C", "-q", "-e", "-o", "beginning", "-t", "omni.outbound",
                       "-X", "fetch.wait.max.ms=10", "-f", "%o\n").count("\n")
            t2 = time.monotonic()
            if got < n:
                print(f"warning: kcat consumed {got} of {n} (embedded cluster retention)",
                      file=sys.stderr)
            out["kcat_produce_per_s"] = n / (t1 - t0)
            out["kcat_consume_per_s"] = got / (t2 - t1)
            out["kcat_raw_per_s"] = n / (t2 - t0)

            lines = "".join(contact_line(i, doms, "sustained") for i in range(n))
            cpu0, router0 = d.cpu_seconds(), d.cpu_seconds("omni-router")
            t0 = time.monotonic()
            kcat("-b", d.bootstrap, "-P", "-t", "omni.contacts", "-K", "\t", "-X",
                 "partitioner=murmur2_random", input=lines)
            t1 = wait_assigned(d, base + n, 600)
            out["router_per_s"] = n / (t1 - t0)
            out["router_thread_cpu_us_per_contact"] = (d.cpu_seconds("omni-router") - router0) / n * 1e6
            out["daemon_cpu_us_per_contact"] = (d.cpu_seconds() - cpu0) / n * 1e6
        finally:
            d.close()

        # ---- 3: latency at a fixed rate on a fresh daemon ----
        total = args.rate * args.seconds
        d = Daemon(binary, tmp)
        try:
            login_agents(d.bootstrap, doms, total + len(doms))
            base = warm_up(d, doms)
            producer = subprocess.Popen(
                ["kcat", "-b", d.bootstrap, "-P", "-t", "omni.contacts", "-K", "\t", "-X",
                 "partitioner=murmur2_random", "-X", "linger.ms=0"],
                stdin=subprocess.PIPE, text=True)
            tick = 0.005
            per_tick = max(1, int(args.rate * tick))
            start = time.monotonic()
            i = 0
            while i < total:
                due = start + (i / args.rate)
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                chunk = "".join(contact_line(j, doms, "latency") for j in range(i, min(total, i + per_tick)))
                producer.stdin.write(chunk)
                producer.stdin.flush()
                i += per_tick
            producer.stdin.close()
            producer.wait(timeout=60)
            out["latency_send_seconds"] = time.monotonic() - start
            wait_assigned(d, base + total, 300)
            sent = {}
            for line in kcat("-b", d.bootstrap, "-C", "-q", "-e", "-o", "beginning", "-t",
                             "omni.contacts", "-f", "%T\t%s\n").splitlines():
                ts, _, body = line.partition("\t")
                c = json.loads(body)
                if c["source_id"].startswith("<latency-"):
                    sent[c["id"]] = int(ts)
            lat = []
            for line in kcat("-b", d.bootstrap, "-C", "-q", "-e", "-o", "beginning", "-t",
                             "omni.assignments", "-f", "%T\t%s\n").splitlines():
                ts, _, body = line.partition("\t")
                a = json.loads(body)
                if a["type"] == "assign" and a["contact_id"] in sent:
                    lat.append(int(ts) - sent[a["contact_id"]])
            lat.sort()
            out["latency_samples"] = len(lat)
            if lat:
                out["latency_p50_ms"] = percentile(lat, 0.50)
                out["latency_p99_ms"] = percentile(lat, 0.99)
                out["latency_max_ms"] = lat[-1]
        finally:
            d.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    with open(os.path.join(results, "router_load.json"), "w") as f:
        json.dump(out, f, indent=2)
    ratio = out["router_per_s"] / out["kcat_raw_per_s"]
    lines = [
        f"kcat raw (produce+consume {n}): {out['kcat_raw_per_s']:.0f}/s "
        f"(produce {out['kcat_produce_per_s']:.0f}/s, consume {out['kcat_consume_per_s']:.0f}/s)",
        f"router sustained: {out['router_per_s']:.0f} contacts/s = {ratio:.2f} x kcat raw "
        f"(goal >= 0.5: {'met' if ratio >= 0.5 else 'MISSED'})",
        f"CPU per contact while sustained: router thread {out['router_thread_cpu_us_per_contact']:.0f} us, "
        f"whole daemon (embedded cluster included) {out['daemon_cpu_us_per_contact']:.0f} us",
    ]
    if "latency_p99_ms" in out:
        lines.append(f"latency at {args.rate}/s ({out['latency_samples']} samples): "
                     f"p50 {out['latency_p50_ms']} ms, p99 {out['latency_p99_ms']} ms, "
                     f"max {out['latency_max_ms']} ms (goal p99 < 20 ms: "
                     f"{'met' if out['latency_p99_ms'] < 20 else 'MISSED'})")
    with open(os.path.join(results, "router_load.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
