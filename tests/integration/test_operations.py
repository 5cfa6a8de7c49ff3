"""What an ops team does with a running appliance, through the REST API:
try a file against the rules, reload rules (a broken set is refused whole and
the old one stays), re-route instances a rule failed on once the rules are
fixed, survive a runaway rule, and recover dead letters of a destination that
was down past its retries. Orthanc stays up throughout."""

import base64
import json
import os
import subprocess
import textwrap
import time
import unittest

import harness

GOOD = textwrap.dedent("""\
    function route(instance)
      if instance.tags.Modality == "MR" then
        error("MR rules not written yet")
      end
      if instance.tags.PatientID == "LOOP" then
        while true do end
      end
      return { { destination = "out" }, { destination = "later", priority = 2 } }
    end
    """)
FIXED = GOOD.replace('error("MR rules not written yet")', 'return { { destination = "out" } }')
BROKEN = "function route(instance)\n  return {\nend\n"


class OperationsTest(harness.RouterTestCase):
    def write_rules(self, text):
        with open(os.path.join(self.rules, "10-route.lua"), "w") as f:
            f.write(text)

    def test_operations(self):
        self.rules = os.path.dirname(self.path("rules", "10-route.lua"))
        self.write_rules(GOOD)
        out = os.path.join(self.tmp, "out")
        later_port = harness.free_port()
        orthanc = self.start_orthanc(plugin=harness.plugin_path(), router={
            "Rules": self.rules,
            "QueueDatabase": self.path("queue", "queue.sqlite"),
            "Threads": 2,
            "Destinations": {
                "out": {"Type": "folder", "Path": out},
                # Nothing listens there yet: one attempt, then dead letters.
                "later": {"Type": "dicom", "AET": "LATER", "Host": "127.0.0.1", "Port": later_port,
                          "Retry": {"InitialDelay": 1, "MaxDelay": 1, "MaxAttempts": 1}},
            },
            "CircuitBreaker": {"Failures": 100, "ProbeInterval": 1},
        })
        ct = harness.generate(self.path("ct", "x"), suite="ct-series", count=3, seed=71, rows=32, columns=32)
        mr = [(p, u) for p, u in harness.generate(self.path("std", "x"), suite="standard", seed=72)
              if harness.read(p, pixels=False).Modality == "MR"]
        loop = harness.generate(self.path("loop", "x"), suite="ct-series", count=1, seed=73, rows=16,
                                columns=16, patient_id="LOOP")

        # 1. Dry run through the API: the routes, nothing sent.
        with open(ct[0][0], "rb") as f:
            status, _, body = orthanc.request("POST", "/router/rules/test", f.read(),
                                              "application/dicom")
        self.assertEqual(status, 200, body)
        routes = json.loads(body)["routes"]
        self.assertEqual([r["destination"] for r in routes], ["out", "later"])
        self.assertEqual(routes[1]["priority"], 2)
        self.assertFalse(os.path.exists(out) and os.listdir(out), "the dry run sent something")
        status, _, body = orthanc.request("POST", "/router/rules/test", b"not dicom", "application/dicom")
        self.assertEqual(status, 400, body)

        # 2. Send CT, MR and the runaway-rule instance.
        harness.send([p for p, _ in ct + mr + loop], orthanc.dicom_port)
        harness.wait_for(lambda: len(os.listdir(out)) >= 3 if os.path.exists(out) else False, 30,
                         "the CTs in the folder")
        failed = lambda: orthanc.get("/router/queue?state=rule-failed")
        harness.wait_for(lambda: len(failed()) == len(mr) + 1, 30, "MR and the runaway instance left rule-failed",
                         detail=failed)
        errors = " ".join(item["Error"] for item in failed())
        self.assertIn("10-route.lua:3:", errors)            # file:line of the error()
        self.assertIn("MR rules not written yet", errors)
        self.assertIn("10-route.lua", errors)
        self.assertTrue(orthanc.running())

        # 3. A broken rule set is refused whole; the old one stays in force.
        version = orthanc.get("/router/status")["Rules"]["Version"]
        self.write_rules(BROKEN)
        status, _, body = orthanc.request("POST", "/router/rules/reload")
        self.assertEqual(status, 400, body)
        self.assertIn("10-route.lua:", json.loads(body)["Error"])
        rules = orthanc.get("/router/status")["Rules"]
        self.assertEqual(rules["Version"], version)
        # The refusal stays in the status, with file and line, until a reload succeeds.
        self.assertEqual(rules["LastError"]["File"], "10-route.lua")
        self.assertGreater(rules["LastError"]["Line"], 0)
        self.assertIn("10-route.lua:", rules["LastError"]["Message"])

        # 4. Fixed rules: reload, re-route; the MR arrives, the runaway fails again.
        self.write_rules(FIXED)
        new_version = orthanc.post("/router/rules/reload")["Version"]
        self.assertNotEqual(new_version, version)
        self.assertNotIn("LastError", orthanc.get("/router/status")["Rules"])
        self.assertEqual(orthanc.post("/router/rules/reroute")["Rerouted"], len(mr) + 1)
        for _, uid in mr:
            harness.wait_for(lambda uid=uid: os.path.exists(os.path.join(out, uid + ".dcm")), 30,
                             "the re-routed MR in the folder")
        harness.wait_for(lambda: len(failed()) == 1, 30, "only the runaway instance left rule-failed")

        # 5. Dead letters of "later": retried through the API once it listens.
        dead = lambda: orthanc.get("/router/queue?destination=later&state=dead")
        harness.wait_for(lambda: len(dead()) == len(ct), 30, "the CT jobs of 'later' in the dead letters",
                         detail=lambda: orthanc.get("/router/queue?destination=later"))
        self.assertIn("127.0.0.1:%d" % later_port, dead()[0]["LastError"])
        scp = self.start_storescp("LATER", port=later_port)
        one = dead()[0]["Id"]
        self.assertEqual(orthanc.post("/router/queue/%d/retry" % one)["State"], "pending")
        self.assertEqual(orthanc.post("/router/destinations/later/retry")["Retried"], len(ct) - 1)
        expected = {uid: p for p, uid in ct}
        harness.wait_for_files(expected, scp.received, 30, "the retried CTs at LATER")
        status, _, _ = orthanc.request("POST", "/router/queue/999999/retry")
        self.assertEqual(status, 404)
        status, _, _ = orthanc.request("GET", "/router/queue?state=bogus")
        self.assertEqual(status, 400)
        self.assertTrue(orthanc.running())

    def test_metrics_user_may_only_scrape(self):
        rules = os.path.dirname(self.path("rules", "10-route.lua"))
        with open(os.path.join(rules, "10-route.lua"), "w") as f:
            f.write("function route(instance) return {} end\n")
        orthanc = self.start_orthanc(plugin=harness.plugin_path(), authentication=True,
                                     users={"admin": "admin-pw", "prometheus": "scrape-pw"},
                                     router={"Rules": rules, "QueueDatabase": self.path("q", "queue.sqlite"),
                                             "MetricsUser": "prometheus"})
        scraper = {"Authorization": "Basic " + base64.b64encode(b"prometheus:scrape-pw").decode()}
        status, headers, body = orthanc.request("GET", "/router/metrics", headers=scraper)
        self.assertEqual(status, 200)
        self.assertIn(b"orthanc_router_instances_received_total", body)
        # Names, types and help text follow Prometheus conventions.
        lint = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True)
        self.assertEqual(lint.returncode, 0, lint.stdout.decode() + lint.stderr.decode())
        for method, path in (("GET", "/router/status"), ("GET", "/instances"), ("GET", "/system"),
                             ("POST", "/router/rules/reload"), ("DELETE", "/router/destinations/x/dead")):
            status, _, _ = orthanc.request(method, path, headers=scraper)
            self.assertEqual(status, 403, f"{method} {path} as the metrics user")
        wrong = {"Authorization": "Basic " + base64.b64encode(b"prometheus:wrong").decode()}
        self.assertEqual(orthanc.request("GET", "/router/metrics", headers=wrong)[0], 401)
        self.assertEqual(orthanc.request("GET", "/router/status")[0], 200)  # admin: everything


    def test_rules_see_where_each_instance_came_from(self):
        """instance.origin through the running plugin (taken from Orthanc's
        stored-instance callback, or read back from Orthanc), for C-STORE and
        for a REST upload; the REST dry run answers the same route."""
        rules = self.path("rules", "10-origin.lua")
        with open(rules, "w") as f:
            f.write(textwrap.dedent("""\
                function route(instance)
                  local o = instance.origin
                  local seen = table.concat({ o.calling_aet, o.called_aet, o.remote_ip, o.protocol }, "|")
                  local folder = o.calling_aet == "CT01" and "ct01" or "other"
                  return { { destination = folder, modify = { InstitutionName = seen } } }
                end
                """))
        folders = {name: os.path.join(self.tmp, name) for name in ("ct01", "other")}
        orthanc = self.start_orthanc(plugin=harness.plugin_path(), router={
            "Rules": os.path.dirname(rules),
            "QueueDatabase": self.path("queue", "queue.sqlite"),
            "Destinations": {name: {"Type": "folder", "Path": path} for name, path in folders.items()},
        })
        (ct, ct_uid), (mr, mr_uid), (up, up_uid) = harness.generate(
            self.path("data", "x"), suite="ct-series", count=3, seed=91, rows=16, columns=16)
        harness.send([ct], orthanc.dicom_port, calling="CT01")
        harness.send([mr], orthanc.dicom_port, calling="MR02")
        orthanc.upload(up)

        def institution(folder, uid):
            path = os.path.join(folders[folder], uid + ".dcm")
            harness.wait_for(lambda: os.path.exists(path), 30, f"{uid} in {folder}")
            return str(harness.read(path, pixels=False).InstitutionName)
        self.assertEqual(institution("ct01", ct_uid), "CT01|ROUTER|127.0.0.1|DicomProtocol")
        self.assertEqual(institution("other", mr_uid), "MR02|ROUTER|127.0.0.1|DicomProtocol")
        self.assertEqual(institution("other", up_uid), "||127.0.0.1|RestApi")

        with open(ct, "rb") as f:
            status, _, body = orthanc.request(
                "POST", "/router/rules/test", f.read(), "application/dicom",
                headers={"X-Router-Calling-AET": "CT01", "X-Router-Called-AET": "ROUTER",
                         "X-Router-Remote-IP": "127.0.0.1"})
        self.assertEqual(status, 200, body)
        answer = json.loads(body)
        self.assertEqual(answer["routes"][0]["destination"], "ct01")
        self.assertEqual(answer["routes"][0]["modify"]["InstitutionName"], "CT01|ROUTER|127.0.0.1|DicomProtocol")


    def test_a_paused_destination_holds_its_queue_until_resumed(self):
        """Maintenance of a peer: pause its destination, its jobs wait (no
        attempts used, nothing dead), another destination goes on; resume and
        everything arrives."""
        rules = self.path("rules", "10-both.lua")
        with open(rules, "w") as f:
            f.write('function route(i) return { { destination = "pacs" }, { destination = "archive" } } end\n')
        pacs, archive = self.path("pacs", "x"), self.path("archive", "x")
        orthanc = self.start_orthanc(plugin=harness.plugin_path(), router={
            "Rules": os.path.dirname(rules),
            "QueueDatabase": self.path("queue", "queue.sqlite"),
            "Destinations": {"pacs": {"Type": "folder", "Path": os.path.dirname(pacs)},
                             "archive": {"Type": "folder", "Path": os.path.dirname(archive)}},
        })
        self.assertEqual(orthanc.post("/router/destinations/pacs/pause"), {"Destination": "pacs", "Paused": True})
        self.assertEqual(orthanc.request("POST", "/router/destinations/nope/pause")[0], 404)
        data = harness.generate(self.path("data", "x"), suite="ct-series", count=4, seed=93, rows=16, columns=16)
        harness.send([p for p, _ in data], orthanc.dicom_port)
        expected = {uid: p for p, uid in data}
        harness.wait_for_files(expected, lambda: {n[:-4]: os.path.join(os.path.dirname(archive), n)
                                                  for n in os.listdir(os.path.dirname(archive))},
                               30, "the instances at the archive while pacs is paused")
        time.sleep(2)  # pacs had every chance to take a job
        self.assertEqual(os.listdir(os.path.dirname(pacs)), [])
        status = orthanc.get("/router/status")["Destinations"]["pacs"]
        self.assertTrue(status["Paused"])
        self.assertEqual(status["Queue"]["pending"], len(data), status)
        self.assertTrue(all(j["Attempts"] == 0 for j in orthanc.get("/router/queue?destination=pacs")))

        self.assertEqual(orthanc.post("/router/destinations/pacs/resume"), {"Destination": "pacs", "Paused": False})
        harness.wait_for_files(expected, lambda: {n[:-4]: os.path.join(os.path.dirname(pacs), n)
                                                  for n in os.listdir(os.path.dirname(pacs))},
                               30, "the instances at pacs once resumed")
        self.assertFalse(orthanc.get("/router/status")["Destinations"]["pacs"]["Paused"])


if __name__ == "__main__":
    unittest.main()
