"""DICOMweb (STOW-RS, batched) and Orthanc-peer destinations end to end: a
second, real Orthanc with Debian's DICOMweb plugin and authentication receives
CT through STOW-RS and everything else through its REST API. What it stored is
compared with the originals (tags and pixels); a wrong password ends in the
dead letters at once, with advice and without the password."""

import os
import textwrap
import unittest

import harness

DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"

RULE = textwrap.dedent("""\
    function route(instance)
      if instance.tags.Modality == "CT" then
        return { { destination = "stow" } }
      end
      return { { destination = "peer" }, { destination = "badpeer" } }
    end
    """)


class HttpDestinationsTest(harness.RouterTestCase):
    def test_stow_and_peer(self):
        peer = self.start_orthanc("peer", plugin=DICOMWEB_PLUGIN, authentication=True,
                                  users={"router": "secret"},
                                  extra={"DicomWeb": {"Enable": True, "Root": "/dicom-web/"}})
        rules = os.path.dirname(self.path("rules", "route.lua"))
        with open(os.path.join(rules, "route.lua"), "w") as f:
            f.write(RULE)
        url = f"http://127.0.0.1:{peer.http_port}"
        orthanc = self.start_orthanc(plugin=harness.plugin_path(), router={
            "Rules": rules,
            "QueueDatabase": self.path("queue", "queue.sqlite"),
            "Destinations": {
                "stow": {"Type": "dicomweb", "Url": url + "/dicom-web", "Username": "router",
                         "Password": "secret", "BatchSize": 5},
                "peer": {"Type": "orthanc", "Url": url, "Username": "router", "Password": "secret"},
                "badpeer": {"Type": "orthanc", "Url": url, "Username": "router", "Password": "wrong"},
            },
            "Retry": {"InitialDelay": 1, "MaxDelay": 2},
        })
        ct = harness.generate(self.path("ct", "x"), suite="ct-series", count=12, seed=81, rows=64, columns=64)
        other = [(p, u) for p, u in harness.generate(self.path("std", "x"), suite="standard", seed=82)
                 if harness.read(p, pixels=False).Modality != "CT"]
        harness.send([p for p, _ in ct + other], orthanc.dicom_port)
        expected = {uid: p for p, uid in ct + other}

        def stored():
            """{SOPInstanceUID: path} of what the peer Orthanc holds, downloaded."""
            out = {}
            for instance in peer.get("/instances"):
                tags = peer.get(f"/instances/{instance}/simplified-tags")
                path = self.path("peer-files", tags["SOPInstanceUID"] + ".dcm")
                if not os.path.exists(path):
                    status, _, body = peer.request("GET", f"/instances/{instance}/file")
                    with open(path, "wb") as f:
                        f.write(body)
                out[tags["SOPInstanceUID"]] = path
            return out

        harness.wait_for_files(expected, stored, 60, "every instance at the peer Orthanc")
        status = orthanc.get("/router/status")["Destinations"]
        self.assertEqual(status["stow"]["Queue"]["pending"] + status["stow"]["Queue"]["failed"], 0)

        dead = lambda: orthanc.get("/router/queue?destination=badpeer&state=dead")
        harness.wait_for(lambda: len(dead()) == len(other), 30, "badpeer's jobs in the dead letters")
        self.assertIn("check Username and Password", dead()[0]["LastError"])
        self.assertNotIn("wrong", dead()[0]["LastError"])


if __name__ == "__main__":
    unittest.main()
