"""Failover: a destination down longer than its FailoverAfter hands its waiting
jobs to the destination named by its Failover, and takes new work again once
it answers. Real parts: Orthanc with the plugin, storescp peers, storescu."""

import json
import os
import re
import unittest

import harness

RULES = """\
function route(instance)
  return { { destination = "pacs" } }
end
"""


class FailoverTest(harness.RouterTestCase):
    def test_jobs_move_to_the_failover_while_the_primary_is_down(self):
        rules = self.path("rules", "10-route.lua")
        with open(rules, "w") as f:
            f.write(RULES)
        pacs_port = harness.free_port()  # nothing listens there yet
        backup = self.start_storescp("BACKUP")
        orthanc = self.start_orthanc(plugin=harness.plugin_path(), router={
            "Rules": os.path.dirname(rules),
            "QueueDatabase": self.path("queue", "queue.sqlite"),
            "Destinations": {
                "pacs": {"Type": "dicom", "AET": "PACS", "Host": "127.0.0.1", "Port": pacs_port,
                         "Failover": "backup", "FailoverAfter": 2},
                "backup": {"Type": "dicom", "AET": "BACKUP", "Host": "127.0.0.1", "Port": backup.port},
            },
            "Retry": {"InitialDelay": 1, "MaxDelay": 2, "MaxAttempts": 1000},
            "AuditLog": self.path("audit", "audit.log"),
            "CircuitBreaker": {"Failures": 1, "ProbeInterval": 1},
        })
        status = orthanc.get("/router/status")["Destinations"]["pacs"]
        self.assertEqual((status["Failover"], status["FailoverAfter"]), ("backup", 2))

        # 1. The primary is down: after 2 s its jobs go to the backup, all of them.
        first = harness.generate(self.path("first", "x"), suite="ct-series", count=10, seed=81, rows=32, columns=32)
        harness.send([p for p, _ in first], orthanc.dicom_port)
        harness.wait_for_files(dict((uid, p) for p, uid in first), backup.received, 60,
                               "the primary's jobs at the failover destination")
        pacs = orthanc.get("/router/status")["Destinations"]["pacs"]
        self.assertFalse(pacs["Up"])
        self.assertEqual(sum(pacs["Queue"].values()), 0, pacs)
        moved = re.search(r'orthanc_router_failover_jobs_total\{destination="pacs",failover="backup"\} (\d+)',
                          orthanc.request("GET", "/router/metrics")[2].decode())
        self.assertIsNotNone(moved, "failover counter missing from the metrics")
        self.assertEqual(int(moved.group(1)), len(first))
        self.assertIn("moved to its failover backup", orthanc.log_text())

        # 2. The primary answers again: the probe sees it, and new work goes there, not to the backup.
        pacs_scp = self.start_storescp("PACS", port=pacs_port)
        harness.wait_for(lambda: orthanc.get("/router/status")["Destinations"]["pacs"]["Up"], 30,
                         "the primary marked up again by its probe")
        second = harness.generate(self.path("second", "x"), suite="ct-series", count=3, seed=82, rows=32,
                                  columns=32)
        harness.send([p for p, _ in second], orthanc.dicom_port)
        harness.wait_for_files(dict((uid, p) for p, uid in second), pacs_scp.received, 60,
                               "new instances at the primary once it is back")
        self.assertFalse(set(backup.received()) & {uid for _, uid in second},
                         "the backup got work after the primary came back")
        metrics = orthanc.request("GET", "/router/metrics")[2].decode()
        sent = re.search(r'orthanc_router_jobs_total\{destination="backup",outcome="delivered"\} (\d+)', metrics)
        self.assertEqual(int(sent.group(1)), len(first), "each moved job sent once")

        # 3. The audit trail tells the whole story, one JSON line per outcome.
        with open(self.path("audit", "audit.log")) as f:
            audit = [json.loads(line) for line in f]
        delivered = [a for a in audit if a["outcome"] == "delivered"]
        self.assertEqual(sorted(a["sop_instance_uid"] for a in delivered if a["destination"] == "backup"),
                         sorted(uid for _, uid in first))
        self.assertEqual(sorted(a["sop_instance_uid"] for a in delivered if a["destination"] == "pacs"),
                         sorted(uid for _, uid in second))
        self.assertTrue(all(a["transfer_syntax"] and a["bytes"] > 0 for a in delivered))
        self.assertTrue(any(a["outcome"] == "retry" and a["destination"] == "pacs" for a in audit))
        moved = [a for a in audit if a["outcome"] == "failed-over"]
        self.assertEqual(sum(int(a["detail"].split()[0]) for a in moved), len(first))
        names = {str(harness.read(p, pixels=False).PatientName) for p, _ in first + second}
        text = json.dumps(audit)
        self.assertFalse([n for n in names if n and n in text], "patient names in the audit log")
        # A job's every attempt, from the trail, over REST (the job is gone from the queue).
        job = next(a["job"] for a in audit if a["outcome"] == "retry")
        trail = orthanc.get(f"/router/queue/{job}/attempts")["Attempts"]
        self.assertEqual([(a["outcome"], a["attempt"]) for a in trail],
                         [(a["outcome"], a["attempt"]) for a in audit if a["job"] == job])
        self.assertGreaterEqual(len(trail), 2)
        self.assertTrue(orthanc.running())


if __name__ == "__main__":
    unittest.main()
