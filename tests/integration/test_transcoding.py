"""Routes with transfer syntaxes, end to end: one series goes to three
storescp peers as JPEG-LS lossless, JPEG 2000 lossless and as received; a
fourth peer that accepts only Implicit VR Little Endian is sent JPEG-LS by the
rule and must still receive every instance (negotiation fallback). Each file
that arrives is checked for its transfer syntax and, decoded by dcmtk/GDCM
tools, for pixels identical to the original."""

import os
import textwrap
import unittest

import harness

JPEGLS = "1.2.840.10008.1.2.4.80"
J2K_LOSSLESS = "1.2.840.10008.1.2.4.90"
EXPLICIT = "1.2.840.10008.1.2.1"
IMPLICIT = "1.2.840.10008.1.2"

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
        self.assertIn("refused by the peer, sending as", orthanc.log_text())
        metrics = orthanc.request("GET", "/router/metrics")[2].decode()
        self.assertIn('orthanc_router_transcode_duration_seconds_count{transfer_syntax="JPEGLSLossless"}', metrics)


if __name__ == "__main__":
    unittest.main()
