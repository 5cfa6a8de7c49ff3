"""The Debian package as an admin gets it: built with cpack from the build
tree, unpacked with dpkg -x into a temp root (nothing is installed on the
machine), then checked file by file, control field by control field, and run:
the unpacked plugin must load into the real Orthanc with the unpacked default
configuration (paths moved into the temp root), route with the default rule,
and answer the unit's own ExecReload command; the unpacked CLI must run the
unpacked default rules.

Environment: ROUTER_BINARY_DIR (the build tree holding CPackConfig.cmake;
without it, derived from ROUTER_PLUGIN = BUILD/plugins/orthanc/lib...so),
ROUTER_TESTDATA, ROUTER_SOURCE_DIR."""

import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import unittest

import harness

PLUGIN = "usr/lib/orthanc-router/libOrthancRouter.so"
CLI = "usr/bin/orthanc-router-rules"
UNIT = "lib/systemd/system/orthanc-router.service"
ETC = "etc/orthanc-router"
CONFFILES = ["/etc/orthanc-router/orthanc.json", "/etc/orthanc-router/router.json",
             "/etc/orthanc-router/reload.netrc", "/etc/orthanc-router/rules/default.lua"]
# Hardening must not silently regress: `systemd-analyze security` scores the
# unit 1.4 today (0 = fully locked down, 10 = no sandbox at all).
MAX_EXPOSURE = 2.0


def binary_dir():
    value = os.environ.get("ROUTER_BINARY_DIR")
    if not value:
        plugin = os.environ.get("ROUTER_PLUGIN")
        if not plugin:
            raise unittest.SkipTest("neither ROUTER_BINARY_DIR nor ROUTER_PLUGIN is set (ctest sets them)")
        value = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(plugin))))
    if not os.path.isfile(os.path.join(value, "CPackConfig.cmake")):
        raise unittest.SkipTest(f"no CPackConfig.cmake in {value} (packaging/ not part of this build)")
    return value


def run(argv, timeout=120, check=True, **kwargs):
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({result.returncode}):\n"
                             f"{result.stdout.decode(errors='replace')}\n{result.stderr.decode(errors='replace')}")
    return result


def load_commented_json(path):
    """Orthanc's configuration files may hold // comment lines (jsoncpp reads
    them); Python's json does not. Only whole-line comments are used."""
    with open(path) as f:
        text = "".join(line for line in f if not line.lstrip().startswith("//"))
    return json.loads(text)


def relative_files(folder):
    out = set()
    for root, _, names in os.walk(folder):
        for name in names:
            out.add(os.path.relpath(os.path.join(root, name), folder))
    return out


def unit_setting(unit_text, key):
    """The value of `key=` in a unit file, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", unit_text)
    values = [line.split("=", 1)[1].strip() for line in joined.splitlines() if line.startswith(key + "=")]
    if not values:
        raise AssertionError(f"the unit has no {key}=")
    return values[-1]


class PackageTest(harness.RouterTestCase):
    @classmethod
    def setUpClass(cls):
        cls.build = binary_dir()
        cls.source = harness.env_path("ROUTER_SOURCE_DIR")
        cls.pkgdir = tempfile.mkdtemp(prefix="router-it-package-")
        # cpack installs the "router" component of the build tree (its
        # preinstall step is a no-op when the build is up to date).
        result = run(["cpack", "-G", "DEB", "--config", os.path.join(cls.build, "CPackConfig.cmake"),
                      "-B", cls.pkgdir], timeout=300)
        debs = [n for n in os.listdir(cls.pkgdir) if n.endswith(".deb")]
        if len(debs) != 1:
            raise AssertionError(f"cpack made {debs}; output:\n{result.stdout.decode(errors='replace')}")
        cls.deb = os.path.join(cls.pkgdir, debs[0])
        cls.root = os.path.join(cls.pkgdir, "root")
        run(["dpkg-deb", "-x", cls.deb, cls.root])
        print(f"\n[package] {debs[0]}: {os.path.getsize(cls.deb)} bytes")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.pkgdir, ignore_errors=True)

    def in_root(self, relative):
        return os.path.join(self.root, relative)

    def field(self, name):
        return run(["dpkg-deb", "-f", self.deb, name]).stdout.decode().strip()

    # -- contents

    def test_file_list(self):
        for path in (PLUGIN, CLI, UNIT, "usr/share/doc/orthanc-router/README.md",
                     f"{ETC}/orthanc.json", f"{ETC}/router.json", f"{ETC}/reload.netrc", f"{ETC}/rules/default.lua"):
            self.assertTrue(os.path.isfile(self.in_root(path)), f"{path} is not in the package")
        self.assertTrue(os.access(self.in_root(CLI), os.X_OK), "the CLI is not executable")
        with open(self.in_root(PLUGIN), "rb") as f:
            self.assertEqual(f.read(4), b"\x7fELF")
        # Stripped: no debug sections (CPACK_STRIP_FILES).
        sections = run(["objdump", "-h", self.in_root(PLUGIN)]).stdout.decode()
        self.assertNotIn(".debug_info", sections)

        with open(os.path.join(self.source, "rules", "default.lua"), "rb") as a, \
                open(self.in_root(f"{ETC}/rules/default.lua"), "rb") as b:
            self.assertEqual(a.read(), b.read(), "rules/default.lua is not the source tree's")
        for source, installed in (("rules/examples", "usr/share/orthanc-router/rules-examples"),
                                  ("dashboards", "usr/share/orthanc-router/dashboards")):
            self.assertTrue(os.path.isdir(self.in_root(installed)), f"{installed} is not in the package")
            self.assertEqual(relative_files(os.path.join(self.source, source)),
                             relative_files(self.in_root(installed)),
                             f"{installed} differs from the source tree's {source}/")
        listing = run(["dpkg-deb", "-c", self.deb]).stdout.decode()
        self.assertNotIn(" -> ", listing, "the package holds symbolic links")
        self.assertRegex(listing, r"-rw------- root/root .* \./etc/orthanc-router/reload\.netrc")
        print(f"\n[package] {len(listing.splitlines())} entries; "
              f"{len(relative_files(self.in_root('usr/share/orthanc-router/dashboards')))} dashboard files")

    def test_control_fields(self):
        self.assertEqual(self.field("Package"), "orthanc-router")
        arch = run(["dpkg", "--print-architecture"]).stdout.decode().strip()
        self.assertEqual(self.field("Architecture"), arch)
        with open(os.path.join(self.build, "CPackConfig.cmake")) as f:
            version = re.search(r'set\(CPACK_PACKAGE_VERSION "([^"]+)"\)', f.read()).group(1)
        self.assertEqual(self.field("Version"), version)
        depends = {d.strip().split(" ")[0] for d in self.field("Depends").split(",")}
        for package in ("orthanc", "curl", "adduser", "liblua5.4-0", "libdcmtk17", "libgdcm3.0", "libcharls2",
                        "libsqlite3-0", "libjsoncpp25", "libcurl4", "libprometheus-cpp-core1.0"):
            self.assertIn(package, depends)
        info = run(["dpkg-deb", "-I", self.deb]).stdout.decode()
        for script in ("postinst", "prerm", "postrm"):
            self.assertRegex(info, rf"\s\*\s+{script}\s", f"{script} missing or not executable")

        control = os.path.join(self.tmp, "control")
        run(["dpkg-deb", "-e", self.deb, control])
        with open(os.path.join(control, "conffiles")) as f:
            self.assertEqual(sorted(f.read().split()), sorted(CONFFILES))
        with open(os.path.join(control, "postinst")) as f:
            postinst = "".join(line for line in f if not line.lstrip().startswith("#"))
        self.assertIn("adduser --system", postinst)
        # Installing must not start or enable the service.
        self.assertIsNone(re.search(r"^\s*(systemctl\s+(start|enable|restart)|deb-systemd-invoke|"
                                    r"deb-systemd-helper\s+enable)", postinst, re.M))
        for script in ("postinst", "prerm", "postrm"):
            run(["sh", "-n", os.path.join(control, script)])

    def test_unit_verifies(self):
        unit = self.in_root(UNIT)
        result = run(["systemd-analyze", "verify", unit], check=False)
        self.assertEqual(result.returncode, 0, result.stderr.decode(errors="replace"))
        self.assertEqual(result.stderr.decode(errors="replace").strip(), "",
                         "systemd-analyze verify has warnings")
        result = run(["systemd-analyze", "security", "--offline=true", unit], check=False)
        match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout.decode(errors="replace"))
        if not match:
            self.skipTest("systemd-analyze security --offline is not available: "
                          + result.stderr.decode(errors="replace").strip())
        exposure = float(match.group(1))
        print(f"\n[package] systemd-analyze security exposure: {exposure}")
        self.assertLessEqual(exposure, MAX_EXPOSURE)

    # -- running what was unpacked

    def rewritten_config(self):
        """The unpacked orthanc.json and router.json with every path moved into
        the test's temp dir, free ports and the unpacked plugin."""
        orthanc = load_commented_json(self.in_root(f"{ETC}/orthanc.json"))
        router = load_commented_json(self.in_root(f"{ETC}/router.json"))
        self.assertEqual(orthanc["Plugins"], ["/" + PLUGIN])
        self.assertEqual(router["Router"]["Rules"], "/" + ETC + "/rules")
        self.assertEqual(orthanc["DicomAet"], "ROUTER")
        self.assertIs(orthanc["RemoteAccessAllowed"], False)
        self.assertIs(orthanc["AuthenticationEnabled"], True)

        def move(path):
            self.assertTrue(path.startswith(("/var/lib/orthanc-router", "/srv/orthanc-router",
                                             "/var/log/orthanc-router")), path)
            return self.path("fsroot", path.lstrip("/"))

        orthanc["StorageDirectory"] = move(orthanc["StorageDirectory"])
        orthanc["IndexDirectory"] = move(orthanc["IndexDirectory"])
        orthanc["Plugins"] = [self.in_root(PLUGIN)]
        section = router["Router"]
        section["Rules"] = self.in_root(section["Rules"].lstrip("/"))
        section["QueueDatabase"] = move(section["QueueDatabase"])
        section["AuditLog"] = move(section["AuditLog"])
        os.makedirs(os.path.dirname(section["AuditLog"]), exist_ok=True)
        section["Destinations"]["out"]["Path"] = move(section["Destinations"]["out"]["Path"])
        os.makedirs(section["Destinations"]["out"]["Path"], exist_ok=True)
        return orthanc, router

    def test_plugin_loads_with_default_config(self):
        orthanc_json, router_json = self.rewritten_config()
        etc = os.path.join(self.tmp, "etc")
        os.makedirs(etc)
        server = self.start_orthanc(start=False)
        # Orthanc gets a folder of JSON files, as the unit gives it.
        orthanc_json["HttpPort"] = server.http_port
        orthanc_json["DicomPort"] = server.dicom_port
        for name, content in (("orthanc.json", orthanc_json), ("router.json", router_json)):
            with open(os.path.join(etc, name), "w") as f:
                json.dump(content, f, indent=2)
        server.config = dict(orthanc_json, **router_json)
        server.users = orthanc_json["RegisteredUsers"]
        server.config_path = etc + "/"
        server.write_config = lambda: None
        server.start()

        status, _, _ = server.request("GET", "/router/status")
        self.assertEqual(status, 200, f"/router/status: {status}; log:\n{server.log_tail()}")
        # The placeholder user is really required.
        server.users = {}
        status, _, _ = server.request("GET", "/router/status")
        self.assertEqual(status, 401)
        server.users = orthanc_json["RegisteredUsers"]
        # The operator console comes inside the packaged plugin.
        status, headers, body = server.request("GET", "/router/ui/index.html")
        self.assertEqual((status, headers.get("Content-Type")), (200, "text/html; charset=utf-8"))
        self.assertIn(b'src="app.js"', body)

        # The default rule sends everything to the "out" folder destination, as JPEG-LS lossless.
        (path, uid), = harness.generate(self.path("data", "x"), suite="ct-series", count=1, rows=64, columns=64)
        server.upload(path)
        out = router_json["Router"]["Destinations"]["out"]["Path"]
        target = os.path.join(out, uid + ".dcm")
        harness.wait_for(lambda: os.path.isfile(target), 30, f"{target} from the default rule",
                         detail=lambda: server.log_tail())
        self.assertEqual(harness.sop_instance_uid(target), uid)
        self.assertEqual(harness.transfer_syntax(target), "1.2.840.10008.1.2.4.80")  # JPEG-LS lossless
        self.assertTrue(harness.same_instance(path, target), "the default rule's copy differs from the original")

        # `systemctl reload`: the unit's ExecReload, with the unpacked
        # reload.netrc and this Orthanc's port.
        with open(self.in_root(UNIT)) as f:
            reload_cmd = unit_setting(f.read(), "ExecReload")
        reload_cmd = reload_cmd.replace("/etc/orthanc-router/", self.in_root(ETC) + "/")
        reload_cmd = reload_cmd.replace("127.0.0.1:8042", f"127.0.0.1:{server.http_port}")
        result = run(shlex.split(reload_cmd), timeout=60, check=False)
        self.assertEqual(result.returncode, 0, f"ExecReload failed: {reload_cmd}\n"
                         f"{result.stderr.decode(errors='replace')}\nlog:\n{server.log_tail()}")
        self.assertEqual(server.stop(), 0, f"Orthanc did not stop cleanly; log:\n{server.log_tail()}")

    def test_cli_runs_default_rules(self):
        (path, uid), = harness.generate(self.path("data", "x"), suite="ct-series", count=1, rows=64, columns=64)
        # --config: the default rules only name destinations router.json has.
        _, router_json = self.rewritten_config()
        config = self.path("etc", "router.json")
        with open(config, "w") as f:
            json.dump(router_json, f)
        result = run([self.in_root(CLI), self.in_root(f"{ETC}/rules"), path, "--config", config], check=False)
        self.assertEqual(result.returncode, 0, result.stdout.decode() + result.stderr.decode())
        lines = result.stdout.decode().splitlines()
        self.assertEqual(len(lines), 1, lines)
        answer = json.loads(lines[0])
        self.assertEqual(answer["sop_instance_uid"], uid)
        self.assertEqual([r["destination"] for r in answer["routes"]], ["out"])


if __name__ == "__main__":
    unittest.main()
