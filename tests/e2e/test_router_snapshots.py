"""Routing state that outlives the broker's retention: `omniroute dev-kafka` (librdkafka's mock,
which keeps only the newest 5 MiB of each partition) in one process, the router in another.
20,000 contacts of one domain (so one partition) go to omni.contacts, in batches of 1,000 while
fewer than 1,500 wait, and four agents work them (this test completes every assignment it sees,
capacity 100 each): the changelog grows far
beyond 5 MiB, so only snapshots can carry the state. The router is kill -9'd twice and restarted.
Afterwards every contact has exactly one assignment (the records are read as they are written, by
a kcat that follows omni.assignments from the start), the contacts waiting at each kill were
assigned after it, and each recovery started from a snapshot and replayed at most about one
snapshot interval of steps."""
import collections
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from omni_testlib import DevKafka, RouterNode, TempDirTest, kcat, wait_for  # noqa: E402

TOTAL = 20000
AGENTS = ["a1", "a2", "a3", "a4"]
SNAPSHOT_STEPS = 2000  # the default interval


def contact(i):
    cid = hashlib.md5(f"snap-{i}".encode()).hexdigest()
    return cid, {
        "schema": "omni.contact.v1", "id": cid, "channel": "email", "provider": "imap",
        "source_id": f"<snap-{i}@example.ru>", "received_at": "2026-12-07T03:37:48.123Z",
        "domain": "acme", "conversation": f"<snap-{i}@example.ru>",
        "customer": {"identities": [{"kind": "email", "value": f"customer{i}@example.ru"}],
                     "display_name": f"Клиент {i}"},
        "to": "support@example.ru", "subject": f"Заказ {i}", "text": "Где мой заказ?",
    }


def agent_event(kind, agent, n, **extra):
    return {"schema": "omni.agent_event.v1", "id": f"{kind}-{agent}-{n}", "type": kind,
            "domain": "acme", "agent_id": agent, "at": "2026-12-07T03:37:48.123Z", **extra}


def produce(bootstrap, topic, records):
    lines = "".join(f"{k}\t{json.dumps(v, ensure_ascii=False)}\n" for k, v in records)
    kcat("-b", bootstrap, "-P", "-t", topic, "-K", "\t", "-X", "partitioner=murmur2_random",
         input=lines, timeout=300)


class Follower:
    """A kcat following omni.assignments from the start into a file: every record, even those the
    mock broker deletes later. new_records() returns what arrived since the last call."""

    def __init__(self, tmpdir, bootstrap):
        self.path = os.path.join(tmpdir, "assignments.jsonl")
        self.out = open(self.path, "w")
        self.proc = subprocess.Popen(
            ["kcat", "-b", bootstrap, "-C", "-u", "-q", "-o", "beginning", "-t", "omni.assignments",
             "-f", "%s\n"], stdout=self.out, stderr=subprocess.DEVNULL)
        self.reader = open(self.path)
        self.partial = ""

    def new_records(self):
        chunk = self.partial + self.reader.read()
        lines = chunk.split("\n")
        self.partial = lines.pop()
        return [json.loads(line) for line in lines if line]

    def close(self):
        self.proc.terminate()
        self.proc.wait()
        self.out.close()
        self.reader.close()


class RouterSnapshots(TempDirTest):
    def test_20000_contacts_in_one_domain_two_kill9_every_contact_assigned_once(self):
        started = time.monotonic()
        k = self.track(DevKafka(self.tmp))
        follow = self.track(Follower(self.tmp, k.bootstrap))
        routers = []

        def start(n):
            r = RouterNode(self.tmp, k.bootstrap, n, email_capacity=100)
            self.addCleanup(r.close)
            routers.append(r)
            r.wait_ready()
            return r

        produce(k.bootstrap, "omni.agent-events",
                [("acme", agent_event("login", a, 0, skills={"support": 5})) for a in AGENTS])
        contacts = [contact(i) for i in range(TOTAL)]
        ids = {cid for cid, _ in contacts}

        assigns = collections.defaultdict(set)  # contact -> assign record ids
        completed = set()
        state = {"completes": 0}

        def work():
            """Reads new decisions; completes every new assignment (the agents' work)."""
            done = []
            for a in follow.new_records():
                if a["type"] != "assign":
                    continue
                assigns[a["contact_id"]].add(a["id"])
                if a["contact_id"] not in completed:
                    completed.add(a["contact_id"])
                    state["completes"] += 1
                    done.append(("acme", agent_event("complete", a["agent_id"], state["completes"],
                                                     contact_id=a["contact_id"],
                                                     disposition="resolved")))
            if done:
                produce(k.bootstrap, "omni.agent-events", done)
            return len(assigns)

        fed = {"n": 0}

        def feed():
            """Contacts arrive in batches of 1,000 while fewer than 1,500 wait: a busy day, not a
            flood (the mock broker's 5 MiB must hold a snapshot of the waiting ones)."""
            while fed["n"] < TOTAL and fed["n"] - len(assigns) < 1500:
                batch = contacts[fed["n"]:fed["n"] + 1000]
                produce(k.bootstrap, "omni.contacts", [("acme", c) for _, c in batch])
                fed["n"] += len(batch)

        def work_until(n, what, timeout=300):
            def step():
                done = work()
                feed()
                return done >= n
            wait_for(step, timeout=timeout, interval=0.5, what=what)

        r = start(1)
        work_until(5000, "5,000 assignments")
        r.kill9()
        waiting_at_first_kill = {cid for cid, _ in contacts[:fed["n"]]} - set(assigns)

        r = start(2)
        work_until(12000, "12,000 assignments after the first restart")
        r.kill9()
        waiting_at_second_kill = {cid for cid, _ in contacts[:fed["n"]]} - set(assigns)

        r = start(3)
        produce(k.bootstrap, "omni.contacts", [("acme", c) for _, c in contacts[:200]])  # duplicates
        try:
            work_until(TOTAL, "every contact assigned", timeout=600)
        except AssertionError:
            tail = [line for x in routers for line in x.logs().splitlines()
                    if " warning " in line or " error " in line or "rebuilt" in line]
            raise AssertionError(f"{len(assigns)} of {TOTAL} assigned; router said:\n" +
                                 "\n".join(tail[-40:]))
        time.sleep(2)
        work()

        self.assertEqual(set(assigns), ids, "contacts lost")
        twice = {cid: n for cid, n in assigns.items() if len(n) != 1}
        self.assertEqual(twice, {}, "contacts assigned more than once")
        self.assertTrue(waiting_at_first_kill and waiting_at_second_kill)
        self.assertTrue(waiting_at_second_kill.issubset(set(assigns)))

        logs = "".join(x.logs() for x in routers)
        self.assertNotIn("the changelog continues at offset", logs)
        replays = [(line, int(re.search(r"(\d+) step\(s\) replayed", line).group(1)))
                   for line in logs.splitlines() if "step(s) replayed" in line]
        restarts = [(line, n) for line, n in replays if "from snapshot" in line]
        self.assertGreaterEqual(len(restarts), 2, "\n".join(line for line, _ in replays))
        for line, steps in replays:
            self.assertLessEqual(steps, SNAPSHOT_STEPS * 3 // 2, line)
        size = os.path.getsize(follow.path)
        self.assertGreater(size, 3 * 5 * 1024 * 1024, "the changelog should far exceed 5 MiB")
        sys.stderr.write(f"\n[router-snapshots] {TOTAL} contacts, {len(AGENTS)} agents, 2 kill -9, "
                         f"all assigned once in {time.monotonic() - started:.1f}s; changelog "
                         f"{size / 1048576:.1f} MiB\n")
        for line, _ in replays:
            if "from snapshot" in line:
                sys.stderr.write("[router-snapshots] " + line.split("] ", 1)[-1] + "\n")


if __name__ == "__main__":
    unittest.main()
