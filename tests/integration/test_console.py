"""The operator console (/router/ui/) in a real browser, Debian's chromium
driven by playwright-core (tests/console/driver.mjs), against a real Orthanc
with the plugin, authentication on, and two real storescp peers:

- the console is served behind Orthanc's authentication, GET only, with its
  Content-Type and Cache-Control;
- the overview shows a destination down within one refresh of the API
  knowing it (its peer killed, then an instance sent), its last error, and
  a delivery rate;
- a dead letter's detail lists its attempts from the audit trail; it is
  retried by a click and arrives at the peer once back;
- a purge asks first: Cancel keeps the job, OK removes it;
- a file chosen on the rules page shows its routes, and a broken file the
  watcher refused shows why (file and line) until a good one loads;
- a study waiting is released by a click (after a confirmation) and arrives;
- a plain cross-site form POST (a page on another origin, the browser
  replaying the credentials) is refused and changes nothing, and so is a
  request without X-Router-Console or with a foreign Origin;
- a search by patient ID shows only that patient's jobs;
- pause and resume by click; CSV export of the filter; a small screen.

Screenshots go to the test's temp folder and to console-artifacts/ in the
working directory (the build's tests/integration/); with
ROUTER_UPDATE_SCREENSHOTS=1 the README's are copied to docs/screenshots/.
"""

import base64
import csv
import http.server
import json
import os
import shutil
import subprocess
import threading
import time
import unittest

import harness

CONSOLE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "console")
CHROMIUM = "/usr/bin/chromium"
REFRESH = 3.0  # console/app.js REFRESH_MS
USER, PASSWORD = "operator", "console-pw"
README_SHOTS = ("overview-down.png", "queue-dead.png", "rules-test.png")

RULES = """\
function route(instance)
  return { { destination = "pacs" }, { destination = "backup" },
           { destination = "tele", when = "study", quiet = 600 } }
end
"""


def npm_ready():
    """tests/console/node_modules, installed with `npm ci` when missing."""
    if os.path.isdir(os.path.join(CONSOLE_DIR, "node_modules", "playwright-core")):
        return
    result = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=CONSOLE_DIR, capture_output=True,
                            timeout=300)
    if result.returncode != 0:
        raise AssertionError("npm ci in tests/console failed:\n" + result.stdout.decode() + result.stderr.decode())


class Browser:
    """One driver.mjs process (ended by PID in the cleanups); call(op, **args)."""

    def __init__(self, test, log_path, **options):
        self.proc = subprocess.Popen(["node", os.path.join(CONSOLE_DIR, "driver.mjs"), json.dumps(options)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(log_path, "ab"),
                                     cwd=CONSOLE_DIR, preexec_fn=harness._die_with_parent)
        test.addCleanup(lambda: harness.end_process(self.proc, timeout=10))

    def call(self, op, **args):
        self.proc.stdin.write((json.dumps(dict(args, op=op)) + "\n").encode())
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"the browser driver ended during {op} (see browser.log)")
        answer = json.loads(line)
        if not answer["ok"]:
            raise AssertionError(f"browser {op} {args}: {answer['error']}")
        return answer["value"]


class CrossSitePage(http.server.SimpleHTTPRequestHandler):
    """A page on another origin (localhost:port, not 127.0.0.1:port): a form
    that posts itself to the router as soon as it loads."""
    target = ""

    def do_GET(self):
        body = f"""<!doctype html><title>elsewhere</title>
<form id="f" method="POST" action="{self.target}"><input name="x" value="1"></form>
<script>document.getElementById("f").submit();</script>""".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class ConsoleTest(harness.RouterTestCase):
    def setUp(self):
        super().setUp()
        if not os.path.exists(CHROMIUM):
            raise AssertionError(f"{CHROMIUM} is missing: apt-get install chromium (./appliance does)")
        npm_ready()
        self.shots = self.path("screenshots", "x")[:-2]
        self.artifacts = os.environ.get("ROUTER_CONSOLE_ARTIFACTS") or os.path.join(os.getcwd(),
                                                                                    "console-artifacts")
        os.makedirs(self.artifacts, exist_ok=True)

    def shot(self, browser, name, full_page=True):
        path = os.path.join(self.shots, name)
        browser.call("screenshot", path=path, fullPage=full_page)
        shutil.copy(path, os.path.join(self.artifacts, name))

    def status(self):
        return self.orthanc.get("/router/status")

    def jobs(self, destination, state):
        return self.orthanc.get(f"/router/queue?destination={destination}&state={state}")

    def test_console(self):
        rules = os.path.dirname(self.path("rules", "10-route.lua"))
        with open(os.path.join(rules, "10-route.lua"), "w") as f:
            f.write(RULES)
        pacs = self.start_storescp("PACS")
        backup = self.start_storescp("BACKUP")
        self.orthanc = orthanc = self.start_orthanc(
            plugin=harness.plugin_path(), authentication=True, users={USER: PASSWORD},
            router={
                "Rules": rules,
                "QueueDatabase": self.path("queue", "queue.sqlite"),
                "AuditLog": self.path("audit", "audit.log"),
                "Threads": 1,
                "Destinations": {
                    "pacs": {"Type": "dicom", "AET": "PACS", "Host": "127.0.0.1", "Port": pacs.port},
                    # One attempt, then a dead letter; down after two sends
                    # without an answer, probed every second.
                    "backup": {"Type": "dicom", "AET": "BACKUP", "Host": "127.0.0.1", "Port": backup.port,
                               "Associations": 1,
                               "Retry": {"InitialDelay": 1, "MaxDelay": 1, "MaxAttempts": 1},
                               "CircuitBreaker": {"Failures": 2, "ProbeInterval": 1}},
                    # Whole studies, after ten quiet minutes: they wait.
                    "tele": {"Type": "folder", "Path": self.path("tele", "x")[:-2]},
                },
            })
        base = orthanc.url("/router/ui/index.html")

        # 1. Served behind Orthanc's authentication, GET only.
        self.assertEqual(orthanc.request("GET", "/router/ui/index.html", headers={"Authorization": None})[0], 401)
        status, headers, body = orthanc.request("GET", "/router/ui/index.html")
        self.assertEqual(status, 200)
        headers = {k.lower(): v for k, v in headers.items()}
        self.assertEqual(headers["content-type"], "text/html; charset=utf-8")
        self.assertEqual(headers["cache-control"], "no-cache")
        self.assertIn("frame-ancestors 'none'", headers["content-security-policy"])
        self.assertIn(b'<script src="app.js"', body)
        for name, mime in (("app.js", "text/javascript"), ("style.css", "text/css")):
            status, headers, _ = orthanc.request("GET", "/router/ui/" + name)
            self.assertEqual((status, headers["Content-Type"].split(";")[0]), (200, mime))
        self.assertEqual(orthanc.request("GET", "/router/ui/nothing.js")[0], 404)
        self.assertEqual(orthanc.request("POST", "/router/ui/app.js", b"")[0], 405)
        for path in ("/router/ui", "/router/ui/"):
            status, _, body = orthanc.request("GET", path)
            self.assertEqual(status, 200, f"the redirect from {path} leads to the console")
            self.assertIn(b'<script src="app.js"', body)

        browser = Browser(self, self.path("browser.log"), user=USER, password=PASSWORD)
        browser.call("goto", url=base + "#overview")
        browser.call("waitText", selector='tr[data-destination="pacs"] .state', text="up")
        browser.call("waitText", selector='tr[data-destination="backup"] .state', text="up")

        # 2. Delivered everywhere; then BACKUP is killed and three more come:
        #    two sends fail (dead letters, one attempt each), the destination
        #    is down, the third waits.
        first = harness.generate(self.path("first", "x"), suite="ct-series", count=2, seed=141, rows=16, columns=16)
        harness.send([p for p, _ in first], orthanc.dicom_port)
        harness.wait_for_files({u: p for p, u in first}, backup.received, 30, "the first CTs at BACKUP")
        backup.kill()
        later = harness.generate(self.path("later", "x"), suite="ct-series", count=3, seed=142, rows=16,
                                 columns=16)
        harness.send([p for p, _ in later], orthanc.dicom_port)
        harness.wait_for(lambda: self.status()["Destinations"]["backup"]["Up"] is False, 30,
                         "/router/status to show backup down", interval=0.05)
        known_down = time.monotonic()
        browser.call("waitText", selector='tr[data-destination="backup"] .state', text="down",
                     timeout=int((REFRESH + 1.5) * 1000))
        shown_after = time.monotonic() - known_down
        self.assertLessEqual(shown_after, REFRESH + 1.5)
        print(f"\n[console] the overview showed backup down {shown_after:.1f} s after the API")
        harness.wait_for(lambda: len(self.jobs("backup", "dead")) == 2, 30, "two dead letters for backup",
                         detail=lambda: orthanc.get("/router/queue?destination=backup"))
        browser.call("waitText", selector='tr[data-destination="backup"] td[data-state="dead"]', text="2")
        error = browser.call("waitText", selector='tr[data-destination="backup"] .error', text=str(backup.port))
        self.assertIn(str(backup.port), error, "the overview shows the last error, naming the peer")
        self.assertIn("up", browser.call("text", selector='tr[data-destination="pacs"] .state'))
        # pacs got five in the last minute: a rate, from the metrics.
        rate = browser.call("waitMatch", selector='tr[data-destination="pacs"] .rate', pattern="^[1-9][0-9]*$")
        self.assertLessEqual(int(rate), 5 * 60)
        self.shot(browser, "overview-down.png")
        # The bulk purge of a destination's dead letters says how many, and
        # Cancel leaves them.
        browser.call("click", selector='tr[data-destination="backup"] button:text("Purge 2 dead")')
        browser.call("waitVisible", selector="#confirm")
        self.assertIn("Purge 2 dead jobs of backup", browser.call("text", selector="#confirm-text"))
        browser.call("press", key="Escape")
        browser.call("waitHidden", selector="#confirm")
        self.assertEqual(len(self.jobs("backup", "dead")), 2, "Escape purged the dead letters")

        # 3. The queue of backup's dead letters; the peer is back; one is
        #    retried by a click and arrives.
        dead = self.jobs("backup", "dead")
        retried, purged = dead[0], dead[1]
        browser.call("goto", url=base + "#queue?destination=backup&state=dead")
        browser.call("waitVisible", selector=f'tr[data-job="{retried["Id"]}"]')
        self.assertEqual(browser.call("count", selector="#jobs tbody tr"), 2)
        self.shot(browser, "queue-dead.png")
        csv_path = self.path("export.csv")
        name = browser.call("download", selector="#export-csv", path=csv_path)
        self.assertEqual(name, "router-queue-backup-dead.csv")
        with open(csv_path, newline="") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(sorted(int(r["Id"]) for r in rows), sorted(j["Id"] for j in dead))
        self.assertEqual({r["State"] for r in rows}, {"dead"})
        # A job's detail: its attempts from the audit trail.
        browser.call("click", selector=f'tr[data-job="{retried["Id"]}"] button[aria-label="Details of job {retried["Id"]}"]')
        attempts = browser.call("waitText", selector="#job-attempts", text="dead")
        self.assertIn("attempt 1", attempts)
        browser.call("click", selector="#close-detail")

        backup.start()
        browser.call("click", selector=f'tr[data-job="{retried["Id"]}"] button[aria-label="Retry job {retried["Id"]}"]')
        browser.call("waitText", selector="#notice", text=f"job {retried['Id']} retried")
        harness.wait_for(lambda: retried["SOPInstanceUID"] in backup.received(), 30,
                         "the dead letter retried by a click at BACKUP")

        # 4. A purge asks first: Cancel keeps the job, OK removes it.
        browser.call("click", selector="#queue-filter button[type=submit]")
        purge = f'tr[data-job="{purged["Id"]}"] button[aria-label="Purge job {purged["Id"]}"]'
        browser.call("waitVisible", selector=purge)
        browser.call("click", selector=purge)
        browser.call("waitVisible", selector="#confirm")
        question = browser.call("text", selector="#confirm-text")
        self.assertIn("Purge 1 job", question)
        self.shot(browser, "purge-confirm.png", full_page=False)
        browser.call("click", selector="#confirm-cancel")
        browser.call("waitHidden", selector="#confirm")
        self.assertEqual(orthanc.get(f"/router/queue/{purged['Id']}")["State"], "dead", "Cancel purged the job")
        browser.call("click", selector=purge)
        browser.call("waitVisible", selector="#confirm")
        browser.call("click", selector="#confirm-ok")
        browser.call("waitText", selector="#notice", text=f"job {purged['Id']} purged")
        self.assertEqual(orthanc.request("GET", f"/router/queue/{purged['Id']}")[0], 404)
        self.assertNotIn(purged["SOPInstanceUID"], backup.received())
        # "Purge the shown" acts on what the filter shows (here the held jobs
        # of tele's waiting studies) and says how many first; Cancel keeps them.
        held = self.jobs("tele", "held")
        self.assertGreater(len(held), 0)
        browser.call("goto", url=base + "#queue?destination=tele&state=held")
        browser.call("waitText", selector="#purge-shown", text=f"Purge the {len(held)} shown")
        browser.call("click", selector="#purge-shown")
        browser.call("waitVisible", selector="#confirm")
        self.assertIn(f"Purge {len(held)} jobs shown", browser.call("text", selector="#confirm-text"))
        browser.call("click", selector="#confirm-cancel")
        browser.call("waitHidden", selector="#confirm")
        self.assertEqual(len(self.jobs("tele", "held")), len(held), "Cancel purged the shown jobs")
        # Search by patient ID: only that patient's jobs (the queue keeps a hash, not the ID).
        patient = str(harness.read(first[0][0], pixels=False).PatientID)
        theirs = orthanc.get(f"/router/queue?search={patient}")
        first_uids = {uid for _, uid in first}
        self.assertTrue(theirs and all(j["SOPInstanceUID"] in first_uids for j in theirs), theirs)
        self.assertTrue(any(j["SOPInstanceUID"] not in first_uids for j in orthanc.get("/router/queue")))
        browser.call("goto", url=base + "#queue")
        browser.call("select", selector='#queue-filter select[name="state"]', value="")
        browser.call("fill", selector='#queue-filter input[name="search"]', value=patient)
        browser.call("click", selector="#queue-filter button[type=submit]")
        harness.wait_for(lambda: browser.call("count", selector="#jobs tbody tr") == len(theirs), 10,
                         "the search's jobs in the table")
        browser.call("fill", selector='#queue-filter input[name="search"]', value="")

        # 5. Pause and resume by click, from the overview.
        browser.call("goto", url=base + "#overview")
        browser.call("click", selector='tr[data-destination="pacs"] button:text("Pause")')
        harness.wait_for(lambda: self.status()["Destinations"]["pacs"]["Paused"], 10, "pacs paused by a click")
        browser.call("waitText", selector='tr[data-destination="pacs"] .state', text="paused")
        browser.call("click", selector='tr[data-destination="pacs"] button:text("Resume")')
        harness.wait_for(lambda: not self.status()["Destinations"]["pacs"]["Paused"], 10, "pacs resumed")

        # 6. Rules: the files in force, and a file chosen shows its routes.
        browser.call("goto", url=base + "#rules")
        browser.call("waitText", selector="#rules-files", text="10-route.lua")
        browser.call("setInputFiles", selector="#test-file", files=[first[0][0]])
        routes = browser.call("waitText", selector="#test-result .routes", text="backup")
        self.assertIn("pacs", routes)
        self.shot(browser, "rules-test.png")
        # A broken file, reloaded by the watcher (nobody clicked): the page says
        # why it was refused, with file and line, until a good set loads.
        with open(os.path.join(rules, "10-route.lua")) as f:
            good = f.read()
        with open(os.path.join(rules, "10-route.lua"), "w") as f:
            f.write("function route(instance)\n  return {\nend\n")
        refused = browser.call("waitText", selector="#rules-last-error", text="10-route.lua:", timeout=15000)
        self.assertIn("stay in force", refused)
        with open(os.path.join(rules, "10-route.lua"), "w") as f:
            f.write(good)
        browser.call("waitHidden", selector="#rules-last-error", timeout=15000)

        # 7. Studies: both studies wait for tele; the first is held and
        #    resumed, then released by a click (asked first) and arrives.
        tele = self.path("tele", "x")[:-2]
        batches = {b["StudyInstanceUID"]: b for b in orthanc.get("/router/batches?state=waiting")}
        self.assertEqual(len(batches), 2, batches)
        study = harness.read(first[0][0], pixels=False).StudyInstanceUID
        batch = batches[study]
        row = f'tr[data-batch="{batch["Id"]}"]'
        browser.call("goto", url=base + "#studies")
        browser.call("waitText", selector="#batch-count", text="2 batches")
        self.assertIn(study, browser.call("text", selector=row))
        browser.call("click", selector=f'{row} button[aria-label="Hold study {batch["Id"]}"]')
        browser.call("waitText", selector=f"{row} .badge", text="on-hold")
        self.shot(browser, "studies.png")
        browser.call("click", selector=f'{row} button[aria-label="Resume study {batch["Id"]}"]')
        browser.call("waitText", selector=f"{row} .badge", text="waiting")
        browser.call("click", selector=f'{row} button[aria-label="Release study {batch["Id"]}"]')
        browser.call("waitVisible", selector="#confirm")
        self.assertIn("2 instances", browser.call("text", selector="#confirm-text"))
        browser.call("click", selector="#confirm-ok")
        harness.wait_for(lambda: len(harness.folder_files(tele)) == 2, 30, "the released study in tele")
        self.assertEqual(orthanc.get(f"/router/batches/{batch['Id']}")["State"] in ("released", "delivered"), True)

        # 8. Keyboard: the views are reachable with Tab and Enter (a new
        #    document: the focus starts at the top).
        browser.call("goto", url=base + "?fresh=1#overview")
        browser.call("waitText", selector='tr[data-destination="pacs"] .state', text="up")
        for _ in range(3):  # skip link, Overview, Queue
            browser.call("press", key="Tab")
        self.assertEqual(browser.call("focused")["text"], "Queue")
        browser.call("press", key="Enter")
        browser.call("waitVisible", selector="#view-queue")

        # 9. A small screen: the overview stays readable (tables scroll).
        browser.call("viewport", width=390, height=844)
        browser.call("goto", url=base + "#overview")
        browser.call("waitText", selector='tr[data-destination="backup"] .state', text="up", timeout=15000)
        self.shot(browser, "overview-small.png")
        browser.call("viewport", width=1280, height=800)
        self.assertEqual(browser.call("consoleErrors"), [], "the console logged errors")

        # 10. Cross-site: a page on another origin posts a form to the router
        #     with the credentials the browser replays. Refused, nothing changes.
        CrossSitePage.target = orthanc.url("/router/destinations/pacs/pause")
        server = http.server.ThreadingHTTPServer(("127.0.0.1", harness.free_port()), CrossSitePage)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        elsewhere = f"http://localhost:{server.server_address[1]}/attack.html"
        answer = browser.call("gotoAndWaitResponse", url=elsewhere, match="/router/destinations/pacs/pause")
        self.assertEqual(answer["status"], 403, answer)
        self.assertIn("refused", answer["body"])
        self.shot(browser, "cross-site-refused.png", full_page=False)
        self.assertFalse(self.status()["Destinations"]["pacs"]["Paused"], "a cross-site form paused pacs")
        # The same refusals without a browser, and what API clients send.
        pause = "/router/destinations/pacs/pause"
        status, _, body = orthanc.request("POST", pause, b"", headers={"X-Router-Console": None})
        self.assertEqual(status, 403, body)
        self.assertIn(b"X-Router-Console", body)
        status, _, body = orthanc.request("POST", pause, b"", headers={"Origin": elsewhere.rsplit("/", 1)[0]})
        self.assertEqual(status, 403, body)
        status, _, _ = orthanc.request("DELETE", "/router/destinations/backup/dead", headers={"X-Router-Console": None})
        self.assertEqual(status, 403)
        self.assertFalse(self.status()["Destinations"]["pacs"]["Paused"])
        status, _, _ = orthanc.request("POST", pause, b"", headers={"Origin": f"http://127.0.0.1:{orthanc.http_port}"})
        self.assertEqual(status, 200, "the console's own origin with the header may act")
        self.assertTrue(self.status()["Destinations"]["pacs"]["Paused"])
        self.assertEqual(orthanc.request("POST", "/router/destinations/pacs/resume", b"")[0], 200)

        browser.call("close")
        if os.environ.get("ROUTER_UPDATE_SCREENSHOTS") == "1":
            docs = os.path.join(os.environ.get("ROUTER_SOURCE_DIR", ""), "docs", "screenshots")
            os.makedirs(docs, exist_ok=True)
            for name in README_SHOTS:
                shutil.copy(os.path.join(self.shots, name), os.path.join(docs, name))
        print(f"[console] screenshots in {self.artifacts}")


if __name__ == "__main__":
    unittest.main()
