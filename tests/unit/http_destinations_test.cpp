// HTTP destinations against a real second Orthanc (the Debian binary with the
// DICOMweb plugin, authentication on), started once for the whole file on
// free ports and ended by its PID: STOW-RS batches, Orthanc peer uploads, what
// arrived (SOP Instance UID and PixelData bytes read back through the peer's
// REST API), refusals, wrong credentials, a peer that is down or silent.
#include <arpa/inet.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <json/json.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "plugins/core/destinations/dicomweb/DicomWebDestination.h"
#include "plugins/core/destinations/http/HttpClient.h"
#include "plugins/core/destinations/orthancpeer/OrthancPeerDestination.h"
#include "tests/unit/destination_settings.h"
#include "plugins/core/dicom/DicomBuffer.h"
#include "tests/generator/TestData.h"
#include "tests/generator/TestSupport.h"

extern char** environ;

namespace router {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kDicomWebPlugin = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so";

using testdata::freeTcpPort;

// The second Orthanc: a child process with its own configuration, storage
// and log in a temporary directory.
class PeerOrthanc {
 public:
  PeerOrthanc() {
    char pattern[] = "/tmp/router-http-test-XXXXXX";
    dir_ = ::mkdtemp(pattern);
    httpPort_ = freeTcpPort();
    const int dicomPort = freeTcpPort();

    Json::Value config;
    config["Name"] = "router-http-test";
    config["HttpPort"] = httpPort_;
    config["DicomPort"] = dicomPort;
    config["StorageDirectory"] = (dir_ / "storage").string();
    config["IndexDirectory"] = (dir_ / "storage").string();
    config["RemoteAccessAllowed"] = false;
    config["AuthenticationEnabled"] = true;
    config["RegisteredUsers"]["router"] = "secret";
    config["Plugins"].append(kDicomWebPlugin);
    config["DicomWeb"]["Enable"] = true;
    config["DicomWeb"]["Root"] = "/dicom-web/";
    std::ofstream(dir_ / "orthanc.json") << config.toStyledString();

    const std::string configPath = (dir_ / "orthanc.json").string();
    const std::string logPath = (dir_ / "orthanc.log").string();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, logPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> argv{const_cast<char*>("/usr/sbin/Orthanc"),
                            const_cast<char*>(configPath.c_str()), nullptr};
    const int error = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (error != 0) pid_ = 0;
  }

  ~PeerOrthanc() {
    stop();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  // Waits until GET /system answers 200 (or the child died, or 20 s passed).
  bool waitUntilUp() {
    HttpClient http(options());
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (pid_ != 0 && Clock::now() < deadline) {
      if (http.get(url() + "/system").status == 200) return true;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  // SIGKILL, not SIGTERM: Orthanc's orderly stop takes ~3.5 s (its threads
  // poll once a second), ctest runs every test in its own process, and this
  // peer's storage is thrown away anyway.
  void stop() {
    if (pid_ == 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(httpPort_); }
  static HttpOptions options() {
    HttpOptions options;
    options.username = "router";
    options.password = "secret";
    options.timeout = std::chrono::seconds(10);
    return options;
  }
  std::string log() const {
    std::ifstream in(dir_ / "orthanc.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // The stored file of the instance with this SOP Instance UID ("" if none),
  // through the peer's REST API.
  std::string fileOf(const std::string& sopInstanceUid) const {
    HttpClient http(options());
    Json::Value query;
    query["Level"] = "Instance";
    query["Query"]["SOPInstanceUID"] = sopInstanceUid;
    const std::string body = Json::writeString(Json::StreamWriterBuilder(), query);
    const HttpResponse found =
        http.post(url() + "/tools/find", {body}, {"Content-Type: application/json"});
    Json::Value ids;
    std::istringstream(found.body) >> ids;
    if (found.status != 200 || !ids.isArray() || ids.size() != 1) return "";
    const HttpResponse file = http.get(url() + "/instances/" + ids[0].asString() + "/file");
    return file.status == 200 ? file.body : "";
  }

  int instanceCount() const {
    HttpClient http(options());
    const HttpResponse answer = http.get(url() + "/statistics");
    Json::Value statistics;
    std::istringstream(answer.body) >> statistics;
    return statistics["CountInstances"].asInt();
  }

 private:
  fs::path dir_;
  int httpPort_ = 0;
  pid_t pid_ = 0;
};

std::string elementString(DcmFileFormat& file, const DcmTagKey& tag) {
  OFString value;
  file.getDataset()->findAndGetOFString(tag, value);
  return value.c_str();
}

std::string pixelBytes(DcmFileFormat& file) {
  const Uint8* data = nullptr;
  unsigned long count = 0;
  if (file.getDataset()->findAndGetUint8Array(DCM_PixelData, data, &count).bad() || data == nullptr)
    return "";
  return std::string(reinterpret_cast<const char*>(data), count);
}

struct Sent {
  testdata::ImageSpec spec;
  std::string part10;
};

std::vector<Sent> makeSeries(int count, uint32_t seed) {
  std::vector<Sent> series;
  for (const testdata::ImageSpec& spec : testdata::ctSeries(count, seed, 128, 128)) {
    testdata::ImageSpec full = testdata::withIdentity(spec);
    std::string part10 = testdata::makeInstance(full);
    full.sopClassUid = elementString(*parseDicom(part10), DCM_SOPClassUID);
    series.push_back({full, std::move(part10)});
  }
  return series;
}

Outgoing outgoing(const Sent& sent) {
  return Outgoing{sent.part10, sent.spec.sopClassUid, sent.spec.sopInstanceUid,
                  "1.2.840.10008.1.2.1"};
}

enum class HttpKind { DicomWeb, OrthancPeer };

HttpEndpoint& endpointOf(DestinationConfig& config, HttpKind kind) {
  return kind == HttpKind::DicomWeb ? editSettings<DicomWebSettings>(config).endpoint
                                    : editSettings<OrthancPeerSettings>(config).endpoint;
}

DestinationConfig httpConfig(HttpKind kind, const std::string& url, const std::string& password = "secret") {
  DestinationConfig config;
  config.name = kind == HttpKind::DicomWeb ? "cloud" : "backup";
  HttpEndpoint& endpoint = endpointOf(config, kind);
  endpoint.url = url;
  endpoint.options.username = "router";
  endpoint.options.password = password;
  endpoint.options.timeout = std::chrono::seconds(10);
  return config;
}

class HttpDestinationsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    peer_ = new PeerOrthanc();
    up_ = peer_->waitUntilUp();
    if (!up_)
      std::fprintf(stderr, "peer Orthanc did not start; its log:\n%s\n", peer_->log().c_str());
  }
  static void TearDownTestSuite() {
    delete peer_;
    peer_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(up_) << "the peer Orthanc (" << kDicomWebPlugin << ") is not running";
  }

  // What the peer holds for each sent instance is what was sent.
  static void expectStoredIdentically(const std::vector<Sent>& series) {
    for (const Sent& sent : series) {
      const std::string stored = peer_->fileOf(sent.spec.sopInstanceUid);
      ASSERT_FALSE(stored.empty()) << "peer has no instance " << sent.spec.sopInstanceUid;
      const auto original = parseDicom(sent.part10);
      const auto received = parseDicom(stored);
      EXPECT_EQ(elementString(*received, DCM_SOPInstanceUID), sent.spec.sopInstanceUid);
      EXPECT_EQ(elementString(*received, DCM_SOPClassUID), sent.spec.sopClassUid);
      const std::string pixels = pixelBytes(*received);
      EXPECT_EQ(pixels.size(), testdata::pixelByteCount(sent.spec));
      EXPECT_TRUE(pixels == pixelBytes(*original))
          << "PixelData differs for " << sent.spec.sopInstanceUid;
      const std::vector<uint8_t> expected = testdata::expectedPixels(sent.spec);
      EXPECT_TRUE(pixels == std::string(expected.begin(), expected.end()));
    }
  }

  static PeerOrthanc* peer_;
  static bool up_;
};

PeerOrthanc* HttpDestinationsTest::peer_ = nullptr;
bool HttpDestinationsTest::up_ = false;

TEST_F(HttpDestinationsTest, StowRsBatchOfFiveIsStoredIdentically) {
  const std::vector<Sent> series = makeSeries(5, 101);
  DicomWebDestination destination(
      httpConfig(HttpKind::DicomWeb, peer_->url() + "/dicom-web"));
  EXPECT_EQ(destination.maxBatch(), 10);
  EXPECT_TRUE(destination.probe());

  std::vector<Outgoing> batch;
  for (const Sent& sent : series) batch.push_back(outgoing(sent));
  const std::vector<SendResult> results = destination.sendBatch(batch);
  ASSERT_EQ(results.size(), 5u);
  for (const SendResult& result : results) {
    EXPECT_EQ(result.outcome, SendOutcome::Delivered) << result.detail;
    EXPECT_FALSE(result.warning) << result.detail;
  }
  expectStoredIdentically(series);

  // Sending the same again (an at-least-once resend) is still delivered.
  const SendResult again = destination.send(batch[0]);
  EXPECT_EQ(again.outcome, SendOutcome::Delivered) << again.detail;
}

TEST_F(HttpDestinationsTest, StowRsBatchWithOneNonDicomPart) {
  // Orthanc answers such a request with HTTP 400, yet stores and lists the
  // good parts: only the bad one is refused.
  const std::vector<Sent> series = makeSeries(2, 202);
  const std::string garbage(3000, 'x');
  DicomWebDestination destination(
      httpConfig(HttpKind::DicomWeb, peer_->url() + "/dicom-web"));
  const std::vector<SendResult> results = destination.sendBatch(
      {outgoing(series[0]),
       Outgoing{garbage, "1.2.840.10008.5.1.4.1.1.2", "1.2.3.4.5.6.7", "1.2.840.10008.1.2.1"},
       outgoing(series[1])});
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].outcome, SendOutcome::Delivered) << results[0].detail;
  EXPECT_EQ(results[1].outcome, SendOutcome::Permanent) << results[1].detail;
  EXPECT_NE(results[1].detail.find("400"), std::string::npos) << results[1].detail;
  EXPECT_EQ(results[2].outcome, SendOutcome::Delivered) << results[2].detail;
  expectStoredIdentically(series);
}

TEST_F(HttpDestinationsTest, OrthancPeerStoresThreeIdentically) {
  const std::vector<Sent> series = makeSeries(3, 303);
  OrthancPeerDestination destination(httpConfig(HttpKind::OrthancPeer, peer_->url()));
  EXPECT_EQ(destination.maxBatch(), 1);
  EXPECT_TRUE(destination.probe());
  for (const Sent& sent : series) {
    const SendResult result = destination.send(outgoing(sent));
    EXPECT_EQ(result.outcome, SendOutcome::Delivered) << result.detail;
  }
  expectStoredIdentically(series);

  // "AlreadyStored" is delivered too.
  const SendResult again = destination.send(outgoing(series[0]));
  EXPECT_EQ(again.outcome, SendOutcome::Delivered) << again.detail;
}

TEST_F(HttpDestinationsTest, KeptAliveConnectionSurvivesThePeerClosingIt) {
  // Orthanc closes idle keep-alive connections after 1 s (Keep-Alive:
  // timeout=1); the next send must open a new one by itself.
  const std::vector<Sent> series = makeSeries(2, 404);
  OrthancPeerDestination destination(httpConfig(HttpKind::OrthancPeer, peer_->url()));
  EXPECT_EQ(destination.send(outgoing(series[0])).outcome, SendOutcome::Delivered);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const SendResult second = destination.send(outgoing(series[1]));
  EXPECT_EQ(second.outcome, SendOutcome::Delivered) << second.detail;
  expectStoredIdentically(series);
}

TEST_F(HttpDestinationsTest, WrongPasswordIsPermanentAndSaysCheckCredentials) {
  const std::vector<Sent> series = makeSeries(1, 505);
  const int before = peer_->instanceCount();

  OrthancPeerDestination peer(
      httpConfig(HttpKind::OrthancPeer, peer_->url(), "wrong-password"));
  const SendResult viaRest = peer.send(outgoing(series[0]));
  EXPECT_EQ(viaRest.outcome, SendOutcome::Permanent);
  EXPECT_NE(viaRest.detail.find("Username and Password"), std::string::npos) << viaRest.detail;
  EXPECT_NE(viaRest.detail.find("401"), std::string::npos) << viaRest.detail;
  EXPECT_EQ(viaRest.detail.find("wrong-password"), std::string::npos) << viaRest.detail;
  EXPECT_TRUE(peer.probe()) << "a 401 still means the server is up";
  RecordProperty("orthanc_wrong_password", viaRest.detail);

  DicomWebDestination web(
      httpConfig(HttpKind::DicomWeb, peer_->url() + "/dicom-web", "wrong-password"));
  const std::vector<SendResult> viaStow = web.sendBatch({outgoing(series[0])});
  ASSERT_EQ(viaStow.size(), 1u);
  EXPECT_EQ(viaStow[0].outcome, SendOutcome::Permanent);
  EXPECT_NE(viaStow[0].detail.find("Username and Password"), std::string::npos)
      << viaStow[0].detail;
  EXPECT_EQ(viaStow[0].detail.find("wrong-password"), std::string::npos) << viaStow[0].detail;
  RecordProperty("stow_wrong_password", viaStow[0].detail);

  EXPECT_EQ(peer_->instanceCount(), before);
}

TEST_F(HttpDestinationsTest, NonDicomBodyIsRefusedPermanentlyWithOrthancsReason) {
  const std::string garbage = "this is not a DICOM file, only some text";
  OrthancPeerDestination destination(httpConfig(HttpKind::OrthancPeer, peer_->url()));
  const SendResult result = destination.send(
      Outgoing{garbage, "1.2.840.10008.5.1.4.1.1.2", "1.2.3.4", "1.2.840.10008.1.2.1"});
  EXPECT_EQ(result.outcome, SendOutcome::Permanent);
  EXPECT_NE(result.detail.find("HTTP 400"), std::string::npos) << result.detail;
  EXPECT_NE(result.detail.find("Bad file format"), std::string::npos)
      << result.detail;  // Orthanc's words
  RecordProperty("orthanc_garbage", result.detail);

  DicomWebDestination web(httpConfig(HttpKind::DicomWeb, peer_->url() + "/dicom-web"));
  const SendResult viaStow =
      web.send(Outgoing{garbage, "1.2.840.10008.5.1.4.1.1.2", "1.2.3.4", "1.2.840.10008.1.2.1"});
  EXPECT_EQ(viaStow.outcome, SendOutcome::Permanent) << viaStow.detail;
  RecordProperty("stow_garbage", viaStow.detail);
}

TEST_F(HttpDestinationsTest, WrongUrlIsPermanent) {
  const std::vector<Sent> series = makeSeries(1, 606);
  DicomWebDestination web(httpConfig(HttpKind::DicomWeb, peer_->url() + "/no-such-root"));
  const SendResult result = web.send(outgoing(series[0]));
  EXPECT_EQ(result.outcome, SendOutcome::Permanent);
  EXPECT_NE(result.detail.find("check the destination's Url"), std::string::npos) << result.detail;
  RecordProperty("stow_wrong_url", result.detail);
}

TEST(HttpDestinationsDown, PeerThatStopsIsDownAndRetried) {
  PeerOrthanc peer;
  ASSERT_TRUE(peer.waitUntilUp()) << peer.log();
  const std::vector<Sent> series = makeSeries(2, 111);
  OrthancPeerDestination rest(httpConfig(HttpKind::OrthancPeer, peer.url()));
  DicomWebDestination web(httpConfig(HttpKind::DicomWeb, peer.url() + "/dicom-web"));
  EXPECT_TRUE(rest.probe());
  EXPECT_TRUE(web.probe());
  EXPECT_EQ(rest.send(outgoing(series[0])).outcome, SendOutcome::Delivered);

  peer.stop();  // with our kept-alive connection still open
  const auto start = Clock::now();
  EXPECT_FALSE(rest.probe());
  EXPECT_FALSE(web.probe());
  const SendResult viaRest = rest.send(outgoing(series[1]));
  EXPECT_EQ(viaRest.outcome, SendOutcome::Retry);
  EXPECT_NE(viaRest.detail.find(peer.url() + "/instances"), std::string::npos) << viaRest.detail;
  const SendResult viaStow = web.send(outgoing(series[1]));
  EXPECT_EQ(viaStow.outcome, SendOutcome::Retry);
  EXPECT_NE(viaStow.detail.find(peer.url() + "/dicom-web/studies"), std::string::npos)
      << viaStow.detail;
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
}

TEST(HttpDestinationsDown, ClosedPortIsRetryQuicklyWithTheUrl) {
  const std::vector<Sent> series = makeSeries(2, 707);
  const std::string url = "http://127.0.0.1:" + std::to_string(freeTcpPort());

  OrthancPeerDestination peer(httpConfig(HttpKind::OrthancPeer, url));
  const auto start = Clock::now();
  const SendResult viaRest = peer.send(outgoing(series[0]));
  EXPECT_EQ(viaRest.outcome, SendOutcome::Retry);
  EXPECT_NE(viaRest.detail.find(url + "/instances"), std::string::npos) << viaRest.detail;
  EXPECT_FALSE(peer.probe());

  DicomWebDestination web(httpConfig(HttpKind::DicomWeb, url + "/dicom-web"));
  const std::vector<SendResult> viaStow = web.sendBatch({outgoing(series[0]), outgoing(series[1])});
  ASSERT_EQ(viaStow.size(), 2u);
  for (const SendResult& result : viaStow) {
    EXPECT_EQ(result.outcome, SendOutcome::Retry);
    EXPECT_NE(result.detail.find(url + "/dicom-web/studies"), std::string::npos) << result.detail;
  }
  EXPECT_FALSE(web.probe());
  RecordProperty("orthanc_down", viaRest.detail);
  RecordProperty("stow_down", viaStow[0].detail);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
}

TEST(HttpDestinationsDown, PasswordInUrlNeverShowsInDetails) {
  const std::vector<Sent> series = makeSeries(1, 808);
  const int port = freeTcpPort();
  DestinationConfig config = httpConfig(HttpKind::OrthancPeer,
                                        "http://router:hunter2@127.0.0.1:" + std::to_string(port));
  OrthancPeerDestination peer(config);
  const SendResult result = peer.send(outgoing(series[0]));
  EXPECT_EQ(result.outcome, SendOutcome::Retry);
  EXPECT_EQ(result.detail.find("hunter2"), std::string::npos) << result.detail;
  EXPECT_NE(result.detail.find("http://127.0.0.1:" + std::to_string(port)), std::string::npos)
      << result.detail;
}

TEST(HttpDestinationsDown, SilentServerTimesOutAsRetry) {
  // A socket that listens but never accepts: the TCP handshake completes (the
  // kernel does it), no HTTP answer ever comes.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port));

  const std::vector<Sent> series = makeSeries(1, 909);
  DestinationConfig config = httpConfig(HttpKind::OrthancPeer, url);
  endpointOf(config, HttpKind::OrthancPeer).options.timeout = std::chrono::seconds(1);
  OrthancPeerDestination peer(config);
  const auto start = Clock::now();
  const SendResult result = peer.send(outgoing(series[0]));
  const auto elapsed = Clock::now() - start;
  ::close(fd);
  EXPECT_EQ(result.outcome, SendOutcome::Retry);
  EXPECT_NE(result.detail.find("within 1 s"), std::string::npos) << result.detail;
  RecordProperty("orthanc_silent", result.detail);
  EXPECT_GE(elapsed, std::chrono::milliseconds(900));
  EXPECT_LT(elapsed, std::chrono::seconds(3));
}

// Answers a real Orthanc does not give, checked on the interpretation alone.
class StowAnswerTest : public ::testing::Test {
 protected:
  const std::string bytes = "DICM";
  std::vector<Outgoing> instances{
      Outgoing{bytes, "1.2.840.10008.5.1.4.1.1.2", "1.2.3.1", "1.2.840.10008.1.2.1"},
      Outgoing{bytes, "1.2.840.10008.5.1.4.1.1.2", "1.2.3.2", "1.2.840.10008.1.2.1"},
      Outgoing{bytes, "1.2.840.10008.5.1.4.1.1.2", "1.2.3.3", "1.2.840.10008.1.2.1"}};
  const std::string url = "http://pacs.example:8080/dicom-web/studies";

  static std::string item(const std::string& uid, const char* reasonTag = nullptr, int reason = 0) {
    std::string text = R"({"00081150":{"vr":"UI","Value":["1.2.840.10008.5.1.4.1.1.2"]},)"
                       R"("00081155":{"vr":"UI","Value":[")" +
                       uid + R"("]})";
    if (reasonTag != nullptr) {
      text += std::string(R"(,")") + reasonTag + R"(":{"vr":"US","Value":[)" +
              std::to_string(reason) + "]}";
    }
    return text + "}";
  }
  static HttpResponse answer(long status, const std::string& body) {
    HttpResponse response;
    response.status = status;
    response.body = body;
    return response;
  }
};

TEST_F(StowAnswerTest, PartialSuccessMapsEachFailureReasonLikeCStore) {
  const std::string body =
      R"({"00081199":{"vr":"SQ","Value":[)" + item("1.2.3.1", "00081196", 0xB000) +
      R"(]},"00081198":{"vr":"SQ","Value":[)" + item("1.2.3.2", "00081197", 0xA700) + "," +
      item("1.2.3.3", "00081197", 0x0122) + "]}}";
  const auto results = DicomWebDestination::interpretAnswer(answer(202, body), url, instances);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].outcome, SendOutcome::Delivered);
  EXPECT_TRUE(results[0].warning);
  EXPECT_EQ(results[1].outcome, SendOutcome::Retry);      // out of resources
  EXPECT_EQ(results[2].outcome, SendOutcome::Permanent);  // SOP class not supported
  EXPECT_NE(results[2].detail.find("0x0122"), std::string::npos) << results[2].detail;
  EXPECT_NE(results[2].detail.find(url), std::string::npos) << results[2].detail;
}

TEST_F(StowAnswerTest, ConflictUsesThePerInstanceReasons) {
  const std::string body =
      R"([{"00081198":{"vr":"SQ","Value":[)" + item("1.2.3.1", "00081197", 0xA900) + "]}}]";
  const auto results = DicomWebDestination::interpretAnswer(answer(409, body), url, instances);
  EXPECT_EQ(results[0].outcome, SendOutcome::Permanent);
  EXPECT_EQ(results[1].outcome,
            SendOutcome::Retry);  // not its fault: nothing of the request was stored
  EXPECT_EQ(results[2].outcome, SendOutcome::Retry);
}

TEST_F(StowAnswerTest, StatusesWithoutUsableBody) {
  for (const auto& result :
       DicomWebDestination::interpretAnswer(answer(200, "<xml/>"), url, instances)) {
    EXPECT_EQ(result.outcome, SendOutcome::Delivered);
  }
  for (long status : {408L, 429L, 500L, 502L, 503L}) {
    for (const auto& result : DicomWebDestination::interpretAnswer(
             answer(status, "busy, come back later"), url, instances)) {
      EXPECT_EQ(result.outcome, SendOutcome::Retry) << status;
      EXPECT_NE(result.detail.find("busy, come back later"), std::string::npos) << result.detail;
    }
  }
  for (long status : {401L, 403L, 404L, 413L, 415L}) {
    for (const auto& result :
         DicomWebDestination::interpretAnswer(answer(status, ""), url, instances)) {
      EXPECT_EQ(result.outcome, SendOutcome::Permanent) << status;
    }
  }
  // 202 that names nobody: not confirmed, sent again.
  for (const auto& result :
       DicomWebDestination::interpretAnswer(answer(202, "{}"), url, instances)) {
    EXPECT_EQ(result.outcome, SendOutcome::Retry);
  }
}

}  // namespace
}  // namespace router
