"""Several appliances on one queue: two real Orthanc nodes, each with the
plugin and Debian's PostgreSQL index plugin (orthanc-postgresql), on one
Orthanc index, one StorageDirectory and one router queue, both in one real
PostgreSQL server started here; one storescp peer (-v, so that every
C-STORE is counted, copies included).

1. Both nodes start at once on an empty database; each lists both nodes.
2. 500 instances, half sent to each node's DICOM port at the same time; node
   b is frozen in the middle until it is seen holding jobs, then killed
   with -9; its modality sends its share again to
   node a (as a load balancer would). Every instance arrives; copies are at
   most the jobs b held when it died; each instance is taken in once; a
   takes over b's claims once b's lease (5 s) ran out; b restarts and is
   alive again.
3. PostgreSQL stopped in the middle of a burst to both nodes and started
   again: the modalities see failures while it is down and send again;
   every instance arrives, each taken in once, nothing waits in the queue.
4. A series sent half to each node at once, routed `when = "series"`:
   one batch in the shared queue, released once, every instance sent once.
5. Debian's HAProxy with the README's example (docs/cluster/haproxy.cfg,
   addresses replaced) in front of both nodes: sends through it reach both
   nodes; node b killed, its health check takes it out and what the
   modality sends again through HAProxy arrives.
"""

import json
import os
import re
import shutil
import signal
import textwrap
import threading
import time
import unittest
import urllib.request

import harness

INDEX_PLUGIN = "/usr/share/orthanc/plugins/libOrthancPostgreSQLIndex.so"
LEASE = 5  # seconds: the smallest Router.LeaseSeconds, so that a takeover comes soon

RULE = textwrap.dedent("""\
    function route(instance)
      if instance.tags.PatientID == "AS-SERIES" then
        return { { destination = "pacs", when = "series", quiet = 2 } }
      end
      return { { destination = "pacs" } }
    end
    """)


class Sender(threading.Thread):
    """storescu in a thread: the files it could not send are in `error`."""

    def __init__(self, files, port):
        super().__init__(daemon=True)
        self.files, self.port, self.error = files, port, None

    def run(self):
        try:
            harness.send(self.files, self.port, timeout=300)
        except (harness.SendError, OSError) as e:
            self.error = e

    def run_once(self):
        """Sends in this thread; True when every file went."""
        self.run()
        return self.error is None


class ClusterTest(harness.RouterTestCase):
    def setUp(self):
        super().setUp()
        if not os.path.exists(INDEX_PLUGIN):
            self.fail(f"{INDEX_PLUGIN} is missing: install Debian's orthanc-postgresql (./appliance does)")
        self.postgres = self.start_postgres()
        self.postgres.sql("CREATE DATABASE orthanc")
        self.postgres.sql("CREATE DATABASE router")
        self.pacs = self.start_storescp("PACS", count_stores=True)
        rules = os.path.dirname(self.path("rules", "route.lua"))
        with open(os.path.join(rules, "route.lua"), "w") as f:
            f.write(RULE)
        storage = os.path.dirname(self.path("shared-storage", "x"))
        self.nodes = {}
        for name in ("a", "b"):
            self.nodes[name] = self.start_orthanc(
                f"node-{name}", start=False, plugin=harness.plugin_path(),
                router={
                    "Rules": rules,
                    "QueueDatabase": self.postgres.uri(),
                    "NodeName": name,
                    "LeaseSeconds": LEASE,
                    "Threads": 2,
                    "Destinations": {"pacs": {"Type": "dicom", "AET": "PACS", "Host": "127.0.0.1",
                                              "Port": self.pacs.port}},
                    "Retry": {"InitialDelay": 1, "MaxDelay": 2},
                },
                extra={
                    "StorageDirectory": storage,
                    "Plugins": [harness.plugin_path(), INDEX_PLUGIN],
                    "PostgreSQL": {"EnableIndex": True, "EnableStorage": False, "Host": "127.0.0.1",
                                   "Port": self.postgres.port, "Database": "orthanc", "Username": "router",
                                   "Password": "", "Lock": False},
                })
        # Both at once, on empty databases (Orthanc's index and the router's queue).
        for node in self.nodes.values():
            node.spawn()
        for node in self.nodes.values():
            node.wait_until_up(60)
        self.a, self.b = self.nodes["a"], self.nodes["b"]

    def sql(self, statement):
        return self.postgres.sql(statement, "router")

    def arrived(self):
        return set(self.pacs.received())

    def wait_arrived(self, uids, timeout=180):
        harness.wait_for(lambda: uids <= self.arrived(), timeout, f"{len(uids)} instances at the PACS",
                         interval=0.5,
                         detail=lambda: f"{len(uids - self.arrived())} missing\n"
                                        f"node a:\n{self.a.log_tail(20)}\nnode b:\n{self.b.log_tail(20)}")

    def queue_empty(self):
        return self.sql("SELECT COUNT(*) FROM jobs WHERE state IN (0, 1, 2)") == "0" and \
            self.sql("SELECT COUNT(*) FROM intake WHERE state IN (0, 1)") == "0"

    def burst(self, name, count, seed, size):
        """count CT slices (size x size), every other one sent to each node by
        two storescu at the same time: (uids, a's files, b's files, senders)."""
        files = harness.generate(self.path(name, "x"), suite="ct-series", count=count, seed=seed, rows=size,
                                 columns=size)
        to_a = [p for p, _ in files[0::2]]
        to_b = [p for p, _ in files[1::2]]
        senders = [Sender(to_a, self.a.dicom_port), Sender(to_b, self.b.dicom_port)]
        for s in senders:
            s.start()
        return {uid for _, uid in files}, to_a, to_b, senders

    def nodes_seen_by(self, node):
        return {n["Name"]: n for n in node.get("/router/status")["Nodes"]}

    def test_two_nodes_starting_at_once_make_one_schema_and_see_each_other(self):
        self.assertEqual(self.sql("SELECT value FROM meta WHERE key='schema_version'"), "3")
        for node, name in ((self.a, "a"), (self.b, "b")):
            status = node.get("/router/status")
            self.assertEqual(status["Node"], name)
            seen = self.nodes_seen_by(node)
            self.assertEqual(set(seen), {"a", "b"})
            self.assertTrue(seen[name]["This"])
            self.assertTrue(all(n["Alive"] for n in seen.values()), seen)
            self.assertEqual(seen["a"]["LeaseSeconds"], LEASE)
        metrics = self.a.request("GET", "/router/metrics")[2].decode()
        self.assertIn('orthanc_router_node_info{node="a",queue="postgresql://router@127.0.0.1:', metrics)
        self.assertIn('orthanc_router_node_alive{node="b",', metrics)
        # One instance to each node: each arrives once.
        files = harness.generate(self.path("pair", "x"), suite="ct-series", count=2, seed=700, rows=16, columns=16)
        harness.send([files[0][0]], self.a.dicom_port)
        harness.send([files[1][0]], self.b.dicom_port)
        self.wait_arrived({uid for _, uid in files})
        harness.wait_for(self.queue_empty, 60, "an empty queue")
        self.assertEqual(self.pacs.stores(), 2)

    def test_a_node_killed_mid_burst_loses_nothing_and_its_work_is_taken_over(self):
        uids, to_a, to_b, senders = self.burst("burst", 500, 701, 64)
        # Mid-burst: b still receives its share, has delivered some and holds jobs.
        # b is frozen (SIGSTOP) until it is caught holding jobs, so that what it
        # holds cannot change between the count and the kill: the count is the
        # copies' bound, and a's takeover of those jobs is what is tested.
        held = 0

        def b_frozen_holding_jobs():
            nonlocal held
            if not senders[1].is_alive():
                return True
            if self.pacs.stores() < 20:
                return False
            os.kill(self.b.process.pid, signal.SIGSTOP)
            held = int(self.sql("SELECT COUNT(*) FROM jobs WHERE node='b' AND state=1"))
            if held == 0:
                os.kill(self.b.process.pid, signal.SIGCONT)
            return held > 0

        harness.wait_for(b_frozen_holding_jobs, 120, "node b to be sending in the middle of the burst",
                         interval=0.05)
        self.b.kill9()
        for s in senders:
            s.join(300)
        self.assertIsNone(senders[0].error, "node a refused instances")
        self.assertIsNotNone(senders[1].error, "b's share was sent completely before the kill: no mid-burst kill")
        # The modality (or the load balancer) sends b's share again, to a.
        harness.send(to_b, self.a.dicom_port, timeout=300)
        self.wait_arrived(uids)
        harness.wait_for(self.queue_empty, 120, "an empty queue",
                         detail=lambda: self.sql("SELECT state, node, COUNT(*) FROM jobs GROUP BY 1, 2"))
        copies = self.pacs.stores() - len(uids)
        print(f"\n[cluster] 500 sent, {len(self.arrived())} distinct arrived, {copies} copies, "
              f"b held {held} job(s) when killed", flush=True)
        self.assertGreaterEqual(copies, 0)
        self.assertLessEqual(copies, held)
        # Each instance was taken in once, across both nodes.
        self.assertEqual(self.sql("SELECT COUNT(*), COUNT(DISTINCT instance_id) FROM intake"), "500|500")
        self.assertEqual(self.sql("SELECT COUNT(*) FROM jobs WHERE state=3"), "0")  # no dead letter
        self.assertIn("another node held past its lease", self.a.log_text())
        seen = self.nodes_seen_by(self.a)
        self.assertFalse(seen["b"]["Alive"])
        self.assertEqual(seen["b"]["Sending"], 0)
        # b comes back: alive again, nothing of its own left to take back.
        self.b.start(60)
        harness.wait_for(lambda: self.nodes_seen_by(self.a)["b"]["Alive"], 30, "b alive again")
        self.assertTrue(self.nodes_seen_by(self.b)["a"]["Alive"])

    def test_postgresql_restarted_under_a_burst_to_both_nodes_loses_nothing(self):
        uids, to_a, to_b, senders = self.burst("restart", 200, 702, 16)
        harness.wait_for(lambda: self.pacs.stores() >= 40, 120, "the burst under way", interval=0.02)
        self.postgres.stop()
        for s in senders:
            s.join(300)
        time.sleep(3)  # both nodes without their database for a while
        self.assertTrue(self.a.running() and self.b.running(), "a node exited while PostgreSQL was down")
        self.postgres.start()
        # The modalities send again what was refused (a copy already stored is not a new instance).
        for node, share, sender in ((self.a, to_a, senders[0]), (self.b, to_b, senders[1])):
            if sender.error:
                harness.wait_for(lambda: harness.echo(node.dicom_port, "ROUTER"), 60, "the node to answer again")
                harness.send(share, node.dicom_port, timeout=300)
        self.wait_arrived(uids)
        harness.wait_for(self.queue_empty, 120, "an empty queue")
        self.assertEqual(self.sql("SELECT COUNT(*), COUNT(DISTINCT instance_id) FROM intake"), "200|200")
        print(f"\n[cluster] PostgreSQL restart: 200 sent, {self.pacs.stores() - len(uids)} copies", flush=True)
        self.assertIn("PostgreSQL queue", self.a.log_text() + self.b.log_text())

    def test_a_series_sent_half_to_each_node_is_one_batch_sent_once(self):
        files = harness.generate(self.path("series", "x"), suite="ct-series", count=40, seed=704, rows=16,
                                 columns=16, patient_id="AS-SERIES")
        uids = {uid for _, uid in files}
        senders = [Sender([p for p, _ in files[0::2]], self.a.dicom_port),
                   Sender([p for p, _ in files[1::2]], self.b.dicom_port)]
        for s in senders:
            s.start()
        for s in senders:
            s.join(120)
            self.assertIsNone(s.error)
        self.wait_arrived(uids, timeout=120)
        harness.wait_for(self.queue_empty, 60, "an empty queue")
        self.assertEqual(self.pacs.stores(), 40)
        batches = self.b.get("/router/batches?state=delivered")
        self.assertEqual(len(batches), 1, batches)
        self.assertEqual(batches[0]["Instances"], 40)
        print(f"\n[cluster] a series across two nodes: {self.pacs.log_text().count('Association Received')} "
              f"association(s) to the PACS", flush=True)

    def start_haproxy(self):
        with open(os.path.join(os.environ.get("ROUTER_SOURCE_DIR", "."), "docs", "cluster", "haproxy.cfg")) as f:
            example = f.read()
        self.lb_dicom, self.lb_http = harness.free_port(), harness.free_port()
        config = example.replace("bind :104", f"bind 127.0.0.1:{self.lb_dicom}")
        config = config.replace("bind :8042", f"bind 127.0.0.1:{self.lb_http}")
        for name, node in self.nodes.items():
            address = {"a": "10.0.0.11", "b": "10.0.0.12"}[name]
            config = config.replace(f"server node-{name} {address}:4242",
                                    f"server node-{name} 127.0.0.1:{node.dicom_port} port {node.http_port}")
            config = config.replace(f"server node-{name} {address}:8042",
                                    f"server node-{name} 127.0.0.1:{node.http_port}")
        self.assertNotIn("10.0.0.", config)
        path = self.path("haproxy", "haproxy.cfg")
        with open(path, "w") as f:
            # Its log (one line per connection, naming the node) goes to haproxy.log.
            f.write("global\n    maxconn 256\n    log stdout format raw local0\n\n" + config)
        binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
        self.lb_log = self.path("haproxy", "haproxy.log")
        proc = harness.spawn([binary, "-db", "-f", path], self.lb_log)
        self.addCleanup(lambda: harness.end_process(proc))
        harness.wait_for(lambda: harness.is_listening(self.lb_dicom), 20, "HAProxy to listen")
        return proc

    def associations_to(self, name):
        """DICOM connections HAProxy made to the node (its log: one line per
        ended connection; one that could not connect has -1 as connect time)."""
        with open(self.lb_log, errors="replace") as f:
            return len(re.findall(rf"^\S+ \[[^]]+\] dicom router-dicom/node-{name} \d+/\d+/", f.read(), re.M))

    def test_through_haproxy_a_dead_node_is_taken_out(self):
        self.start_haproxy()
        files = harness.generate(self.path("lb", "x"), suite="ct-series", count=40, seed=703, rows=16, columns=16)
        uids = {uid for _, uid in files}
        paths = [p for p, _ in files]
        # Two modalities at once: leastconn gives each association another node.
        first = [Sender(paths[0:10], self.lb_dicom), Sender(paths[10:20], self.lb_dicom)]
        for s in first:
            s.start()
        for s in first:
            s.join(120)
            self.assertIsNone(s.error)
        self.wait_arrived({uid for _, uid in files[:20]})
        harness.wait_for(lambda: self.associations_to("a") + self.associations_to("b") >= 2, 10, "HAProxy's log")
        self.assertEqual((self.associations_to("a"), self.associations_to("b")), (1, 1))
        self.b.kill9()
        # The modality sends on through HAProxy, trying again while the dead
        # node's health check has not yet taken it out.
        for i in range(20, 40, 5):
            batch = paths[i:i + 5]
            harness.wait_for(lambda: Sender(batch, self.lb_dicom).run_once(), 60, "a send through HAProxy",
                             interval=0.5)
        self.wait_arrived(uids)
        self.assertEqual(self.associations_to("b"), 1)  # taken out after its death
        # The REST API through HAProxy: the live node answers.
        def status_through_haproxy():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.lb_http}/router/status", timeout=10) as answer:
                    return json.load(answer)["Node"]
            except OSError:
                return None
        self.assertEqual(harness.wait_for(status_through_haproxy, 30, "the REST API through HAProxy"), "a")


if __name__ == "__main__":
    unittest.main()
