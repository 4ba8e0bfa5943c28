"""The Prometheus alert rules and the Grafana dashboard in deploy/ speak about metrics omniroute
really exports, with the labels it really uses.

Every metric an alert expression or a dashboard query names must be registered somewhere in the C++
sources (string literals "omniroute_..."; histogram series may add _bucket/_sum/_count), and every
label used in a `by (...)` or a `{label=...}` matcher on such a metric must be a string literal in
a source file that registers it. The rules file must be well-formed for Prometheus (groups -> rules with alert, expr, for,
labels.severity, annotations.summary) and every alert must be explained in docs/operations.md; the
dashboard must be importable (unique panel ids, a prometheus datasource variable, refIds)."""
import json
import os
import re
import sys
import unittest

import yaml

ROOT = os.environ.get("OMNI_SOURCE_DIR") or sys.argv.pop(1)
METRIC = re.compile(r"\bomniroute_[a-z0-9_]+")


def exported_metrics():
    """{name: text of the source files that register it} from the C++ sources."""
    found = {}
    for top in ("core", "connectors", "routing", "daemon"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if not f.endswith((".cc", ".h")):
                    continue
                with open(os.path.join(dirpath, f), encoding="utf-8") as src:
                    text = src.read()
                for name in set(re.findall(r'"(omniroute_[a-z0-9_]+)"', text)):
                    found[name] = found.get(name, "") + text
    return found


def base_name(name, exported):
    if name in exported:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name[: -len(suffix)] in exported:
            return name[: -len(suffix)]
    # Listener counters are exported as omniroute_http_<stat>{listener=...} from one table.
    return None


def labels_used(expr, metric):
    """Labels matched on `metric` ({a="x"}) and grouped by anywhere in the expression."""
    out = set()
    for m in re.finditer(re.escape(metric) + r"\{([^}]*)\}", expr):
        out |= set(re.findall(r"([a-zA-Z_]+)\s*(?:=~|!=|!~|=)", m.group(1)))
    for m in re.finditer(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
        out |= {l.strip() for l in m.group(1).split(",") if l.strip()}
    return out - {"le", "instance", "job"}


class Monitoring(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.exported = exported_metrics()
        with open(os.path.join(ROOT, "deploy/prometheus/omniroute-alerts.yaml")) as f:
            cls.rules = yaml.safe_load(f)
        with open(os.path.join(ROOT, "deploy/grafana/omniroute-dashboard.json")) as f:
            cls.dashboard = json.load(f)
        with open(os.path.join(ROOT, "docs/operations.md")) as f:
            cls.operations = f.read()

    def check_expr(self, where, expr):
        metrics = set(METRIC.findall(expr))
        self.assertTrue(metrics or "up{" in expr, f"{where}: names no omniroute metric: {expr}")
        for name in metrics:
            base = base_name(name, self.exported)
            self.assertIsNotNone(base, f"{where}: {name} is not exported by omniroute ({expr})")
            source = self.exported[base]
            for label in labels_used(expr, name):
                self.assertIn(f'"{label}"', source, f"{where}: label '{label}' of {name} is never set")

    def test_alert_rules_are_well_formed_explained_and_name_real_metrics(self):
        groups = self.rules["groups"]
        self.assertTrue(groups)
        names = set()
        for g in groups:
            self.assertIn("name", g)
            for r in g["rules"]:
                self.assertEqual(set(r) - {"alert", "expr", "for", "labels", "annotations"}, set(), r)
                self.assertNotIn(r["alert"], names, "duplicate alert")
                names.add(r["alert"])
                self.assertRegex(r["for"], r"^\d+[smh]$")
                self.assertIn(r["labels"]["severity"], ("critical", "warning", "info"))
                self.assertTrue(r["annotations"]["summary"])
                self.check_expr(r["alert"], r["expr"])
                self.assertIn(r["alert"], self.operations, f"{r['alert']} is not explained in docs/operations.md")
        self.assertGreaterEqual(len(names), 5)

    def test_dashboard_is_importable_and_queries_real_metrics(self):
        d = self.dashboard
        self.assertTrue(d["uid"] and d["title"])
        variables = {v["name"]: v for v in d["templating"]["list"]}
        self.assertEqual(variables["datasource"]["type"], "datasource")
        self.assertEqual(variables["datasource"]["query"], "prometheus")
        ids = [p["id"] for p in d["panels"]]
        self.assertEqual(len(ids), len(set(ids)), "panel ids must be unique")
        queried = set()
        for p in d["panels"]:
            self.assertEqual(p["datasource"]["uid"], "${datasource}", p["title"])
            refs = [t["refId"] for t in p["targets"]]
            self.assertEqual(len(refs), len(set(refs)), p["title"])
            for t in p["targets"]:
                self.check_expr(p["title"], t["expr"])
                queried |= set(METRIC.findall(t["expr"]))
        # The headline metrics are on the dashboard.
        for must in ("omniroute_contacts_received_total", "omniroute_queue_waiting",
                     "omniroute_queue_service_level", "omniroute_routing_decision_seconds_bucket"):
            self.assertIn(must, queried)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
