// Router configuration: defaults, Orthanc modalities as destinations, and one
// clear error naming the key for every mistake an operator can make.
#include <gtest/gtest.h>
#include <json/json.h>

#include <filesystem>

#include <unistd.h>

#include "plugins/core/Error.h"
#include "plugins/core/config/Config.h"
#include "plugins/core/destinations/dicom/DicomKind.h"
#include "plugins/core/destinations/dicomweb/DicomWebKind.h"
#include "plugins/core/destinations/folder/FolderKind.h"
#include "tests/unit/json_text.h"
#include "transcoders/TransferSyntax.h"

namespace router {
namespace {

const DicomSettings& dicom(const DestinationConfig& d) { return d.settingsAs<DicomSettings>(); }

Json::Value parse(const std::string& text) { return testdata::parseJson(text); }

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rules_ = std::filesystem::temp_directory_path() / ("router-config-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(rules_);
  }
  void TearDown() override { std::filesystem::remove_all(rules_); }

  // A valid document with `router` spliced in as the Router section body.
  Json::Value doc(const std::string& routerBody, const std::string& extra = "") {
    return parse("{ " + extra + " \"Router\": { \"Rules\": \"" + rules_.string() + "\"" +
                 (routerBody.empty() ? "" : ", " + routerBody) + " } }");
  }

  std::string errorOf(const Json::Value& document) {
    try {
      parseConfig(document);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "no error";
  }

  std::filesystem::path rules_;
};

TEST_F(ConfigTest, DefaultsAndAllDestinationTypes) {
  Config c = parseConfig(doc(R"("QueueDatabase": "/tmp/q.sqlite", "Threads": 3,
    "Destinations": {
      "pacs": { "Type": "dicom", "AET": "PACS", "Host": "127.0.0.1", "Port": 11112, "Associations": 2,
                "TransferSyntaxes": ["JPEGLSLossless", "1.2.840.10008.1.2.1"] },
      "cloud": { "Type": "dicomweb", "Url": "http://127.0.0.1:8080/dicom-web/", "Username": "u", "Password": "p" },
      "backup": { "Type": "orthanc", "Url": "http://127.0.0.1:8043" },
      "export": { "Type": "folder", "Path": "/srv/export", "OnTranscodeFailure": "fail",
                  "Retry": { "MaxAttempts": 3 } } },
    "Retry": { "InitialDelay": 1, "Multiplier": 3, "MaxDelay": 60, "MaxAttempts": 7 })",
                             R"("DicomAet": "ROUTER",)"));
  EXPECT_EQ(c.threads, 3);
  EXPECT_EQ(c.localAet, "ROUTER");
  ASSERT_EQ(c.destinations.size(), 4u);
  const DestinationConfig& pacs = c.destinations.at("pacs");
  EXPECT_EQ(pacs.kind(), "dicom");
  EXPECT_EQ(dicom(pacs).port, 11112);
  EXPECT_EQ(dicom(pacs).associations, 2);
  EXPECT_EQ(dicom(pacs).transferSyntaxes, (std::vector<std::string>{ts::kJPEGLSLossless, ts::kExplicitVRLittleEndian}));
  EXPECT_EQ(pacs.retry.maxAttempts, 7);  // inherited from Router.Retry
  EXPECT_EQ(c.destinations.at("cloud").settingsAs<DicomWebSettings>().endpoint.url, "http://127.0.0.1:8080/dicom-web");  // trailing slash dropped
  EXPECT_EQ(c.destinations.at("export").onTranscodeFailure, TranscodeFailurePolicy::Fail);
  EXPECT_EQ(c.destinations.at("export").retry.maxAttempts, 3);
  EXPECT_EQ(c.destinations.at("export").retry.initialDelay, std::chrono::seconds(1));
  EXPECT_FALSE(c.deleteAfterDelivery);
  EXPECT_TRUE(c.routeResentInstances);
  EXPECT_FALSE(dicom(pacs).storageCommitment);
  EXPECT_TRUE(pacs.failover.empty());
}

TEST_F(ConfigTest, FailoverAndStorageCommitment) {
  Config c = parseConfig(doc(R"("Destinations": {
      "pacs": { "Type": "dicom", "AET": "PACS", "Host": "h", "Port": 104, "StorageCommitment": true,
                "StorageCommitmentTimeout": 30, "Failover": "backup", "FailoverAfter": 600 },
      "backup": { "Type": "dicom", "AET": "BACKUP", "Host": "h", "Port": 105, "Failover": "export" },
      "export": { "Type": "folder", "Path": "/x" } })"));
  const DestinationConfig& pacs = c.destinations.at("pacs");
  EXPECT_TRUE(dicom(pacs).storageCommitment);
  EXPECT_EQ(dicom(pacs).storageCommitmentTimeout, std::chrono::seconds(30));
  EXPECT_EQ(pacs.failover, "backup");
  EXPECT_EQ(pacs.failoverAfter, std::chrono::seconds(600));
  EXPECT_EQ(c.destinations.at("backup").failoverAfter, std::chrono::seconds(300));  // default
  EXPECT_TRUE(c.destinations.at("export").failover.empty());
}

TEST_F(ConfigTest, OrthancModalitiesAreDestinationsByAlias) {
  Config c = parseConfig(doc(R"("Destinations": { "pacs": { "Type": "folder", "Path": "/x" } })",
                             R"("DicomModalities": { "ct1": ["CT1", "10.0.0.5", 104],
                                 "pacs": ["IGNORED", "h", 1],
                                 "ws": { "AET": "WS", "Host": "127.0.0.1", "Port": "4243" } },)"));
  EXPECT_EQ(dicom(c.destinations.at("ct1")).aet, "CT1");
  EXPECT_EQ(dicom(c.destinations.at("ct1")).port, 104);
  EXPECT_EQ(dicom(c.destinations.at("ws")).port, 4243);
  EXPECT_EQ(c.destinations.at("pacs").kind(), "folder");  // the Router section wins
}

TEST_F(ConfigTest, RelativePathsFollowTheConfigurationFolder) {
  Json::Value d = doc(R"("QueueDatabase": "q.sqlite", "AuditLog": "log/audit.log",
                         "Destinations": { "out": { "Type": "folder", "Path": "out" } })");
  Config c = parseConfig(d, "/etc/orthanc");
  EXPECT_EQ(c.queueDatabase, "/etc/orthanc/q.sqlite");
  EXPECT_EQ(c.auditLog, "/etc/orthanc/log/audit.log");
  EXPECT_EQ(c.destinations.at("out").settingsAs<FolderSettings>().path, "/etc/orthanc/out");
}

TEST_F(ConfigTest, APostgresqlQueueDatabaseIsAUriNotAPath) {
  for (const std::string uri : {"postgresql://router@db.example:5432/router", "postgres://db/router"}) {
    Config c = parseConfig(doc("\"QueueDatabase\": \"" + uri + "\""), "/etc/orthanc");
    EXPECT_EQ(c.queueDatabase, uri);
  }
}

TEST_F(ConfigTest, ANodeIsNamedAfterItsHostUnlessNamed) {
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
  Config c = parseConfig(doc(""));
  EXPECT_EQ(c.node.name, host);
  EXPECT_EQ(c.node.lease, std::chrono::seconds(60));
  c = parseConfig(doc(R"("NodeName": "router-b", "LeaseSeconds": 20)"));
  EXPECT_EQ(c.node.name, "router-b");
  EXPECT_EQ(c.node.lease, std::chrono::seconds(20));
  EXPECT_NE(errorOf(doc(R"("LeaseSeconds": 1)")).find("Router.LeaseSeconds"), std::string::npos);
  EXPECT_NE(errorOf(doc(R"("NodeName": "")")).find("Router.NodeName"), std::string::npos);
}

TEST_F(ConfigTest, EveryMistakeNamesItsKey) {
  struct Case {
    std::string body;
    std::string expected;
  } cases[] = {
      {R"("Destinations": { "pacs": { "Type": "dicomm", "AET": "P", "Host": "h", "Port": 1 } })",
       "Router.Destinations.pacs.Type: unknown destination type \"dicomm\""},
      {R"("Destinations": { "pacs": { "Type": "dicom", "AET": "P", "Host": "h" } })",
       "Router.Destinations.pacs.Port: missing"},
      {R"("Destinations": { "pacs": { "Type": "dicom", "Host": "h", "Port": 1 } })",
       "Router.Destinations.pacs.AET: missing"},
      {R"("Destinations": { "pacs": { "Type": "dicom", "AET": "P", "Port": 1 } })",
       "Router.Destinations.pacs.Host: missing"},
      {R"("Destinations": { "pacs": { "Type": "dicom", "AET": "P", "Host": "h", "Port": 70000 } })",
       "Router.Destinations.pacs.Port: must be between 1 and 65535"},
      {R"("Destinations": { "pacs": { "Type": "dicom", "AET": "P", "Host": "h", "Port": 1, "TransferSyntaxes": ["JPEGXL"] } })",
       "Router.Destinations.pacs.TransferSyntaxes: unknown transfer syntax"},
      {R"("Destinations": { "pacs": { "Type": "dicom", "AET": "P", "Host": "h", "Port": 1, "TransferSyntaxes": ["HTJ2KLossless"] } })",
       "Router.Destinations.pacs.TransferSyntaxes: HTJ2KLossless cannot be sent on a DICOM association with DCMTK 3.6.7"},
      {R"("Destinations": { "pacs": { "Type": "dicom", "AET": "P", "Host": "h", "Port": 1, "Prot": 2 } })",
       "Router.Destinations.pacs.Prot: unknown key"},
      {R"("Destinations": { "pacs": { "AET": "P" } })", "Router.Destinations.pacs.Type: missing"},
      {R"("Destinations": { "web": { "Type": "dicomweb", "Url": "ftp://x" } })",
       "Router.Destinations.web.Url: must start with http:// or https://"},
      {R"("Destinations": { "bad name": { "Type": "folder", "Path": "/x" } })", "Router.Destinations.bad name:"},
      {R"("Threads": 0)", "Router.Threads: must be between 1 and 64"},
      {R"("Thread": 2)", "Router.Thread: unknown key"},
      {R"("Retry": { "InitialDelay": 10, "MaxDelay": 5 })", "Router.Retry.MaxDelay: must not be smaller"},
      {R"("DeleteAfterDelivery": "yes")", "Router.DeleteAfterDelivery: must be true or false"},
      {R"("Destinations": { "a": { "Type": "folder", "Path": "/x", "Failover": "b" } })",
       "Router.Destinations.a.Failover: names \"b\", which is not a destination"},
      {R"("Destinations": { "a": { "Type": "folder", "Path": "/x", "Failover": "a" } })",
       "Router.Destinations.a.Failover: cannot name the destination itself"},
      {R"("Destinations": { "a": { "Type": "folder", "Path": "/x", "Failover": "b" },
                            "b": { "Type": "folder", "Path": "/y", "Failover": "c" },
                            "c": { "Type": "folder", "Path": "/z", "Failover": "a" } })",
       "Router.Destinations.a.Failover: failovers form a circle"},
      {R"("Destinations": { "a": { "Type": "folder", "Path": "/x", "StorageCommitment": true } })",
       "Router.Destinations.a.StorageCommitment: unknown key"},
      {R"("Destinations": { "a": { "Type": "dicom", "AET": "P", "Host": "h", "Port": 1, "StorageCommitment": 1 } })",
       "Router.Destinations.a.StorageCommitment: must be true or false"},
      {R"("Transcoding": { "Quality": 80 })", "Router.Transcoding.Quality: must be an object"},
      {R"("Destinations": { "a": { "Type": "folder", "Path": "/x", "Window": { "From": "8:00", "To": "18:00" } } })",
       "Router.Destinations.a.Window.From: must be a local time \"HH:MM\""},
      {R"("Destinations": { "a": { "Type": "folder", "Path": "/x", "Window": [{ "From": "08:00", "To": "18:00", "Days": ["Sunday", "Mo"] }] } })",
       "Router.Destinations.a.Window[0].Days: unknown day \"Mo\""},
      {R"("Destinations": { "a": { "Type": "folder", "Path": "/x", "Window": { "From": "08:00", "To": "08:00" } } })",
       "Router.Destinations.a.Window.To: must differ from From"},
      {R"("Destinations": { "a": { "Type": "folder", "Path": "/x", "Window": { "From": "08:00", "Until": "09:00" } } })",
       "Router.Destinations.a.Window.Until: unknown key"},
      {R"("Transcoding": { "Quality": { "JPEGLSLossless": 2 } })",
       "Router.Transcoding.Quality.JPEGLSLossless: not a lossy target the appliance encodes (JPEGBaseline8Bit, "
       "JPEGExtended12Bit, HTJ2K, JPEG2000, JPEGLSNearLossless)"},
      {R"("Transcoding": { "Quality": { "HTJ2K": 0 } })", "Router.Transcoding.Quality.HTJ2K: must be a quality 1..100"},
      {R"("Transcoding": { "Quality": { "JPEG2000": "10" } })",
       "Router.Transcoding.Quality.JPEG2000: must be a compression ratio 1..1000"},
      {R"("Transcoding": { "Quality": { "JPEGLSNearLossless": 200 } })",
       "Router.Transcoding.Quality.JPEGLSNearLossless: must be NEAR"},
      {R"("Transcoding": { "Nice": 20 })", "Router.Transcoding.Nice: must be between 0 and 19"},
  };
  for (const Case& c : cases) {
    std::string error = errorOf(doc(c.body));
    EXPECT_NE(error.find(c.expected), std::string::npos) << "config: " << c.body << "\nerror: " << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << "one line: " << error;
  }
}

TEST_F(ConfigTest, LossyQualityByKeywordOrUid) {
  Config c = parseConfig(doc(R"("Transcoding": { "Quality": { "HTJ2K": 70, "1.2.840.10008.1.2.4.50": 85,
                                                               "JPEGLSNearLossless": 3 } })"));
  const std::map<std::string, int> expected{
      {ts::kHTJ2K, 70}, {ts::kJPEGBaseline8Bit, 85}, {ts::kJPEGLSNearLossless, 3}};
  EXPECT_EQ(c.transcoding.quality, expected);
  EXPECT_TRUE(parseConfig(doc("")).transcoding.quality.empty());
}

TEST_F(ConfigTest, WorkersYieldToOrthancByDefault) {
  EXPECT_EQ(parseConfig(doc("")).transcoding.nice, 10);
  EXPECT_EQ(parseConfig(doc(R"("Transcoding": { "Nice": 0 })")).transcoding.nice, 0);
}

TEST_F(ConfigTest, DeliveryWindows) {
  Config c = parseConfig(doc(R"("Destinations": {
      "research": { "Type": "folder", "Path": "/x", "Window": [ { "From": "20:00", "To": "06:00" },
                                                                { "From": "00:00", "To": "24:00", "Days": ["Sat", "sun"] } ] },
      "pacs": { "Type": "folder", "Path": "/y" } })"));
  const std::vector<DeliveryWindow>& w = c.destinations.at("research").windows;
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].fromMinute, 20 * 60);
  EXPECT_EQ(w[0].toMinute, 6 * 60);
  EXPECT_TRUE(w[0].weekdays.empty());
  EXPECT_EQ(w[1].toMinute, 24 * 60);
  EXPECT_EQ(w[1].weekdays, (std::set<int>{6, 0}));
  EXPECT_EQ(describe(w), "20:00-06:00; Sat,sun 00:00-24:00");
  EXPECT_TRUE(c.destinations.at("pacs").windows.empty());
}

TEST_F(ConfigTest, MissingRulesFolderOrSection) {
  EXPECT_NE(errorOf(parse(R"({ "Router": { "Rules": "/nonexistent/rules" } })")).find("Router.Rules: folder"),
            std::string::npos);
  EXPECT_NE(errorOf(parse(R"({ "Router": { } })")).find("Router.Rules: missing"), std::string::npos);
  EXPECT_NE(errorOf(parse(R"({ "DicomAet": "X" })")).find("Router: section missing"), std::string::npos);
}

}  // namespace
}  // namespace router
