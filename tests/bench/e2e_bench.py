#!/usr/bin/python3
"""End-to-end delivery benchmark: real Orthanc, real dcmtk peers, real files.

N instances of a 512x512 16-bit CT series (router-testdata --suite ct-series)
are sent with one storescu association (TCP_NODELAY=1) to:
  a  bare Orthanc, no plugin: the ingest baseline (storescu start -> end)
  b  Orthanc + router plugin, one rule routing everything as received to two
     storescp peers: storescu start -> both peers hold N files
  c  as b, with JPEG-LS lossless to peer A (route transfer_syntax)
  d  Orthanc's own Lua routing (OnStoredInstance + SendToModality to both
     peers, no plugin): storescu start -> both peers hold N files
  e  as b, plus a third destination where nothing listens: the two live
     peers' time against b's shows whether a dead destination slows others
  f  as a, without TCP_NODELAY in Orthanc's environment: what Nagle's
     algorithm costs on Orthanc's own DICOM server sockets (f/a), the one
     effect a process-wide TCP_NODELAY would still have (not in the default set)
  g  HTJ2K lossless to a folder destination (no DICOM peer can take HTJ2K
     with DCMTK 3.6.7) and as received to storescp peer B
  h  as g with JPEG-LS lossless to the folder: g against h compares the two
     codecs in the same shape of run
  s  as b, both routes when = "study" with a 5 s quiet time: the study is
     held, then released as one unit; prints how long after the quiet time
     ended delivery finished, and what the waiting study held: queue rows,
     queue file size, Orthanc's resident memory
  t  as s, but one route_study() decision sends the study to both peers

The storescp peers write to /dev/shm when it is a tmpfs (--peer-storage):
they stand for other machines, and on the router's disk their file creation
contends with Orthanc's in ext4 (see default_peer_storage).
Prints seconds, ratios against a, and the Orthanc process's peak RSS
(VmHWM, read before stopping it). Every run gets fresh temp storage; every
process is ended by its PID. Timings are reported, never asserted.

With --repeat R the scenarios run R rounds, interleaved (abcd abcd), and the
table shows each scenario's best (lowest) time, every round's time beside it:
the machine may be shared, and the best round is the least disturbed one.

usage: e2e_bench.py BUILD_DIR [--count N] [--scenarios abcdeghst] [--repeat R] [--threads T]
                    [--plugin PATH] [--keep] [--json FILE] [--peer-storage DIR]
                    [--transcoding-nice N]
Standard library only.
"""

import argparse
import ctypes
import json
import os
import sqlite3
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ORTHANC = "/usr/sbin/Orthanc"
STORESCP = "/usr/bin/storescp"
STORESCU = "/usr/bin/storescu"
JPEGLS_LOSSLESS = b"1.2.840.10008.1.2.4.80"
HTJ2K_LOSSLESS = b"1.2.840.10008.1.2.4.201"

_libc = ctypes.CDLL("libc.so.6", use_errno=True)
_PR_SET_PDEATHSIG = 1
_children = {}


def _die_with_parent():
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def spawn(argv, log_path, env=None):
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, preexec_fn=_die_with_parent)
    _children[proc.pid] = proc
    return proc


def end(proc, timeout=20.0):
    """SIGTERM by PID, then SIGKILL after timeout."""
    if proc is None:
        return
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    _children.pop(proc.pid, None)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_for(predicate, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def proc_status_kb(pid, field):
    """A kB figure of /proc/PID/status: VmHWM (peak resident), VmRSS (now)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """User + system CPU time of a live process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu(pid):
    """CPU seconds of a process's children: the live ones (the router's
    transcoder workers, which do every conversion) and those it has reaped."""
    tick = os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    total = (int(fields[13]) + int(fields[14])) / tick
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                child = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(child[1]) == pid:
            total += (int(child[11]) + int(child[12])) / tick
    return total


def router_thread_cpu(pid):
    """CPU seconds of the plugin's own threads (named router-*, rt-<destination>)."""
    total = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            if name.startswith(("router-", "rt-")):
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass  # the thread ended meanwhile
    return total


def tail(path, lines=30):
    try:
        with open(path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-lines:]).decode("utf-8", "replace")
    except OSError:
        return ""


class Peer:
    """storescp writing what it receives to its own folder, all syntaxes accepted
    (options: more storescp arguments, e.g. +uf to keep a second copy)."""

    def __init__(self, workdir, aet, options=(), store_root=None):
        self.aet = aet
        self.options = list(options)
        self.folder = os.path.join(store_root or workdir, aet.lower())
        os.makedirs(self.folder)
        self.log = os.path.join(workdir, aet.lower() + ".log")
        self.port = free_port()
        self.proc = None

    def start(self):
        self.proc = spawn([STORESCP, "-aet", self.aet, "-od", self.folder, "+xa", "--promiscuous",
                           "--disable-host-lookup", *self.options, str(self.port)], self.log,
                          env=dict(os.environ, TCP_NODELAY="1"))
        wait_for(lambda: self.proc.poll() is not None or listening(self.port), 10, f"storescp {self.aet}")
        if self.proc.poll() is not None:
            raise RuntimeError(f"storescp {self.aet} exited:\n{tail(self.log)}")

    def count(self):
        return len(os.listdir(self.folder))

    def syntax_of_one(self):
        names = sorted(os.listdir(self.folder))
        if not names:
            return b""
        with open(os.path.join(self.folder, names[0]), "rb") as f:
            head = f.read(1024)
        for uid in (HTJ2K_LOSSLESS, JPEGLS_LOSSLESS):
            if uid in head:
                return uid
        return b"other"


class FolderPeer(Peer):
    """A folder destination of the router: no process of its own (the
    router's delivery threads write the files); counts finished files only."""

    def start(self):
        pass

    def count(self):
        return sum(1 for n in os.listdir(self.folder) if n.endswith(".dcm") and not n.startswith("."))


def default_peer_storage():
    """The storescp peers stand for other machines. On the router's own ext4
    disk, their 600 new files per run compete with Orthanc's own in the
    kernel's inode allocation (perf on scenario b: ext4 find_inode_bit /
    recently_deleted / find_get_block_common in Orthanc's C-STORE thread,
    3x bare's samples), which lengthens ingest for a reason no deployment
    has. A tmpfs keeps them off that disk."""
    try:
        with open("/proc/mounts") as f:
            if any(line.split()[1:3] == ["/dev/shm", "tmpfs"] for line in f):
                return "/dev/shm"
    except OSError:
        pass
    return None


def scenario_config(kind, work, peers, plugin, threads, nice=None):
    storage = os.path.join(work, "storage")
    os.makedirs(storage)
    config = {
        "Name": f"e2e-bench-{kind}",
        "StorageDirectory": storage,
        "IndexDirectory": storage,
        "HttpPort": free_port(),
        "DicomPort": free_port(),
        "DicomAet": "ROUTER",
        "DicomCheckCalledAet": False,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "StorageCompression": False,
        "SaveJobs": False,
        "Plugins": [],
        "DicomModalities": {},
    }
    if kind in ("b", "c", "e", "g", "h", "s", "t"):
        rules = os.path.join(work, "rules")
        os.makedirs(rules)
        syntax = {"c": ', transfer_syntax = "JPEGLSLossless"', "h": ', transfer_syntax = "JPEGLSLossless"',
                  "g": ', transfer_syntax = "HTJ2KLossless"',
                  "s": ', when = "study", quiet = %d' % SERIES_QUIET}.get(kind, "")
        other = ', when = "study", quiet = %d' % SERIES_QUIET if kind == "s" else ""
        dead = ', { destination = "dead" }' if kind == "e" else ""
        with open(os.path.join(rules, "10-route.lua"), "w") as f:
            if kind == "t":  # one decision on the whole study, once it is quiet
                f.write('study_complete = { quiet = %d }\n'
                        'function route_study(study) return { { destination = "peera" }, { destination = "peerb" } } end\n'
                        % SERIES_QUIET)
            else:
                f.write('function route(i) return { { destination = "peera"%s }, { destination = "peerb"%s }%s } end\n'
                        % (syntax, other, dead))
        config["Plugins"] = [plugin]
        config["Router"] = {
            "Rules": rules,
            "QueueDatabase": os.path.join(work, "queue.sqlite"),
            "Threads": threads,
            "Destinations": {
                p.aet.lower(): ({"Type": "folder", "Path": p.folder} if isinstance(p, FolderPeer) else
                                {"Type": "dicom", "AET": p.aet, "Host": "127.0.0.1", "Port": p.port})
                for p in peers
            },
        }
        if nice is not None:
            config["Router"]["Transcoding"] = {"Nice": nice}
        if kind == "e":  # nothing listens there: every attempt is refused
            config["Router"]["Destinations"]["dead"] = {"Type": "dicom", "AET": "DEAD", "Host": "127.0.0.1",
                                                        "Port": free_port()}
    elif kind == "d":
        script = os.path.join(work, "route.lua")
        with open(script, "w") as f:
            f.write("function OnStoredInstance(instanceId, tags, metadata, origin)\n"
                    "  SendToModality(instanceId, 'peera')\n"
                    "  SendToModality(instanceId, 'peerb')\n"
                    "end\n")
        config["LuaScripts"] = [script]
        config["DicomModalities"] = {p.aet.lower(): [p.aet, "127.0.0.1", p.port] for p in peers}
    path = os.path.join(work, "orthanc.json")
    with open(path, "w") as f:
        json.dump(config, f, indent=2)
    return config, path


def run_scenario(kind, data_dir, count, plugin, threads, keep, timeout, peer_storage=None, nice=None):
    work = tempfile.mkdtemp(prefix=f"e2e-bench-{kind}-")
    orthanc = None
    peers = []
    peer_root = None
    try:
        if kind not in ("a", "f"):
            peer_root = tempfile.mkdtemp(prefix=f"e2e-bench-{kind}-peers-", dir=peer_storage or None)
            peers = [FolderPeer(work, "PEERA") if kind in ("g", "h") else Peer(work, "PEERA", store_root=peer_root),
                     Peer(work, "PEERB", store_root=peer_root)]
            for p in peers:
                p.start()
        config, config_path = scenario_config(kind, work, peers, plugin, threads, nice)
        log = os.path.join(work, "orthanc.log")
        env = dict(os.environ, TCP_NODELAY="1")
        if kind == "f":
            env.pop("TCP_NODELAY")
        orthanc = spawn([ORTHANC, config_path], log, env=env)

        def up():
            if orthanc.poll() is not None:
                raise RuntimeError(f"Orthanc ({kind}) exited with {orthanc.returncode}:\n{tail(log)}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{config['HttpPort']}/system", timeout=1).read()
            except OSError:
                return False
            return listening(config["DicomPort"])
        wait_for(up, 60, f"Orthanc ({kind}) to answer")
        time.sleep(0.5)  # let the plugin's OrthancStarted work (workers, replay) settle

        argv = [STORESCU, "-aet", "MODALITY", "-aec", "ROUTER", "+sd", "127.0.0.1", str(config["DicomPort"]),
                data_dir]
        start = time.monotonic()
        children_before = os.times()
        sent = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              env=dict(os.environ, TCP_NODELAY="1"), timeout=timeout,
                              preexec_fn=_die_with_parent)
        ingest = time.monotonic() - start
        children_after = os.times()
        storescu_cpu = (children_after.children_user - children_before.children_user +
                        children_after.children_system - children_before.children_system)
        out = sent.stdout.decode("utf-8", "replace")
        if sent.returncode != 0 or any(l.startswith(("E:", "F:")) for l in out.splitlines()):
            raise RuntimeError(f"storescu failed in scenario {kind} ({sent.returncode}):\n{out[-3000:]}")
        delivered = None
        waiting_rows = None
        if kind in ("s", "t"):  # the study waits now: what it holds in the queue and in memory
            queue = config['Router']['QueueDatabase']
            db = sqlite3.connect(f"file:{queue}?mode=ro", uri=True)
            try:
                waiting_rows = {table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                                for table in ("batches", "batch_members")}
                waiting_rows["held jobs"] = db.execute("SELECT COUNT(*) FROM jobs WHERE state=4").fetchone()[0]
                waiting_rows["queue KiB"] = sum(os.path.getsize(queue + x) for x in ("", "-wal")
                                                if os.path.exists(queue + x)) // 1024
                waiting_rows["VmRSS MB"] = proc_status_kb(orthanc.pid, "VmRSS") // 1024
            finally:
                db.close()
        if peers:
            wait_for(lambda: all(p.count() >= count for p in peers), timeout,
                     f"both peers to hold {count} files (scenario {kind}; now "
                     f"{[p.count() for p in peers]}; log {log})", interval=0.02)
            delivered = time.monotonic() - start
        hwm = proc_status_kb(orthanc.pid, "VmHWM")
        # CPU seconds spent by each party (since it started; the idle start-up
        # is small): where the 2 cores went, robust to a busy machine.
        cpu = {"orthanc": cpu_seconds(orthanc.pid), "of which router threads": router_thread_cpu(orthanc.pid),
               "transcoder workers": children_cpu(orthanc.pid),
               "peers": sum(cpu_seconds(p.proc.pid) for p in peers if p.proc),
               "storescu": storescu_cpu}
        with open(f"/proc/{orthanc.pid}/stat") as f:
            minor_faults = int(f.read().rsplit(")", 1)[1].split()[7])
        result = {"scenario": kind, "ingest_s": ingest, "delivered_s": delivered, "vm_hwm_mb": hwm / 1024.0,
                  "cpu_s": cpu, "orthanc_minor_faults": minor_faults}
        if kind in ("c", "g", "h"):
            result["peera_syntax"] = peers[0].syntax_of_one().decode()
        if kind in ("s", "t"):
            result["waiting_rows"] = waiting_rows
        return result
    finally:
        end(orthanc, timeout=60)
        for p in peers:
            if p.proc:
                end(p.proc)
        if keep:
            print(f"  (kept {work}" + (f" and {peer_root}" if peer_root else "") + ")", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
            if peer_root:
                shutil.rmtree(peer_root, ignore_errors=True)


DESCRIPTIONS = {
    "a": "bare Orthanc, ingest only",
    "b": "router plugin -> 2 peers, as received",
    "c": "router plugin -> 2 peers, peer A JPEG-LS",
    "d": "Orthanc Lua SendToModality -> 2 peers",
    "e": "as b, plus a third destination that is down",
    "f": "as a, Orthanc without TCP_NODELAY",
    "g": "router -> folder HTJ2K lossless + peer B",
    "h": "router -> folder JPEG-LS lossless + peer B",
    "s": "as b, routed as a study (5 s quiet time)",
    "t": "as b, decided by route_study() (5 s quiet)",
}
SERIES_QUIET = 5


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build_dir")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--scenarios", default="abcdeghst")
    parser.add_argument("--threads", type=int, default=2, help="Router Threads (default 2: a 2-core machine)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the best round per scenario is shown")
    parser.add_argument("--plugin", help="plugin to load (default BUILD_DIR/plugins/orthanc/libOrthancRouter.so)")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--keep", action="store_true", help="keep each run's temp folder (logs, storage)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--transcoding-nice", type=int, default=None,
                        help="Router.Transcoding.Nice for the plugin's scenarios (default: the router's own, 10)")
    parser.add_argument("--peer-storage", default=default_peer_storage(),
                        help="folder the storescp peers write into (default /dev/shm when it is a tmpfs, "
                             "else each run's temp folder); --peer-storage '' puts them on the router's disk")
    args = parser.parse_args()
    args.build_dir = os.path.abspath(args.build_dir)  # Orthanc runs in its own folder

    plugin = args.plugin or os.path.join(args.build_dir, "plugins/orthanc/libOrthancRouter.so")
    testdata = os.path.join(args.build_dir, "tests/generator/router-testdata")
    for path in (plugin, testdata, ORTHANC, STORESCP, STORESCU):
        if not os.path.exists(path):
            sys.exit(f"e2e_bench: missing {path}")

    data = tempfile.mkdtemp(prefix="e2e-bench-data-")
    rounds = {}  # scenario -> [result per round]
    try:
        subprocess.run([testdata, data, "--suite", "ct-series", "--count", str(args.count), "--seed", "4242"],
                       check=True, stdout=subprocess.DEVNULL)
        size_mb = sum(os.path.getsize(os.path.join(data, n)) for n in os.listdir(data)) / 2**20
        print(f"e2e: {args.count} instances, 512x512 16-bit CT, {size_mb:.0f} MB; Router Threads {args.threads}; "
              f"storescp peers write to {args.peer_storage or 'the temp folder (the router disk)'}", flush=True)
        for round_no in range(1, args.repeat + 1):
            for kind in args.scenarios:
                print(f"e2e: round {round_no}/{args.repeat}, scenario {kind}: {DESCRIPTIONS[kind]} ...", flush=True)
                r = run_scenario(kind, data, args.count, plugin, args.threads, args.keep, args.timeout,
                                 args.peer_storage, args.transcoding_nice)
                rounds.setdefault(kind, []).append(r)
                done = f", delivered {r['delivered_s']:.2f} s" if r["delivered_s"] is not None else ""
                cpu = ", ".join(f"{k} {v:.2f}" for k, v in r["cpu_s"].items())
                print(f"e2e:   ingest {r['ingest_s']:.2f} s{done}, Orthanc VmHWM {r['vm_hwm_mb']:.0f} MB, "
                      f"CPU s: {cpu}; Orthanc page faults {r['orthanc_minor_faults']}", flush=True)
    finally:
        shutil.rmtree(data, ignore_errors=True)
        for proc in list(_children.values()):
            end(proc, timeout=5)

    def total(r):
        return r["delivered_s"] if r["delivered_s"] is not None else r["ingest_s"]
    results = {kind: min(rs, key=total) for kind, rs in rounds.items()}

    print()
    print(f"==== end-to-end delivery: {args.count} x 512x512 CT, one storescu association ====")
    print(f"{'scenario (best of ' + str(args.repeat) + ')':<46} {'ingest s':>9} {'done s':>8} {'vs a':>7} "
          f"{'inst/s':>7} {'VmHWM MB':>9}  every round (s)")
    base = results.get("a", {}).get("ingest_s")
    for kind, r in results.items():
        t = total(r)
        ratio = f"{t / base:.2f}x" if base else "-"
        done = f"{r['delivered_s']:.2f}" if r["delivered_s"] is not None else "-"
        every = " ".join(f"{total(x):.2f}" for x in rounds[kind])
        print(f"{kind + ' ' + DESCRIPTIONS[kind]:<46} {r['ingest_s']:>9.2f} {done:>8} {ratio:>7} "
              f"{args.count / t:>7.1f} {r['vm_hwm_mb']:>9.0f}  {every}")
    if base:
        for kind, target in (("b", 1.10), ("c", 1.30), ("d", None), ("g", 1.30), ("h", None)):
            if kind in results:
                ratio = results[kind]["delivered_s"] / base
                goal = f" (target <= {target:.2f}: {'met' if ratio <= target else 'NOT met'})" if target else ""
                print(f"{kind}/a = {ratio:.2f}{goal}")
    if "b" in results and "e" in results:
        print(f"e/b = {total(results['e']) / total(results['b']):.2f} (a dead destination beside two live ones; "
              f"1.00 = the live ones are not slowed)")
    if "a" in results and "f" in results:
        print(f"f/a = {total(results['f']) / total(results['a']):.2f} (Orthanc's own DICOM sockets with Nagle's "
              f"algorithm on; 1.00 = TCP_NODELAY does not matter for ingest)")
    for kind in ("s", "t"):
        if kind not in results:
            continue
        r = results[kind]
        after = r["delivered_s"] - (r["ingest_s"] + SERIES_QUIET)
        print(f"{kind}: delivery ended {after:.2f} s after the quiet time ended (target <= 1.00: "
              f"{'met' if after <= 1.0 else 'NOT met'}); the waiting study held {r['waiting_rows']} "
              f"for {args.count} instances x 2 destinations")
        if "b" in results:
            print(f"{kind} - quiet vs b: {r['delivered_s'] - SERIES_QUIET:.2f} s against "
                  f"{results['b']['delivered_s']:.2f} s (study against instance routing, the quiet time taken out); "
                  f"VmHWM {r['vm_hwm_mb']:.0f} MB against {results['b']['vm_hwm_mb']:.0f} MB")
    if "g" in results and "h" in results:
        print(f"g/h = {total(results['g']) / total(results['h']):.2f} (HTJ2K lossless against JPEG-LS lossless, "
              f"same shape of run)")
    wanted = {"c": JPEGLS_LOSSLESS, "g": HTJ2K_LOSSLESS, "h": JPEGLS_LOSSLESS}
    for kind, uid in wanted.items():
        if kind in results:
            got = results[kind]["peera_syntax"] == uid.decode()
            print(f"{kind}: peer A received {uid.decode()}: {'yes' if got else 'NO'}")
    # Every party runs on the same cores: no scenario can end sooner than its
    # CPU seconds spread over all of them. A ratio near its floor is CPU-bound.
    cores = os.cpu_count() or 1
    if base:
        for kind, r in results.items():
            if kind in ("a", "f"):
                continue
            cpu = (r["cpu_s"]["orthanc"] + r["cpu_s"]["transcoder workers"] + r["cpu_s"]["peers"] +
                   r["cpu_s"]["storescu"])
            print(f"{kind}: {cpu:.2f} CPU s in all (router threads {r['cpu_s']['of which router threads']:.2f}, "
                  f"transcoder workers {r['cpu_s']['transcoder workers']:.2f}); "
                  f"on {cores} cores it cannot end before {cpu / cores:.2f} s = {cpu / cores / base:.2f}x a")
    # The ingest path: Orthanc's own threads (its DICOM server storing each
    # instance, the stored-instance callback included) against bare Orthanc.
    # Equal CPU with a longer ingest means the C-STORE waited for a core, not
    # for more work of its own.
    if "a" in results:
        own = {k: r["cpu_s"]["orthanc"] - r["cpu_s"]["of which router threads"] for k, r in results.items()}
        line = ", ".join(f"{k} {v:.2f} s ({v / own['a']:.2f}x)" for k, v in own.items() if own["a"] > 0)
        print(f"Orthanc's own threads (not the router's), CPU: {line}")
    if "a" in results and "b" in results:
        print(f"peak RSS of Orthanc: {results['a']['vm_hwm_mb']:.0f} MB without the plugin, "
              f"{results['b']['vm_hwm_mb']:.0f} MB with it (b), "
              f"{results.get('c', results['b'])['vm_hwm_mb']:.0f} MB with JPEG-LS (c)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rounds, f, indent=2)


if __name__ == "__main__":
    main()
