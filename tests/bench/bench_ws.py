"""Shared by the load benchmarks: a process's CPU time in all and per thread name (also
router_load.py and webhook_load.py); for the WebSocket ones (desk_load.py, webchat_load.py) free
ports, a process's RSS, starting `omniroute serve` on a generated config, and a minimal RFC 6455 client on asyncio
(text frames, masking, ping/pong), so nothing beyond Python is needed to hold thousands of sockets."""
import asyncio
import base64
import json
import os
import resource
import signal
import socket
import struct
import subprocess
import time
import urllib.request


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


def stat_cpu_ticks(path):
    """utime + stime (clock ticks) from a /proc stat file; the name field may hold spaces."""
    fields = open(path).read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def cpu_snapshot(pid):
    """The process's CPU ticks (every thread, ended ones included) and {tid: (name, ticks)} of
    its live threads. Divide by os.sysconf("SC_CLK_TCK") for seconds."""
    total = stat_cpu_ticks(f"/proc/{pid}/stat")
    threads = {}
    task_dir = f"/proc/{pid}/task"
    for tid in os.listdir(task_dir):
        try:
            name = open(f"{task_dir}/{tid}/comm").read().strip()
            threads[tid] = (name, stat_cpu_ticks(f"{task_dir}/{tid}/stat"))
        except OSError:  # the thread ended meanwhile
            continue
    return total, threads


def raise_nofile(at_least):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = at_least if hard == resource.RLIM_INFINITY else min(hard, at_least)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return max(soft, want)


class Omniroute:
    """`omniroute serve` on `body` (YAML sections after node/logging/kafka/admin/http) with free
    ports; `http_extra` are more keys of the http section. Logs to results/<name>.log."""

    def __init__(self, binary, tmp, results, name, body, http_extra="", roles=None):
        self.admin, self.http = free_port(), free_port()
        cfg = os.path.join(tmp, f"{name}.yaml")
        with open(cfg, "w") as f:
            f.write(f"""node:
  id: {name}
{f"  roles: [{', '.join(roles)}]" + chr(10) if roles else ""}  state_dir: {tmp}/state
logging:
  level: warn
kafka:
  brokers: embedded
  partitions: 3
admin:
  listen: 127.0.0.1:{self.admin}
http:
  listen: 127.0.0.1:{self.http}
{http_extra}{body}""")
        self.log = open(os.path.join(results, f"{name}.log"), "w")
        self.proc = subprocess.Popen([binary, "serve", "--config", cfg], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.bootstrap = None
        for _ in range(600):
            if self.proc.poll() is not None:
                raise SystemExit(f"omniroute exited with {self.proc.returncode}; see results/{name}.log")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/readyz", timeout=2) as r:
                    self.bootstrap = json.load(r)["kafka"]["bootstrap"]
                    break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.1)
        if not self.bootstrap:
            self.close()
            raise SystemExit("omniroute did not become ready")

    def close(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


class RawWebSocket:
    async def connect(self, port, path, headers=""):
        """Opens the socket and completes the upgrade; `headers` are extra "Name: value\\r\\n" lines."""
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        self.writer.write((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"{headers}\r\n").encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"upgrade refused: {head[:80]!r}")

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
                raise ConnectionError("closed by the server")
            elif op == 0x1:
                return payload.decode()


async def connect_all(sockets, connect, concurrency=100):
    """Runs `connect(s)` for every socket, `concurrency` at a time, retrying each up to 5 times."""
    sem = asyncio.Semaphore(concurrency)

    async def one(s):
        async with sem:
            for attempt in range(5):
                try:
                    await connect(s)
                    return
                except (OSError, RuntimeError):
                    if attempt == 4:
                        raise
                    await asyncio.sleep(0.2 * (attempt + 1))
    await asyncio.gather(*(one(s) for s in sockets))
