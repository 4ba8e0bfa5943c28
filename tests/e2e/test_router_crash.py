"""Router crash recovery end to end: `omniroute dev-kafka` in one process, the router
(`omniroute serve` with roles [router]) in another. Agents log in through omni.agent-events, 5,000
contacts go to omni.contacts (kcat, murmur2 like our producer) while the router is kill -9'd twice
and restarted. Afterwards every contact has exactly one assignment in omni.assignments: none lost,
none assigned twice (records deduplicated by id, as every consumer of the topic does), and every
recovery started from a snapshot (routing.snapshot.every_steps: 500) replayed at most about one
snapshot interval of steps."""
import collections
import hashlib
import json
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from omni_testlib import DevKafka, RouterNode, TempDirTest, kcat, wait_for  # noqa: E402

# Two domains per partition of 3 (murmur2): the embedded cluster keeps only the newest 5 MiB of a
# partition, so the changelog of 5,000 contacts must be spread to stay whole.
DOMAINS = ["acme", "initech", "globex", "wayne", "stark", "wonka"]
AGENTS = ["a1", "a2", "a3"]
TOTAL = 5000
SNAPSHOT_STEPS = 500  # a recovery replays about this many steps at most, not the whole changelog


def contact(i):
    domain = DOMAINS[i % len(DOMAINS)]
    cid = hashlib.md5(f"crash-{i}".encode()).hexdigest()
    return cid, domain, {
        "schema": "omni.contact.v1", "id": cid, "channel": "email", "provider": "imap",
        "source_id": f"<crash-{i}@example.ru>", "received_at": "2026-11-23T03:37:48.123Z",
        "domain": domain, "conversation": f"<crash-{i}@example.ru>",
        "customer": {"identities": [{"kind": "email", "value": f"customer{i}@example.ru"}],
                     "display_name": f"Customer {i}"},
        "to": "support@example.ru", "subject": f"Order {i}", "text": "Where is my order?",
    }


def agent_login(domain, agent):
    return {"schema": "omni.agent_event.v1", "id": f"login-{domain}-{agent}", "type": "login",
            "domain": domain, "agent_id": agent, "at": "2026-11-23T03:37:48.123Z",
            "skills": {"support": 5}, "capacity": {"email": 1000}}


def start_router(test, bootstrap, n):
    r = RouterNode(test.tmp, bootstrap, n, email_capacity=1000,
                   routing_yaml=f"  snapshot: {{every_steps: {SNAPSHOT_STEPS}}}\n")
    test.addCleanup(r.close)
    r.wait_ready(60)
    return r


def produce(bootstrap, topic, records):
    """records: (key, dict) pairs, produced by kcat with the Java client's partitioner."""
    lines = "".join(f"{k}\t{json.dumps(v)}\n" for k, v in records)
    kcat("-b", bootstrap, "-P", "-t", topic, "-K", "\t", "-X", "partitioner=murmur2_random",
         input=lines, timeout=120)


def assignments(bootstrap):
    """Decision records of omni.assignments, deduplicated by id (markers left out)."""
    out = kcat("-b", bootstrap, "-C", "-q", "-e", "-o", "beginning", "-t", "omni.assignments",
               "-f", "%s\n", timeout=120)
    seen = {}
    for line in out.splitlines():
        if not line:
            continue
        a = json.loads(line)
        if a["type"] in ("input", "tick"):
            continue
        seen.setdefault(a["id"], a)
    return list(seen.values())


def assigned(bootstrap):
    return collections.Counter(a["contact_id"] for a in assignments(bootstrap) if a["type"] == "assign")


class RouterCrash(TempDirTest):
    def test_kill9_twice_while_routing_5000_contacts_loses_none_and_assigns_none_twice(self):
        started = time.monotonic()
        k = self.track(DevKafka(self.tmp))
        routers = []

        def start(n):
            r = start_router(self, k.bootstrap, n)
            routers.append(r)
            return r

        produce(k.bootstrap, "omni.agent-events",
                [(d, agent_login(d, a)) for d in DOMAINS for a in AGENTS])
        contacts = [contact(i) for i in range(TOTAL)]
        ids = {cid for cid, _, _ in contacts}
        batches = [contacts[:2000], contacts[2000:3500], contacts[3500:]]

        r = start(1)
        produce(k.bootstrap, "omni.contacts", [(d, c) for _, d, c in batches[0]])
        wait_for(lambda: len(assigned(k.bootstrap)) >= 500, timeout=120, interval=0.2,
                 what="the first assignments")
        r.kill9()  # mid-stream: part of batch 0 routed, the rest not yet
        produce(k.bootstrap, "omni.contacts", [(d, c) for _, d, c in batches[1]])

        r = start(2)
        wait_for(lambda: len(assigned(k.bootstrap)) >= 2500, timeout=120, interval=0.2,
                 what="routing to resume after the first crash")
        produce(k.bootstrap, "omni.contacts", [(d, c) for _, d, c in batches[2]])
        r.kill9()

        r = start(3)
        # Duplicates of already routed contacts are recognized after the restarts too.
        produce(k.bootstrap, "omni.contacts", [(d, c) for _, d, c in batches[0][:100]])
        progress = {}

        def all_assigned():
            c = assigned(k.bootstrap)
            progress["assigned"] = len(c)
            return c if len(c) >= TOTAL else None
        try:
            final = wait_for(all_assigned, timeout=180, interval=1.0, what="every contact assigned")
        except AssertionError:
            tail = [line for x in routers for line in x.logs().splitlines()
                    if " warning " in line or " error " in line or "rebuilt" in line]
            raise AssertionError(f"{progress} of {TOTAL} assigned; router said:\n" +
                                 "\n".join(tail[-40:]))

        self.assertEqual(set(final), ids, "contacts lost")
        twice = {cid: n for cid, n in final.items() if n != 1}
        self.assertEqual(twice, {}, "contacts assigned more than once")
        # Every assignment of a contact is the same record (same id), even when redone.
        by_contact = collections.defaultdict(set)
        for a in assignments(k.bootstrap):
            if a["type"] in ("offer", "assign"):
                by_contact[a["contact_id"]].add((a["type"], a["agent_id"]))
        self.assertTrue(all(len(v) <= 2 for v in by_contact.values()))
        logs = "".join(x.logs() for x in routers)
        self.assertIn("rebuilt", logs)
        self.assertNotIn("the changelog continues at offset", logs)
        # The restarts start from snapshots and replay at most about one interval of steps (the
        # interval, plus the steps whose snapshot was waiting for its marker's delivery).
        replays = [(line, int(re.search(r"(\d+) step\(s\) replayed", line).group(1)))
                   for line in logs.splitlines() if "step(s) replayed" in line]
        self.assertTrue(any("from snapshot" in line for line, _ in replays), logs[-3000:])
        for line, steps in replays:
            self.assertLessEqual(steps, SNAPSHOT_STEPS * 3 // 2, line)
        sys.stderr.write(f"\n[router-crash] {TOTAL} contacts, 2 kill -9, all assigned once in "
                         f"{time.monotonic() - started:.1f}s\n")
        for line in logs.splitlines():
            if "rebuilt" in line and "0 step(s)" not in line:
                sys.stderr.write("[router-crash] " + line.split("] ", 1)[-1] + "\n")


if __name__ == "__main__":
    unittest.main()
