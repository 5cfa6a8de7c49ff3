"""Proves the harness itself against a plain Orthanc (no plugin) and dcmtk
peers, so that a failure in the router's tests is the router's, not the
harness's: start, REST, C-STORE in, C-STORE out to a storescp peer,
Implicit-only peers, kill -9 and restart on the same storage."""

import os
import subprocess
import unittest

import harness


class HarnessTest(harness.RouterTestCase):
    def setUp(self):
        super().setUp()
        self.files = harness.generate(self.path("data", "std"), suite="standard")
        self.by_uid = {uid: path for path, uid in self.files}

    def test_orthanc_rest_cstore_and_restart(self):
        orthanc = self.start_orthanc()
        system = orthanc.get("/system")
        self.assertEqual(system["DicomAet"], "ROUTER")
        self.assertEqual(system["DicomPort"], orthanc.dicom_port)

        harness.send([p for p, _ in self.files], orthanc.dicom_port)
        self.assertEqual(orthanc.instance_count(), len(self.files))

        # What Orthanc stored is what we sent (tags and pixel bytes).
        for instance_id in orthanc.get("/instances"):
            tags = orthanc.get(f"/instances/{instance_id}/simplified-tags")
            uid = tags["SOPInstanceUID"]
            status, _, body = orthanc.request("GET", f"/instances/{instance_id}/file")
            self.assertEqual(status, 200)
            copy = self.path("download", uid + ".dcm")
            with open(copy, "wb") as f:
                f.write(body)
            self.assertEqual(harness.differences(self.by_uid[uid], copy), [])

        # Errors come back as HttpError with the status.
        with self.assertRaises(harness.HttpError) as ctx:
            orthanc.get("/instances/no-such-id")
        self.assertEqual(ctx.exception.status, 404)

        # kill -9 keeps the storage; restart answers on the same ports.
        pid = orthanc.process.pid
        self.assertEqual(orthanc.kill9(), -9)
        self.assertFalse(os.path.exists(f"/proc/{pid}"))
        orthanc.restart()
        self.assertEqual(orthanc.instance_count(), len(self.files))
        self.assertEqual(orthanc.stop(check=True), 0)
        self.assertIn("harness: starting Orthanc", orthanc.log_text())

    def test_storescp_peers(self):
        peer = self.start_storescp("PEERA")
        implicit = self.start_storescp("OLDPACS", implicit_only=True)
        self.assertTrue(harness.echo(peer.port, "PEERA"))

        # Straight from storescu to the peers.
        harness.send([p for p, _ in self.files], peer.port, aet="PEERA")
        harness.wait_for_files(self.by_uid, peer.received, 10, "files at PEERA")
        harness.send([p for p, _ in self.files], implicit.port, aet="OLDPACS")
        harness.wait_for_files(self.by_uid, implicit.received, 10, "files at OLDPACS")
        for path in implicit.files():
            self.assertEqual(harness.transfer_syntax(path), harness.IMPLICIT_VR_LITTLE_ENDIAN, path)

        # Through Orthanc: a modality declared in DicomModalities.
        port_b = harness.free_port()
        orthanc = self.start_orthanc(modalities={"peerb": ["PEERB", "127.0.0.1", port_b]})
        peer_b = self.start_storescp("PEERB", port=port_b)
        harness.send([p for p, _ in self.files], orthanc.dicom_port)
        orthanc.post("/modalities/peerb/store", {"Resources": orthanc.get("/instances"), "Synchronous": True})
        harness.wait_for_files(self.by_uid, peer_b.received, 10, "files at PEERB")

        # A killed peer refuses; send() says so with storescu's output.
        peer.kill()
        self.assertFalse(peer.running())
        with self.assertRaises(harness.SendError):
            harness.send([self.files[0][0]], peer.port, aet="PEERA")
        peer.start()
        harness.send([self.files[0][0]], peer.port, aet="PEERA")

    def test_differences(self):
        # Lossless round trips through other tools compare equal (pixels decoded,
        # colour by plane or by pixel alike); one changed pixel byte or tag does not.
        for path, uid in self.files:
            for tool, args in (("dcmcjpls", []), ("dcmcrle", []), ("dcmconv", ["+ti"])):
                out = self.path("roundtrip", f"{uid}.{tool}.dcm")
                subprocess.run([tool] + args + [path, out], check=True, capture_output=True)
                self.assertEqual(harness.differences(path, out), [], f"{tool} {path}")
        path = self.files[0][0]
        ds = harness.read(path)
        pixels = bytearray(ds.PixelData)
        pixels[100] ^= 1
        ds.PixelData = bytes(pixels)
        ds.PatientID = "SOMEONE-ELSE"
        changed = self.path("changed.dcm")
        ds.save_as(changed)
        diff = harness.differences(path, changed)
        self.assertEqual(len(diff), 2, diff)
        self.assertIn("PatientID", diff[0])
        self.assertIn("first differing byte at 100", diff[1])

    def test_wait_for_times_out_with_detail(self):
        with self.assertRaises(AssertionError) as ctx:
            harness.wait_for(lambda: False, 0.3, "nothing", detail=lambda: "still nothing")
        self.assertIn("timed out after 0.3s waiting for nothing", str(ctx.exception))
        self.assertIn("still nothing", str(ctx.exception))


if __name__ == "__main__":
    unittest.main()
