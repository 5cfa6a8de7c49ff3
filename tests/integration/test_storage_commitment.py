"""Storage commitment before DeleteAfterDelivery, end to end. The router's
Orthanc sends to a second, real Orthanc that is a Storage Commitment SCP; that
Orthanc sends its N-EVENT-REPORT on a new association to the router's AE title
(found in its DicomModalities), i.e. to the router Orthanc's DICOM port, and
the plugin reads the report back from Orthanc. An instance leaves the router's
Orthanc only after the report says it is committed: while the peer cannot
reach us (wrong port in its DicomModalities) the instances stay, although the
peer already has them; once the peer can reach us they are deleted. A storescp
peer (no storage commitment) puts the jobs in the dead letters with the reason
and without sending or deleting anything."""

import os
import re
import textwrap
import time
import unittest

import harness

RULE = textwrap.dedent("""\
    function route(instance)
      return { { destination = "pacs" } }
    end
    """)

COMMIT_TIMEOUT = 3


class StorageCommitmentTest(harness.RouterTestCase):
    def router_orthanc(self, destination, modalities=None):
        rules = os.path.dirname(self.path("rules", "route.lua"))
        with open(os.path.join(rules, "route.lua"), "w") as f:
            f.write(RULE)
        return self.start_orthanc(plugin=harness.plugin_path(), aet="ROUTER", start=False, modalities=modalities,
                                  router={
                                      "Rules": rules,
                                      "QueueDatabase": self.path("queue", "queue.sqlite"),
                                      "Destinations": {"pacs": destination},
                                      "Retry": {"InitialDelay": 1, "MaxDelay": 2, "MaxAttempts": 1000},
                                      "DeleteAfterDelivery": True,
                                  })

    @staticmethod
    def jobs_total(orthanc, outcome):
        """orthanc_router_jobs_total for destination pacs and this outcome (0 if absent)."""
        text = orthanc.get("/router/metrics")
        m = re.search(r'^orthanc_router_jobs_total\{destination="pacs",outcome="%s"\} (\S+)$' % outcome, text, re.M)
        return float(m.group(1)) if m else 0.0

    def jobs(self, orthanc, state=None):
        query = "/router/queue?destination=pacs" + (f"&state={state}" if state else "")
        return orthanc.get(query)

    def test_deleted_only_after_the_commitment_report(self):
        unreachable = harness.free_port()  # nobody listens there
        # The peer Orthanc: a Storage Commitment SCP that knows the router's
        # AE title, first with a wrong port.
        peer = self.start_orthanc("peer", aet="PEER", start=False,
                                  modalities={"router": ["ROUTER", "127.0.0.1", unreachable]})
        # The router's Orthanc must know PEER too: Orthanc refuses
        # N-EVENT-REPORTs from AE titles it does not know.
        orthanc = self.router_orthanc(
            {"Type": "dicom", "AET": "PEER", "Host": "127.0.0.1", "Port": peer.dicom_port, "Associations": 3,
             "StorageCommitment": True, "StorageCommitmentTimeout": COMMIT_TIMEOUT},
            modalities={"peer": ["PEER", "127.0.0.1", peer.dicom_port]})
        peer.start()
        orthanc.start()

        files = harness.generate(self.path("ct", "x"), suite="ct-series", count=3, seed=91, rows=32, columns=32)
        harness.send([p for p, _ in files], orthanc.dicom_port)

        # The peer stores them at once ...
        harness.wait_for(lambda: peer.instance_count() == 3, 30, "the 3 instances at the peer")
        # ... but no report can come back: every job retries with the reason,
        # and the instances stay in the router's Orthanc.
        def all_timed_out():
            jobs = self.jobs(orthanc)
            return len(jobs) == 3 and all("no storage commitment report from PEER" in j["LastError"] for j in jobs)
        harness.wait_for(all_timed_out, 4 * COMMIT_TIMEOUT + 30, "every job to time out waiting for the report",
                         detail=lambda: self.jobs(orthanc))
        job = self.jobs(orthanc)[0]
        self.assertIn(f"within {COMMIT_TIMEOUT} s", job["LastError"])
        self.assertIn("ROUTER", job["LastError"])
        self.assertIn(job["State"], ("pending", "failed", "sending"))
        self.assertEqual(orthanc.instance_count(), 3)
        metrics = orthanc.get_text("/router/metrics") if hasattr(orthanc, "get_text") else \
            orthanc.request("GET", "/router/metrics")[2].decode()
        self.assertNotRegex(metrics, r'orthanc_router_jobs_sent_total\{[^}]*destination="pacs"[^}]*outcome="delivered"'
                                     r'[^}]*\} [1-9]')

        # The peer learns our real port: reports arrive, the instances go.
        peer.put("/modalities/router", {"AET": "ROUTER", "Host": "127.0.0.1", "Port": orthanc.dicom_port})
        harness.wait_for(lambda: orthanc.instance_count() == 0, 60,
                         "the instances deleted from the router's Orthanc after the commitment",
                         detail=lambda: self.jobs(orthanc))
        self.assertEqual(peer.instance_count(), 3)
        self.assertEqual([j for j in self.jobs(orthanc) if j["State"] in ("pending", "failed", "dead")], [])
        self.assertEqual(self.jobs_total(orthanc, "delivered"), 3)

    def test_reports_flow_when_the_peer_reaches_us(self):
        peer = self.start_orthanc("peer", aet="PEER", start=False)
        orthanc = self.router_orthanc(
            {"Type": "dicom", "AET": "PEER", "Host": "127.0.0.1", "Port": peer.dicom_port,
             "StorageCommitment": True, "StorageCommitmentTimeout": 20},
            modalities={"peer": ["PEER", "127.0.0.1", peer.dicom_port]})
        peer.config["DicomModalities"] = {"router": ["ROUTER", "127.0.0.1", orthanc.dicom_port]}
        peer.start()
        orthanc.start()
        files = harness.generate(self.path("ct", "x"), suite="ct-series", count=5, seed=92, rows=32, columns=32)
        started = time.monotonic()
        harness.send([p for p, _ in files], orthanc.dicom_port)
        harness.wait_for(lambda: orthanc.instance_count() == 0, 60, "the instances committed and deleted",
                         detail=lambda: self.jobs(orthanc))
        elapsed = time.monotonic() - started
        self.assertEqual(peer.instance_count(), 5)
        # Every report came back well within the timeout (no retry needed).
        self.assertNotIn("no storage commitment report", orthanc.log_text())
        self.assertLess(elapsed, 20)

    def test_peer_without_storage_commitment_is_dead_letter(self):
        scp = self.start_storescp("STORESCP")
        orthanc = self.router_orthanc(
            {"Type": "dicom", "AET": "STORESCP", "Host": "127.0.0.1", "Port": scp.port,
             "StorageCommitment": True, "StorageCommitmentTimeout": COMMIT_TIMEOUT})
        orthanc.start()
        files = harness.generate(self.path("ct", "x"), suite="ct-series", count=2, seed=93, rows=32, columns=32)
        harness.send([p for p, _ in files], orthanc.dicom_port)
        dead = lambda: self.jobs(orthanc, "dead")
        harness.wait_for(lambda: len(dead()) == 2, 30, "both jobs in the dead letters",
                         detail=lambda: self.jobs(orthanc))
        error = dead()[0]["LastError"]
        self.assertIn("does not support storage commitment", error)
        self.assertIn('"StorageCommitment": false', error)
        self.assertIn("pacs", error)
        self.assertEqual(orthanc.instance_count(), 2)  # not deleted
        self.assertEqual(scp.received(), {})           # nothing sent that could never count


if __name__ == "__main__":
    unittest.main()
