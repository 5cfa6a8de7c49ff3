"""Delivery faults against a running appliance with real peers (issue 5, item 9).

Orthanc with the router plugin, storescu as the modality, dcmtk storescp as
the healthy peer, and router-fake-scp (tests/generator/fake_scp.cpp) where a
fault must come on demand: a scripted status (0xA700, 0xA900, 0xC000), a slow
answer, a peer that accepts TCP and never answers. For every run the tests
count what was sent, delivered, delivered twice and lost; lost must be 0, and
what arrived is compared with what was sent (tags and decoded pixels).

    1. the destination is down for 60 s during a 200-instance burst
    2. a peer answers 0xA700 twice, then success; 0xA900 / 0xC000 dead-letter at once
    3. a peer refuses the SOP class: dead letter, peer fixed, destination retry
    4. kill -9 of Orthanc during delivery to a slow peer
    5. a wedged destination does not slow the other one
"""

import collections
import os
import re
import textwrap
import time
import unittest

import harness

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


def rules_routing_to(*destinations):
    routes = ", ".join(f'{{ destination = "{d}" }}' for d in destinations)
    return f"function route(instance)\n  return {{ {routes} }}\nend\n"


def parse_metrics(text):
    """[(name, {label: value}, float)] from the Prometheus text exposition."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$', line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def storescp_stores(scp):
    """[SOPInstanceUID] of every C-STORE storescp wrote to disk, in order, read
    from its verbose log ("storing DICOM file: <folder>/<modality>.<uid>"):
    a second copy of an instance overwrites the file, so only the log shows it."""
    out = []
    for line in scp.log_text().splitlines():
        if "storing DICOM file:" in line:
            name = os.path.basename(line.split("storing DICOM file:", 1)[1].strip())
            out.append(name.partition(".")[2])
    return out


def duplicates(uids):
    """How many receptions beyond the first, over all instances."""
    return sum(n - 1 for n in collections.Counter(uids).values())


class ProfileStoreScp(harness.StoreScp):
    """storescp with an association-negotiation profile (-xf FILE PROFILE):
    a real peer whose configuration leaves some SOP classes out. (storescp
    refuses --promiscuous together with --config-file, so argv is built here.)"""

    def __init__(self, workdir, aet, config_file=None, profile=None, **kwargs):
        super().__init__(workdir, aet, **kwargs)
        self.config_file = config_file
        self.profile = profile

    def argv(self):
        if not self.config_file:
            return super().argv()
        return [harness.STORESCP_BIN, "-v", "-aet", self.aet, "--output-directory", self.folder,
                "--disable-host-lookup", "-xf", self.config_file, self.profile, str(self.port)]


# A PACS configured for MR and Secondary Capture only: CT Image Storage is not
# in its list, as when a site forgot to enable a modality on its archive.
NO_CT_PROFILE = textwrap.dedent("""\
    [[TransferSyntaxes]]
    [Uncompressed]
    TransferSyntax1 = LocalEndianExplicit
    TransferSyntax2 = LittleEndianImplicit

    [[PresentationContexts]]
    [NoCT]
    PresentationContext1 = VerificationSOPClass\\Uncompressed
    PresentationContext2 = MRImageStorage\\Uncompressed
    PresentationContext3 = SecondaryCaptureImageStorage\\Uncompressed

    [[Profiles]]
    [NoCT]
    PresentationContexts = NoCT
    """)


class FaultsTest(harness.RouterTestCase):
    # -- helpers

    def start_router(self, rules, destinations, **router):
        rules_dir = os.path.dirname(self.path("rules", "route.lua"))
        with open(os.path.join(rules_dir, "route.lua"), "w") as f:
            f.write(rules)
        config = {"Rules": rules_dir, "QueueDatabase": self.path("queue", "queue.sqlite"), "Threads": 2,
                  "Destinations": destinations}
        config.update(router)
        self.orthanc = self.start_orthanc(plugin=harness.plugin_path(), router=config)
        return self.orthanc

    def start_fake_scp(self, aet, start=True, **kwargs):
        scp = harness.FakeScp(self.tmp, aet, **kwargs)
        self.addCleanup(scp.stop)
        if start:
            scp.start()
        return scp

    def generate(self, name, count, seed, size=32, **options):
        files = harness.generate(self.path("data", name, "x"), suite="ct-series", count=count, seed=seed,
                                 rows=size, columns=size, **options)
        return {uid: path for path, uid in files}

    def status(self):
        return self.orthanc.get("/router/status")

    def queue(self, destination):
        return self.status()["Destinations"][destination]["Queue"]

    def jobs(self, destination, state=None):
        query = f"/router/queue?destination={destination}&limit=10000"
        if state:
            query += f"&state={state}"
        return self.orthanc.get(query)

    def metric(self, name, **labels):
        """The sum of every sample of `name` whose labels include `labels`."""
        text = self.orthanc.get("/router/metrics")
        return sum(v for n, l, v in parse_metrics(text)
                   if n == name and all(l.get(k) == str(x) for k, x in labels.items()))

    def queue_empty(self, destination):
        return all(n == 0 for n in self.queue(destination).values())

    def intake_done(self):
        intake = self.status()["Intake"]
        return all(n == 0 for state, n in intake.items() if state != "rule-failed")

    # -- 1

    def test_1_destination_down_60s_during_burst(self):
        """A 200-instance burst while the only destination is down; it comes
        back 60 s after the burst started. All 200 arrive, once each."""
        t0 = time.monotonic()
        pacs = harness.StoreScp(self.tmp, "PACS", extra_args=["-v"])  # -v: one log line per file stored
        self.addCleanup(pacs.stop)
        self.start_router(rules_routing_to("pacs"), {
            "pacs": {"Type": "dicom", "AET": "PACS", "Host": "127.0.0.1", "Port": pacs.port},
        }, Retry={"InitialDelay": 1, "Multiplier": 2, "MaxDelay": 2, "MaxAttempts": 20},
            CircuitBreaker={"Failures": 3, "ProbeInterval": 2})
        batch = self.generate("burst", 200, seed=501)

        burst_start = time.monotonic()
        harness.send(sorted(batch.values()), self.orthanc.dicom_port)
        sent_in = time.monotonic() - burst_start
        self.assertEqual(self.orthanc.instance_count(), 200)

        # While it is down: all 200 wait (pending, failed or sending), none is
        # dead, the destination shows down, and nothing reached the peer.
        def waiting():
            q = self.queue("pacs")
            return q["pending"] + q["failed"] + q["sending"]
        harness.wait_for(lambda: waiting() == 200, 30, "/router/status to show 200 jobs waiting for pacs",
                         detail=self.status)
        harness.wait_for(lambda: self.status()["Destinations"]["pacs"]["Up"] is False, 30,
                         "/router/status to show pacs down", detail=self.status)
        samples = 0
        while time.monotonic() - burst_start < 60:
            q = self.queue("pacs")
            self.assertEqual(q["dead"], 0, f"a job went to the dead letters while pacs was down: {q}")
            self.assertEqual(q["pending"] + q["failed"] + q["sending"], 200, q)
            samples += 1
            time.sleep(5)
        listed = self.jobs("pacs")
        self.assertEqual(len(listed), 200)
        self.assertEqual({j["State"] for j in listed} - {"pending", "failed", "sending"}, set(),
                         "GET /router/queue shows jobs in an unexpected state")
        self.assertEqual(self.jobs("pacs", "dead"), [])
        failed_attempts = self.orthanc.log_text().count("delivery to pacs failed")
        self.assertFalse(os.listdir(pacs.folder), "the peer was down, yet has files")

        # Back after 60 s: all arrive, identical, once each.
        back = time.monotonic()
        pacs.start()
        harness.wait_for_files(batch, pacs.received, 60, "the 200 instances at PACS after it came back")
        caught_up = time.monotonic() - back
        harness.wait_for(lambda: self.queue_empty("pacs"), 20, "the pacs queue to drain", detail=self.status)
        stores = storescp_stores(pacs)
        self.assertEqual(set(stores) - set(batch), set(), "PACS received instances that were not sent")
        lost = set(batch) - set(pacs.received())
        self.assertEqual(lost, set())
        dups = duplicates(stores)
        # The peer was down from the start: no send ever reached it before it
        # came back, so no send can have been answered and then lost.
        self.assertEqual(dups, 0, "duplicates although the peer was down from the start")
        self.assertEqual(self.metric("orthanc_router_dead_letters_total", destination="pacs"), 0)
        self.assertEqual(self.metric("orthanc_router_jobs_total", destination="pacs", outcome="delivered"), 200)
        print(f"\n[faults 1] sent 200 in {sent_in:.1f}s, delivered {len(set(stores))}, duplicated {dups}, "
              f"lost {len(lost)}; {failed_attempts} failed sends while down ({samples} status samples); "
              f"caught up {caught_up:.1f}s after the peer came back; test {time.monotonic() - t0:.0f}s")

    # -- 2

    def test_2_out_of_resources_then_success(self):
        """0xA700, 0xA700, then 0x0000: delivered on the 3rd attempt, the
        retries counted as out-of-resources. 0xA900 and 0xC000: dead letter
        after one attempt, the status in the reason."""
        t0 = time.monotonic()
        busy = self.start_fake_scp("BUSY", statuses=["A700", "A700"])
        strict = self.start_fake_scp("STRICT", statuses=["A900", "C000"])
        rules = textwrap.dedent("""\
            function route(instance)
              if instance.tags.PatientID == "BUSY" then return { { destination = "busy" } } end
              return { { destination = "strict" } }
            end
            """)
        self.start_router(rules, {
            "busy": {"Type": "dicom", "AET": "BUSY", "Host": "127.0.0.1", "Port": busy.port},
            "strict": {"Type": "dicom", "AET": "STRICT", "Host": "127.0.0.1", "Port": strict.port},
        }, Retry={"InitialDelay": 1, "Multiplier": 1, "MaxDelay": 1, "MaxAttempts": 10})

        one = self.generate("busy", 1, seed=521, patient_id="BUSY")
        (uid, original), = one.items()
        harness.send([original], self.orthanc.dicom_port)
        harness.wait_for_files(one, busy.received, 30, "the instance at BUSY after two 0xA700")
        harness.wait_for(lambda: self.queue_empty("busy"), 10, "the busy queue to drain", detail=self.status)
        self.assertEqual(busy.stores(), [(uid, "A700"), (uid, "A700"), (uid, "0000")])
        self.assertEqual(self.jobs("busy"), [], "GET /router/queue still lists the delivered job")
        self.assertEqual(self.metric("orthanc_router_retries_total", destination="busy", reason="status_a7xx"), 2)
        self.assertEqual(self.metric("orthanc_router_jobs_total", destination="busy", outcome="delivered"), 1)
        self.assertEqual(self.metric("orthanc_router_dead_letters_total", destination="busy"), 0)

        two = self.generate("strict", 2, seed=522, patient_id="STRICT")
        harness.send(sorted(two.values()), self.orthanc.dicom_port)
        harness.wait_for(lambda: len(self.jobs("strict", "dead")) == 2, 30, "both STRICT jobs in the dead letters",
                         detail=lambda: self.jobs("strict"))
        answered = dict(strict.stores())
        self.assertEqual(len(strict.stores()), 2, "a refused instance was sent more than once")
        self.assertEqual(sorted(answered.values()), ["A900", "C000"])
        self.assertEqual(set(answered), set(two))
        for job in self.jobs("strict", "dead"):
            self.assertEqual(job["Attempts"], 1, job)
            self.assertIn("0x" + answered[job["SOPInstanceUID"]], job["LastError"], job)
            self.assertIn("refused", job["LastError"], job)
        self.assertEqual(strict.received(), {}, "a refused instance was stored")
        for reason in ("status_a9xx", "status_c0xx"):
            self.assertEqual(self.metric("orthanc_router_dead_letters_total", destination="strict", reason=reason),
                             1, reason)
        self.assertEqual(self.metric("orthanc_router_retries_total", destination="strict"), 0)
        print(f"\n[faults 2] BUSY: {busy.stores()}; STRICT dead letters: "
              f"{[j['LastError'] for j in self.jobs('strict', 'dead')]}; test {time.monotonic() - t0:.0f}s")

    # -- 3

    def test_3_peer_refuses_sop_class(self):
        """A real storescp configured without CT Image Storage: the CTs go to
        the dead letters at once with a reason naming the SOP class; once the
        peer accepts CT, POST /router/destinations/pacs/retry delivers them."""
        t0 = time.monotonic()
        profile = self.path("pacs-noct.cfg")
        with open(profile, "w") as f:
            f.write(NO_CT_PROFILE)
        pacs = ProfileStoreScp(self.tmp, "PACS", config_file=profile, profile="NoCT")
        self.addCleanup(pacs.stop)
        pacs.start()
        self.start_router(rules_routing_to("pacs"), {
            "pacs": {"Type": "dicom", "AET": "PACS", "Host": "127.0.0.1", "Port": pacs.port},
        }, Retry={"InitialDelay": 1, "MaxDelay": 2, "MaxAttempts": 10})
        batch = self.generate("ct", 2, seed=531)
        harness.send(sorted(batch.values()), self.orthanc.dicom_port)

        harness.wait_for(lambda: len(self.jobs("pacs", "dead")) == 2, 30, "both CT jobs in the dead letters",
                         detail=lambda: self.jobs("pacs"))
        dead = self.jobs("pacs", "dead")
        for job in dead:
            self.assertEqual(job["Attempts"], 1, job)
            # What the person on call needs: which peer, which SOP class.
            self.assertIn(f"PACS 127.0.0.1:{pacs.port}", job["LastError"])
            self.assertIn("does not accept SOP class", job["LastError"])
            self.assertIn("CTImageStorage", job["LastError"])
            self.assertIn(CT_IMAGE_STORAGE, job["LastError"])
        self.assertEqual(pacs.received(), {})
        self.assertEqual(self.metric("orthanc_router_dead_letters_total", destination="pacs", reason="refused"), 2)

        # The PACS admin enables CT (storescp restarted with every storage
        # class); the operator retries the destination's dead letters.
        pacs.stop()
        pacs.config_file = None
        pacs.start()
        retried = self.orthanc.post("/router/destinations/pacs/retry")
        self.assertEqual(retried["Retried"], 2)
        harness.wait_for_files(batch, pacs.received, 30, "the retried CTs at PACS")
        harness.wait_for(lambda: self.queue_empty("pacs"), 10, "the pacs queue to drain", detail=self.status)
        print(f"\n[faults 3] dead letter reason: {dead[0]['LastError']!r}; delivered after the retry; "
              f"test {time.monotonic() - t0:.0f}s")

    # -- 4

    def test_4_kill9_during_delivery(self):
        """kill -9 of Orthanc while 100 instances trickle to a slow peer; after
        the restart all arrive. Duplicates are bounded by the jobs in flight."""
        t0 = time.monotonic()
        slow = self.start_fake_scp("SLOW", delay_ms=80)
        self.start_router(rules_routing_to("slow"), {
            "slow": {"Type": "dicom", "AET": "SLOW", "Host": "127.0.0.1", "Port": slow.port, "Associations": 1},
        }, Retry={"InitialDelay": 1, "MaxDelay": 2, "MaxAttempts": 20},
            CircuitBreaker={"Failures": 3, "ProbeInterval": 1})
        batch = self.generate("slow", 100, seed=541, size=16)
        harness.send(sorted(batch.values()), self.orthanc.dicom_port)

        harness.wait_for(lambda: len(slow.stores()) >= 25, 60, "25 instances at SLOW before the kill")
        before = self.queue("slow")
        self.orthanc.kill9()
        at_kill = len(slow.stores())
        self.assertGreater(before["pending"] + before["failed"], 0, f"nothing left pending at the kill: {before}")
        self.assertLess(at_kill, 100, "every instance had arrived before the kill")

        self.orthanc.start()
        harness.wait_for_files(batch, slow.received, 60, "the 100 instances at SLOW after the restart")
        harness.wait_for(lambda: self.queue_empty("slow"), 20, "the slow queue to drain", detail=self.status)
        self.assertEqual(self.orthanc.instance_count(), 100)
        stores = [uid for uid, _ in slow.stores()]
        self.assertEqual({s for _, s in slow.stores()}, {"0000"})
        self.assertEqual(set(stores) - set(batch), set())
        lost = set(batch) - set(slow.received())
        self.assertEqual(lost, set())
        dups = duplicates(stores)
        # Bound: a job is removed from the queue (one SQLite transaction,
        # synchronous=FULL) as soon as its C-STORE answer came back, so only a
        # job in state "sending" at the kill can have reached the peer and be
        # sent again. One association and no batching for DICOM means at most
        # one job is "sending" at any time (Associations x 1), whatever the
        # snapshot taken just before the kill said.
        in_flight_bound = 1
        self.assertLessEqual(before["sending"], in_flight_bound, before)
        self.assertLessEqual(dups, in_flight_bound, f"{dups} duplicates; at most the job in flight may repeat")
        print(f"\n[faults 4] sent 100, {at_kill} at the peer at the kill (status before: {before}); "
              f"delivered {len(set(stores))}, duplicated {dups}, lost {len(lost)}; test {time.monotonic() - t0:.0f}s")

    # -- 5

    def test_5_dead_destination_does_not_slow_the_other(self):
        """Every instance goes to a live storescp and to a peer that accepts TCP
        and never answers (each attempt costs the full Timeout). The live one
        has everything before the wedged one's first timeout could expire."""
        t0 = time.monotonic()
        timeout = 20  # the wedged peer's Timeout: the bound below is this, not a speed
        live = self.start_storescp("LIVE")
        wedged = self.start_fake_scp("WEDGED", hang=True)
        self.start_router(rules_routing_to("live", "wedged"), {
            "live": {"Type": "dicom", "AET": "LIVE", "Host": "127.0.0.1", "Port": live.port},
            "wedged": {"Type": "dicom", "AET": "WEDGED", "Host": "127.0.0.1", "Port": wedged.port,
                       "Timeout": timeout},
        }, Retry={"InitialDelay": 1, "MaxDelay": 2, "MaxAttempts": 20},
            CircuitBreaker={"Failures": 3, "ProbeInterval": 2})
        batch = self.generate("both", 50, seed=551)

        start = time.monotonic()
        harness.send(sorted(batch.values()), self.orthanc.dicom_port)
        harness.wait_for_files(batch, live.received, timeout, "every instance at LIVE before WEDGED's first timeout")
        live_done = time.monotonic() - start
        # Structural: the wedged destination's first attempt began after the
        # first instance was stored, so it cannot have timed out yet.
        wedged_queue = self.queue("wedged")
        self.assertLess(live_done, timeout)
        self.assertEqual(wedged_queue["dead"], 0, wedged_queue)
        self.assertEqual(wedged_queue["failed"], 0, f"a wedged attempt already ended: {wedged_queue}")
        self.assertEqual(wedged_queue["pending"] + wedged_queue["sending"], 50, wedged_queue)
        self.assertEqual(wedged.received(), {})

        # After the first timeout: that job is failed with a reason to act on,
        # the rest still wait; nothing is dead before MaxAttempts, nothing lost.
        harness.wait_for(lambda: self.queue("wedged")["failed"] >= 1, timeout + 15,
                         "the first wedged attempt to time out", detail=self.status)
        failed = self.jobs("wedged", "failed")
        self.assertIn(f"no answer from WEDGED 127.0.0.1:{wedged.port} within {timeout} s", failed[0]["LastError"])
        q = self.queue("wedged")
        self.assertEqual(q["dead"], 0, q)
        self.assertEqual(q["pending"] + q["sending"] + q["failed"], 50, q)
        self.assertTrue(self.queue_empty("live"))
        print(f"\n[faults 5] 50 at LIVE in {live_done:.1f}s while WEDGED hung (Timeout {timeout} s); "
              f"WEDGED after its first timeout: {q}; test {time.monotonic() - t0:.0f}s")


if __name__ == "__main__":
    unittest.main()
