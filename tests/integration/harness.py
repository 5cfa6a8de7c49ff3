"""Integration-test harness: real Orthanc, real dcmtk peers, real files.

Every integration test of the appliance is a unittest module built on this
file. It starts the Debian Orthanc binary (with or without the router plugin),
dcmtk's storescp as DICOM peers and storescu as the modality, generates test
data with the router-testdata CLI, and compares what arrived with pydicom.

Paths come from the environment that ctest sets (tests/integration/CMakeLists.txt):
    ROUTER_PLUGIN      the plugin (libOrthancRouter.so)
    ROUTER_TESTDATA    the router-testdata CLI
    ROUTER_SOURCE_DIR  the source tree
Run one file by hand the same way, e.g.
    ROUTER_PLUGIN=... ROUTER_TESTDATA=... /usr/bin/python3 -m unittest -v test_foundation

Process hygiene: every child is started with a parent-death signal (SIGKILL
when this Python process dies, even by SIGKILL from a ctest timeout), ended by
its PID in the test's cleanups, and again at exit if still alive. A test's
temp dir (/tmp/router-it-*) is removed when the test passes and kept, with its
path printed, when it fails: the Orthanc and storescp logs are in there.
"""

import atexit
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
import base64

import numpy
import pydicom

ORTHANC_BIN = "/usr/sbin/Orthanc"
STORESCP_BIN = "/usr/bin/storescp"
STORESCU_BIN = "/usr/bin/storescu"

# Transfer syntaxes whose PixelData is stored native (comparable byte for byte).
UNCOMPRESSED_SYNTAXES = {
    "1.2.840.10008.1.2",       # Implicit VR Little Endian
    "1.2.840.10008.1.2.1",     # Explicit VR Little Endian
    "1.2.840.10008.1.2.2",     # Explicit VR Big Endian (retired)
    "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
}

IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"


# --------------------------------------------------------------------------
# Environment

def env_path(name):
    """The path in environment variable `name`; raises unittest.SkipTest when
    it is not set (running a file by hand without the build), so that the
    message says what to set instead of failing somewhere deep."""
    value = os.environ.get(name)
    if not value:
        raise unittest.SkipTest(f"environment variable {name} is not set (ctest sets it)")
    if not os.path.exists(value):
        raise AssertionError(f"{name}={value} does not exist: build it first")
    return value


def plugin_path():
    return env_path("ROUTER_PLUGIN")


def testdata_cli():
    return env_path("ROUTER_TESTDATA")


# --------------------------------------------------------------------------
# Processes

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)
_live = {}  # pid -> Popen, every child not yet reaped


def _die_with_parent():
    # Runs in the child between fork and exec: if the test runner dies (ctest
    # timeout, Ctrl-C, SIGKILL), the kernel sends the child SIGKILL.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def spawn(argv, log_path, env=None, cwd=None):
    """Starts argv with stdout and stderr appended to log_path; tracked for
    cleanup at exit. Returns the Popen."""
    log = open(log_path, "ab")
    try:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=cwd, preexec_fn=_die_with_parent)
    finally:
        log.close()
    _live[proc.pid] = proc
    return proc


def end_process(proc, timeout=15.0, sig=signal.SIGTERM):
    """Sends `sig` to proc by PID, waits up to timeout, then SIGKILL.
    Returns the exit status (negative: killed by that signal). Idempotent."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    _live.pop(proc.pid, None)
    return proc.returncode


@atexit.register
def _end_all_children():
    for proc in list(_live.values()):
        end_process(proc, timeout=5.0)


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now. (The usual
    small race: another process may take it before we bind it.)"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_listening(port):
    """True when some process listens on TCP `port` (read from /proc/net, so
    probing does not open a connection the server would have to handle)."""
    hexport = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[1].endswith(hexport) and fields[3] == "0A":  # 0A = LISTEN
                        return True
        except FileNotFoundError:
            continue
    return False


def wait_for(predicate, timeout, what, interval=0.1, detail=None):
    """Polls predicate() until it returns something truthy, and returns that.
    On timeout raises AssertionError "timed out after Ns waiting for <what>",
    followed by detail() (a callable describing the current state) if given."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            message = f"timed out after {timeout:g}s waiting for {what}"
            if detail is not None:
                message += ":\n" + str(detail())
            raise AssertionError(message)
        time.sleep(interval)


def tail(path, lines=40):
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return f"(no file {path})"
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------
# Orthanc

class HttpError(Exception):
    def __init__(self, method, url, status, body):
        super().__init__(f"{method} {url} -> HTTP {status}: {body[:2000]!r}")
        self.status = status
        self.body = body


class OrthancExited(AssertionError):
    pass


class Orthanc:
    """One Orthanc server in its own folder `workdir/name`:
        orthanc.json  the configuration written from the constructor's arguments
        storage/      StorageDirectory and IndexDirectory
        orthanc.log   stdout and stderr of every run (appended on restart)

    router:     the "Router" section (a dict) or None
    plugin:     a plugin path ("Plugins": [plugin]) or None for a plain Orthanc
    modalities: Orthanc's "DicomModalities" ({alias: [AET, host, port]})
    extra:      more top-level keys, merged last (overrides anything)
    env:        more environment variables for the process (e.g. TZ)
    Ports are picked free once and kept across restarts.
    """

    def __init__(self, workdir, name="orthanc", *, router=None, plugin=None, modalities=None,
                 overwrite_instances=False, authentication=False, users=None, aet="ROUTER",
                 verbose=False, extra=None, env=None):
        self.dir = os.path.join(workdir, name)
        self.storage = os.path.join(self.dir, "storage")
        os.makedirs(self.storage, exist_ok=True)
        self.config_path = os.path.join(self.dir, "orthanc.json")
        self.log_path = os.path.join(self.dir, "orthanc.log")
        self.http_port = free_port()
        self.dicom_port = free_port()
        self.aet = aet
        self.verbose = verbose
        self.env = env or {}
        self.users = users or ({"router": "router"} if authentication else {})
        self.process = None
        self.config = {
            "Name": f"router-it-{name}",
            "StorageDirectory": self.storage,
            "IndexDirectory": self.storage,
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": aet,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": bool(authentication),
            "RegisteredUsers": self.users,
            "DicomModalities": modalities or {},
            "OverwriteInstances": bool(overwrite_instances),
            "ConcurrentJobs": 1,
            "SaveJobs": False,
            "HttpTimeout": 30,
            "StorageCompression": False,
            "Plugins": [plugin] if plugin else [],
        }
        if router is not None:
            self.config["Router"] = router
        if extra:
            self.config.update(extra)

    # -- lifecycle

    def write_config(self):
        with open(self.config_path, "w") as f:
            json.dump(self.config, f, indent=2)

    def start(self, timeout=30.0):
        """Writes the configuration, starts Orthanc, and returns once GET /system
        answers. Raises OrthancExited (with the log tail) if it exits first."""
        self.spawn()
        self.wait_until_up(timeout)
        return self

    def spawn(self):
        """Starts the process without waiting (see wait_until_up / wait_up_or_exit)."""
        if self.running():
            raise RuntimeError("Orthanc is already running")
        self.write_config()
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== harness: starting Orthanc at {time.strftime('%H:%M:%S')} =====\n".encode())
        argv = [ORTHANC_BIN] + (["--verbose"] if self.verbose else []) + [self.config_path]
        env = self._sanitizer_env()
        if self.env:
            env = dict(env or os.environ, **self.env)
        self.process = spawn(argv, self.log_path, env=env, cwd=self.dir)
        return self.process

    # -- sanitizer builds (./appliance test --sanitize / --tsan)

    def _sanitizer_env(self):
        """Debian's Orthanc is not built with a sanitizer: a sanitized plugin
        needs the runtime preloaded (ROUTER_ORTHANC_PRELOAD, e.g. gcc's
        libasan.so). The *SAN_OPTIONS given get a log_path in this folder,
        so that check_sanitizer_reports() finds every report. None (inherit
        the environment) when not asked for or without the plugin."""
        preload = os.environ.get("ROUTER_ORTHANC_PRELOAD")
        if not preload or not self.config.get("Plugins"):
            return None
        env = dict(os.environ, LD_PRELOAD=preload)
        for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"):
            env[var] = env.get(var, "") + ":log_path=" + os.path.join(self.dir, "sanitizer")
        return env

    def check_sanitizer_reports(self):
        """Raises AssertionError with the text of every sanitizer report this
        Orthanc wrote, and of those its transcoder workers (sandboxed: they
        cannot open a log file) wrote to its log."""
        reports = sorted(n for n in os.listdir(self.dir) if n.startswith("sanitizer."))
        if reports:
            text = "\n".join(tail(os.path.join(self.dir, n), 200) for n in reports)
            raise AssertionError(f"sanitizer reports in {self.dir}: {reports}\n{text}")
        if os.environ.get("ROUTER_ORTHANC_PRELOAD") and os.path.exists(self.log_path):
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            found = [l for l in lines if "runtime error:" in l or "ERROR: AddressSanitizer" in l
                     or "WARNING: ThreadSanitizer" in l]
            if found:
                raise AssertionError(f"sanitizer reports in {self.log_path}:\n" + "\n".join(found[:20]))

    def wait_up_or_exit(self, timeout=30.0):
        """Waits until Orthanc answers ("up") or its process ends ("exited")."""
        def state():
            if self.process.poll() is not None:
                return "exited"
            return "up" if self._answers() else None
        return wait_for(state, timeout, f"Orthanc on HTTP port {self.http_port} to answer or exit",
                        detail=lambda: self.log_tail())

    def wait_until_up(self, timeout=30.0):
        if self.wait_up_or_exit(timeout) == "exited":
            _live.pop(self.process.pid, None)
            raise OrthancExited(f"Orthanc exited with status {self.process.returncode} before answering; "
                                f"log {self.log_path}:\n{self.log_tail()}")

    def _answers(self):
        try:
            status, _, _ = self.request("GET", "/system", timeout=2)
            return status == 200
        except (urllib.error.URLError, ConnectionError, socket.timeout, OSError):
            return False

    def running(self):
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout=30.0, check=False):
        """SIGTERM, wait up to timeout, then SIGKILL. Returns the exit status;
        check=True asserts a clean exit (status 0)."""
        status = end_process(self.process, timeout=timeout)
        if check and status != 0:
            raise AssertionError(f"Orthanc exited with status {status}; log tail:\n{self.log_tail()}")
        return status

    def kill9(self):
        """SIGKILL now, like a power cut for the process (the disk stays)."""
        return end_process(self.process, sig=signal.SIGKILL)

    def restart(self, timeout=30.0):
        """Stops (if running) and starts again on the same storage, ports and
        configuration (self.config may be edited in between)."""
        if self.running():
            self.stop()
        return self.start(timeout)

    # -- REST

    def url(self, path):
        return f"http://127.0.0.1:{self.http_port}{path}"

    def request(self, method, path, body=None, content_type=None, timeout=30, headers=None):
        """One HTTP exchange; returns (status, headers, body bytes) whatever the
        status (no exception for 4xx/5xx). Sends X-Router-Console: 1, as every
        API client must for the routes that change something (README, "Cross-site
        requests"); a header given as None is left out (that one, Authorization, ...)."""
        data = body
        if body is not None and not isinstance(body, (bytes, bytearray)):
            data = json.dumps(body).encode()
            content_type = content_type or "application/json"
        req = urllib.request.Request(self.url(path), data=data, method=method)
        sent = {"X-Router-Console": "1"}
        if content_type:
            sent["Content-Type"] = content_type
        if self.config.get("AuthenticationEnabled") and self.users:
            user, password = next(iter(self.users.items()))
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            sent["Authorization"] = "Basic " + token
        sent.update(headers or {})  # a value None leaves that header out
        for k, v in sent.items():
            if v is not None:
                req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers or {}), e.read()

    def _call(self, method, path, body=None, content_type=None, timeout=30):
        status, headers, data = self.request(method, path, body, content_type, timeout)
        if not 200 <= status < 300:
            raise HttpError(method, self.url(path), status, data)
        return decode_body(data)

    def get(self, path, timeout=30):
        """GET; returns parsed JSON (or text / bytes when not JSON). Raises HttpError unless 2xx."""
        return self._call("GET", path, timeout=timeout)

    def post(self, path, body=None, content_type=None, timeout=30):
        """POST a dict/list (sent as JSON) or bytes (with content_type)."""
        return self._call("POST", path, b"" if body is None else body, content_type, timeout)

    def put(self, path, body=None, content_type=None, timeout=30):
        return self._call("PUT", path, b"" if body is None else body, content_type, timeout)

    def delete(self, path, timeout=30):
        return self._call("DELETE", path, timeout=timeout)

    def upload(self, path):
        """POST /instances with a DICOM file (the REST way in, not C-STORE)."""
        with open(path, "rb") as f:
            return self.post("/instances", f.read(), "application/dicom")

    def instance_count(self):
        return self.get("/statistics")["CountInstances"]

    # -- logs

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines=40):
        return tail(self.log_path, lines)


class PostgreSQL:
    """A PostgreSQL 15 server (Debian's binaries) for the shared queue, in its
    own folder `workdir/name`, on a free port on 127.0.0.1, ended by PID.
    PostgreSQL refuses to run as root: as root, initdb and the server run as
    Debian's postgres user (switched to before exec, so the PID is the
    server's). Trust authentication for 127.0.0.1; superuser "router"."""

    BIN = "/usr/lib/postgresql/15/bin"

    def __init__(self, workdir, name="postgres"):
        if not os.access(os.path.join(self.BIN, "postgres"), os.X_OK):
            raise AssertionError(f"PostgreSQL 15 is not installed ({self.BIN}): install Debian's postgresql "
                                 "package (./appliance does)")
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.data = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "postgres.log")
        self.port = free_port()
        self.process = None
        self.user = None
        if os.geteuid() == 0:
            import pwd
            self.user = pwd.getpwnam("postgres")
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
            os.chmod(workdir, 0o755)  # the postgres user must reach its folder
        result = subprocess.run([os.path.join(self.BIN, "initdb"), "-D", self.data, "-A", "trust", "-U", "router",
                                 "-E", "UTF8", "--no-sync"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                preexec_fn=self._become_postgres, timeout=120)
        if result.returncode != 0:
            raise AssertionError(f"initdb failed:\n{result.stdout.decode(errors='replace')}")

    def _become_postgres(self):
        if self.user:
            os.setgroups([])
            os.setgid(self.user.pw_gid)
            os.setuid(self.user.pw_uid)
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # after setuid, which clears it

    def uri(self, database="router", password=None):
        auth = "router" + (f":{password}" if password else "")
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def start(self, timeout=30.0):
        log = open(self.log_path, "ab")
        try:
            self.process = subprocess.Popen(
                # TCP only (-k ""): a socket path in a long temp folder name exceeds 107 bytes.
                [os.path.join(self.BIN, "postgres"), "-D", self.data, "-p", str(self.port), "-k", "",
                 "-c", "listen_addresses=127.0.0.1"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=self._become_postgres)
        finally:
            log.close()
        _live[self.process.pid] = self.process
        wait_for(lambda: self.process.poll() is not None or is_listening(self.port), timeout,
                 "PostgreSQL to listen", detail=lambda: tail(self.log_path))
        if self.process.poll() is not None:
            raise AssertionError(f"PostgreSQL exited ({self.process.returncode}):\n{tail(self.log_path)}")
        return self

    def stop(self):
        """Fast shutdown (SIGINT: open sessions are ended), by PID."""
        end_process(self.process, timeout=30.0, sig=signal.SIGINT)
        self.process = None

    def sql(self, statement, database="postgres"):
        result = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", self.uri(database),
                                 "-c", statement], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        if result.returncode != 0:
            raise AssertionError(f"psql {statement!r} failed:\n{result.stdout.decode(errors='replace')}")
        return result.stdout.decode().strip()


def decode_body(data):
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        try:
            return data.decode()
        except UnicodeDecodeError:
            return data


# --------------------------------------------------------------------------
# DICOM peers (dcmtk)

class StoreScp:
    """dcmtk storescp: a DICOM peer that writes what it receives to `folder`,
    one file per instance named "<modality>.<SOPInstanceUID>" (storescp's
    default names; a new copy of the same instance overwrites the old one).

    implicit_only: accept Implicit VR Little Endian only (+xi), like an old PACS.
    accept_all:    accept every transfer syntax storescp knows (+xa), compressed
                   ones included. Default: the uncompressed syntaxes.
    count_stores:  log every C-STORE (-v), so that stores() counts copies too.
    The port is picked free once and kept across restarts.
    """

    def __init__(self, workdir, aet="STORESCP", name=None, port=None, implicit_only=False,
                 accept_all=False, extra_args=(), count_stores=False):
        name = name or aet.lower()
        self.aet = aet
        self.dir = os.path.join(workdir, name)
        self.folder = os.path.join(self.dir, "received")
        os.makedirs(self.folder, exist_ok=True)
        self.log_path = os.path.join(self.dir, "storescp.log")
        self.port = port or free_port()
        self.implicit_only = implicit_only
        self.accept_all = accept_all
        self.extra_args = list(extra_args) + (["-v"] if count_stores else [])
        self.process = None

    def argv(self):
        argv = [STORESCP_BIN, "-aet", self.aet, "--output-directory", self.folder,
                "--promiscuous", "--disable-host-lookup"]
        if self.implicit_only:
            argv.append("+xi")
        elif self.accept_all:
            argv.append("+xa")
        return argv + self.extra_args + [str(self.port)]

    def start(self, timeout=10.0):
        if self.running():
            raise RuntimeError(f"storescp {self.aet} is already running")
        self.process = spawn(self.argv(), self.log_path)

        def up():
            if self.process.poll() is not None:
                raise AssertionError(f"storescp {self.aet} exited with status {self.process.returncode}:\n"
                                     f"{tail(self.log_path)}")
            return is_listening(self.port)
        wait_for(up, timeout, f"storescp {self.aet} to listen on port {self.port}")
        return self

    def running(self):
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout=10.0):
        return end_process(self.process, timeout=timeout)

    def kill(self):
        """SIGKILL by PID: the peer vanishes mid-whatever, as a crashed PACS."""
        return end_process(self.process, sig=signal.SIGKILL)

    def restart(self, timeout=10.0):
        self.stop()
        return self.start(timeout)

    def files(self):
        """Paths of the received files, sorted."""
        return sorted(os.path.join(self.folder, n) for n in os.listdir(self.folder)
                      if os.path.isfile(os.path.join(self.folder, n)))

    def received(self):
        """{SOPInstanceUID: path}, read from storescp's file names."""
        out = {}
        for path in self.files():
            prefix, _, uid = os.path.basename(path).partition(".")
            if uid:
                out[uid] = path
        return out

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stores(self):
        """How many C-STOREs it received, copies of one instance included
        (count_stores=True: storescp -v logs each request)."""
        return self.log_text().count("Received Store Request")


class FakeScp:
    """router-fake-scp (tests/generator/fake_scp.cpp): a scripted DICOM peer
    for faults that a real peer cannot produce on demand. It answers the 1st,
    2nd, ... C-STORE with `statuses` (e.g. ["A700", "A700"], then 0000), waits
    delay_ms before each answer, leaves `refuse` SOP classes out of the
    negotiation, or with hang=True accepts TCP connections and never answers.
    Stored instances land in `folder` as "<SOPInstanceUID>.dcm"; its log has
    one line "<SOPInstanceUID> <status>" per C-STORE received (see stores()).
    The path comes from ROUTER_FAKE_SCP. The port is kept across restarts.
    """

    def __init__(self, workdir, aet="FAKESCP", name=None, port=None, statuses=(), delay_ms=0, refuse=(),
                 hang=False):
        name = name or aet.lower()
        self.aet = aet
        self.dir = os.path.join(workdir, name)
        self.folder = os.path.join(self.dir, "received")
        os.makedirs(self.folder, exist_ok=True)
        self.log_path = os.path.join(self.dir, "fake-scp.log")      # its stderr
        self.stores_path = os.path.join(self.dir, "stores.txt")     # one line per C-STORE
        self.port = port or free_port()
        self.statuses = list(statuses)
        self.delay_ms = delay_ms
        self.refuse = list(refuse)
        self.hang = hang
        self.process = None

    def argv(self):
        argv = [env_path("ROUTER_FAKE_SCP"), "--port", str(self.port), "--aet", self.aet,
                "--out", self.folder, "--log", self.stores_path]
        if self.statuses:
            argv += ["--statuses", ",".join(self.statuses)]
        if self.delay_ms:
            argv += ["--delay-ms", str(self.delay_ms)]
        for sop in self.refuse:
            argv += ["--refuse-sop-class", sop]
        if self.hang:
            argv.append("--hang")
        return argv

    def start(self, timeout=10.0):
        if self.running():
            raise RuntimeError(f"fake SCP {self.aet} is already running")
        self.process = spawn(self.argv(), self.log_path)

        def up():
            if self.process.poll() is not None:
                raise AssertionError(f"fake SCP {self.aet} exited with status {self.process.returncode}:\n"
                                     f"{tail(self.log_path)}")
            return is_listening(self.port)
        wait_for(up, timeout, f"fake SCP {self.aet} to listen on port {self.port}")
        return self

    def running(self):
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout=10.0):
        return end_process(self.process, timeout=timeout)

    def received(self):
        """{SOPInstanceUID: path} of the stored instances."""
        return {n[:-len(".dcm")]: os.path.join(self.folder, n) for n in os.listdir(self.folder)
                if n.endswith(".dcm") and not n.startswith(".")}

    def stores(self):
        """[(SOPInstanceUID, status as 4 upper-case hex digits)], one per C-STORE received, in order."""
        try:
            with open(self.stores_path) as f:
                return [tuple(line.split()) for line in f if len(line.split()) == 2]
        except FileNotFoundError:
            return []


class SendError(AssertionError):
    pass


def send(files, port, aet="ROUTER", calling="MODALITY", host="127.0.0.1", timeout=120, extra_args=()):
    """C-STORE files (paths, or folders: scanned recursively) to host:port with
    dcmtk storescu, TCP_NODELAY on. Raises SendError with storescu's output when
    it fails or reports any error. Returns storescu's output."""
    files = [str(f) for f in files]
    if not files:
        return ""
    argv = [STORESCU_BIN, "-aet", calling, "-aec", aet]
    if any(os.path.isdir(f) for f in files):
        argv += ["+sd", "+r"]
    argv += list(extra_args) + [host, str(port)] + files
    env = dict(os.environ, TCP_NODELAY="1")
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            timeout=timeout, preexec_fn=_die_with_parent)
    output = result.stdout.decode("utf-8", "replace")
    errors = [line for line in output.splitlines() if line.startswith(("E:", "F:"))]
    if result.returncode != 0 or errors:
        raise SendError(f"storescu to {aet}@{host}:{port} failed (status {result.returncode}):\n"
                        f"{output[-4000:]}")
    return output


def echo(port, aet, calling="ECHOSCU", host="127.0.0.1", timeout=10):
    """C-ECHO; True when the peer answers."""
    result = subprocess.run(["echoscu", "-aet", calling, "-aec", aet, host, str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                            preexec_fn=_die_with_parent)
    return result.returncode == 0


# --------------------------------------------------------------------------
# Test data

def generate(outdir, suite="standard", count=None, seed=None, patient_id=None, patient_name=None,
             modality=None, rows=None, columns=None, calling_site=None, transfer_syntax=None):
    """Writes generated DICOM files with the router-testdata CLI into outdir
    (encoded in transfer_syntax by the appliance's transcoder, if given).
    Returns [(path, SOPInstanceUID)] in the order the CLI printed them."""
    os.makedirs(outdir, exist_ok=True)
    argv = [testdata_cli(), outdir, "--suite", suite]
    for option, value in (("--count", count), ("--seed", seed), ("--patient-id", patient_id),
                          ("--patient-name", patient_name), ("--modality", modality),
                          ("--rows", rows), ("--columns", columns), ("--calling-site", calling_site),
                          ("--transfer-syntax", transfer_syntax)):
        if value is not None:
            argv += [option, str(value)]
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({result.returncode}):\n"
                             f"{result.stderr.decode(errors='replace')}")
    out = []
    for line in result.stdout.decode().splitlines():
        path, _, uid = line.strip().rpartition(" ")
        if path:
            out.append((path, uid))
    if not out:
        raise AssertionError(f"{' '.join(argv)} wrote no file")
    return out


# --------------------------------------------------------------------------
# DICOM comparison (pydicom)

def read(path, pixels=True):
    return pydicom.dcmread(path, stop_before_pixels=not pixels)


def transfer_syntax(path):
    """The TransferSyntaxUID of a Part-10 file's meta header."""
    return str(pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID)


def sop_instance_uid(path):
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


_DECOMPRESSORS = {
    # dcmtk decoders first (they are not the library the transcoder encodes
    # with, so a symmetric encoder/decoder bug cannot hide); gdcmconv for JPEG 2000.
    "1.2.840.10008.1.2.4.80": ["dcmdjpls"], "1.2.840.10008.1.2.4.81": ["dcmdjpls"],
    "1.2.840.10008.1.2.4.50": ["dcmdjpeg"], "1.2.840.10008.1.2.4.51": ["dcmdjpeg"],
    "1.2.840.10008.1.2.4.57": ["dcmdjpeg"], "1.2.840.10008.1.2.4.70": ["dcmdjpeg"],
    "1.2.840.10008.1.2.5": ["dcmdrle"],
    "1.2.840.10008.1.2.4.90": ["gdcmconv", "--raw"], "1.2.840.10008.1.2.4.91": ["gdcmconv", "--raw"],
}


def native_pixels(path):
    """PixelData bytes in native form (little endian, frame after frame,
    colour by pixel), decompressing a compressed file with an external decoder
    into a temp file (dcmdjpls, dcmdjpeg, dcmdrle, gdcmconv --raw). None
    without PixelData.

    Colour by plane (PlanarConfiguration 1) is turned into colour by pixel:
    decoders differ in which layout they write back, and the pixels are the
    same either way."""
    ds = pydicom.dcmread(path)
    if "PixelData" not in ds:
        return None
    ts = str(ds.file_meta.TransferSyntaxUID)
    if ts not in UNCOMPRESSED_SYNTAXES:
        tool = _DECOMPRESSORS.get(ts)
        if tool is None:
            raise AssertionError(f"{path}: no decoder known for transfer syntax {ts}")
        with tempfile.TemporaryDirectory(prefix="router-it-decode-") as tmp:
            out = os.path.join(tmp, "native.dcm")
            result = subprocess.run(tool + [path, out], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if result.returncode != 0:
                raise AssertionError(f"{' '.join(tool)} {path} failed:\n"
                                     f"{result.stdout.decode(errors='replace')}")
            ds = pydicom.dcmread(out)
    data = bytes(ds.PixelData)
    if int(ds.get("SamplesPerPixel", 1)) > 1 and int(ds.get("PlanarConfiguration", 0)) == 1:
        data = _interleave(data, ds)
    return data


def _interleave(data, ds):
    """Colour-by-plane pixel bytes -> colour-by-pixel (per frame)."""
    samples = int(ds.SamplesPerPixel)
    sample_bytes = int(ds.BitsAllocated) // 8
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    pixels = int(ds.Rows) * int(ds.Columns)
    size = frames * samples * pixels * sample_bytes
    array = numpy.frombuffer(data[:size], dtype=numpy.dtype(f"V{sample_bytes}"))
    array = array.reshape(frames, samples, pixels).transpose(0, 2, 1)
    return array.tobytes() + data[size:]


def _trim_pad(data, ds):
    # An odd pixel byte count carries one pad byte; decoders may or may not keep it.
    if data is None:
        return None
    expected = int(ds.Rows) * int(ds.Columns) * int(ds.SamplesPerPixel) * int(ds.BitsAllocated) // 8 \
        * int(getattr(ds, "NumberOfFrames", 1) or 1)
    return data[:expected] if len(data) in (expected, expected + 1) else data


DEFAULT_TAGS = ("PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID",
                "Modality")


def differences(original, received, tags=DEFAULT_TAGS, pixels=True):
    """What differs between two DICOM files: the listed tags (by keyword) and,
    with pixels=True, the native pixel bytes (compressed files are decoded
    first). Returns a list of human-readable lines; empty means the same."""
    try:
        a = pydicom.dcmread(original, stop_before_pixels=True)
        b = pydicom.dcmread(received, stop_before_pixels=True)
    except Exception as e:  # a file still being written reads as garbage
        return [f"cannot read {received}: {e}"]
    out = []
    for tag in tags:
        va, vb = a.get(tag), b.get(tag)  # keyword -> value (None when absent)
        va = None if va is None else str(va)
        vb = None if vb is None else str(vb)
        if va != vb:
            out.append(f"{os.path.basename(received)}: {tag} is {vb!r}, expected {va!r}")
    if pixels:
        try:
            pa, pb = native_pixels(original), native_pixels(received)
        except Exception as e:
            return out + [f"cannot read pixels of {received}: {e}"]
        if pa is not None or pb is not None:
            pa, pb = _trim_pad(pa, a), _trim_pad(pb, b)
            if pa != pb:
                first = next((i for i, (x, y) in enumerate(zip(pa or b"", pb or b"")) if x != y), None)
                out.append(f"{os.path.basename(received)}: PixelData differs "
                           f"({0 if pb is None else len(pb)} bytes vs {0 if pa is None else len(pa)} "
                           f"expected; first differing byte at {first})")
    return out


def same_instance(original, received, tags=DEFAULT_TAGS, pixels=True):
    return not differences(original, received, tags, pixels)


def wait_for_files(expected, found, timeout, what, tags=DEFAULT_TAGS, pixels=True):
    """Waits until every instance in `expected` ({SOPInstanceUID: original
    path}) is in found() ({SOPInstanceUID: received path}) and identical to its
    original (tags and pixels). A file being written is simply retried. On
    timeout the message lists what is missing or different."""
    state = {"missing": sorted(expected), "different": []}
    checked = {}  # uid -> (path, mtime, size) of a received copy already proven identical

    def done():
        have = found()
        missing, different = [], []
        for uid, original in expected.items():
            path = have.get(uid)
            if path is None:
                missing.append(uid)
                continue
            try:
                st = os.stat(path)
            except FileNotFoundError:
                missing.append(uid)
                continue
            key = (path, st.st_mtime_ns, st.st_size)
            if checked.get(uid) == key:
                continue
            diff = differences(original, path, tags, pixels)
            if diff:
                different.extend(diff)
            else:
                checked[uid] = key
        state["missing"], state["different"] = missing, different
        return not missing and not different

    def detail():
        lines = [f"{len(state['missing'])} of {len(expected)} missing"]
        lines += ["  missing " + uid for uid in state["missing"][:10]]
        lines += ["  " + d for d in state["different"][:10]]
        return "\n".join(lines)

    wait_for(done, timeout, what, interval=0.25, detail=detail)


def folder_files(folder):
    """{file name: path} of every file below folder (recursively, names relative to it)."""
    out = {}
    for root, _, names in os.walk(folder):
        for n in names:
            path = os.path.join(root, n)
            out[os.path.relpath(path, folder)] = path
    return out


# --------------------------------------------------------------------------
# Test case base

class RouterTestCase(unittest.TestCase):
    """A TestCase with a fresh temp dir (self.tmp) and helpers that start
    Orthanc and storescp peers, each ended by PID in the cleanups, even when
    the test fails. The temp dir is removed when the test passes and kept
    (path printed to stderr) when it fails or errors."""

    keep_tmp = os.environ.get("ROUTER_KEEP_TMP") == "1"

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix=f"router-it-{self._testMethodName}-")
        self._processes = []

    def run(self, result=None):
        if result is None:
            result = self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        super().run(result)
        failed = len(result.failures) + len(result.errors) > before
        tmp = getattr(self, "tmp", None)
        if tmp and os.path.isdir(tmp):
            if failed or self.keep_tmp:
                sys.stderr.write(f"\n[harness] kept {tmp} for debugging ({self.id()})\n")
                for log in sorted(self._logs()):
                    sys.stderr.write(f"[harness] --- tail of {log}\n{tail(log, 30)}\n")
            else:
                shutil.rmtree(tmp, ignore_errors=True)
        return result

    def _logs(self):
        out = []
        for root, _, names in os.walk(self.tmp):
            out += [os.path.join(root, n) for n in names if n.endswith(".log")]
        return out

    def start_orthanc(self, name="orthanc", start=True, **kwargs):
        orthanc = Orthanc(self.tmp, name, **kwargs)
        self.addCleanup(orthanc.check_sanitizer_reports)  # runs after the stop below
        self.addCleanup(lambda: orthanc.stop())
        if start:
            orthanc.start()
        return orthanc

    def start_postgres(self, name="postgres"):
        server = PostgreSQL(self.tmp, name)
        self.addCleanup(server.stop)
        return server.start()

    def start_storescp(self, aet, start=True, **kwargs):
        scp = StoreScp(self.tmp, aet, **kwargs)
        self.addCleanup(scp.stop)
        if start:
            scp.start()
        return scp

    def path(self, *parts):
        """A path inside the test's temp dir (parent folders created)."""
        p = os.path.join(self.tmp, *parts)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        return p
