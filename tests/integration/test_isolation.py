"""No image can stop the appliance (issue 10), through a real Orthanc.

Orthanc with the router plugin, storescu as the modality, dcmtk storescp as
the peers. Transcoding runs in worker processes; where a codec fault must
come on demand, the router is pointed at router-faulty-transcoder (the real
worker plus faults: tests/generator/faulty_transcoder_main.cpp), which
fails the way a broken codec does on images that carry a marker.

    1. a worker that aborts, segfaults or hangs fails only that conversion:
       dead letter with the reason, the other destination still gets the
       instance, every other instance is delivered, Orthanc never stops
    2. a worker killed with -9 mid-conversion: that job follows its
       destination's OnTranscodeFailure (here: the original is sent)
    3. Orthanc itself dies twice while the same job is in flight: the third
       start quarantines that job and delivers everything else
    4. the generated hostile suite to every target syntax: Orthanc stays up,
       every instance is delivered or dead-lettered with its reason, nothing
       is left pending
"""

import os
import re
import signal
import subprocess
import time
import unittest

import pydicom

import harness

TARGETS = ["JPEG2000Lossless", "JPEG2000", "JPEGLSLossless", "JPEGLSNearLossless", "JPEGLossless",
           "JPEGLosslessSV1", "JPEGBaseline8Bit", "RLELossless", "HTJ2KLossless", "HTJ2K",
           "ExplicitVRLittleEndian", "ImplicitVRLittleEndian"]

TARGET_UIDS = {
    "JPEG2000Lossless": "1.2.840.10008.1.2.4.90", "JPEG2000": "1.2.840.10008.1.2.4.91",
    "JPEGLSLossless": "1.2.840.10008.1.2.4.80", "JPEGLSNearLossless": "1.2.840.10008.1.2.4.81",
    "JPEGLossless": "1.2.840.10008.1.2.4.57", "JPEGLosslessSV1": "1.2.840.10008.1.2.4.70",
    "JPEGBaseline8Bit": "1.2.840.10008.1.2.4.50", "RLELossless": "1.2.840.10008.1.2.5",
    "HTJ2KLossless": "1.2.840.10008.1.2.4.201", "HTJ2K": "1.2.840.10008.1.2.4.203",
    "ExplicitVRLittleEndian": "1.2.840.10008.1.2.1", "ImplicitVRLittleEndian": "1.2.840.10008.1.2",
}


def parse_metrics(text):
    out = []
    for line in text.splitlines():
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$', line)
        if m and not line.startswith("#"):
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            out.append((m.group(1), labels, float(m.group(3))))
    return out


class IsolationTest(harness.RouterTestCase):
    def start_router(self, rules, destinations, orthanc_name="orthanc", **router):
        rules_dir = os.path.dirname(self.path("rules", "route.lua"))
        with open(os.path.join(rules_dir, "route.lua"), "w") as f:
            f.write(rules)
        config = {"Rules": rules_dir, "QueueDatabase": self.path("queue", "queue.sqlite"), "Threads": 2,
                  "Destinations": destinations, "Retry": {"InitialDelay": 1, "MaxDelay": 2, "MaxAttempts": 3}}
        config.update(router)
        self.orthanc = self.start_orthanc(orthanc_name, plugin=harness.plugin_path(), router=config)
        return self.orthanc

    def peer(self, aet):
        return self.start_storescp(aet, accept_all=True)

    def dicom(self, scp):
        return {"Type": "dicom", "AET": scp.aet, "Host": "127.0.0.1", "Port": scp.port}

    def generate(self, name, count, seed, size=32):
        files = harness.generate(self.path("data", name, "x"), suite="ct-series", count=count, seed=seed,
                                 rows=size, columns=size)
        return {uid: path for path, uid in files}

    def marked(self, name, marker, seed):
        """One generated CT slice whose StudyDescription carries a fault marker."""
        (uid, path), = self.generate(name, 1, seed).items()
        ds = pydicom.dcmread(path)
        ds.StudyDescription = marker
        ds.save_as(path)
        return uid, path

    def status(self):
        return self.orthanc.get("/router/status")

    def settled(self, *destinations):
        """Nothing pending, sending or failed (waiting for a retry) anywhere."""
        st = self.status()
        if any(n for s, n in st["Intake"].items() if s != "rule-failed"):
            return False
        return all(st["Destinations"][d]["Queue"][s] == 0 for d in destinations
                   for s in ("pending", "sending", "failed"))

    def dead(self, destination):
        jobs = self.orthanc.get(f"/router/queue?destination={destination}&state=dead&limit=10000")
        return {j["SOPInstanceUID"]: j["LastError"] for j in jobs}

    def metric(self, name, **labels):
        return sum(v for n, l, v in parse_metrics(self.orthanc.get("/router/metrics"))
                   if n == name and all(l.get(k) == str(x) for k, x in labels.items()))

    def assert_alive(self):
        self.assertTrue(self.orthanc.running(), f"Orthanc stopped:\n{self.orthanc.log_tail()}")
        self.assertEqual(self.orthanc.get("/system")["DicomAet"], self.orthanc.aet)

    # -- 1

    def test_1_codec_faults_fail_only_their_conversion(self):
        j2k, asis = self.peer("J2K"), self.peer("ASIS")
        rules = ('function route(instance)\n'
                 '  return { { destination = "j2k", transfer_syntax = "JPEG2000Lossless" },\n'
                 '           { destination = "asis" } }\nend\n')
        self.start_router(rules, {
            "j2k": dict(self.dicom(j2k), OnTranscodeFailure="fail"),
            "asis": self.dicom(asis),
        }, Transcoding={"WorkerExecutable": harness.env_path("ROUTER_FAULTY_TRANSCODER"), "Workers": 2,
                        "TimeLimit": 3})
        good = self.generate("good", 12, seed=1001)
        faults = {}
        for i, marker in enumerate(("ROUTER-TEST-ABORT", "ROUTER-TEST-SEGV", "ROUTER-TEST-HANG")):
            uid, path = self.marked(marker.lower(), marker, seed=2001 + i)
            faults[uid] = (marker, path)
        files = sorted(good.values()) + [p for _, p in faults.values()]
        harness.send(files, self.orthanc.dicom_port)

        everything = dict(good, **{uid: p for uid, (_, p) in faults.items()})
        harness.wait_for_files(everything, asis.received, 60, "every instance, as received, at ASIS")
        harness.wait_for_files(good, j2k.received, 60, "the good instances at J2K")
        harness.wait_for(lambda: self.settled("j2k", "asis"), 60, "the queues to settle", detail=self.status)
        self.assert_alive()

        dead = self.dead("j2k")
        self.assertEqual(set(dead), set(faults), dead)
        expect = {"ROUTER-TEST-ABORT": "transcoder crashed (SIGABRT) converting 32x32",
                  "ROUTER-TEST-SEGV": "transcoder crashed (SIGSEGV) converting 32x32",
                  "ROUTER-TEST-HANG": "transcoder ran past its time limit of 3 s"}
        for uid, (marker, _) in faults.items():
            self.assertIn(expect[marker], dead[uid])
            self.assertIn("-> JPEG2000Lossless", dead[uid])
        for uid in good:
            self.assertEqual(harness.transfer_syntax(j2k.received()[uid]), "1.2.840.10008.1.2.4.90")
        self.assertEqual(set(faults) & set(j2k.received()), set())
        # One worker per fault: the delivery does not try a crashed conversion again.
        self.assertEqual(self.metric("orthanc_router_transcoder_crashes_total", kind="crash"), 2)
        self.assertEqual(self.metric("orthanc_router_transcoder_crashes_total", kind="timeout"), 1)
        self.assertIn("transcoding: 2 worker process(es)", self.orthanc.log_text())
        transcoding = self.status()["Transcoding"]
        self.assertEqual(transcoding["Workers"], 2, transcoding)
        self.assertEqual(transcoding["Replacements"], 3, transcoding)
        self.assertIn("seccomp", transcoding["Lockdown"])
        print(f"\n[isolation 1] sent {len(files)}: {len(good)} delivered to both, {len(faults)} dead at J2K with "
              f"their reason and delivered to ASIS; Orthanc up")

    # -- 2

    def test_2_worker_killed_mid_conversion(self):
        j2k = self.peer("J2K")
        rules = 'function route(instance)\n  return { { destination = "j2k", transfer_syntax = "JPEGLSLossless" } }\nend\n'
        self.start_router(rules, {"j2k": self.dicom(j2k)},  # OnTranscodeFailure: send-original (default)
                          Transcoding={"WorkerExecutable": harness.env_path("ROUTER_FAULTY_TRANSCODER"),
                                       "Workers": 2})
        slow_uid, slow_path = self.marked("slow", "ROUTER-TEST-SLOW", seed=3001)
        harness.send([slow_path], self.orthanc.dicom_port)

        def sleeping_worker():
            for pid in subprocess.run(["pgrep", "-P", str(self.orthanc.process.pid)], stdout=subprocess.PIPE,
                                      text=True).stdout.split():
                try:
                    with open(f"/proc/{pid}/wchan") as f:
                        wchan = f.read()
                    if "nanosleep" in wchan or "hrtimer" in wchan:
                        return int(pid)
                except OSError:
                    pass
            return None
        pid = harness.wait_for(sleeping_worker, 20, "a worker busy with the slow image")
        os.kill(pid, signal.SIGKILL)
        others = self.generate("others", 6, seed=3002)
        harness.send(sorted(others.values()), self.orthanc.dicom_port)

        harness.wait_for(lambda: slow_uid in j2k.received(), 30, "the slow instance at J2K")
        harness.wait_for_files(others, j2k.received, 60, "the other instances at J2K")
        harness.wait_for(lambda: self.settled("j2k"), 30, "the queue to settle", detail=self.status)
        self.assert_alive()
        # send-original: the killed conversion's instance left as received.
        self.assertEqual(harness.transfer_syntax(j2k.received()[slow_uid]), "1.2.840.10008.1.2.1")
        for uid in others:
            self.assertEqual(harness.transfer_syntax(j2k.received()[uid]), "1.2.840.10008.1.2.4.80")
        self.assertIn("transcoder crashed (SIGKILL)", self.orthanc.log_text())
        self.assertEqual(self.metric("orthanc_router_transcoder_crashes_total", kind="crash"), 1)

    # -- 3

    def test_3_orthanc_dying_twice_on_one_job_quarantines_it(self):
        hung = harness.FakeScp(self.tmp, "HUNG", hang=True)
        self.addCleanup(hung.stop)
        hung.start()
        archive = self.peer("ARCHIVE")
        rules = ('function route(instance)\n'
                 '  if instance.tags.StudyDescription == "POISON" then return { { destination = "hung" } } end\n'
                 '  return { { destination = "archive" } }\nend\n')
        self.start_router(rules, {
            "hung": {"Type": "dicom", "AET": "HUNG", "Host": "127.0.0.1", "Port": hung.port, "Timeout": 120},
            "archive": self.dicom(archive),
        })
        poison_uid, poison_path = self.marked("poison", "POISON", seed=4001)
        harness.send([poison_path], self.orthanc.dicom_port)

        for stop in (1, 2):
            # The job is in flight (its C-STORE never answered) when the process dies.
            harness.wait_for(lambda: self.status()["Destinations"]["hung"]["Queue"]["sending"] == 1, 30,
                             f"the poison job in flight before stop {stop}", detail=self.status)
            self.orthanc.kill9()
            self.orthanc.start()

        harness.wait_for(lambda: poison_uid in self.dead("hung"), 20, "the poison job quarantined",
                         detail=self.status)
        reason = self.dead("hung")[poison_uid]
        self.assertIn("quarantined: the appliance stopped 2 times in a row while delivering", reason)
        self.assertEqual(self.status()["Destinations"]["hung"]["Queue"]["sending"], 0)
        self.assertIn("quarantined 0 instance(s) (rule-failed) and 1 job(s)", self.orthanc.log_text())
        self.assertEqual(self.metric("orthanc_router_quarantined_total", stage="delivery"), 1)
        # Everything else goes on.
        rest = self.generate("rest", 8, seed=4002)
        harness.send(sorted(rest.values()), self.orthanc.dicom_port)
        harness.wait_for_files(rest, archive.received, 60, "the other instances at ARCHIVE")
        time.sleep(1)
        self.assertEqual(self.status()["Destinations"]["hung"]["Queue"]["sending"], 0, "the poison job came back")
        self.assert_alive()

    # -- 4

    def test_4_hostile_files_to_every_target(self):
        """The generator's hostile suite (router-testdata --suite hostile),
        each file routed to every target syntax the appliance writes, with
        the real worker: every (file, target) is delivered or dead-lettered
        with its reason, as the suite expects; no worker crashes; nothing is
        left pending; Orthanc stays up."""
        folders = {t: os.path.dirname(self.path("out", t, "x")) for t in TARGETS}
        destinations = {t: {"Type": "folder", "Path": folders[t], "OnTranscodeFailure": "fail"} for t in TARGETS}
        routes = ", ".join(f'{{ destination = "{t}", transfer_syntax = "{t}" }}' for t in TARGETS)
        self.start_router(f"function route(instance)\n  return {{ {routes} }}\nend\n", destinations)

        out = self.path("hostile", "x")
        argv = [harness.testdata_cli(), os.path.dirname(out), "--suite", "hostile"]
        lines = subprocess.run(argv, stdout=subprocess.PIPE, check=True, text=True).stdout.splitlines()
        cases = []
        for line in lines:
            path, uid, expectation, *exceptions = line.split()
            cases.append((path, uid, expectation, dict(e.split("=", 1) for e in exceptions)))
        self.assertGreaterEqual(len(cases), 15)

        stored = []
        for path, uid, expectation, exceptions in cases:
            try:
                # Through Orthanc's REST API: stored exactly as they are, in
                # any transfer syntax (storescu would try to convert them).
                self.orthanc.upload(path)
                stored.append((path, uid, expectation, exceptions))
            except harness.HttpError:
                pass  # Orthanc itself refused the file (e.g. truncated): nothing to route
            self.assert_alive()
        # Orthanc may refuse a file only when it is broken beyond reading.
        refused_by_orthanc = {os.path.basename(p) for p, *_ in cases} - {os.path.basename(p) for p, *_ in stored}
        self.assertTrue(all(n.startswith("truncated") for n in refused_by_orthanc), refused_by_orthanc)

        harness.wait_for(lambda: self.settled(*TARGETS), 120, "every hostile job to be delivered or dead",
                         detail=self.status)
        self.assert_alive()
        wrong = []
        for target in TARGETS:
            dead = self.dead(target)
            delivered = harness.folder_files(folders[target])
            want = [uid for _, uid, e, x in stored if x.get(target, e) == "deliver"]
            refuse = {uid for _, uid, e, x in stored if x.get(target, e) == "refuse"}
            if set(dead) != refuse:
                wrong.append(f"{target}: dead {sorted(dead)} but expected refused {sorted(refuse)}")
            for uid in refuse & set(dead):
                if "transcoding" not in dead[uid] or len(dead[uid]) < 40:
                    wrong.append(f"{target}: {uid} dead without a reason: {dead[uid]!r}")
            if len(delivered) != len(want):
                wrong.append(f"{target}: {len(delivered)} files delivered, expected {len(want)}")
            uid_of = {TARGET_UIDS[target]}
            for name, path in delivered.items():
                if harness.transfer_syntax(path) not in uid_of:
                    wrong.append(f"{target}: {name} arrived as {harness.transfer_syntax(path)}")
        self.assertEqual(wrong, [])
        self.assertEqual(self.metric("orthanc_router_transcoder_crashes_total"), 0)
        print(f"\n[isolation 4] {len(cases)} hostile files ({len(stored)} stored by Orthanc) x {len(TARGETS)} "
              f"targets: every pair delivered or dead-lettered as expected; 0 worker crashes")


if __name__ == "__main__":
    unittest.main()
