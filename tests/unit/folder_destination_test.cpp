// FolderDestination: files land under <Path>/<SOPInstanceUID>.dcm with the
// exact bytes, never partially under the final name, with safe names only;
// an unwritable folder is a retry that says why.
#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "plugins/core/destinations/Destination.h"
#include "plugins/core/Error.h"
#include "plugins/core/destinations/folder/FolderDestination.h"
#include "plugins/core/destinations/registry/Kinds.h"
#include "tests/unit/destination_settings.h"
#include "tests/generator/TestData.h"

namespace fs = std::filesystem;

namespace router {
namespace {

class FolderDestinationTest : public testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/folder-destination-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    root_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(root_, fs::perms::owner_all, ec);
    fs::remove_all(root_, ec);
  }
  DestinationConfig config(const std::string& path) {
    DestinationConfig c;
    c.name = "export";
    editSettings<FolderSettings>(c).path = path;
    return c;
  }
  static std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }
  std::string root_;
};

TEST_F(FolderDestinationTest, WritesExactBytesUnderUidName) {
  testdata::ImageSpec spec;
  spec.name = "ct";
  spec.sopInstanceUid = "1.2.826.0.1.3680043.8.498.1";
  std::string bytes = testdata::makeInstance(spec);
  auto destination = makeDestination(config(root_ + "/a/b"));  // folder created on demand
  EXPECT_TRUE(destination->probe());
  SendResult result = destination->send(Outgoing{bytes, "", spec.sopInstanceUid, ""});
  ASSERT_EQ(result.outcome, SendOutcome::Delivered) << result.detail;
  EXPECT_EQ(readFile(root_ + "/a/b/1.2.826.0.1.3680043.8.498.1.dcm"), bytes);
  // Nothing else (no temporary file) is left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(root_ + "/a/b"), fs::directory_iterator()), 1);
  // A resend replaces the file.
  std::string other = bytes + std::string(2, '\0');
  ASSERT_EQ(destination->send(Outgoing{other, "", spec.sopInstanceUid, ""}).outcome, SendOutcome::Delivered);
  EXPECT_EQ(readFile(root_ + "/a/b/1.2.826.0.1.3680043.8.498.1.dcm"), other);
}

TEST_F(FolderDestinationTest, TakesUidFromFileWhenNotGiven) {
  testdata::ImageSpec spec;
  spec.name = "mr";
  spec.modality = "MR";
  spec.sopInstanceUid = "1.2.3.4.5.6";
  std::string bytes = testdata::makeInstance(spec);
  FolderDestination destination(config(root_));
  ASSERT_EQ(destination.send(Outgoing{bytes, "", "", ""}).outcome, SendOutcome::Delivered);
  EXPECT_EQ(readFile(root_ + "/1.2.3.4.5.6.dcm"), bytes);
}

TEST_F(FolderDestinationTest, NoPartialFileUnderFinalName) {
  // A reader polling the folder while large files are written must only ever
  // see complete files under *.dcm names.
  FolderDestination destination(config(root_));
  std::string big(8 * 1024 * 1024, 'x');
  std::atomic<bool> done{false};
  std::atomic<int> partialSeen{0};
  std::atomic<int> completeSeen{0};
  std::thread reader([&] {
    while (!done) {
      for (const auto& entry : fs::directory_iterator(root_)) {
        std::string name = entry.path().filename().string();
        if (name.size() > 4 && name.substr(name.size() - 4) == ".dcm" && name[0] != '.') {
          std::error_code ec;
          auto size = fs::file_size(entry.path(), ec);
          if (ec) continue;
          if (size != big.size()) ++partialSeen;
          else ++completeSeen;
        }
      }
    }
  });
  for (int i = 0; i < 10; ++i) {
    std::string uid = "1.2.3." + std::to_string(i);
    SendResult result = destination.send(Outgoing{big, "", uid, ""});
    ASSERT_EQ(result.outcome, SendOutcome::Delivered) << result.detail;
  }
  done = true;
  reader.join();
  EXPECT_EQ(partialSeen, 0);
  EXPECT_GT(completeSeen, 0);
  int files = 0;
  for (const auto& entry : fs::directory_iterator(root_)) {
    ++files;
    EXPECT_NE(entry.path().filename().string()[0], '.') << "temporary file left: " << entry.path();
  }
  EXPECT_EQ(files, 10);
}

TEST_F(FolderDestinationTest, RefusesUnsafeUids) {
  FolderDestination destination(config(root_));
  std::string bytes = "not even DICOM";
  for (const std::string& uid : std::vector<std::string>{"../../etc/passwd", "1.2.3/4", "..", ".1.2", "1.2.", "1..2", "1.2.3a", "",
                          std::string(65, '1')}) {
    SCOPED_TRACE(uid);
    SendResult result = destination.send(Outgoing{bytes, "", uid, ""});
    EXPECT_EQ(result.outcome, SendOutcome::Permanent);
    EXPECT_NE(result.detail.find("not a valid UID"), std::string::npos) << result.detail;
  }
  EXPECT_TRUE(fs::is_empty(root_));
  EXPECT_TRUE(isSafeUid("1.2.840.10008.5.1.4.1.1.2"));
  EXPECT_TRUE(isSafeUid("0"));
}

TEST_F(FolderDestinationTest, UnwritableFolderIsRetryWithErrnoText) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores folder permissions";
  fs::create_directories(root_ + "/locked");
  fs::permissions(root_ + "/locked", fs::perms::owner_read | fs::perms::owner_exec);
  FolderDestination destination(config(root_ + "/locked"));
  EXPECT_FALSE(destination.probe());
  SendResult result = destination.send(Outgoing{std::string("x"), "", "1.2.3", ""});
  EXPECT_EQ(result.outcome, SendOutcome::Retry);
  EXPECT_NE(result.detail.find(root_ + "/locked"), std::string::npos) << result.detail;
  EXPECT_NE(result.detail.find("Permission denied"), std::string::npos) << result.detail;
}

TEST_F(FolderDestinationTest, PathThatIsAFileIsRetry) {
  // Works as root too: a regular file where the folder should be.
  std::ofstream(root_ + "/file") << "x";
  FolderDestination destination(config(root_ + "/file/sub"));
  EXPECT_FALSE(destination.probe());
  SendResult result = destination.send(Outgoing{std::string("x"), "", "1.2.3", ""});
  EXPECT_EQ(result.outcome, SendOutcome::Retry);
  EXPECT_NE(result.detail.find(root_ + "/file/sub"), std::string::npos) << result.detail;
  EXPECT_NE(result.detail.find("Not a directory"), std::string::npos) << result.detail;
}

TEST(DestinationFactory, MakesEveryType) {
  // Each kind from its own keys, as parseConfig() reads them.
  Json::Value keys(Json::objectValue);
  keys["Url"] = "http://127.0.0.1:1";
  keys["Path"] = "/tmp";
  keys["AET"] = "PACS";
  keys["Host"] = "127.0.0.1";
  keys["Port"] = 1;
  std::vector<std::string> made;
  for (const DestinationKind* kind : destinationKinds()) {
    Json::Value section(Json::objectValue);
    for (const std::string& key : kind->keys()) {
      if (keys.isMember(key)) section[key] = keys[key];
    }
    DestinationConfig c;
    c.name = "d";
    c.settings = kind->parse(ConfigSection(section, "d", kind->keys()), "");
    EXPECT_NE(makeDestination(c, DestinationContext{"ORTHANC"}), nullptr) << kind->name();
    made.push_back(c.kind());
  }
  EXPECT_EQ(made, (std::vector<std::string>{"dicom", "dicomweb", "orthanc", "folder"}));
}

TEST(FolderStartTest, TemporariesOfDeadProcessesAreRemovedAtStart) {
  auto dir = std::filesystem::temp_directory_path() / ("router-folder-stale-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  // pid 2^22+1 is above Linux's pid_max default range and cannot be alive.
  std::string stale = (dir / ".1.2.3.dcm.4194305.0.17.tmp").string();
  std::string mine = (dir / (".1.2.4.dcm." + std::to_string(::getpid()) + ".0.1.tmp")).string();
  std::string kept = (dir / "1.2.5.dcm").string();
  for (const auto& p : {stale, mine, kept}) std::ofstream(p) << "x";
  DestinationConfig c;
  c.name = "out";
  editSettings<FolderSettings>(c).path = dir.string();
  FolderDestination destination(c);
  EXPECT_FALSE(std::filesystem::exists(stale));
  EXPECT_TRUE(std::filesystem::exists(mine));
  EXPECT_TRUE(std::filesystem::exists(kept));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace router
