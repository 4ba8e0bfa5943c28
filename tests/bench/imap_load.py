#!/usr/bin/env python3
"""Email ingest benchmark: messages/s the daemon's imap connector takes from a real Dovecot
(fetch + MIME parse + produce to the embedded Kafka + resume state + move), against Python's
imaplib fetching the same messages (fetch + email.message_from_bytes) in the same run.

  1. 1,000 mixed messages (KOI8-R, windows-1251 ~1 KiB, HTML, plain ~23 KiB; dovecot_harness.
     sample_message) are appended to a staging folder.
  2. reference: imaplib logs in, UID FETCH 1:* (BODY.PEEK[]) on the staging folder and parses each
     with the standard library's email package.
  3. daemon: `omniroute serve` with the connector idling on an empty INBOX; one UID MOVE puts all
     1,000 in INBOX at once; the clock runs from the MOVE to the resume state reaching the last UID
     (every contact acknowledged by Kafka) and the processed folder holding all of them.

Run by tests/bench/run.sh (`make bench`) as:  imap_load.py --build-dir BUILD --results DIR
Alone:  tests/bench/imap_load.py --build-dir build/bench [--messages 1000]
"""
import argparse
import email
import email.policy
import imaplib
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--results", default=None)
    ap.add_argument("--messages", type=int, default=1000)
    args = ap.parse_args()
    os.environ["OMNIROUTE_BIN"] = os.path.join(os.path.abspath(args.build_dir), "daemon", "omniroute")
    from dovecot_harness import Dovecot, login, sample_message  # noqa: E402
    from omni_testlib import Daemon, wait_for  # noqa: E402

    results = args.results or tempfile.mkdtemp()
    os.makedirs(results, exist_ok=True)
    n = args.messages
    out = {"messages": n}
    with tempfile.TemporaryDirectory(prefix="omni-imap-bench-") as tmp:
        with Dovecot(os.path.join(tmp, "dovecot")) as dc:
            msgs = [sample_message(i)[0] for i in range(n)]
            out["bytes"] = sum(len(m) for m in msgs)
            dc.append("Staging", *msgs)

            # ---- reference: imaplib fetch + parse ----
            t0 = time.monotonic()
            c = login(dc.imap_port)
            c.select("Staging", readonly=True)
            typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[])")
            parsed = 0
            for item in data:
                if isinstance(item, tuple):
                    msg = email.message_from_bytes(item[1], policy=email.policy.default)
                    body = msg.get_body(preferencelist=("plain", "html"))
                    if body is not None:
                        body.get_content()
                    parsed += 1
            t1 = time.monotonic()
            c.logout()
            if parsed != n:
                raise SystemExit(f"imaplib parsed {parsed} of {n}")
            out["imaplib_per_s"] = n / (t1 - t0)

            # ---- the daemon ----
            yaml = f"""connectors:
  - type: imap
    name: bench
    server: 127.0.0.1:{dc.imap_port}
    tls: starttls
    ca_file: {dc.cert}
    username: {dc.user}
    password: {dc.password}
    processed_folder: Routed
"""
            d = Daemon(tmp, extra_yaml=yaml)
            try:
                d.wait_ready()
                state = os.path.join(tmp, "state", "bench", "mailbox-INBOX.json")
                wait_for(lambda: "selected (UIDVALIDITY" in d.logs(), timeout=30,
                         what="the connector idling on INBOX")

                def last_uid():
                    try:
                        with open(state) as f:
                            return json.load(f)["last_uid"]
                    except (OSError, ValueError):
                        return 0

                mover = login(dc.imap_port)
                mover.select("Staging")
                t0 = time.monotonic()
                typ, _ = mover.uid("MOVE", "1:*", "INBOX")
                if typ != "OK":
                    raise SystemExit("MOVE into INBOX failed")
                wait_for(lambda: last_uid() >= n, timeout=600, interval=0.01,
                         what="every message acknowledged")
                t1 = time.monotonic()
                wait_for(lambda: len(dc.uids("Routed")) == n, timeout=120,
                         what="every message moved")
                t2 = time.monotonic()
                mover.logout()
                out["daemon_per_s"] = n / (t1 - t0)
                out["daemon_with_move_per_s"] = n / (t2 - t0)
                out["fetched"] = d.metric("omniroute_imap_messages_fetched_total", connector="bench")
                out["routed"] = d.metric("omniroute_imap_messages_routed_total", connector="bench")
                out["parse_failures"] = d.metric("omniroute_imap_parse_failures_total",
                                                 connector="bench")
            finally:
                d.close()

    with open(os.path.join(results, "imap_load.json"), "w") as f:
        json.dump(out, f, indent=2)
    ratio = out["daemon_per_s"] / out["imaplib_per_s"]
    lines = [
        f"imaplib fetch+parse ({n} msgs, {out['bytes'] / 1e6:.1f} MB): "
        f"{out['imaplib_per_s']:.0f} msgs/s",
        f"omniroute imap fetch+parse+produce: {out['daemon_per_s']:.0f} msgs/s "
        f"({ratio:.2f} x imaplib); with the moves done: {out['daemon_with_move_per_s']:.0f} msgs/s; "
        f"routed {out['routed']:.0f}, parse failures {out['parse_failures']:.0f}",
    ]
    with open(os.path.join(results, "imap_load.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
