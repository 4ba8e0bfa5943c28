"""The daemon speaks systemd's notify protocol: READY=1 with STATUS=, WATCHDOG=1 pings while its
loops run, RELOADING=1 then READY=1 around a SIGHUP reload, STOPPING=1 on SIGTERM. A test socket
stands in for systemd (NOTIFY_SOCKET), and WATCHDOG_USEC asks for the watchdog."""
import os
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from omni_testlib import BIN, TempDirTest, free_port, wait_for  # noqa: E402


class SystemdNotify(TempDirTest):
    def test_ready_status_watchdog_reload_and_stop(self):
        sock_path = os.path.join(self.tmp, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        sock.settimeout(0.2)
        self.addCleanup(sock.close)
        admin = free_port()
        cfg = os.path.join(self.tmp, "omniroute.yaml")
        with open(cfg, "w") as f:
            f.write(f"node:\n  state_dir: {self.tmp}/state\n  roles: [router]\n"
                    f"admin:\n  listen: 127.0.0.1:{admin}\n"
                    f"http:\n  listen: 127.0.0.1:{free_port()}\nkafka:\n  partitions: 2\n")
        env = dict(os.environ, NOTIFY_SOCKET=sock_path, WATCHDOG_USEC="1000000")
        env.pop("WATCHDOG_PID", None)
        log = open(os.path.join(self.tmp, "daemon.log"), "w")
        self.addCleanup(log.close)
        proc = subprocess.Popen([BIN, "serve", "--config", cfg], env=env, stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: (proc.poll() is None and proc.kill(), proc.wait()))
        messages = []

        def received(predicate, timeout=30, what="notification"):
            def check():
                try:
                    while True:
                        messages.append(sock.recv(4096).decode())
                except socket.timeout:
                    pass
                return any(predicate(m) for m in messages)
            wait_for(check, timeout, interval=0.01, what=what)

        received(lambda m: "READY=1" in m and "STATUS=" in m, what="READY=1 with STATUS=")
        messages.clear()
        received(lambda m: m == "WATCHDOG=1", what="WATCHDOG=1")
        pings = sum(m == "WATCHDOG=1" for m in messages)
        time.sleep(1.5)
        received(lambda m: m == "WATCHDOG=1")
        self.assertGreater(sum(m == "WATCHDOG=1" for m in messages), pings, "pings keep coming")

        messages.clear()
        proc.send_signal(signal.SIGHUP)
        received(lambda m: "READY=1" in m, what="READY=1 after reload")
        reloading = [i for i, m in enumerate(messages) if "RELOADING=1" in m]
        ready = [i for i, m in enumerate(messages) if "READY=1" in m]
        self.assertTrue(reloading, messages)
        self.assertLess(reloading[0], ready[-1])

        messages.clear()
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=30), 0)
        received(lambda m: "STOPPING=1" in m, timeout=2, what="STOPPING=1")


if __name__ == "__main__":
    unittest.main()
