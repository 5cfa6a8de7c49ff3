"""Series and studies routed as units, end to end: a 3-series study comes
from two senders in bursts, with pauses shorter and longer than the quiet
time. Checked at the storescp peers: nothing of a series or study arrives
before its quiet time has passed since its last instance, everything
arrives, in instance order, on one association per destination; a late
series follows its route's policy (batch, alone, resend: counted in the
peer's log); a kill -9 while a study waits, and again while it is being
delivered, loses nothing, sends again at most what was in flight, and the
wait goes on after the restart; an operator's force-complete and cancel act
on waiting batches; required series hold a study past its quiet time until
they come, and a maximum wait forces it out without them; route_study()
decides a complete study from its summary (and sends only the series it
chose), the rules test answers the same for the study's files, and a
failing route_study() holds the study until the rules are fixed; a
delivery window (Orthanc's TZ set so that it opens 20 s into the test: the
controllable clock) holds its queue without using attempts while urgent
routes go; a 1000-instance study goes once, on one association."""

import calendar
import json
import os
import socket
import subprocess
import textwrap
import time
import unittest

import pydicom

import harness

RULE = textwrap.dedent("""\
    function route(instance)
      return { { destination = "ai", when = "series", quiet = 3 },
               { destination = "tele", when = "study", quiet = 6, late = "alone" },
               { destination = "pacs", when = "study", quiet = 6, late = "resend" } }
    end
    """)


class BatchesTest(harness.RouterTestCase):
    def study(self, name, series_counts, seed, modalities=None):
        """Generated series of one study: [[(path, uid, instance number)], ...]."""
        out, study_uid = [], None
        for n, count in enumerate(series_counts):
            files = harness.generate(self.path(name, f"s{n}", "x"), suite="ct-series", count=count,
                                     seed=seed + n, rows=32, columns=32)
            series = []
            for path, uid in files:
                ds = pydicom.dcmread(path)
                study_uid = study_uid or ds.StudyInstanceUID
                ds.StudyInstanceUID = study_uid
                ds.SeriesNumber = n + 1
                if modalities:
                    ds.Modality = modalities[n]
                ds.save_as(path, write_like_original=True)
                series.append((path, uid, int(ds.InstanceNumber)))
            out.append(series)
        return out

    def start_appliance(self, rule=RULE, peers=("ai", "tele"), settings=None, env=None):
        rules = os.path.dirname(self.path("rules", "route.lua"))
        with open(os.path.join(rules, "route.lua"), "w") as f:
            f.write(rule)
        self.peers = {name: self.start_storescp(name.upper(), extra_args=("-v",)) for name in peers}
        return self.start_orthanc(plugin=harness.plugin_path(), env=env, router={
            "Rules": rules,
            "QueueDatabase": self.path("queue", "queue.sqlite"),
            "Destinations": {name: dict({"Type": "dicom", "AET": p.aet, "Host": "127.0.0.1", "Port": p.port},
                                        **(settings or {}).get(name, {}))
                             for name, p in self.peers.items()},
            "Retry": {"InitialDelay": 1, "MaxDelay": 2},
        })

    def arrivals(self, peer, uids):
        """{uid: mtime} of the given instances at the peer."""
        have = self.peers[peer].received()
        return {uid: os.stat(have[uid]).st_mtime for uid in uids if uid in have}

    def associations(self, peer):
        return self.peers[peer].log_text().count("Association Received")

    def stores(self, peer):
        return self.peers[peer].log_text().count("Received Store Request")

    def test_a_study_in_bursts_from_two_senders(self):
        orthanc = self.start_appliance(peers=("ai", "tele", "pacs"))
        a, b, c = self.study("study", [5, 5, 4], seed=61)
        port = orthanc.dicom_port

        harness.send([p for p, _, _ in a], port, calling="CT01")
        harness.send([p for p, _, _ in b[:3]], port, calling="CT02")
        time.sleep(1)  # shorter than either quiet time
        harness.send([p for p, _, _ in b[3:]], port, calling="CT02")
        last_of_b = time.time()
        first_ten = {uid: path for path, uid, _ in a + b}
        harness.wait_for_files(first_ten, self.peers["tele"].received, 60, "the study's first two series at tele")
        tele = self.arrivals("tele", first_ten)
        ai = self.arrivals("ai", first_ten)
        self.assertGreaterEqual(min(tele.values()), last_of_b + 6 - 0.5, "tele got the study before it was quiet")
        self.assertGreaterEqual(min(ai[uid] for _, uid, _ in b), last_of_b + 3 - 0.5,
                                "ai got series 2 before it was quiet")
        harness.wait_for_files(first_ten, self.peers["ai"].received, 30, "series 1 and 2 at ai")
        # In series, then instance order.
        for peer in ("ai", "tele"):
            got = self.arrivals(peer, first_ten)
            order = sorted(first_ten, key=lambda uid: got[uid])
            wanted = [uid for _, uid, _ in sorted(a, key=lambda x: x[2]) + sorted(b, key=lambda x: x[2])]
            if peer == "ai":  # two series released apart: each in its own order
                order = [u for u in order if u in {x[1] for x in a}] + [u for u in order if u in {x[1] for x in b}]
            self.assertEqual(order, wanted, f"order of arrival at {peer}")

        batches = orthanc.get("/router/batches")
        harness.wait_for_files(first_ten, self.peers["pacs"].received, 30, "the study at pacs")
        self.assertEqual(self.stores("pacs"), 10)
        study = [x for x in batches if x["Destination"] == "tele"]
        self.assertEqual(len(study), 1)
        self.assertEqual(study[0]["Level"], "study")
        self.assertEqual(study[0]["Instances"], 10)
        self.assertEqual(sorted(study[0]["Senders"]), ["CT01", "CT02"])
        self.assertEqual(study[0]["ReleasedBecause"], "quiet time")
        harness.wait_for(lambda: orthanc.get(f"/router/batches/{study[0]['Id']}")["State"] == "delivered", 30,
                         "the study batch to count as delivered")

        # Series 3 after a pause longer than the study's quiet time: for tele
        # it is late ("alone": sent at once), for ai a series of its own.
        time.sleep(1)
        harness.send([p for p, _, _ in c], port, calling="CT01")
        sent_c = time.time()
        everything = {uid: path for path, uid, _ in a + b + c}
        harness.wait_for_files(everything, self.peers["tele"].received, 60, "the late series at tele")
        harness.wait_for_files(everything, self.peers["ai"].received, 60, "series 3 at ai")
        self.assertLess(min(self.arrivals("tele", {u for _, u, _ in c}).values()), sent_c + 3,
                        "a late instance with late = alone does not wait")
        self.assertGreaterEqual(min(self.arrivals("ai", {u for _, u, _ in c}).values()), sent_c + 3 - 0.5)
        self.assertEqual(len([x for x in orthanc.get("/router/batches") if x["Destination"] == "tele"]), 1)
        # pacs (late = "resend"): the whole study again, once quiet, as a second batch.
        harness.wait_for(lambda: self.stores("pacs") >= 24, 60, "the whole study again at pacs")
        self.assertGreaterEqual(min(os.stat(self.peers["pacs"].received()[u]).st_mtime for _, u, _ in a),
                                sent_c + 6 - 0.5, "the resent study went before it was quiet again")
        resent = [x for x in orthanc.get("/router/batches") if x["Destination"] == "pacs"]
        self.assertEqual(sorted((x["Instances"], x["Late"]) for x in resent), [(10, False), (14, True)])
        time.sleep(1)
        self.assertEqual(self.stores("pacs"), 24, "sent more than the study twice")
        # One association per destination (kept open between releases).
        self.assertEqual(self.associations("tele"), 1)
        self.assertEqual(self.associations("ai"), 1)
        self.assertEqual(self.associations("pacs"), 1)
        metrics = orthanc.request("GET", "/router/metrics")[2].decode()
        self.assertIn('orthanc_router_batches_released_total{destination="ai",level="series",reason="quiet_time"} 3',
                      metrics)

    def test_a_waiting_study_survives_kill9_and_operators_act_on_batches(self):
        orthanc = self.start_appliance(textwrap.dedent("""\
            function route(instance)
              return { { destination = "tele", when = "study", quiet = 8 },
                       { destination = "ai", when = "series", quiet = 600 } }
            end
            """))
        (a,) = self.study("study", [4], seed=71)
        harness.send([p for p, _, _ in a], orthanc.dicom_port, calling="CT01")
        sent = time.time()
        harness.wait_for(lambda: len(orthanc.get("/router/batches?state=waiting")) == 2, 30, "two waiting batches")
        orthanc.kill9()
        time.sleep(2)
        orthanc.start()
        expected = {uid: path for path, uid, _ in a}
        harness.wait_for_files(expected, self.peers["tele"].received, 60, "the study at tele after the restart")
        self.assertGreaterEqual(min(self.arrivals("tele", expected).values()), sent + 8 - 0.5,
                                "the quiet time restarted or was skipped")

        # ai's series waits 10 minutes: an operator holds, then forces it.
        (waiting,) = orthanc.get("/router/batches?state=waiting")
        self.assertEqual(waiting["Destination"], "ai")
        held = orthanc.post(f"/router/batches/{waiting['Id']}/hold")
        self.assertEqual(held["State"], "on-hold")
        status, _, body = orthanc.request("POST", f"/router/batches/{waiting['Id']}/hold", b"")
        self.assertEqual(status, 409, body)
        self.assertEqual(orthanc.post(f"/router/batches/{waiting['Id']}/release")["ReleasedBecause"], "operator")
        harness.wait_for_files(expected, self.peers["ai"].received, 30, "the forced series at ai")

        # A cancelled batch sends nothing.
        (b,) = self.study("second", [2], seed=81)
        harness.send([p for p, _, _ in b], orthanc.dicom_port, calling="CT01")
        harness.wait_for(lambda: any(x["Destination"] == "ai" for x in orthanc.get("/router/batches?state=waiting")),
                         30, "the second series waiting")
        second = [x for x in orthanc.get("/router/batches?state=waiting") if x["Destination"] == "ai"][0]
        self.assertEqual(orthanc.post(f"/router/batches/{second['Id']}/cancel")["State"], "cancelled")
        status = orthanc.get("/router/status")["Destinations"]["ai"]
        self.assertEqual(status["Queue"]["held"], 0)
        self.assertNotIn(b[0][1], self.peers["ai"].received())
        self.assertIn("batches: cancel of series", orthanc.log_text())

    def test_required_series_a_maximum_wait_and_a_study_level_decision(self):
        orthanc = self.start_appliance(textwrap.dedent("""\
            -- tele: only the PET series, decided once the study has its CT and its PET.
            study_complete = { quiet = 3, max_wait = 600, required = { "CT", { Modality = "PT" } } }
            function route_study(study)
              local pet = {}
              for _, s in ipairs(study.series) do
                if s.modality == "PT" then pet[#pet + 1] = s.uid end
              end
              return { { destination = "tele", series = pet,
                         modify = { StudyDescription = study.instances .. " in " .. #study.series } } }
            end
            -- ai: waits for an MR series that never comes; the maximum wait forces it.
            function route(instance)
              return { { destination = "ai", when = "study", quiet = 2, max_wait = 20, required = { "MR" } } }
            end
            """))
        ct, pt = self.study("study", [3, 2], seed=101, modalities=["CT", "PT"])
        everything = {uid: path for path, uid, _ in ct + pt}

        # The rules test takes the study as several files.
        fields = []
        for path, _, _ in ct + pt:
            with open(path, "rb") as f:
                fields.append(f.read())
        boundary = "router-test-boundary"
        body = b"".join(b"--" + boundary.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n" + data + b"\r\n"
                        for data in fields) + b"--" + boundary.encode() + b"--\r\n"
        status, _, answer = orthanc.request(
            "POST", "/router/rules/test", body,
            content_type=f"multipart/related; type=\"application/dicom\"; boundary={boundary}")
        self.assertEqual(status, 200, answer)
        tested = json.loads(answer)
        self.assertEqual(len(tested["instances"]), 5)
        self.assertEqual(tested["instances"][0]["routes"][0]["required"][0]["series"], "Modality=MR")
        (decided,) = tested["studies"]
        pt_series = pydicom.dcmread(pt[0][0]).SeriesInstanceUID
        self.assertEqual(decided["routes"][0]["series"], [pt_series])
        self.assertEqual(decided["routes"][0]["modify"], {"StudyDescription": "5 in 2"})
        self.assertEqual([x["instances"] for x in decided["series"]], [3, 2])
        # The offline CLI answers the same for the same files: one line per file, then the study's.
        build = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(harness.plugin_path()))))
        cli = subprocess.run([os.path.join(build, "lua", "orthanc-router-rules"),
                              os.path.dirname(self.path("rules", "route.lua")), "--quiet"] +
                             [p for p, _, _ in ct + pt], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(cli.returncode, 0, cli.stderr.decode())
        lines = [json.loads(x) for x in cli.stdout.decode().splitlines()]
        self.assertEqual(len(lines), 6)
        self.assertEqual(lines[-1]["routes"], decided["routes"])
        self.assertEqual(lines[-1]["series"], decided["series"])

        harness.send([p for p, _, _ in ct], orthanc.dicom_port, calling="CT01")
        first = time.time()
        time.sleep(5)  # longer than both quiet times: only the missing series hold them
        self.assertEqual(self.peers["tele"].received(), {})
        self.assertEqual(self.peers["ai"].received(), {})
        waiting = {x["Destination"]: x for x in orthanc.get("/router/batches?state=waiting")}
        self.assertEqual(waiting["@route_study"]["RequiredMissing"], ["Modality=PT"])
        self.assertEqual(waiting["@route_study"]["RequiredPresent"], ["Modality=CT"])
        self.assertEqual(waiting["ai"]["RequiredMissing"], ["Modality=MR"])
        self.assertEqual(orthanc.get("/router/status")["StudyDecisions"]["waiting"], 1)
        metrics = orthanc.request("GET", "/router/metrics")[2].decode()
        queue = f"sqlite:{socket.gethostname()}"  # the embedded queue of the default NodeName
        self.assertIn(f'orthanc_router_batches{{destination="@route_study",queue="{queue}",state="waiting"}} 1', metrics)

        harness.send([p for p, _, _ in pt], orthanc.dicom_port, calling="PET02")
        sent_pt = time.time()
        pet = {uid: path for path, uid, _ in pt}
        harness.wait_for_files(pet, self.peers["tele"].received, 60, "the PET series at tele",
                               tags=("SOPInstanceUID",))
        self.assertGreaterEqual(min(self.arrivals("tele", pet).values()), sent_pt + 3 - 0.5,
                                "decided before the study was quiet")
        time.sleep(1)
        self.assertEqual(set(self.peers["tele"].received()), set(pet), "only the series route_study chose")
        got = pydicom.dcmread(self.peers["tele"].received()[pt[0][1]])
        self.assertEqual(got.StudyDescription, "5 in 2")
        decisions = [x for x in orthanc.get("/router/batches") if x["Destination"] == "@route_study"]
        self.assertEqual(decisions[0]["State"], "delivered")
        self.assertEqual(decisions[0]["ReleasedBecause"], "required series and quiet time")
        (tele,) = [x for x in orthanc.get("/router/batches") if x["Destination"] == "tele"]
        self.assertEqual(tele["Instances"], 2)
        self.assertEqual(sorted(tele["Senders"]), ["CT01", "PET02"])
        harness.wait_for(lambda: orthanc.get(f"/router/batches/{tele['Id']}")["State"] == "delivered", 30,
                         "the decided study to count as delivered")

        # ai: the MR never came; forced out 20 s after the study's first instance.
        harness.wait_for_files(everything, self.peers["ai"].received, 60, "the study at ai after its maximum wait",
                               tags=("SOPInstanceUID",))
        self.assertGreaterEqual(min(self.arrivals("ai", everything).values()), first + 20 - 0.5)
        (ai,) = [x for x in orthanc.get("/router/batches") if x["Destination"] == "ai"]
        self.assertEqual(ai["ReleasedBecause"], "maximum wait")
        self.assertEqual(ai["RequiredMissing"], ["Modality=MR"])

    def test_a_failing_route_study_holds_the_study_until_the_rules_are_fixed(self):
        rules = os.path.dirname(self.path("rules", "route.lua"))
        orthanc = self.start_appliance(textwrap.dedent("""\
            study_complete = { quiet = 2 }
            function route_study(study)
              return { { destination = study.tags.InstitutionName .. "x" } }
            end
            """))
        (a,) = self.study("study", [2], seed=111)
        harness.send([p for p, _, _ in a], orthanc.dicom_port, calling="CT01")
        harness.wait_for(lambda: any(x["State"] == "on-hold" for x in orthanc.get("/router/batches")), 30,
                         "the study's decision on hold")
        (held,) = orthanc.get("/router/batches?state=on-hold")
        self.assertIn("route_study failed", held["ReleasedBecause"])
        self.assertIn("route.lua:2", held["ReleasedBecause"])  # where route_study is defined
        self.assertIn("left on hold", orthanc.log_text())
        with open(os.path.join(rules, "route.lua"), "w") as f:
            f.write('function route_study(study) return { { destination = "tele" } } end\n')
        orthanc.post("/router/rules/reload")
        orthanc.post(f"/router/batches/{held['Id']}/release")
        expected = {uid: path for path, uid, _ in a}
        harness.wait_for_files(expected, self.peers["tele"].received, 60, "the study at tele once decided")

    def test_a_study_being_delivered_survives_kill9(self):
        orthanc = self.start_appliance(textwrap.dedent("""\
            function route(instance)
              return { { destination = "tele", when = "study", quiet = 2 } }
            end
            """))
        files = harness.generate(self.path("big", "x"), suite="ct-series", count=400, seed=121, rows=8, columns=8)
        harness.send([p for p, _ in files], orthanc.dicom_port, calling="CT01", timeout=300)
        # Kill as soon as the first of the study arrived at the peer.
        harness.wait_for(lambda: len(self.peers["tele"].received()) > 0, 60, "the study's delivery to start",
                         interval=0.02)
        orthanc.kill9()
        at_kill = len(self.peers["tele"].received())
        self.assertLess(at_kill, 400, "the study went out before the kill: nothing was tested")
        orthanc.start()
        expected = {uid: path for path, uid in files}
        harness.wait_for_files(expected, self.peers["tele"].received, 240, "the whole study after the restart",
                               pixels=False)
        (batch,) = orthanc.get("/router/batches")
        harness.wait_for(lambda: orthanc.get(f"/router/batches/{batch['Id']}")["State"] == "delivered", 30,
                         "the study to count as delivered")
        stores = self.stores("tele")
        # At-least-once: only what was in flight at the kill goes twice.
        self.assertGreaterEqual(stores, 400)
        self.assertLessEqual(stores - 400, 8, f"{stores - 400} duplicates")
        self.assertEqual(self.associations("tele"), 2)  # one before the kill, one after

    def test_a_delivery_window_holds_its_queue_until_it_opens_and_urgent_routes_go_anyway(self):
        # The controllable clock: Orthanc's TZ, chosen so that its local time
        # is 19:59:40 now, and the window "20:00-06:00" opens in 20 s.
        now = time.time()
        opening = now + 20
        offset = (20 * 3600 - (int(now) + 20) % 86400) % 86400
        if offset > 12 * 3600:
            offset -= 86400
        sign = "-" if offset >= 0 else "+"  # POSIX: the offset to add to local time to get UTC
        hours, rest = divmod(abs(offset), 3600)
        tz = f"RTZ{sign}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
        orthanc = self.start_appliance(textwrap.dedent("""\
            function route(instance)
              return { { destination = "archive", urgent = instance.tags.PatientID == "URGENT" } }
            end
            """), peers=("archive",), settings={"archive": {"Window": {"From": "20:00", "To": "06:00"}}},
            env={"TZ": tz})
        window = orthanc.get("/router/status")["Destinations"]["archive"]["Window"]
        self.assertFalse(window["Open"], window)
        opens_at = calendar.timegm(time.strptime(window["OpensAt"][:19], "%Y-%m-%dT%H:%M:%S"))
        self.assertAlmostEqual(opens_at, opening, delta=61)  # to the minute

        normal = harness.generate(self.path("normal", "x"), suite="ct-series", count=3, seed=131, rows=8, columns=8)
        urgent = harness.generate(self.path("urgent", "x"), suite="ct-series", count=1, seed=141, rows=8, columns=8,
                                  patient_id="URGENT")
        harness.send([p for p, _ in normal + urgent], orthanc.dicom_port, calling="CT01")
        harness.wait_for_files({u: p for p, u in urgent}, self.peers["archive"].received, 10, "the urgent instance at once")
        self.assertLess(time.time(), opening, "the test was too slow: the window opened already")
        jobs = orthanc.get("/router/queue?destination=archive")
        self.assertEqual(len(jobs), 3)
        self.assertTrue(all(j["Attempts"] == 0 for j in jobs), jobs)  # waiting uses no attempts
        self.assertEqual({u for u in self.peers["archive"].received()}, {u for _, u in urgent})
        harness.wait_for_files({u: p for p, u in normal}, self.peers["archive"].received, 90, "the queue once the window opened")
        self.assertGreaterEqual(min(self.arrivals("archive", {u for _, u in normal}).values()), opening - 1)
        self.assertTrue(orthanc.get("/router/status")["Destinations"]["archive"]["Window"]["Open"])

    def test_a_study_of_a_thousand_instances_goes_once_on_one_association(self):
        orthanc = self.start_appliance(textwrap.dedent("""\
            function route(instance)
              return { { destination = "tele", when = "study", quiet = 3 } }
            end
            """))
        files = harness.generate(self.path("big", "x"), suite="ct-series", count=1000, seed=91, rows=8, columns=8)
        harness.send([p for p, _ in files], orthanc.dicom_port, calling="CT01", timeout=300)
        expected = {uid: path for path, uid in files}
        harness.wait_for_files(expected, self.peers["tele"].received, 240, "the 1000-instance study at tele",
                               pixels=False)
        (batch,) = orthanc.get("/router/batches")
        self.assertEqual(batch["Instances"], 1000)
        self.assertEqual(batch["ReleasedBecause"], "quiet time")
        harness.wait_for(lambda: orthanc.get(f"/router/batches/{batch['Id']}")["State"] == "delivered", 30,
                         "the study to count as delivered")
        self.assertEqual(self.associations("tele"), 1)
        self.assertEqual(len(self.peers["tele"].received()), 1000)


if __name__ == "__main__":
    unittest.main()
