"""Dashboards and alert rules against a real Prometheus.

1. promtool accepts dashboards/alerts.yml and its unit tests
   (dashboards/alerts_test.yml) pass.
2. Orthanc with the plugin routes generated CTs to a folder (as JPEG-LS, each
   series once it is quiet for a second), to a
   second folder as JPEG baseline (which 16-bit CTs cannot be: a transcode
   failure, sent as received) and to a DICOM peer nobody listens on (retry,
   then dead letters, destination down); patient "BAD" makes the rule raise.
   A real Prometheus scrapes GET /router/metrics every second with the rule
   file loaded. Then every panel query of every dashboard in dashboards/*.json
   must return data, and the counter alerts must fire.
"""

import glob
import json
import os
import re
import shutil
import subprocess
import textwrap
import time
import unittest
import urllib.parse
import urllib.request

import harness

PROMETHEUS_BIN = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL_BIN = shutil.which("promtool") or "/usr/bin/promtool"

RULE = textwrap.dedent("""\
    function route(instance)
      if instance.tags.PatientID == "BAD" then
        error("no route for patient BAD")
      end
      return {
        { destination = "archive", transfer_syntax = "JPEGLSLossless", when = "series", quiet = 1 },
        { destination = "viewer", transfer_syntax = "JPEGBaseline8Bit" },
        { destination = "pacs" },
      }
    end
    """)

# Grafana's variables as the test substitutes them: every destination, fixed windows.
SUBSTITUTIONS = [
    (re.compile(r"\$\{destination(:[a-z]+)?\}|\$destination\b"), ".*"),
    (re.compile(r"\$\{?__rate_interval\}?"), "30s"),
    (re.compile(r"\$\{?__interval\}?"), "15s"),
    (re.compile(r"\$\{?__range\}?"), "1h"),
]


def source_dir():
    return os.environ.get("ROUTER_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))


def dashboards_dir():
    return os.path.join(source_dir(), "dashboards")


def panel_queries(path):
    """[(panel title, expr)] of every target of every panel (rows' nested panels included)."""
    with open(path) as f:
        board = json.load(f)
    out = []

    def walk(panels):
        for panel in panels or []:
            for target in panel.get("targets") or []:
                if target.get("expr"):
                    out.append((panel.get("title", "?"), target["expr"]))
            walk(panel.get("panels"))
    walk(board.get("panels"))
    return out


def substitute(expr):
    for pattern, value in SUBSTITUTIONS:
        expr = pattern.sub(value, expr)
    return expr


def run_promtool(*args):
    result = subprocess.run([PROMTOOL_BIN] + list(args), cwd=dashboards_dir(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, timeout=60)
    return result.returncode, result.stdout.decode(errors="replace")


class Prometheus:
    """A Prometheus server with its own config and temp storage, ended by PID."""

    def __init__(self, workdir, target, rule_file):
        self.dir = os.path.join(workdir, "prometheus")
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        self.port = harness.free_port()
        self.log_path = os.path.join(self.dir, "prometheus.log")
        self.config_path = os.path.join(self.dir, "prometheus.yml")
        # JSON is YAML: no YAML library needed to write the config.
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [rule_file],
            "scrape_configs": [{"job_name": "orthanc-router", "metrics_path": "/router/metrics",
                                "static_configs": [{"targets": [target]}]}],
        }
        with open(self.config_path, "w") as f:
            json.dump(config, f, indent=2)
        self.process = None

    def start(self, timeout=30):
        self.process = harness.spawn([
            PROMETHEUS_BIN, "--config.file=" + self.config_path,
            "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
            "--web.listen-address=127.0.0.1:%d" % self.port,
            "--storage.tsdb.retention.time=1h"], self.log_path, cwd=self.dir)

        def ready():
            if self.process.poll() is not None:
                raise AssertionError("prometheus exited with status %s:\n%s"
                                     % (self.process.returncode, harness.tail(self.log_path)))
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % self.port, timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False
        harness.wait_for(ready, timeout, "Prometheus to be ready", interval=0.2,
                         detail=lambda: harness.tail(self.log_path))
        return self

    def stop(self):
        return harness.end_process(self.process, timeout=10)

    def api(self, path, **params):
        url = "http://127.0.0.1:%d/api/v1/%s" % (self.port, path)
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                body = json.load(r)
        except urllib.error.HTTPError as e:
            body = json.loads(e.read() or b"{}")
            body.setdefault("error", "HTTP %d" % e.code)
        return body

    def query(self, expr):
        """The instant-query result list; raises AssertionError on a query error."""
        body = self.api("query", query=expr)
        if body.get("status") != "success":
            raise AssertionError("query %r failed: %s %s" % (expr, body.get("errorType"), body.get("error")))
        return body["data"]["result"]

    def value(self, expr):
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None


class DashboardsTest(harness.RouterTestCase):
    def test_alert_rules_promtool(self):
        status, output = run_promtool("check", "rules", "alerts.yml")
        self.assertEqual(status, 0, "promtool check rules alerts.yml:\n" + output)
        status, output = run_promtool("test", "rules", "alerts_test.yml")
        self.assertEqual(status, 0, "promtool test rules alerts_test.yml:\n" + output)

    def test_every_panel_returns_data(self):
        boards = sorted(glob.glob(os.path.join(dashboards_dir(), "*.json")))
        self.assertGreaterEqual(len(boards), 3, "dashboards found: %s" % boards)
        queries = [(os.path.basename(b), title, expr) for b in boards for title, expr in panel_queries(b)]
        self.assertGreater(len(queries), 20)

        rules = os.path.dirname(self.path("rules", "route.lua"))
        with open(os.path.join(rules, "route.lua"), "w") as f:
            f.write(RULE)
        closed_port = harness.free_port()  # nothing listens: retry, then dead letters
        orthanc = self.start_orthanc(plugin=harness.plugin_path(), router={
            "Rules": rules,
            "QueueDatabase": self.path("queue", "queue.sqlite"),
            "Threads": 2,
            "Destinations": {
                "archive": {"Type": "folder", "Path": os.path.join(self.tmp, "archive")},
                "viewer": {"Type": "folder", "Path": os.path.join(self.tmp, "viewer")},
                "pacs": {"Type": "dicom", "AET": "PACS", "Host": "127.0.0.1", "Port": closed_port,
                         "Retry": {"InitialDelay": 1, "MaxDelay": 1, "MaxAttempts": 2}},
            },
            "CircuitBreaker": {"Failures": 100, "ProbeInterval": 1},
        })
        prometheus = Prometheus(self.tmp, "127.0.0.1:%d" % orthanc.http_port,
                                os.path.join(dashboards_dir(), "alerts.yml"))
        self.addCleanup(prometheus.stop)
        prometheus.start()

        bursts = []
        for i in (1, 2):
            files = harness.generate(self.path("burst%d" % i, "x"), suite="ct-series", count=14, seed=80 + i,
                                     rows=64, columns=64)
            files += harness.generate(self.path("bad%d" % i, "x"), suite="ct-series", count=1, seed=90 + i,
                                      rows=16, columns=16, patient_id="BAD")
            bursts.append(files)
        total = sum(len(b) for b in bursts)
        harness.send([p for p, _ in bursts[0]], orthanc.dicom_port)
        time.sleep(4)
        harness.send([p for p, _ in bursts[1]], orthanc.dicom_port)

        scraped = lambda: (prometheus.value("orthanc_router_instances_received_total") or 0) >= total
        harness.wait_for(scraped, 40, "Prometheus to see %d instances received" % total, interval=0.5,
                         detail=lambda: prometheus.api("targets"))
        dead = lambda: (prometheus.value('sum(orthanc_router_queue_jobs{destination="pacs",state="dead"})')
                        or 0) >= total - 2
        harness.wait_for(dead, 40, "the pacs jobs in the dead letters", interval=0.5,
                         detail=lambda: orthanc.get("/router/status"))

        # Every panel: data as soon as the windows hold enough samples.
        state = {}

        def all_have_data():
            empty = []
            for board, title, expr in queries:
                concrete = substitute(expr)
                if "$" in concrete:
                    raise AssertionError("%s / %s: unsubstituted variable in %r" % (board, title, expr))
                if not prometheus.query(concrete):
                    empty.append("%s / panel %r: %s" % (board, title, concrete))
            state["empty"] = empty
            return not empty
        try:
            harness.wait_for(all_have_data, 30, "every panel query to return data", interval=1)
        except AssertionError:
            self.fail("%d of %d panel queries return no data:\n  %s\n/router/metrics:\n%s" % (
                len(state["empty"]), len(queries), "\n  ".join(state["empty"]),
                orthanc.request("GET", "/router/metrics")[2].decode()))

        # The counter alerts fire on this data; the rules loaded without error.
        groups = prometheus.api("rules")["data"]["groups"]
        unhealthy = [(r["name"], r.get("lastError")) for g in groups for r in g["rules"] if r.get("health") == "err"]
        self.assertEqual(unhealthy, [])
        wanted = {"RouterDeadLetters", "RouterRuleErrors", "RouterTranscodeFailures", "RouterDestinationDown"}

        def alerts():
            got = {a["labels"]["alertname"]: a for a in prometheus.api("alerts")["data"]["alerts"]}
            return got if wanted <= set(got) else None
        got = harness.wait_for(alerts, 15, "alerts " + ", ".join(sorted(wanted)), interval=0.5,
                               detail=lambda: prometheus.api("alerts"))
        self.assertEqual(got["RouterDeadLetters"]["labels"]["destination"], "pacs")
        self.assertEqual(got["RouterDeadLetters"]["state"], "firing")
        self.assertEqual(got["RouterRuleErrors"]["labels"]["rule_file"], "route.lua")
        self.assertEqual(got["RouterTranscodeFailures"]["labels"]["transfer_syntax"], "JPEGBaseline8Bit")
        self.assertEqual(got["RouterDestinationDown"]["labels"]["destination"], "pacs")
        # "for: 2m": pending during a normal run, firing only on a very slow machine.
        self.assertIn(got["RouterDestinationDown"]["state"], ("pending", "firing"))
        self.assertNotIn("RouterMetricsMissing", got)
        self.assertTrue(orthanc.running())


if __name__ == "__main__":
    unittest.main()
