"""A wrong "Router" section must stop the plugin with one clear line in
Orthanc's log that names the key at fault. Whether Orthanc then refuses to
start or runs without the router is Orthanc's business: both are accepted,
a crash is not."""

import os
import re
import unittest

import harness


class ConfigErrorTest(harness.RouterTestCase):
    def setUp(self):
        super().setUp()
        self.plugin = harness.plugin_path()
        self.rules = os.path.dirname(self.path("rules", "route.lua"))
        with open(os.path.join(self.rules, "route.lua"), "w") as f:
            f.write('function route(instance) return { { destination = "pacs" } } end\n')

    def router(self, pacs):
        return {
            "Rules": self.rules,
            "QueueDatabase": self.path("queue", "queue.sqlite"),
            "Threads": 1,
            "Destinations": {"pacs": pacs},
        }

    def assert_refused(self, router, key):
        """Starts Orthanc with this Router section; the log must hold a line
        naming `key` (as a whole key: "Router.Rules" does not match
        "Router.RulesX"), and Orthanc must not crash."""
        orthanc = self.start_orthanc(plugin=self.plugin, router=router, start=False)
        orthanc.spawn()
        state = orthanc.wait_up_or_exit(30)
        log = orthanc.log_text()
        if state == "exited":
            self.assertGreaterEqual(orthanc.process.returncode, 0,
                                    f"Orthanc died of a signal; log:\n{orthanc.log_tail()}")
        else:
            # Running: the router must not be serving as if nothing happened.
            status, _, _ = orthanc.request("GET", "/router/status")
            self.assertNotEqual(status, 200, "/router/status answers although the configuration is wrong")
            self.assertEqual(orthanc.stop(), 0, f"Orthanc did not stop cleanly; log:\n{orthanc.log_tail()}")
        pattern = re.compile(re.escape(key) + r"(?![\w.])")
        lines = [line for line in log.splitlines() if pattern.search(line)]
        self.assertTrue(lines, f"no log line names {key} (Orthanc {state}); log:\n{orthanc.log_tail()}")
        print(f"\n[config] Orthanc {state}; {lines[0].strip()}")
        return lines

    def test_deidentification_key_readable_by_everyone(self):
        key = self.path("keys", "trial.key")
        with open(key, "w") as f:
            f.write("0123456789abcdef0123456789abcdef\n")
        os.chmod(key, 0o644)
        router = self.router({"Type": "folder", "Path": self.path("out", "x")})
        router["Deidentification"] = {"Projects": {"trial": {"KeyFile": key}}}
        lines = self.assert_refused(router, "Router.Deidentification.Projects.trial.KeyFile")
        self.assertIn("chmod 600", lines[0])

    def test_unknown_destination_type(self):
        self.assert_refused(self.router({"Type": "ftp", "Path": "/tmp"}), "Router.Destinations.pacs.Type")

    def test_dicom_destination_without_port(self):
        self.assert_refused(self.router({"Type": "dicom", "AET": "PACS", "Host": "127.0.0.1"}),
                            "Router.Destinations.pacs.Port")

    def test_missing_rules_folder(self):
        router = self.router({"Type": "folder", "Path": self.path("out", "x")})
        router["Rules"] = os.path.join(self.tmp, "no-such-rules")
        self.assert_refused(router, "Router.Rules")

    def test_unknown_transfer_syntax_keyword(self):
        pacs = {"Type": "dicom", "AET": "PACS", "Host": "127.0.0.1", "Port": harness.free_port(),
                "TransferSyntaxes": ["JPEGLSLossless", "JPEG-XL-Lossless"]}
        lines = self.assert_refused(self.router(pacs), "Router.Destinations.pacs.TransferSyntaxes")
        self.assertTrue(any("JPEG-XL-Lossless" in line for line in lines),
                        "the line should quote the unknown keyword")


if __name__ == "__main__":
    unittest.main()
