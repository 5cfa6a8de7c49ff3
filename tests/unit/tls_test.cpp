// TLS of the destinations: the "Tls" section as the configuration reads it
// (one clear error naming the key for each mistake), DICOM TLS against a real
// storescp +tls, and HTTPS against openssl s_server, with certificates made
// by the openssl command in a scratch folder: what arrives over a good chain,
// and which failures are permanent (a refused certificate, a peer that does
// not speak TLS) or retried (nobody listening).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <json/json.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "plugins/core/Error.h"
#include "plugins/core/config/Config.h"
#include "plugins/core/destinations/dicom/DicomDestination.h"
#include "plugins/core/destinations/dicom/DicomKind.h"
#include "plugins/core/destinations/dicomweb/DicomWebKind.h"
#include "plugins/core/destinations/http/HttpClient.h"
#include "tests/generator/TestData.h"
#include "tests/generator/TestSupport.h"
#include "tests/unit/destination_settings.h"
#include "tests/unit/json_text.h"
#include "tests/unit/listening.h"
#include "transcoders/TransferSyntax.h"

namespace fs = std::filesystem;

namespace router {
namespace {

using testdata::freeTcpPort;
using testdata::isListening;
using testdata::parseJson;

// A test CA, a server and a client certificate it signed (RSA: DCMTK's
// BCP 195 TLS 1.2 suites are RSA ones), a second CA that signed nothing of
// this, and files that are wrong in the ways an operator's can be.
class Pki {
 public:
  explicit Pki(const fs::path& dir) : dir_(dir) {
    const std::string d = dir.string();
    const std::string script =
        "set -e; cd '" + d +
        "'\n"
        "printf "
        "'subjectAltName=DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth\\n' > "
        "ext.cnf\n"
        "printf 'subjectAltName=DNS:elsewhere.example\\n' > other.cnf\n"
        "for ca in ca wrong-ca; do\n"
        "  openssl req -x509 -newkey rsa:2048 -nodes -keyout $ca.key -out $ca.pem -days 2 -subj "
        "\"/CN=$ca\"\n"
        "done\n"
        "for who in server client; do\n"
        "  openssl req -new -newkey rsa:2048 -nodes -keyout $who.key -out $who.csr -subj "
        "\"/CN=$who\"\n"
        "  openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "-extfile ext.cnf"
        " -out $who.pem\n"
        "done\n"
        "openssl req -new -newkey rsa:2048 -nodes -keyout other.key -out other.csr -subj "
        "/CN=other\n"
        "openssl x509 -req -in other.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile "
        "other.cnf"
        " -out other.pem\n"
        "cat server.pem server.key > server-with-key.pem\n"
        "openssl pkey -in client.key -aes256 -passout pass:secret -out client-encrypted.key\n"
        "echo 'not a key' > garbage.key\n"
        "mkdir cas && cp ca.pem cas/ && openssl rehash cas\n"
        "mkdir unhashed && cp ca.pem unhashed/\n";
    testdata::RunResult result = testdata::run(script);
    ok_ = result.exitCode == 0;
    output_ = result.output;
  }
  bool ok() const { return ok_; }
  const std::string& output() const { return output_; }
  std::string operator()(const std::string& name) const { return (dir_ / name).string(); }

 private:
  fs::path dir_;
  bool ok_ = false;
  std::string output_;
};

class TlsTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testdata::TempDir("router-tls-test");
    pki_ = new Pki(dir_->path());
  }
  static void TearDownTestSuite() {
    delete pki_;
    delete dir_;
  }
  void SetUp() override { ASSERT_TRUE(pki_->ok()) << pki_->output(); }

  // The Router section with one destination whose body is `destination`.
  Json::Value doc(const std::string& destination) const {
    return parseJson("{ \"Router\": { \"Rules\": \"" + dir_->path().string() +
                     "\", \"Destinations\": { \"pacs\": " + destination + " } } }");
  }
  Json::Value dicomDoc(const std::string& tls) const {
    return doc(
        "{ \"Type\": \"dicom\", \"AET\": \"PACS\", \"Host\": \"localhost\", \"Port\": 11112, "
        "\"Tls\": " +
        tls + " }");
  }
  std::string errorOf(const Json::Value& document, const std::string& baseDir = "") const {
    try {
      parseConfig(document, baseDir);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "no error";
  }
  const Pki& pki() const { return *pki_; }

  static testdata::TempDir* dir_;
  static Pki* pki_;
};

testdata::TempDir* TlsTest::dir_ = nullptr;
Pki* TlsTest::pki_ = nullptr;

std::string quoted(const std::string& path) {
  return "\"" + path + "\"";
}

TEST_F(TlsTest, DicomTlsSectionIsReadWithVerificationOnAndTheNonDowngradingProfile) {
  Config c = parseConfig(dicomDoc("{ \"CaCertificates\": " + quoted(pki()("ca.pem")) +
                                  ", \"Certificate\": " + quoted(pki()("client.pem")) +
                                  ", \"PrivateKey\": " + quoted(pki()("client.key")) + " }"));
  const DicomSettings& d = c.destinations.at("pacs").settingsAs<DicomSettings>();
  ASSERT_TRUE(d.tls.has_value());
  EXPECT_TRUE(d.tls->verify);
  EXPECT_EQ(d.tls->caCertificates, pki()("ca.pem"));
  EXPECT_FALSE(d.tls->caIsFolder);
  EXPECT_EQ(d.tls->certificate, pki()("client.pem"));
  EXPECT_EQ(d.tls->privateKey, pki()("client.key"));
  EXPECT_EQ(d.tls->configKey, "Router.Destinations.pacs.Tls");
  EXPECT_EQ(d.tlsProfile, TlsProfile::BCP195NonDowngrading);
  bool shown = false;
  for (const StatusField& field : d.status()) {
    if (field.name == "Tls") {
      shown =
          std::get<std::string>(field.value).find("BCP195-ND, peer verified against the CA file") ==
          0;
    }
  }
  EXPECT_TRUE(shown);
}

TEST_F(TlsTest, WithoutTlsSectionADicomDestinationIsPlain) {
  Config c =
      parseConfig(doc(R"({ "Type": "dicom", "AET": "PACS", "Host": "localhost", "Port": 11112 })"));
  EXPECT_FALSE(c.destinations.at("pacs").settingsAs<DicomSettings>().tls.has_value());
}

TEST_F(TlsTest, ProfilesAndVerifyOff) {
  Config c = parseConfig(dicomDoc(R"({ "Profile": "BCP195-Extended", "Verify": false })"));
  const DicomSettings& d = c.destinations.at("pacs").settingsAs<DicomSettings>();
  EXPECT_EQ(d.tlsProfile, TlsProfile::BCP195Extended);
  EXPECT_FALSE(d.tls->verify);
  EXPECT_TRUE(d.tls->caCertificates.empty());  // the system's CAs
  Config b = parseConfig(dicomDoc(R"({ "Profile": "BCP195" })"));
  EXPECT_EQ(b.destinations.at("pacs").settingsAs<DicomSettings>().tlsProfile, TlsProfile::BCP195);
}

TEST_F(TlsTest, CaFolderNeedsHashedNamesAndRelativePathsFollowTheConfigFolder) {
  Config c = parseConfig(dicomDoc(R"({ "CaCertificates": "cas" })"), dir_->path().string());
  const DicomSettings& d = c.destinations.at("pacs").settingsAs<DicomSettings>();
  EXPECT_TRUE(d.tls->caIsFolder);
  EXPECT_EQ(d.tls->caCertificates, pki()("cas"));
  std::string error =
      errorOf(dicomDoc(R"({ "CaCertificates": "unhashed" })"), dir_->path().string());
  EXPECT_NE(error.find("Router.Destinations.pacs.Tls.CaCertificates"), std::string::npos) << error;
  EXPECT_NE(error.find("openssl rehash"), std::string::npos) << error;
}

TEST_F(TlsTest, KeyInTheCertificateFileNeedsNoPrivateKey) {
  Config c =
      parseConfig(dicomDoc("{ \"Certificate\": " + quoted(pki()("server-with-key.pem")) + " }"));
  const DicomSettings& d = c.destinations.at("pacs").settingsAs<DicomSettings>();
  EXPECT_EQ(d.tls->privateKey, pki()("server-with-key.pem"));
}

TEST_F(TlsTest, EachMistakeStopsTheConfigurationNamingTheKey) {
  struct Case {
    std::string tls;
    std::string key;
    std::string says;
  };
  const std::string prefix = "Router.Destinations.pacs.Tls.";
  const std::vector<Case> cases = {
      {"{ \"CaCertificates\": \"/nonexistent/ca.pem\" }", "CaCertificates", "does not exist"},
      {"{ \"CaCertificates\": " + quoted(pki()("client.key")) + " }", "CaCertificates",
       "no PEM certificate"},
      {"{ \"CaCertificates\": \"\" }", "CaCertificates", "is empty"},
      {"{ \"Certificate\": " + quoted(pki()("client.pem")) + " }", "PrivateKey",
       "holds no private key"},
      {"{ \"Certificate\": " + quoted(pki()("client.pem")) +
           ", \"PrivateKey\": " + quoted(pki()("garbage.key")) + " }",
       "PrivateKey", "cannot read a private key"},
      {"{ \"Certificate\": " + quoted(pki()("client.pem")) +
           ", \"PrivateKey\": " + quoted(pki()("client-encrypted.key")) + " }",
       "PrivateKey", "not protected by a password"},
      {"{ \"Certificate\": " + quoted(pki()("client.pem")) +
           ", \"PrivateKey\": " + quoted(pki()("server.key")) + " }",
       "PrivateKey", "is not the key of the certificate"},
      {"{ \"Certificate\": " + quoted(pki()("client.key")) +
           ", \"PrivateKey\": " + quoted(pki()("client.key")) + " }",
       "Certificate", "no PEM certificate"},
      {"{ \"PrivateKey\": " + quoted(pki()("client.key")) + " }", "PrivateKey",
       "without \"Certificate\""},
      {"{ \"Certificate\": \"/nonexistent/client.pem\", \"PrivateKey\": " +
           quoted(pki()("client.key")) + " }",
       "Certificate", "does not exist"},
      {R"({ "Profile": "TLS13" })", "Profile", "unknown TLS profile \"TLS13\""},
      {R"({ "Verify": "yes" })", "Verify", "must be true or false"},
      {R"({ "CAFile": "/etc/ca.pem" })", "CAFile", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.tls);
    const std::string error = errorOf(dicomDoc(c.tls));
    EXPECT_NE(error.find(prefix + c.key), std::string::npos) << error;
    EXPECT_NE(error.find(c.says), std::string::npos) << error;
  }
}

TEST_F(TlsTest, HttpsDestinationsShareTheKeysButNotTheDicomProfile) {
  Config c = parseConfig(
      doc("{ \"Type\": \"dicomweb\", \"Url\": \"https://localhost:8443/dicom-web\", \"Tls\": "
          "{ \"CaCertificates\": " +
          quoted(pki()("ca.pem")) + " } }"));
  const TlsSettings& tls =
      c.destinations.at("pacs").settingsAs<DicomWebSettings>().endpoint.options.tls;
  EXPECT_EQ(tls.caCertificates, pki()("ca.pem"));
  EXPECT_TRUE(tls.verify);

  // https:// without a Tls section: verified against the system's CAs.
  Config plain = parseConfig(doc(R"({ "Type": "orthanc", "Url": "https://peer.example:8042" })"));
  (void)plain;
  Config web =
      parseConfig(doc(R"({ "Type": "dicomweb", "Url": "https://peer.example/dicom-web" })"));
  const TlsSettings& system =
      web.destinations.at("pacs").settingsAs<DicomWebSettings>().endpoint.options.tls;
  EXPECT_TRUE(system.verify);
  EXPECT_TRUE(system.caCertificates.empty());
  EXPECT_EQ(system.configKey, "Router.Destinations.pacs.Tls");

  std::string error = errorOf(
      doc(R"({ "Type": "orthanc", "Url": "https://peer:8042", "Tls": { "Profile": "BCP195" } })"));
  EXPECT_NE(error.find("Router.Destinations.pacs.Tls.Profile"), std::string::npos) << error;
  error = errorOf(doc(
      "{ \"Type\": \"orthanc\", \"Url\": \"http://peer:8042\", \"Tls\": { \"CaCertificates\": " +
      quoted(pki()("ca.pem")) + " } }"));
  EXPECT_NE(error.find("Router.Destinations.pacs.Tls"), std::string::npos) << error;
  EXPECT_NE(error.find("not https://"), std::string::npos) << error;
  error = errorOf(doc(
      R"({ "Type": "dicomweb", "Url": "https://peer/dicom-web", "Tls": { "CaCertificates": "/nope" } })"));
  EXPECT_NE(error.find("Router.Destinations.pacs.Tls.CaCertificates"), std::string::npos) << error;
}

// ---------------------------------------------------------------------------
// Real peers.

// A server as a child process (storescp, openssl s_server), ended by PID.
class Server {
 public:
  Server(std::vector<std::string> args, const std::string& logPath, int port) : logPath_(logPath) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      int log = ::open(logPath_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int devnull = ::open("/dev/null", O_RDONLY);
      ::dup2(devnull, 0);
      ::dup2(log, 1);
      ::dup2(log, 2);
      std::vector<char*> argv;
      for (auto& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (!isListening(port) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ~Server() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  std::string log() const {
    std::ifstream in(logPath_);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }

 private:
  std::string logPath_;
  pid_t pid_ = -1;
};

class TlsPeerTest : public TlsTest {
 protected:
  void SetUp() override {
    TlsTest::SetUp();
    port_ = freeTcpPort();
    out_ = dir_->path() / ("in-" + std::to_string(port_));
    fs::create_directories(out_);
  }
  std::unique_ptr<Server> storescp(std::vector<std::string> tls) {
    std::vector<std::string> args{"storescp", "-v", "-aet", "PACS", "-od", out_.string()};
    args.insert(args.end(), tls.begin(), tls.end());
    args.push_back(std::to_string(port_));
    return std::make_unique<Server>(args, out_.string() + ".log", port_);
  }
  std::vector<std::string> tlsServer() const {
    return {"+tls", pki()("server.key"), pki()("server.pem"), "+cf", pki()("ca.pem")};
  }
  DestinationConfig config(const std::string& host, TlsSettings tls) const {
    DestinationConfig c;
    c.name = "pacs";
    DicomSettings& d = editSettings<DicomSettings>(c);
    d.aet = "PACS";
    d.host = host;
    d.port = port_;
    d.timeout = std::chrono::seconds(5);
    tls.configKey = "Router.Destinations.pacs.Tls";
    d.tls = tls;
    return c;
  }
  TlsSettings clientTls(const std::string& ca) const {
    TlsSettings tls;
    tls.caCertificates = pki()(ca);
    tls.certificate = pki()("client.pem");
    tls.privateKey = pki()("client.key");
    return tls;
  }
  static std::string instance(int seed) {
    testdata::ImageSpec spec;
    spec.name = "ct";
    spec.seed = seed;
    return testdata::makeInstance(spec);
  }
  static Outgoing outgoing(const std::string& bytes) {
    return Outgoing{bytes, "", "", ts::kExplicitVRLittleEndian};
  }
  size_t filesReceived() const {
    size_t count = 0;
    for (const auto& entry : fs::directory_iterator(out_)) count += entry.is_regular_file() ? 1 : 0;
    return count;
  }

  int port_ = 0;
  fs::path out_;
};

TEST_F(TlsPeerTest, FiveInstancesOverOneKeptOpenTlsAssociation) {
  auto scp = storescp(tlsServer());
  DicomDestination destination(config("localhost", clientTls("ca.pem")), "ROUTER");
  std::vector<std::string> files;
  for (int i = 0; i < 5; ++i) files.push_back(instance(100 + i));
  for (const std::string& file : files) {
    SendResult result = destination.send(outgoing(file));
    ASSERT_EQ(result.outcome, SendOutcome::Delivered) << result.detail << "\n" << scp->log();
  }
  destination.close();
  EXPECT_TRUE(destination.probe());  // storescp serves one association at a time
  EXPECT_EQ(filesReceived(), 5u);
  EXPECT_EQ(destination.associationsOpened(), 1);
  const std::string log = scp->log();
  // One for the C-STOREs, one for the C-ECHO probe.
  size_t associations = 0;
  for (size_t at = log.find("Association Received"); at != std::string::npos;
       at = log.find("Association Received", at + 1)) {
    ++associations;
  }
  EXPECT_EQ(associations, 2u) << log;
}

TEST_F(TlsPeerTest, WrongCaIsPermanentAndSaysWhatToCheck) {
  auto scp = storescp(tlsServer());
  DicomDestination destination(config("localhost", clientTls("wrong-ca.pem")), "ROUTER");
  SendResult result = destination.send(outgoing(instance(1)));
  EXPECT_EQ(result.outcome, SendOutcome::Permanent) << result.detail;
  EXPECT_NE(result.detail.find("destination pacs"), std::string::npos) << result.detail;
  EXPECT_NE(result.detail.find("certificate of the peer rejected"), std::string::npos)
      << result.detail;
  EXPECT_NE(result.detail.find("Router.Destinations.pacs.Tls.CaCertificates"), std::string::npos)
      << result.detail;
  EXPECT_NE(result.detail.find(pki()("wrong-ca.pem")), std::string::npos) << result.detail;
  EXPECT_FALSE(destination.probe());
  EXPECT_EQ(filesReceived(), 0u);
}

TEST_F(TlsPeerTest, CertificateForAnotherHostIsPermanent) {
  auto scp = storescp({"+tls", pki()("other.key"), pki()("other.pem"), "+cf", pki()("ca.pem")});
  DicomDestination destination(config("localhost", clientTls("ca.pem")), "ROUTER");
  SendResult result = destination.send(outgoing(instance(2)));
  EXPECT_EQ(result.outcome, SendOutcome::Permanent) << result.detail;
  EXPECT_NE(result.detail.find("not issued for \"localhost\""), std::string::npos) << result.detail;
  EXPECT_EQ(filesReceived(), 0u);
}

TEST_F(TlsPeerTest, PeerRequiringAClientCertificateRefusesUsWithoutOne) {
  auto scp = storescp(tlsServer());  // storescp requires a client certificate by default
  TlsSettings tls;
  tls.caCertificates = pki()("ca.pem");
  DicomDestination destination(config("127.0.0.1", tls), "ROUTER");
  SendResult result = destination.send(outgoing(instance(3)));
  EXPECT_EQ(result.outcome, SendOutcome::Permanent) << result.detail;
  EXPECT_NE(result.detail.find("refused our TLS certificate"), std::string::npos) << result.detail;
  EXPECT_NE(result.detail.find(".Certificate and .PrivateKey"), std::string::npos) << result.detail;
  EXPECT_EQ(filesReceived(), 0u);
}

TEST_F(TlsPeerTest, PlainPeerAndNobodyListeningRetry) {
  {
    DicomDestination destination(config("localhost", clientTls("ca.pem")), "ROUTER");
    SendResult result = destination.send(outgoing(instance(4)));
    EXPECT_EQ(result.outcome, SendOutcome::Retry) << result.detail;
  }
  // A plain DICOM peer resets the connection at our TLS hello: that reads as
  // any reset (retry), with the hint for when it lasts.
  auto scp = storescp({});
  DicomDestination destination(config("localhost", clientTls("ca.pem")), "ROUTER");
  SendResult result = destination.send(outgoing(instance(5)));
  EXPECT_EQ(result.outcome, SendOutcome::Retry) << result.detail;
  EXPECT_NE(result.detail.find("DICOM TLS port"), std::string::npos) << result.detail;
}

TEST_F(TlsPeerTest, PeerThatNeverAnswersTheHandshakeTimesOutAsRetry) {
  // Listening, never accepting: the kernel completes the TCP handshake, and
  // nobody ever sends a TLS ServerHello.
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port_));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  DestinationConfig c = config("localhost", clientTls("ca.pem"));
  editSettings<DicomSettings>(c).timeout = std::chrono::seconds(1);
  DicomDestination destination(c, "ROUTER");
  SendResult result = destination.send(outgoing(instance(6)));
  ::close(listener);
  EXPECT_EQ(result.outcome, SendOutcome::Retry) << result.detail;
  EXPECT_NE(result.detail.find("no answer to the TLS handshake within 1 s"), std::string::npos)
      << result.detail;
}

TEST_F(TlsPeerTest, HttpsVerifiedWithTheTestCaAndRefusedWithTheWrongOne) {
  Server server({"openssl", "s_server", "-accept", std::to_string(port_), "-cert",
                 pki()("server.pem"), "-key", pki()("server.key"), "-www", "-naccept", "10"},
                out_.string() + ".log", port_);
  const std::string url = "https://localhost:" + std::to_string(port_) + "/";
  HttpOptions good;
  good.timeout = std::chrono::seconds(10);
  good.tls.configKey = "Router.Destinations.cloud.Tls";
  good.tls.caCertificates = pki()("ca.pem");
  HttpResponse answer = HttpClient(good).get(url);
  EXPECT_EQ(answer.status, 200) << answer.error;

  HttpOptions wrong = good;
  wrong.tls.caCertificates = pki()("wrong-ca.pem");
  answer = HttpClient(wrong).get(url);
  EXPECT_FALSE(answer.answered());
  EXPECT_TRUE(answer.tlsRefused) << answer.error;
  SendResult result = classifyHttpFailure(answer, url, "");
  EXPECT_EQ(result.outcome, SendOutcome::Permanent);
  EXPECT_NE(result.detail.find("Router.Destinations.cloud.Tls.CaCertificates"), std::string::npos)
      << result.detail;
  EXPECT_NE(result.detail.find(pki()("wrong-ca.pem")), std::string::npos) << result.detail;

  HttpOptions otherName = good;
  answer = HttpClient(otherName).get("https://127.0.0.2:" + std::to_string(port_) + "/");
  EXPECT_TRUE(answer.tlsRefused) << answer.error;

  HttpOptions unchecked = wrong;
  unchecked.tls.verify = false;
  answer = HttpClient(unchecked).get(url);
  EXPECT_EQ(answer.status, 200) << answer.error;
}

TEST_F(TlsPeerTest, HttpsServerRequiringAClientCertificate) {
  Server server({"openssl", "s_server", "-accept", std::to_string(port_), "-cert",
                 pki()("server.pem"), "-key", pki()("server.key"), "-CAfile", pki()("ca.pem"),
                 "-Verify", "1", "-verify_return_error", "-www"},
                out_.string() + ".log", port_);
  const std::string url = "https://localhost:" + std::to_string(port_) + "/";
  HttpOptions options;
  options.timeout = std::chrono::seconds(10);
  options.tls.configKey = "Router.Destinations.cloud.Tls";
  options.tls.caCertificates = pki()("ca.pem");
  HttpResponse answer = HttpClient(options).get(url);
  EXPECT_FALSE(answer.answered());
  EXPECT_TRUE(answer.tlsRefused) << answer.error;
  EXPECT_NE(answer.error.find("Router.Destinations.cloud.Tls.Certificate and .PrivateKey"),
            std::string::npos)
      << answer.error;

  options.tls.certificate = pki()("client.pem");
  options.tls.privateKey = pki()("client.key");
  answer = HttpClient(options).get(url);
  EXPECT_EQ(answer.status, 200) << answer.error << "\n" << server.log();
}

TEST_F(TlsPeerTest, HttpsToAClosedPortRetries) {
  HttpOptions options;
  options.timeout = std::chrono::seconds(5);
  options.tls.caCertificates = pki()("ca.pem");
  const std::string url = "https://localhost:" + std::to_string(port_) + "/";
  HttpResponse answer = HttpClient(options).get(url);
  EXPECT_FALSE(answer.tlsRefused);
  EXPECT_EQ(classifyHttpFailure(answer, url, "").outcome, SendOutcome::Retry) << answer.error;
}

}  // namespace
}  // namespace router
