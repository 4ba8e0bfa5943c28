#!/usr/bin/env python3
"""Webhook load benchmark: the release `omniroute serve` with a Telegram connector on the embedded
Kafka, against nginx answering `return 200;` on the same machine, both driven by wrk with the same
request (a POST of a real Telegram update, unique update_id per request, secret header).

    tests/bench/webhook_load.py --build-dir build/bench [--results DIR] [--duration 20]
                                [--connections 256] [--threads 2] [--strict]
                                [--cpu] [--no-nginx] [--binary BIN ...] [--rounds N]
                                [--perf PREFIX]

Reports req/s and latency p50/p99 for both, the ratio webhook/nginx, and checks afterwards that
omni.contacts holds one contact per 200 (Kafka high watermarks, then unique source ids). The goal
(issue): webhook >= 0.5 x nginx req/s and p99 < 25 ms at 256 connections. The summary is printed
whether or not the goal is met; the exit status is 0 unless the run itself failed (a tool missing,
a process that would not start, a 200 without a stored contact). --strict also fails on a missed goal.

The daemon runs with `node.roles: [ingest]` (connectors and the public HTTP listener only, a
documented deployment: docs/operations.md "Scale-out"): the issue's workload is ingest (signature
check + mapping + Kafka produce with delivery wait); a router in the same process would consume
the contacts the benchmark produces and compete with ingest for the same cores.

wrk, nginx and the daemon share the machine's cores: the figures are for that setup, not for a
dedicated load generator. Needs: wrk, nginx (Debian packages; deploy/install-deps.sh --bench), kcat, curl.

Comparing two builds on a shared machine: req/s moves with whatever else runs; the daemon's CPU time
per request moves far less. `--cpu` reads the daemon's utime + stime (/proc/PID/stat) just before
and just after wrk and divides by the requests wrk completed, and prints the same per thread
(/proc/PID/task/*/stat, grouped by thread name). `--binary OLD --binary NEW --rounds 3 --no-nginx
--cpu` alternates the binaries (OLD, NEW, OLD, NEW, ...) for a back-to-back comparison.
"""
import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_ws import cpu_snapshot  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
LUA = os.path.join(HERE, "telegram_update.lua")
CONNECTOR = "bench"
SECRET = "bench-secret_0123456789"
PATH = f"/hooks/telegram/{CONNECTOR}"
GOAL_RATIO = 0.5
GOAL_P99_MS = 25.0


def log(msg):
    print(f"[webhook_load] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, what, interval=0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - keep polling until the deadline
            last = e
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def http_get(url, timeout=5):
    out = subprocess.run(["curl", "-sS", "-m", str(timeout), "-o", "-", "-w", "\n%{http_code}", url],
                         capture_output=True, text=True, timeout=timeout + 5)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip())
    body, _, status = out.stdout.rpartition("\n")
    return int(status), body


def kcat(*args, timeout=120):
    out = subprocess.run(["kcat", *args], capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"kcat {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout


class Process:
    """A child process with its output in a file; stopped with SIGTERM (then SIGKILL) by its pid."""

    def __init__(self, name, args, log_path):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=15):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def tail(self, n=4000):
        with open(self.log_path, errors="replace") as f:
            return f.read()[-n:]


def start_daemon(binary, tmp, connections):
    admin, http = free_port(), free_port()
    cfg = os.path.join(tmp, "omniroute.yaml")
    with open(cfg, "w") as f:
        f.write(f"""node:
  id: bench
  state_dir: {tmp}/state
  roles: [ingest]
logging:
  level: info
kafka:
  brokers: embedded
admin:
  listen: 127.0.0.1:{admin}
http:
  listen: 127.0.0.1:{http}
  max_connections: {max(10000, 4 * connections)}
connectors:
  - type: telegram
    name: {CONNECTOR}
    secret_token: {SECRET}
    bot: "@bench_bot"
""")
    d = Process("omniroute", [binary, "serve", "--config", cfg], os.path.join(tmp, "omniroute.log"))

    def ready():
        if not d.alive():
            raise SystemExit(f"omniroute exited with {d.proc.returncode}:\n{d.tail()}")
        status, body = http_get(f"http://127.0.0.1:{admin}/readyz")
        return json.loads(body) if status == 200 else None

    info = wait_for(ready, 60, "omniroute /readyz 200")
    return d, admin, http, info["kafka"]["bootstrap"]


def start_nginx(tmp, port):
    prefix = os.path.join(tmp, "nginx")
    os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""# Generated by tests/bench/webhook_load.py: the cheapest possible HTTP answer, as a yardstick.
daemon off;
master_process on;
worker_processes auto;
user root;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
worker_rlimit_nofile 65536;
events {{ worker_connections 16384; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/client_body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location / {{ return 200; }}
  }}
}}
""")
    n = Process("nginx", ["nginx", "-p", prefix, "-e", f"{prefix}/logs/error.log", "-c", conf],
                os.path.join(tmp, "nginx.out"))

    def up():
        if not n.alive():
            raise SystemExit(f"nginx exited with {n.proc.returncode}:\n{n.tail()}")
        return http_get(f"http://127.0.0.1:{port}/")[0] == 200

    wait_for(up, 20, "nginx answering 200")
    return n


UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def to_ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"wrk latency {text!r}")
    return float(m.group(1)) * UNIT_MS[m.group(2)]


def parse_wrk(out):
    r = {"raw": out}
    m = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    r["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in ([0-9.]+\w+),", out)
    r["requests"] = int(m.group(1)) if m else 0
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", out, re.M)
        r[f"p{pct}_ms"] = to_ms(m.group(1)) if m else None
    m = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", out)
    r["mean_ms"], r["max_ms"] = (to_ms(m.group(1)), to_ms(m.group(3))) if m else (None, None)
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups()))) if m else {}
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"wrk-status: 200=(\d+) other=(\d+)", out)
    r["status_200"], r["status_other"] = (int(m.group(1)), int(m.group(2))) if m else (None, None)
    return r


def run_wrk(url, args, id_base):
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--latency",
           "--timeout", "10s", "-s", LUA, url]
    env = dict(os.environ, OMNI_BENCH_SECRET=SECRET, OMNI_BENCH_ID_BASE=str(id_base))
    log("$ " + " ".join(cmd))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.duration + 60)
    if out.returncode != 0:
        raise SystemExit(f"wrk failed ({out.returncode}): {out.stderr}")
    sys.stderr.write(out.stdout)
    r = parse_wrk(out.stdout)
    r["command"] = " ".join(cmd)
    return r


def partition_count(bootstrap, topic):
    meta = json.loads(kcat("-b", bootstrap, "-L", "-J", "-t", topic, "-m", "10"))
    return len(next(t for t in meta["topics"] if t["topic"] == topic)["partitions"])


def watermarks(bootstrap, topic, which=-1):
    """Sum over partitions of the high (-1) or low (-2, log start) watermark."""
    n = partition_count(bootstrap, topic)
    args = ["-b", bootstrap, "-Q"]
    for p in range(n):
        args += ["-t", f"{topic}:{p}:{which}"]
    out = kcat(*args)
    return sum(int(x) for x in re.findall(r"offset (\d+)", out))


def high_watermarks(bootstrap, topic):
    return watermarks(bootstrap, topic, -1)


def unique_source_ids(bootstrap, topic):
    """(messages, unique source ids) read back from the beginning."""
    proc = subprocess.Popen(["kcat", "-b", bootstrap, "-C", "-q", "-e", "-o", "beginning", "-t", topic,
                             "-f", "%s\n"], stdout=subprocess.PIPE, text=True)
    seen, total = set(), 0
    for line in proc.stdout:
        if line.strip():
            total += 1
            seen.add(json.loads(line)["source_id"])
    proc.wait(timeout=60)
    return total, len(seen)


def clock_ticks():
    return os.sysconf("SC_CLK_TCK")


def cpu_per_request(before, after, requests):
    """Daemon CPU (µs) per request, in all and by thread name (threads of one name summed:
    rdk:broker* are grouped by their full name, the unnamed io threads share the binary's)."""
    ticks = clock_ticks()
    us = lambda t: t / ticks * 1e6 / max(requests, 1)
    by_name = {}
    for tid, (name, t1) in after[1].items():
        t0 = before[1].get(tid, (name, 0))[1]
        by_name[name] = by_name.get(name, 0) + (t1 - t0)
    return {"cpu_s": (after[0] - before[0]) / ticks, "us_per_request": us(after[0] - before[0]),
            "threads_us_per_request": {n: round(us(t), 2) for n, t in
                                       sorted(by_name.items(), key=lambda kv: -kv[1]) if t > 0}}


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass
    busy = subprocess.run(["pgrep", "-c", "cc1plus"], capture_output=True, text=True).stdout.strip() or "0"
    return {"cpus": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
            "load_avg_at_start": os.getloadavg(), "compile_jobs_at_start": int(busy)}


def fmt(v, spec=".2f"):
    return "n/a" if v is None else format(v, spec)


def measure_webhook(binary, args, tmp):
    """One daemon from `binary`: wrk against the webhook, then the contacts check. Returns the wrk
    figures with "contacts" (and "cpu" with --cpu) added."""
    run_dir = tempfile.mkdtemp(prefix="daemon-", dir=tmp)
    daemon = None
    try:
        daemon, admin, http, bootstrap = start_daemon(binary, run_dir, args.connections)
        log(f"{binary}: omniroute on 127.0.0.1:{http} (admin {admin}), embedded Kafka at {bootstrap}")
        before = high_watermarks(bootstrap, "omni.contacts")
        cpu_before = cpu_snapshot(daemon.proc.pid) if args.cpu else None
        perf = None
        if args.perf:  # the daemon's profile over the wrk run (a sampler costs a little CPU too)
            out = os.path.abspath(f"{args.perf}.{len(os.listdir(tmp))}")
            perf = subprocess.Popen(["perf", "record", "-q", "-F", "499", "-g", "-p", str(daemon.proc.pid),
                                     "-o", out, "--", "sleep", str(args.duration)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            log(f"perf record -g of the daemon into {out}")
        w = run_wrk(f"http://127.0.0.1:{http}{PATH}", args, 1_000_000_000)
        if perf is not None:
            perf.wait(timeout=60)
        if not daemon.alive():
            raise SystemExit(f"omniroute died under load:\n{daemon.tail()}")
        if args.cpu:
            w["cpu"] = cpu_per_request(cpu_before, cpu_snapshot(daemon.proc.pid), w["requests"])
        w["binary"] = binary
        # Requests still in flight when wrk stopped may be stored after it stopped listening: wait
        # until the watermark is stable before counting.
        last = [None]

        def settled():
            now = high_watermarks(bootstrap, "omni.contacts")
            done, last[0] = now == last[0], now
            return done

        wait_for(settled, 30, "omni.contacts watermark to settle", interval=0.5)
        stored = last[0] - before
        # The embedded (librdkafka mock) cluster trims each partition's log to a few MB: only the
        # newest contacts can be read back; the watermarks still count every one stored.
        retained = last[0] - watermarks(bootstrap, "omni.contacts", -2)
        total, unique = unique_source_ids(bootstrap, "omni.contacts")
        status, metrics = http_get(f"http://127.0.0.1:{admin}/metrics")
        w["daemon_metrics"] = {
            l.split(" ")[0]: float(l.split(" ")[1]) for l in metrics.splitlines()
            if l.startswith(("omniroute_webhook_requests_total", "omniroute_http_responses_total",
                             "omniroute_http_timeouts_total", "omniroute_http_connections_rejected_total"))}
        ok = w["status_200"]
        c = {"stored": stored, "retained_by_broker": retained, "messages_read_back": total,
             "unique_source_ids": unique, "responses_200": ok, "in_flight_bound": args.connections}
        # Every 200 must be a stored contact (ack after delivery). Requests wrk abandoned at the end
        # of the run can be stored without wrk reading their 200, so stored may exceed the 200s by at
        # most the number of open connections; duplicates would show as messages > unique ids.
        c["check_passed"] = (ok is not None and stored >= ok and stored - ok <= args.connections
                             and unique == total == retained)
        w["contacts"] = c
        w["daemon_exit"] = daemon.stop()
        daemon = None
        return w
    finally:
        if daemon is not None:
            daemon.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", default="build/bench")
    ap.add_argument("--results", help="directory for webhook_load.json/.txt (default BUILD_DIR/results)")
    ap.add_argument("--duration", type=int, default=int(os.environ.get("OMNI_BENCH_DURATION", "20")))
    ap.add_argument("--connections", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--strict", action="store_true", help="exit 1 when the goal is missed")
    ap.add_argument("--binary", action="append",
                    help="daemon binary (default BUILD_DIR/daemon/omniroute); repeat to compare "
                         "binaries back to back")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run nginx (unless --no-nginx) and every --binary this many times, alternated")
    ap.add_argument("--cpu", action="store_true",
                    help="report the daemon's CPU time per request, in all and per thread")
    ap.add_argument("--no-nginx", action="store_true", help="skip the nginx yardstick")
    ap.add_argument("--perf", metavar="PREFIX",
                    help="perf record -g the daemon during wrk into PREFIX.N (N: the run's number)")
    args = ap.parse_args()

    binaries = args.binary or [os.path.join(args.build_dir, "daemon", "omniroute")]
    results = args.results or os.path.join(args.build_dir, "results")
    missing = [t for t in ("wrk", "nginx", "kcat", "curl") if not shutil.which(t)]
    if missing:
        raise SystemExit(f"missing {' '.join(missing)}: run deploy/install-deps.sh --bench")
    for binary in binaries:
        if not os.access(binary, os.X_OK):
            raise SystemExit(f"{binary} not found: build the bench preset first (make bench)")
    os.makedirs(results, exist_ok=True)
    try:  # wrk's 256 sockets, nginx's and the daemon's (children inherit the limit)
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ImportError, ValueError, OSError):
        pass

    env = machine()
    log(f"machine: {env['cpus']} CPU(s) {env['cpu_model']}; wrk, nginx and omniroute share them; "
        f"compile jobs running at start: {env['compile_jobs_at_start']}")
    tmp = tempfile.mkdtemp(prefix="omni-bench-")
    report = {"benchmark": "webhook_load", "machine": env,
              "settings": {"duration_s": args.duration, "connections": args.connections,
                           "threads": args.threads, "request": "POST Telegram message update, ~450 B, "
                           "unique update_id, secret header (same request to both servers)"},
              "goal": {"ratio_min": GOAL_RATIO, "p99_ms_max": GOAL_P99_MS}, "runs": []}
    try:
        for rnd in range(args.rounds):
            nginx_run = None
            if not args.no_nginx:
                utc, load = time.strftime("%H:%M:%S", time.gmtime()), os.getloadavg()[0]
                nginx = None
                try:
                    nginx_port = free_port()
                    nginx = start_nginx(tmp, nginx_port)
                    log(f"nginx on 127.0.0.1:{nginx_port}")
                    nginx_run = run_wrk(f"http://127.0.0.1:{nginx_port}{PATH}", args, 1_000_000_000)
                finally:
                    if nginx is not None:
                        nginx.stop()
                nginx_run.update(name="nginx", round=rnd, utc=utc, load_avg=load)
                report["runs"].append(nginx_run)
            for binary in binaries:
                utc, load = time.strftime("%H:%M:%S", time.gmtime()), os.getloadavg()[0]
                w = measure_webhook(binary, args, tmp)
                w.update(name="webhook", round=rnd, utc=utc, load_avg=load)
                if nginx_run and nginx_run["rps"]:
                    w["ratio"] = w["rps"] / nginx_run["rps"]
                report["runs"].append(w)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    webhooks = [r for r in report["runs"] if r["name"] == "webhook"]
    # The last round's figures under the keys a single run always had.
    n = next((r for r in reversed(report["runs"]) if r["name"] == "nginx"), None)
    w = webhooks[-1]
    report["webhook"], report["contacts"] = w, w["contacts"]
    if n:
        report["nginx"] = n
    ratio = w.get("ratio")
    report["ratio"] = ratio
    goal_met = ratio is not None and ratio >= GOAL_RATIO and (w["p99_ms"] or 1e9) < GOAL_P99_MS
    report["goal_met"] = goal_met
    contacts_ok = all(r["contacts"]["check_passed"] for r in webhooks)

    lines = [
        "webhook load benchmark (wrk -t{threads} -c{connections} -d{duration}s --latency, same POST to both)".format(
            **vars(args)),
        f"machine: {env['cpus']} CPU(s), {env['cpu_model']}; wrk + server share them "
        f"(compile jobs at start: {env['compile_jobs_at_start']}, load avg {env['load_avg_at_start'][0]:.2f})",
        f"{'':10}{'UTC':>10}{'load':>6}{'req/s':>10}{'ratio':>7}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}"
        f"{'max ms':>8}{'non-2xx':>8}{'sockerr':>8}{'µs/req':>8}  binary",
    ]
    for r in report["runs"]:
        errs = sum(r["socket_errors"].values()) if r["socket_errors"] else 0
        cpu = r.get("cpu", {}).get("us_per_request")
        lines.append(f"{r['name']:10}{r['utc']:>10}{r['load_avg']:>6.2f}{r['rps']:>10.0f}"
                     f"{fmt(r.get('ratio'), '.3f'):>7}{fmt(r['p50_ms']):>8}{fmt(r['p90_ms']):>8}"
                     f"{fmt(r['p99_ms']):>8}{fmt(r['max_ms']):>8}{r['non_2xx']:>8}{errs:>8}"
                     f"{fmt(cpu, '.1f'):>8}  {r.get('binary', '')}")
    if args.cpu:
        lines.append("daemon CPU per request by thread name (µs):")
        for r in webhooks:
            threads = r["cpu"]["threads_us_per_request"]
            lines.append(f"  {r['binary']} @{r['utc']}: " +
                         ", ".join(f"{k} {v:.1f}" for k, v in list(threads.items())[:8]))
    if ratio is not None:
        lines.append(
            f"ratio webhook/nginx: {ratio:.3f} (goal >= {GOAL_RATIO}); webhook p99 {fmt(w['p99_ms'])} ms "
            f"(goal < {GOAL_P99_MS:g} ms) -> goal {'MET' if goal_met else 'MISSED'}")
    for r in webhooks:
        c, ok = r["contacts"], r["contacts"]["responses_200"]
        lines.append(
            f"contacts: {c['stored']} stored on omni.contacts (high watermarks), {ok} responses 200 "
            f"(+{c['stored'] - (ok or 0)} stored after wrk stopped reading) -> "
            f"{'OK' if c['check_passed'] else 'MISMATCH'}; read back the {c['retained_by_broker']} the "
            f"embedded broker retains: {c['messages_read_back']} messages, {c['unique_source_ids']} "
            f"unique source ids")
    summary = "\n".join(lines)
    print(summary)
    with open(os.path.join(results, "webhook_load.json"), "w") as f:
        json.dump(report, f, indent=2)
    with open(os.path.join(results, "webhook_load.txt"), "w") as f:
        f.write(summary + "\n")
        for r in report["runs"]:
            f.write(f"\n--- {r['name']} {r.get('binary', '')} ---\n{r['command']}\n{r['raw']}")
    if not contacts_ok:
        return 1
    return 1 if args.strict and not goal_met else 0


if __name__ == "__main__":
    sys.exit(main())
