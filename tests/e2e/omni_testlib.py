"""Shared helpers for omniroute's end-to-end tests: start the real binary, wait on conditions with
deadlines (no fixed sleeps), talk to it with real clients (curl, kcat)."""
import json
import os
import re
import resource
import signal
import socket
import subprocess
import tempfile
import time
import unittest

BIN = os.environ.get("OMNIROUTE_BIN", "build/dev/daemon/omniroute")
SOURCE_DIR = os.environ.get("OMNI_SOURCE_DIR", ".")


def requires(present, why):
    """unittest.skipUnless for a peer the project installs itself (deploy/install-deps.sh --test).
    A developer without it gets a skip; under CI (CI=true, as `.ci/run` runs) a missing peer fails
    the test class instead: a skipped test would be counted as passed by ctest."""
    if present:
        return lambda obj: obj
    if not os.environ.get("CI"):
        return unittest.skip(why)

    def failing(cls):
        def setUpClass(c):
            raise AssertionError(f"{why} (CI=true: a missing peer fails, it is not skipped)")
        cls.setUpClass = classmethod(setUpClass)
        return cls
    return failing


_handed_out = set()


def free_port():
    """A port free now and never handed out before in this process: two calls in a row can get
    the same ephemeral port back (a daemon's public and admin listener then collide)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def wait_for(predicate, timeout=20.0, interval=0.05, what="condition"):
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
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def curl(url, *extra, timeout=10):
    """Returns (status, body) using the real curl."""
    out = subprocess.run(["curl", "-sS", "-m", str(timeout), "-o", "-", "-w", "\n%{http_code}", *extra, url],
                         capture_output=True, text=True, timeout=timeout + 5)
    if out.returncode != 0:
        raise RuntimeError(f"curl {url}: {out.stderr.strip()}")
    body, _, status = out.stdout.rpartition("\n")
    return int(status), body


def kcat(*args, input=None, timeout=30):
    out = subprocess.run(["kcat", *args], input=input, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"kcat {' '.join(args)} failed: {out.stderr.strip()}")
    return out.stdout


class Daemon:
    """One `omniroute serve` process on a generated config with free ports."""

    def __init__(self, tmpdir, brokers="embedded", extra_yaml="", http_yaml="", config=None,
                 name=None, kafka_yaml=""):
        """`http_yaml`: extra keys of the `http:` section, one per line ("read_timeout: 2s");
        `extra_yaml`: top-level sections appended to the config (e.g. `connectors:`);
        `config`: instead, the whole file, from a function of (admin port, http port);
        `name`: the config file's name without .yaml (default omniroute-<admin port>);
        `kafka_yaml`: extra keys of the `kafka:` section, like `http_yaml`."""
        self.admin_port = free_port()
        self.http_port = free_port()
        self.config_path = os.path.join(tmpdir, f"{name or f'omniroute-{self.admin_port}'}.yaml")
        http_keys = "".join(f"  {line.strip()}\n" for line in http_yaml.splitlines() if line.strip())
        kafka_keys = "".join(f"  {line.strip()}\n" for line in kafka_yaml.splitlines() if line.strip())
        with open(self.config_path, "w") as f:
            f.write(config(self.admin_port, self.http_port) if config else f"""node:
  id: e2e-{self.admin_port}
  state_dir: {tmpdir}/state
logging:
  level: debug
kafka:
  brokers: {brokers}
  partitions: 3
{kafka_keys}admin:
  listen: 127.0.0.1:{self.admin_port}
http:
  listen: 127.0.0.1:{self.http_port}
{http_keys}{extra_yaml}""")
        self.log_path = self.config_path + ".log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([BIN, "serve", "--config", self.config_path],
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def url(self, path):
        return f"http://127.0.0.1:{self.admin_port}{path}"

    def wait_ready(self, timeout=30):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{self.logs()}")
            status, body = curl(self.url("/readyz"))
            return json.loads(body) if status == 200 else None
        return wait_for(ready, timeout, what="/readyz 200")

    def metric(self, name, **labels):
        """The value of one sample from /metrics (0.0 when the series is absent)."""
        return metric_value(curl(self.url("/metrics"))[1], name, **labels)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Sends `sig`; returns (exit code, seconds it took)."""
        start = time.monotonic()
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        return code, time.monotonic() - start

    def logs(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class RouterNode(Daemon):
    """`omniroute serve` with only the router role against an external broker: one queue
    `support` (skill support >= 1, no expected-wait notices) and email auto-accepted up to
    `email_capacity` per agent; `routing_yaml`: more keys of `routing:` (indented two spaces).
    Ready only with the router started."""

    def __init__(self, tmpdir, bootstrap, n, email_capacity, routing_yaml=""):
        super().__init__(tmpdir, name=f"router-{n}", config=lambda admin, _http: f"""node:
  id: router-e2e
  roles: [router]
  state_dir: {tmpdir}/state
logging:
  level: info
kafka:
  brokers: {bootstrap}
  partitions: 3
admin:
  listen: 127.0.0.1:{admin}
routing:
  queues:
    support:
      skills: {{support: 1}}
      notify_expected_wait: false
  channels:
    email: {{capacity: {email_capacity}, auto_accept: true}}
{routing_yaml}""")

    def wait_ready(self, timeout=120):
        body = super().wait_ready(timeout)
        if body["components"].get("router") != "started":
            raise AssertionError(f"ready without a started router: {body}")
        return body

    def kill9(self):
        self.stop(signal.SIGKILL)


def metric_value(text, name, **labels):
    """Finds `name{labels...} value` in a Prometheus text exposition; every given label must match."""
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    return 0.0


def topic_messages(bootstrap, topic, fmt="%s\n", timeout=30):
    """Every message of `topic` from the beginning to the current end, formatted by kcat's -f."""
    return kcat("-b", bootstrap, "-C", "-q", "-e", "-o", "beginning", "-t", topic, "-f", fmt,
                timeout=timeout)


def browser_result(node, timeout):
    """Waits (up to `timeout` s, then kills it) for a browser driver (desk_browser.mjs, ...: a node
    process printing "RESULT <json>" or "ERROR <message>"). Returns (the RESULT's JSON or None, the
    RESULT/ERROR line as printed, the driver's stderr)."""
    try:
        out, err = node.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        node.kill()
        out, err = node.communicate()
    line = next((l for l in out.splitlines() if l.startswith(("RESULT ", "ERROR "))), "")
    return (json.loads(line[len("RESULT "):]) if line.startswith("RESULT ") else None), line, err


def artifacts_dir():
    """Where tests keep artifacts (browser screenshots): $OMNI_ARTIFACTS_DIR, default artifacts/ at
    the repository root (gitignored)."""
    d = os.environ.get("OMNI_ARTIFACTS_DIR") or os.path.join(os.path.abspath(SOURCE_DIR), "artifacts")
    os.makedirs(d, exist_ok=True)
    return d


def raise_nofile(at_least):
    """Raises this process's RLIMIT_NOFILE soft limit (inherited by children it starts) to
    `at_least`, or as far as the hard limit allows; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = at_least if hard == resource.RLIM_INFINITY else min(at_least, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        soft = want
    return soft


class DevKafka:
    """`omniroute dev-kafka` in its own process."""

    def __init__(self, tmpdir, port=None, brokers=1, admin_port=None):
        args = [BIN, "dev-kafka", "--partitions", "3", "--brokers", str(brokers)]
        if port:
            args += ["--port", str(port)]
        if admin_port:
            args += ["--admin-port", str(admin_port)]
        self.admin_port = admin_port
        self.log_path = os.path.join(tmpdir, f"dev-kafka-{time.monotonic_ns()}.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("bootstrap.servers="):
            raise AssertionError(f"dev-kafka said {line!r}")
        self.bootstrap = line.split("=", 1)[1]

    def fault(self, path):
        """POSTs to the fault-injection interface (needs admin_port); raises unless 200."""
        status, body = curl(f"http://127.0.0.1:{self.admin_port}{path}", "-X", "POST")
        if status != 200:
            raise AssertionError(f"dev-kafka {path}: {status} {body}")

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.log.close()


class TempDirTest(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="omni-e2e-")
        self.addCleanup(tmp.cleanup)  # cleanups run last-in first-out: processes stop first
        self.tmp = tmp.name

    def track(self, obj):
        self.addCleanup(obj.close)
        return obj
