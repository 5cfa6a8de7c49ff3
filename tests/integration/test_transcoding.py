"""Routes with transfer syntaxes, end to end: one series goes to three
storescp peers as JPEG-LS lossless, JPEG 2000 lossless and as received; a
fourth peer that accepts only Implicit VR Little Endian is sent JPEG-LS by the
rule and must still receive every instance (negotiation fallback). HTJ2K
inputs, which no DICOM peer here can take, reach an implicit-only peer and an
everything-DCMTK-knows peer converted, and a folder as received. Each file
that arrives is checked for its transfer syntax and, decoded by dcmtk/GDCM
tools, for pixels identical to the original. Orthanc's own transcoding (its
/modify "Transcode" and its C-STORE SCU) runs in the router's workers too."""

import os
import textwrap
import unittest

import harness

JPEGLS = "1.2.840.10008.1.2.4.80"
J2K_LOSSLESS = "1.2.840.10008.1.2.4.90"
EXPLICIT = "1.2.840.10008.1.2.1"
IMPLICIT = "1.2.840.10008.1.2"
HTJ2K_LOSSLESS = "1.2.840.10008.1.2.4.201"

RULE = textwrap.dedent("""\
    function route(instance)
      return {
        { destination = "jpegls", transfer_syntax = "JPEGLSLossless" },
        { destination = "j2k", transfer_syntax = "JPEG2000Lossless" },
        { destination = "raw" },
        { destination = "old", transfer_syntax = "JPEGLSLossless" },
      }
    end
    """)


class TranscodingTest(harness.RouterTestCase):
    def test_one_series_three_syntaxes_and_a_fallback(self):
        rules = os.path.dirname(self.path("rules", "route.lua"))
        with open(os.path.join(rules, "route.lua"), "w") as f:
            f.write(RULE)
        peers = {
            "jpegls": self.start_storescp("JPEGLS", accept_all=True),
            "j2k": self.start_storescp("J2K", accept_all=True),
            "raw": self.start_storescp("RAW"),
            "old": self.start_storescp("OLD", implicit_only=True),
        }
        orthanc = self.start_orthanc(plugin=harness.plugin_path(), router={
            "Rules": rules,
            "QueueDatabase": self.path("queue", "queue.sqlite"),
            "Threads": 2,
            "Destinations": {name: {"Type": "dicom", "AET": scp.aet, "Host": "127.0.0.1", "Port": scp.port}
                             for name, scp in peers.items()},
            "Retry": {"InitialDelay": 1, "MaxDelay": 2},
        })
        files = harness.generate(self.path("data", "x"), suite="ct-series", count=12, seed=41,
                                 rows=128, columns=96)
        files += harness.generate(self.path("data2", "x"), suite="standard", seed=42)
        expected = {uid: path for path, uid in files}
        harness.send([p for p, _ in files], orthanc.dicom_port, aet="ROUTER")

        for name, scp in peers.items():
            harness.wait_for_files(expected, scp.received, 90, f"every instance at {name} with the original pixels")
        wanted = {"jpegls": JPEGLS, "j2k": J2K_LOSSLESS, "raw": EXPLICIT, "old": IMPLICIT}
        for name, scp in peers.items():
            syntaxes = {harness.transfer_syntax(p) for p in scp.received().values()}
            self.assertEqual(syntaxes, {wanted[name]}, f"transfer syntaxes that arrived at {name}")
        self.assertIn("it accepts: ImplicitVRLittleEndian; sending as ImplicitVRLittleEndian instead of "
                      "JPEGLSLossless", orthanc.log_text())
        metrics = orthanc.request("GET", "/router/metrics")[2].decode()
        self.assertIn('orthanc_router_transcode_duration_seconds_count{transfer_syntax="JPEGLSLossless"}', metrics)

    def test_htj2k_inputs_reach_dicom_peers_converted_and_a_folder_as_received(self):
        rules = os.path.dirname(self.path("rules", "route.lua"))
        with open(os.path.join(rules, "route.lua"), "w") as f:
            f.write(textwrap.dedent("""\
                function route(instance)
                  return { { destination = "old" }, { destination = "all" }, { destination = "archive" } }
                end
                """))
        peers = {"old": self.start_storescp("OLD", implicit_only=True),
                 "all": self.start_storescp("ALL", accept_all=True)}
        archive = self.path("archive", "x")
        destinations = {name: {"Type": "dicom", "AET": scp.aet, "Host": "127.0.0.1", "Port": scp.port}
                        for name, scp in peers.items()}
        destinations["archive"] = {"Type": "folder", "Path": os.path.dirname(archive)}
        orthanc = self.start_orthanc(plugin=harness.plugin_path(), router={
            "Rules": rules,
            "QueueDatabase": self.path("queue", "queue.sqlite"),
            "Destinations": destinations,
            "Retry": {"InitialDelay": 1, "MaxDelay": 2},
        })
        # The same seeds give the same UIDs and pixels: the native files are
        # what every lossless conversion must give back.
        originals = harness.generate(self.path("native", "x"), suite="standard", seed=43)
        originals += harness.generate(self.path("native-ct", "x"), suite="ct-series", count=4, seed=44,
                                      rows=64, columns=48)
        inputs = harness.generate(self.path("htj2k", "x"), suite="standard", seed=43,
                                  transfer_syntax="HTJ2KLossless")
        inputs += harness.generate(self.path("htj2k-ct", "x"), suite="ct-series", count=4, seed=44,
                                   rows=64, columns=48, transfer_syntax="HTJ2KLossless")
        self.assertEqual(sorted(uid for _, uid in inputs), sorted(uid for _, uid in originals))
        for path, _ in inputs:
            self.assertEqual(harness.transfer_syntax(path), HTJ2K_LOSSLESS)
            orthanc.upload(path)  # DCMTK 3.6.7 cannot send HTJ2K over C-STORE either

        expected = {uid: path for path, uid in originals}
        for name, scp in peers.items():
            harness.wait_for_files(expected, scp.received, 90, f"every instance at {name} with the original pixels")
        self.assertEqual({harness.transfer_syntax(p) for p in peers["old"].received().values()}, {IMPLICIT})
        self.assertEqual({harness.transfer_syntax(p) for p in peers["all"].received().values()}, {EXPLICIT})
        folder = os.path.dirname(archive)
        filed = {}

        def archived():
            filed.clear()
            for path in harness.folder_files(folder).values():
                if path.endswith(".dcm"):
                    filed[os.path.basename(path)[:-len(".dcm")]] = path
            return len(filed) >= len(inputs)
        harness.wait_for(archived, 30, "every instance in the archive folder")
        for path, uid in inputs:
            with open(path, "rb") as a, open(filed[uid], "rb") as b:
                self.assertEqual(a.read(), b.read(), f"{uid} filed as received")
        log = orthanc.log_text()
        self.assertIn("delivery to old: HTJ2KLossless cannot be sent on a DICOM association with DCMTK 3.6.7", log)
        self.assertIn("; sending as ImplicitVRLittleEndian instead of HTJ2KLossless", log)
        status = orthanc.get("/router/status")
        for name in peers:
            self.assertEqual(status["Destinations"][name]["Queue"].get("dead", 0), 0, name)

    def test_orthancs_own_transcoding_runs_in_the_routers_workers(self):
        rules = os.path.dirname(self.path("rules", "route.lua"))
        with open(os.path.join(rules, "route.lua"), "w") as f:
            f.write("function route(instance) return {} end\n")
        old = self.start_storescp("OLD", implicit_only=True)
        orthanc = self.start_orthanc(plugin=harness.plugin_path(), modalities={"old": [old.aet, "127.0.0.1", old.port]},
                                     router={
            "Rules": rules,
            "QueueDatabase": self.path("queue", "queue.sqlite"),
            "Destinations": {"unused": {"Type": "folder", "Path": os.path.dirname(self.path("unused", "x"))}},
        })
        (native, uid), = harness.generate(self.path("native", "x"), suite="ct-series", count=1, seed=46,
                                          rows=64, columns=48)
        (jpegls, _), = harness.generate(self.path("jpegls", "x"), suite="ct-series", count=1, seed=46,
                                        rows=64, columns=48, transfer_syntax="JPEGLSLossless")
        # Before the router runs (its workers start on OrthancStarted), Orthanc's own transcoder does it.
        harness.wait_for(lambda: orthanc.get("/router/status")["State"] == "running", 60, "the router to run")
        instance = orthanc.upload(jpegls)["ID"]

        # /modify with "Transcode" (Orthanc would use DCMTK's JPEG-LS codec itself).
        status, _, body = orthanc.request("POST", f"/instances/{instance}/modify",
                                          {"Transcode": EXPLICIT, "Keep": ["SOPInstanceUID"], "Force": True})
        self.assertEqual(status, 200, body[:500])
        self.assertEqual(body[128:132], b"DICM", body[:300])
        converted = self.path("converted", "explicit.dcm")
        with open(converted, "wb") as f:
            f.write(body)
        self.assertEqual(harness.transfer_syntax(converted), EXPLICIT)
        self.assertEqual(harness.differences(native, converted, tags=("SOPInstanceUID",)), [])

        # Orthanc's C-STORE SCU converts for a peer that accepts only Implicit VR LE.
        orthanc.post("/modalities/old/store", {"Resources": [instance], "Synchronous": True})
        harness.wait_for_files({uid: native}, old.received, 30, "the JPEG-LS instance at the implicit-only peer")
        self.assertEqual({harness.transfer_syntax(p) for p in old.received().values()}, {IMPLICIT})

        # Both conversions were the router's workers' (nothing was routed).
        metrics = orthanc.request("GET", "/router/metrics")[2].decode()
        for syntax in ("ExplicitVRLittleEndian", "ImplicitVRLittleEndian"):
            self.assertIn(f'orthanc_router_transcode_duration_seconds_count{{transfer_syntax="{syntax}"}} 1', metrics)

if __name__ == "__main__":
    unittest.main()
