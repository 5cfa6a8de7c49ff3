"""Certificates and TLS end to end, with a CA, server and client certificates
and a second, unrelated CA made by the openssl command for this run:

- DICOM TLS out: a storescp +tls peer (client certificate required) receives
  a series over one kept-open association, and over two parallel ones from a
  destination with "Associations": 2; a destination that trusts the wrong CA
  ends in the dead letters with the certificate reason and what to check.
  An Orthanc peer with DicomTlsEnabled receives too.
- HTTPS out: an Orthanc peer behind HTTPS (see TlsFront) receives through
  the "orthanc" kind and through STOW-RS ("dicomweb"), verified against the
  test CA; with the wrong CA the jobs are dead letters that say so.
- DICOM TLS in: Orthanc's own DicomTlsEnabled; a modality (storescu +tls)
  sends, the instance is routed on to a plain peer; plain storescu is refused.
- A missing key file stops the router at start with the key named.

What arrived is compared with what was sent (tags and pixels)."""

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import textwrap
import threading
import unittest

import harness

DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"

PKI = None  # folder of the certificates, made once for the module


def pki(name):
    return os.path.join(PKI, name)


def setUpModule():
    """Makes the certificates."""
    global PKI
    PKI = tempfile.mkdtemp(prefix="router-it-tls-pki-")
    script = textwrap.dedent("""\
        set -e
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth\\n' > ext.cnf
        for ca in ca wrong-ca; do
          openssl req -x509 -newkey rsa:2048 -nodes -keyout $ca.key -out $ca.pem -days 2 -subj "/CN=router test $ca"
        done
        for who in server client; do
          openssl req -new -newkey rsa:2048 -nodes -keyout $who.key -out $who.csr -subj "/CN=$who"
          openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf \\
            -out $who.pem
        done
        """)
    result = subprocess.run(["sh", "-c", script], cwd=PKI, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise RuntimeError("openssl could not make the test certificates:\n" + result.stdout.decode())


def tearDownModule():
    shutil.rmtree(PKI, ignore_errors=True)


class TlsFront:
    """HTTPS in front of a plain HTTP server: TLS with the test server
    certificate on its own port, the bytes passed on to 127.0.0.1:target.

    Orthanc's own HTTPS (SslEnabled) would be the natural peer, but Debian
    12's Orthanc 1.10.1 dies (SIGSEGV in libcivetweb, a null OpenSSL function)
    on its first HTTPS request; a hospital puts a TLS proxy in front of such a
    server, and so does this test. Threads of this process, ended by stop()."""

    def __init__(self, target_port):
        self.target = target_port
        self.port = harness.free_port()
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(pki("server.pem"), pki("server.key"))
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return  # stopped
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw):
        try:
            client = self.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()  # a handshake the client gave up (our wrong-CA destinations)
            return
        self.connections += 1
        server = socket.create_connection(("127.0.0.1", self.target))

        def pump(source, sink):
            try:
                while True:
                    data = source.recv(65536)
                    if not data:
                        break
                    sink.sendall(data)
            except OSError:
                pass
            finally:
                for s in (source, sink):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pump, args=(server, client), daemon=True).start()
        pump(client, server)
        client.close()
        server.close()

    def stop(self):
        self.listener.close()


def client_tls(ca="ca.pem"):
    return {"CaCertificates": pki(ca), "Certificate": pki("client.pem"), "PrivateKey": pki("client.key")}


def tls_storescp_args():
    # storescp requires (and verifies) a client certificate by default.
    return ["-v", "+tls", pki("server.key"), pki("server.pem"), "+cf", pki("ca.pem")]


def associations(scp):
    return scp.log_text().count("Association Received")


class TlsTest(harness.RouterTestCase):
    def rules(self, text):
        path = self.path("rules", "route.lua")
        with open(path, "w") as f:
            f.write(text)
        return os.path.dirname(path)

    def dead(self, orthanc, destination):
        return orthanc.get(f"/router/queue?destination={destination}&state=dead")

    def stored(self, peer):
        """{SOPInstanceUID: path} of what a peer Orthanc holds, downloaded."""
        out = {}
        for instance in peer.get("/instances"):
            uid = peer.get(f"/instances/{instance}/simplified-tags")["SOPInstanceUID"]
            path = self.path(peer.config["Name"] + "-files", uid + ".dcm")
            if not os.path.exists(path):
                _, _, body = peer.request("GET", f"/instances/{instance}/file")
                with open(path, "wb") as f:
                    f.write(body)
            out[uid] = path
        return out

    def test_dicom_tls_destination_kept_open_parallel_and_wrong_ca(self):
        single = self.start_storescp("TLSPACS", extra_args=tls_storescp_args())
        parallel = self.start_storescp("TLSPAR", extra_args=["--fork"] + tls_storescp_args())
        rules = self.rules(textwrap.dedent("""\
            function route(instance)
              return { { destination = "pacs" }, { destination = "parallel" }, { destination = "wrongca" } }
            end
            """))
        orthanc = self.start_orthanc(plugin=harness.plugin_path(), router={
            "Rules": rules,
            "QueueDatabase": self.path("queue", "queue.sqlite"),
            "Destinations": {
                "pacs": {"Type": "dicom", "AET": "TLSPACS", "Host": "localhost", "Port": single.port,
                         "Tls": client_tls()},
                "parallel": {"Type": "dicom", "AET": "TLSPAR", "Host": "localhost", "Port": parallel.port,
                             "Associations": 2, "Tls": dict(client_tls(), Profile="BCP195")},
                "wrongca": {"Type": "dicom", "AET": "TLSPACS", "Host": "localhost", "Port": single.port,
                            "Tls": client_tls("wrong-ca.pem")},
            },
            "Retry": {"InitialDelay": 1, "MaxDelay": 2, "MaxAttempts": 50},
        })
        files = harness.generate(self.path("ct", "x"), suite="ct-series", count=8, seed=161, rows=32, columns=32)
        harness.send([p for p, _ in files], orthanc.dicom_port)
        expected = {uid: p for p, uid in files}

        harness.wait_for_files(expected, single.received, 60, "the series at the TLS storescp")
        harness.wait_for_files(expected, parallel.received, 60, "the series at the forking TLS storescp")
        # Kept open: one association carried the whole series.
        self.assertEqual(associations(single), 1, single.log_text()[-3000:])
        self.assertGreaterEqual(associations(parallel), 1)
        self.assertLessEqual(associations(parallel), 2, parallel.log_text()[-3000:])

        # The wrong CA: permanent at once (not after 50 attempts), with the reason.
        harness.wait_for(lambda: len(self.dead(orthanc, "wrongca")) == len(files), 60,
                         "wrongca's jobs in the dead letters")
        reason = self.dead(orthanc, "wrongca")[0]["LastError"]
        self.assertIn("destination wrongca", reason)
        self.assertIn("TLS certificate of the peer rejected", reason)
        self.assertIn("Router.Destinations.wrongca.Tls.CaCertificates", reason)
        self.assertIn(pki("wrong-ca.pem"), reason)

        status = orthanc.get("/router/status")["Destinations"]
        self.assertTrue(status["pacs"]["Tls"].startswith("BCP195-ND, peer verified against the CA file"))
        self.assertTrue(status["parallel"]["Tls"].startswith("BCP195, "))
        self.assertEqual(status["pacs"]["Queue"].get("dead", 0), 0)

    def test_https_orthanc_and_dicomweb_peers(self):
        peer = self.start_orthanc("peer", plugin=DICOMWEB_PLUGIN, authentication=True,
                                  users={"router": "secret"},
                                  extra={"DicomWeb": {"Enable": True, "Root": "/dicom-web/"}})
        front = TlsFront(peer.http_port)
        self.addCleanup(front.stop)
        url = f"https://localhost:{front.port}"
        rules = self.rules(textwrap.dedent("""\
            function route(instance)
              if instance.tags.Modality == "CT" then
                return { { destination = "stow" }, { destination = "badstow" } }
              end
              return { { destination = "peer" }, { destination = "badpeer" } }
            end
            """))
        auth = {"Username": "router", "Password": "secret"}
        orthanc = self.start_orthanc(plugin=harness.plugin_path(), router={
            "Rules": rules,
            "QueueDatabase": self.path("queue", "queue.sqlite"),
            "Destinations": {
                "stow": dict(auth, Type="dicomweb", Url=url + "/dicom-web", Tls={"CaCertificates": pki("ca.pem")}),
                "peer": dict(auth, Type="orthanc", Url=url, Tls={"CaCertificates": pki("ca.pem")}),
                "badstow": dict(auth, Type="dicomweb", Url=url + "/dicom-web",
                                Tls={"CaCertificates": pki("wrong-ca.pem")}),
                "badpeer": dict(auth, Type="orthanc", Url=url, Tls={"CaCertificates": pki("wrong-ca.pem")}),
            },
            "Retry": {"InitialDelay": 1, "MaxDelay": 2, "MaxAttempts": 50},
        })
        ct = harness.generate(self.path("ct", "x"), suite="ct-series", count=4, seed=162, rows=32, columns=32)
        other = [(p, u) for p, u in harness.generate(self.path("std", "x"), suite="standard", seed=163)
                 if harness.read(p, pixels=False).Modality != "CT"][:4]
        harness.send([p for p, _ in ct + other], orthanc.dicom_port)
        expected = {uid: p for p, uid in ct + other}

        harness.wait_for_files(expected, lambda: self.stored(peer), 60,
                               "every instance at the Orthanc behind HTTPS")
        self.assertGreater(front.connections, 0)  # it came through TLS, not around it
        for name, count in (("badstow", len(ct)), ("badpeer", len(other))):
            harness.wait_for(lambda: len(self.dead(orthanc, name)) == count, 60, f"{name}'s jobs in the dead letters")
            reason = self.dead(orthanc, name)[0]["LastError"]
            self.assertIn("the server's TLS certificate was rejected", reason)
            self.assertIn(f"Router.Destinations.{name}.Tls.CaCertificates", reason)
            self.assertIn(pki("wrong-ca.pem"), reason)
            self.assertNotIn("secret", reason)

    def test_incoming_dicom_tls_is_routed(self):
        out = self.start_storescp("PLAIN")
        rules = self.rules(textwrap.dedent("""\
            function route(instance)
              return { { destination = "plain" } }
            end
            """))
        orthanc = self.start_orthanc(plugin=harness.plugin_path(), router={
            "Rules": rules,
            "QueueDatabase": self.path("queue", "queue.sqlite"),
            "Destinations": {"plain": {"Type": "dicom", "AET": "PLAIN", "Host": "127.0.0.1", "Port": out.port}},
        }, extra={
            "DicomTlsEnabled": True,
            "DicomTlsCertificate": pki("server.pem"),
            "DicomTlsPrivateKey": pki("server.key"),
            "DicomTlsTrustedCertificates": pki("ca.pem"),
            "DicomTlsRemoteCertificateRequired": True,
        })
        files = harness.generate(self.path("ct", "x"), suite="ct-series", count=3, seed=164, rows=32, columns=32)
        harness.send([p for p, _ in files], orthanc.dicom_port, host="localhost",
                     extra_args=["+tls", pki("client.key"), pki("client.pem"), "+cf", pki("ca.pem")])
        harness.wait_for_files({uid: p for p, uid in files}, out.received, 60,
                               "the instances sent over TLS, routed to the plain peer")
        # Orthanc's DICOM port now speaks TLS only.
        with self.assertRaises(harness.SendError):
            harness.send([files[0][0]], orthanc.dicom_port, timeout=30)

    def test_dicom_tls_to_an_orthanc_peer(self):
        """Another DICOM TLS implementation's settings: Orthanc 1.10's own
        (DicomTlsEnabled, client certificate required)."""
        peer = self.start_orthanc("peer", aet="PEER", extra={
            "DicomTlsEnabled": True,
            "DicomTlsCertificate": pki("server.pem"),
            "DicomTlsPrivateKey": pki("server.key"),
            "DicomTlsTrustedCertificates": pki("ca.pem"),
            "DicomTlsRemoteCertificateRequired": True,
            "DicomCheckCalledAet": False,
        })
        rules = self.rules('function route(instance) return { { destination = "peer" } } end\n')
        orthanc = self.start_orthanc(plugin=harness.plugin_path(), router={
            "Rules": rules,
            "QueueDatabase": self.path("queue", "queue.sqlite"),
            "Destinations": {"peer": {"Type": "dicom", "AET": "PEER", "Host": "localhost",
                                      "Port": peer.dicom_port, "Tls": client_tls()}},
        })
        files = harness.generate(self.path("ct", "x"), suite="ct-series", count=3, seed=165, rows=32, columns=32)
        harness.send([p for p, _ in files], orthanc.dicom_port)

        harness.wait_for_files({uid: p for p, uid in files}, lambda: self.stored(peer), 60,
                               "the series at the Orthanc DICOM TLS peer")

    def test_a_missing_certificate_file_stops_the_router_naming_the_key(self):
        rules = self.rules('function route(instance) return {} end\n')
        tls = dict(client_tls(), PrivateKey=os.path.join(self.tmp, "no-such.key"))
        orthanc = self.start_orthanc(plugin=harness.plugin_path(), start=False, router={
            "Rules": rules,
            "QueueDatabase": self.path("queue", "queue.sqlite"),
            "Destinations": {"pacs": {"Type": "dicom", "AET": "PACS", "Host": "localhost", "Port": 104,
                                      "Tls": tls}},
        })
        orthanc.spawn()
        state = orthanc.wait_up_or_exit(30)
        if state == "exited":
            self.assertGreaterEqual(orthanc.process.returncode, 0, orthanc.log_tail())
        else:
            status, _, _ = orthanc.request("GET", "/router/status")
            self.assertNotEqual(status, 200, "the router runs although a certificate file is missing")
        lines = [line for line in orthanc.log_text().splitlines()
                 if "Router.Destinations.pacs.Tls.PrivateKey" in line and "does not exist" in line]
        self.assertTrue(lines, orthanc.log_tail())


if __name__ == "__main__":
    unittest.main()
