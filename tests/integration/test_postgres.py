"""The plugin on the shared PostgreSQL queue: a real Orthanc whose Router
section names a PostgreSQL server (started here, ended by PID) routes a CT
series to a folder; then PostgreSQL is restarted in the middle of a second
burst, and every instance still arrives, with nothing left in the queue.
Two nodes on one Orthanc index are not tested here yet."""

import os
import textwrap
import time
import unittest

import harness

RULE = textwrap.dedent("""\
    function route(instance)
      return { { destination = "archive" } }
    end
    """)


class PostgresQueueTest(harness.RouterTestCase):
    def setUp(self):
        super().setUp()
        self.postgres = self.start_postgres()
        self.postgres.sql("CREATE DATABASE router")
        rules = os.path.dirname(self.path("rules", "route.lua"))
        with open(os.path.join(rules, "route.lua"), "w") as f:
            f.write(RULE)
        self.out = os.path.join(self.tmp, "out")
        self.orthanc = self.start_orthanc(
            plugin=harness.plugin_path(),
            router={
                "Rules": rules,
                # trust authentication ignores the password; it must not show anywhere
                "QueueDatabase": self.postgres.uri(password="s3cret"),
                "NodeName": "node-a",
                "Threads": 2,
                "Destinations": {"archive": {"Type": "folder", "Path": self.out}},
                "Retry": {"InitialDelay": 1, "MaxDelay": 2},
            })

    def archived(self):
        return {name[:-len(".dcm")] for name in harness.folder_files(self.out) if name.endswith(".dcm")}

    def wait_archived(self, uids, timeout=90):
        harness.wait_for(lambda: uids <= self.archived(), timeout, f"{len(uids)} instances in the folder",
                         detail=lambda: f"{len(uids - self.archived())} missing\n{self.orthanc.log_tail(30)}")

    def queue_empty(self):
        status = self.orthanc.get("/router/status")
        jobs = status["Destinations"]["archive"]["Queue"]
        return sum(jobs.values()) == 0 and status["Intake"]["new"] == 0 and status["Intake"]["routing"] == 0

    def test_routes_through_postgresql_and_survives_its_restart(self):
        first = harness.generate(self.path("first", "x"), suite="ct-series", count=20, seed=501, rows=16, columns=16)
        harness.send([p for p, _ in first], self.orthanc.dicom_port)
        self.wait_archived({uid for _, uid in first})
        status = self.orthanc.get("/router/status")
        self.assertTrue(status["QueueDatabase"].startswith("postgresql://router:***@127.0.0.1:"), status["QueueDatabase"])
        self.assertNotIn("s3cret", self.orthanc.log_text())
        self.assertEqual(self.postgres.sql("SELECT COUNT(*) FROM intake", "router"), "20")
        self.assertEqual(self.postgres.sql("SELECT value FROM meta WHERE key='schema_version'", "router"), "3")

        # PostgreSQL goes away in the middle of a burst and comes back on the same port.
        second = harness.generate(self.path("second", "x"), suite="ct-series", count=60, seed=502, rows=16,
                                  columns=16)
        paths = [p for p, _ in second]
        harness.send(paths[:30], self.orthanc.dicom_port)
        self.postgres.stop()
        harness.send(paths[30:], self.orthanc.dicom_port)  # Orthanc stores them; the router cannot queue them yet
        time.sleep(3)
        self.assertTrue(self.orthanc.running())
        self.postgres.start()
        self.wait_archived({uid for _, uid in first + second})
        harness.wait_for(self.queue_empty, 60, "an empty queue", detail=lambda: self.orthanc.get("/router/status"))
        self.assertEqual(self.postgres.sql("SELECT COUNT(*) FROM intake", "router"), "80")  # each taken in once
        self.assertIn("PostgreSQL queue", self.orthanc.log_text())  # the failures named the queue


if __name__ == "__main__":
    unittest.main()
