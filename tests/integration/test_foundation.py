"""End-to-end test of the foundation: a modality C-STOREs a mixed batch into
Orthanc with the router plugin; one Lua rule sends everything to a folder and
the CTs also to two DICOM peers (one declared in the Router section, one only
in Orthanc's DicomModalities). Then the things that happen in a hospital: a
peer goes down and comes back, Orthanc is killed -9 right after a burst.
At every step the files that arrived are compared with the originals
(tags and pixel bytes), and nothing may be missing anywhere."""

import os
import textwrap
import time
import unittest

import harness

RULE = textwrap.dedent("""\
    function route(instance)
      local r = { { destination = "archive" } }
      if instance.tags.Modality == "CT" then
        table.insert(r, { destination = "peer_a" })
        table.insert(r, { destination = "peer_b" })
      end
      return r
    end
    """)

DELIVERY_TIMEOUT = 60  # seconds for a batch to reach every destination
RETRY_WINDOW = 20      # seconds for a peer that came back to catch up (MaxDelay 2)


class FoundationTest(harness.RouterTestCase):
    def setUp(self):
        super().setUp()
        self.plugin = harness.plugin_path()
        rules = os.path.dirname(self.path("rules", "route.lua"))
        with open(os.path.join(rules, "route.lua"), "w") as f:
            f.write(RULE)
        self.out = os.path.join(self.tmp, "out")

        self.peer_a = self.start_storescp("PEERA")
        self.peer_b = self.start_storescp("PEERB")
        self.orthanc = self.start_orthanc(
            plugin=self.plugin,
            modalities={"peer_b": ["PEERB", "127.0.0.1", self.peer_b.port]},
            router={
                "Rules": rules,
                "QueueDatabase": self.path("queue", "queue.sqlite"),
                "Threads": 2,
                "Destinations": {
                    "archive": {"Type": "folder", "Path": self.out},
                    "peer_a": {"Type": "dicom", "AET": "PEERA", "Host": "127.0.0.1",
                               "Port": self.peer_a.port},
                },
                "Retry": {"InitialDelay": 1, "MaxDelay": 2},
                "CircuitBreaker": {"Failures": 3, "ProbeInterval": 1},
            })

        # Everything sent so far, {SOPInstanceUID: original path}, and the CTs among it.
        self.sent = {}
        self.sent_ct = {}

    # -- helpers

    def generate(self, name, **options):
        files = harness.generate(self.path("data", name, "x"), **options)
        batch = {uid: path for path, uid in files}
        ct = {uid: path for uid, path in batch.items() if harness.read(path, pixels=False).Modality == "CT"}
        return batch, ct

    def send(self, batch, ct):
        harness.send(sorted(batch.values()), self.orthanc.dicom_port, aet="ROUTER")
        self.sent.update(batch)
        self.sent_ct.update(ct)

    def archived(self):
        """{SOPInstanceUID: path} of the folder destination's <uid>.dcm files."""
        return {name[:-len(".dcm")]: path for name, path in harness.folder_files(self.out).items()
                if name.endswith(".dcm") and os.sep not in name}

    def assert_archive_exact(self):
        """Exactly one <SOPInstanceUID>.dcm per instance sent: no temp file
        left behind (a write cut by kill -9 leaves one, which the folder
        destination removes at the next start), no sub-folder, nothing else."""
        names = set(harness.folder_files(self.out))
        expected = {uid + ".dcm" for uid in self.sent}
        self.assertEqual(names - expected, set(), "unexpected files in the folder destination")
        self.assertEqual(expected - names, set(), "instances missing from the folder destination")

    def assert_peers_have_only_ct(self):
        for peer in (self.peer_a, self.peer_b):
            extra = set(peer.received()) - set(self.sent_ct)
            self.assertEqual(extra, set(), f"{peer.aet} received instances that are not CT")

    def wait_everywhere(self, batch, ct, timeout=DELIVERY_TIMEOUT, peers=None):
        peers = peers if peers is not None else (self.peer_a, self.peer_b)
        harness.wait_for_files(batch, self.archived, timeout, "the folder destination (archive)")
        for peer in peers:
            harness.wait_for_files(ct, peer.received, timeout, f"the CTs at {peer.aet}")

    # -- the scenario

    def test_foundation(self):
        t0 = time.monotonic()

        # 1. A mixed batch of 50: the standard suite (CT, MR, RGB, multi-frame,
        #    odd sizes, SRs) and a 64x64 CT series to make up the number.
        std, std_ct = self.generate("standard", suite="standard")
        series, series_ct = self.generate("series1", suite="ct-series", count=50 - len(std), seed=11,
                                          rows=64, columns=64)
        batch, ct = {**std, **series}, {**std_ct, **series_ct}
        self.assertEqual(len(batch), 50)
        self.assertLess(len(ct), len(batch), "the batch must hold non-CT instances too")
        self.send(batch, ct)
        self.wait_everywhere(batch, ct)
        harness.wait_for(self.queues_empty, 10, "every queue and the intake to be empty",
                         detail=self.assert_status)
        self.assert_archive_exact()
        self.assert_peers_have_only_ct()
        status = self.assert_status()
        self.assertEqual(set(status["Destinations"]), {"archive", "peer_a", "peer_b"})
        print(f"\n[foundation] 50 routed in {time.monotonic() - t0:.1f}s; /router/status: {status}")

        # 2. PEERA goes down: the others keep receiving; when PEERA comes back on
        #    the same port, the retries deliver what it missed.
        self.peer_a.kill()
        batch, ct = self.generate("series2", suite="ct-series", count=10, seed=12, rows=64, columns=64)
        self.send(batch, ct)
        self.wait_everywhere(batch, ct, peers=(self.peer_b,))
        self.assertFalse(set(ct) & set(self.peer_a.received()), "PEERA was down, yet has new files")
        # The status shows the 10 jobs waiting for PEERA (pending, failed or sending).
        harness.wait_for(lambda: self.waiting("peer_a") == 10, 10,
                         "/router/status to show 10 jobs waiting for peer_a",
                         detail=lambda: self.assert_status()["Destinations"]["peer_a"])
        # The circuit breaker holds PEERA as down instead of trying every job:
        # only the first few sends hit the closed port.
        harness.wait_for(lambda: self.assert_status()["Destinations"]["peer_a"]["Up"] is False, 10,
                         "/router/status to show peer_a down")
        self.assertIn("destination peer_a marked down", self.orthanc.log_text())
        attempts = self.orthanc.log_text().count("delivery to peer_a failed")
        self.assertLessEqual(attempts, 5, "jobs kept hammering a destination that is down")
        self.assertTrue(self.assert_status()["Destinations"]["peer_b"]["Up"])
        t1 = time.monotonic()
        self.peer_a.start()
        harness.wait_for_files(ct, self.peer_a.received, RETRY_WINDOW, "the retries to reach PEERA once back")
        print(f"[foundation] PEERA caught up {time.monotonic() - t1:.1f}s after it came back")
        self.assertIn("destination peer_a answers again", self.orthanc.log_text())

        # 3. kill -9 right after a burst: restarted with the same storage and
        #    queue, nothing is missing anywhere (a file may arrive twice).
        batch, ct = self.generate("series3", suite="ct-series", count=20, seed=13, rows=64, columns=64)
        self.send(batch, ct)
        self.orthanc.kill9()
        print(f"[foundation] at kill -9, {len(set(batch) & set(self.archived()))} of {len(batch)} "
              f"were in the folder")
        self.orthanc.start()
        self.wait_everywhere(self.sent, self.sent_ct)
        # Redelivered duplicates may still be in flight: let the queues drain first.
        harness.wait_for(self.queues_empty, 10, "every queue and the intake to be empty",
                         detail=self.assert_status)
        self.assert_archive_exact()
        self.assert_peers_have_only_ct()
        self.assertEqual(self.orthanc.instance_count(), len(self.sent))
        queues = {name: d["Queue"] for name, d in self.assert_status()["Destinations"].items()}
        print(f"[foundation] after kill -9, all delivered; queues: {queues}")
        self.assertEqual(self.orthanc.stop(check=True), 0)
        print(f"[foundation] total {time.monotonic() - t0:.1f}s")

    def waiting(self, destination):
        queue = self.assert_status()["Destinations"][destination]["Queue"]
        return queue["pending"] + queue["failed"] + queue["sending"]

    def queues_empty(self):
        status = self.assert_status()
        return all(n == 0 for n in status["Intake"].values()) and \
            all(n == 0 for d in status["Destinations"].values() for n in d["Queue"].values())

    def assert_status(self):
        status, headers, body = self.orthanc.request("GET", "/router/status")
        self.assertEqual(status, 200, body[:500])
        value = harness.decode_body(body)
        self.assertIsInstance(value, dict, f"/router/status is not a JSON object: {body[:500]!r}")
        return value


if __name__ == "__main__":
    unittest.main()
