// The delivery audit trail: one JSON line per outcome, appended, surviving a
// rotation (the file moved away), identifiers only.
#include <gtest/gtest.h>
#include <json/json.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "plugins/core/Error.h"
#include "plugins/core/delivery/AuditLog.h"
#include "tests/generator/TestSupport.h"

namespace router {
namespace {

using testdata::TempDir;

std::vector<Json::Value> readLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<Json::Value> lines;
  std::string text;
  while (std::getline(in, text)) {
    Json::Value value;
    std::istringstream stream(text);
    EXPECT_TRUE(Json::parseFromStream(Json::CharReaderBuilder(), stream, &value, nullptr)) << text;
    lines.push_back(value);
  }
  return lines;
}

TEST(AuditLogTest, OneJsonLinePerOutcome) {
  TempDir dir("router-audit-test");
  const std::string path = (dir / "audit.log").string();
  {
    AuditLog audit(path);
    EXPECT_TRUE(audit.record({"delivered", 7, "pacs", "1.2.3", "abc", "JPEGLSLossless", 1234, 56, 1, ""}));
    EXPECT_TRUE(audit.record({"retry", 8, "pacs", "1.2.4", "abd", "", 0, 0, 2, "connection refused"}));
  }
  AuditLog again(path);  // appends, never truncates
  EXPECT_TRUE(again.record({"dead", 9, "ai", "1.2.5", "abe", "", 0, 0, 1, "SOP class not supported (0x0122)"}));

  std::vector<Json::Value> lines = readLines(path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["outcome"].asString(), "delivered");
  EXPECT_EQ(lines[0]["job"].asInt64(), 7);
  EXPECT_EQ(lines[0]["destination"].asString(), "pacs");
  EXPECT_EQ(lines[0]["sop_instance_uid"].asString(), "1.2.3");
  EXPECT_EQ(lines[0]["transfer_syntax"].asString(), "JPEGLSLossless");
  EXPECT_EQ(lines[0]["bytes"].asUInt64(), 1234u);
  EXPECT_EQ(lines[0]["ms"].asInt64(), 56);
  EXPECT_EQ(lines[0]["time"].asString().size(), std::string("2026-11-23T12:00:00.000Z").size());
  EXPECT_EQ(lines[1]["detail"].asString(), "connection refused");
  EXPECT_EQ(lines[2]["outcome"].asString(), "dead");
  EXPECT_FALSE(lines[1].isMember("ms"));
}

TEST(AuditLogTest, ARotatedFileIsStartedAgain) {
  TempDir dir("router-audit-test");
  const std::string path = (dir / "audit.log").string();
  AuditLog audit(path);
  audit.record({"delivered", 1, "pacs", "1.1", "a", "ExplicitVRLittleEndian", 10, 1, 1, ""});
  std::filesystem::rename(path, path + ".1");  // what logrotate does without copytruncate
  audit.record({"delivered", 2, "pacs", "1.2", "b", "ExplicitVRLittleEndian", 10, 1, 1, ""});
  EXPECT_EQ(readLines(path + ".1").size(), 1u);
  ASSERT_EQ(readLines(path).size(), 1u);
  EXPECT_EQ(readLines(path)[0]["job"].asInt64(), 2);
}

TEST(AuditLogTest, AJobsTrailIsItsOwnLinesOldestFirstAcrossARotation) {
  TempDir dir("router-audit-test");
  const std::string path = (dir / "audit.log").string();
  AuditLog audit(path);
  audit.record({"retry", 42, "pacs", "1.1", "a", "", 0, 0, 1, "connection refused"});
  audit.record({"retry", 420, "pacs", "1.2", "b", "", 0, 0, 1, "not job 42"});
  std::filesystem::rename(path, path + ".1");  // logrotate moved it aside
  audit.record({"retry", 7, "pacs", "1.3", "c", "", 0, 0, 1, R"(peer said "job":42, once)"});
  audit.record({"delivered", 42, "pacs", "1.1", "a", "ExplicitVRLittleEndian", 10, 1, 2, ""});
  std::ofstream(path, std::ios::app) << "not json \"job\":42,\n";  // a damaged line is skipped

  std::vector<std::string> trail = audit.trailOf(42, 100);
  ASSERT_EQ(trail.size(), 2u);
  EXPECT_NE(trail[0].find("\"outcome\":\"retry\""), std::string::npos) << trail[0];
  EXPECT_NE(trail[1].find("\"outcome\":\"delivered\""), std::string::npos) << trail[1];
  EXPECT_EQ(audit.trailOf(42, 1).size(), 1u);  // the newest
  EXPECT_NE(audit.trailOf(42, 1)[0].find("delivered"), std::string::npos);
  EXPECT_TRUE(audit.trailOf(4, 100).empty());
}

TEST(AuditLogTest, LinesFromManyThreadsNeverInterleave) {
  TempDir dir("router-audit-test");
  const std::string path = (dir / "audit.log").string();
  AuditLog audit(path);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 250; ++i) {
        audit.record(
            {"delivered", t * 1000 + i, "d" + std::to_string(t), std::string(200, '1'), "x", "", 1, 1, 1, ""});
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(readLines(path).size(), 1000u);  // each parsed as one whole JSON object
}

TEST(AuditLogTest, AnUnwritablePlaceIsRefusedAtStart) {
  EXPECT_THROW(AuditLog("/nonexistent-folder/audit.log"), RouterError);
}

}  // namespace
}  // namespace router
