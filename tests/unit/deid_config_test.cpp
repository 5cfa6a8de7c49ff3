// Router.Deidentification: projects with their key file (refused when
// missing, short, or readable by every user), UID root, safe private tags,
// burned-in policy, patient identity mode and lookup; one clear error naming
// the key for every mistake.
#include <gtest/gtest.h>
#include <json/json.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "plugins/core/Error.h"
#include "plugins/core/config/Config.h"
#include "plugins/core/deid/KeyedHash.h"
#include "tests/unit/json_text.h"

namespace router {
namespace {

using testdata::parseJson;

class DeidConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("router-deid-config-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_ / "rules");
    key("trial.key", "0123456789abcdef0123456789abcdef\n", 0600);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string key(const std::string& name, const std::string& content, mode_t mode) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    ::chmod(path.c_str(), mode);
    return path;
  }

  Json::Value doc(const std::string& projects) {
    return parseJson("{ \"Router\": { \"Rules\": \"" + (dir_ / "rules").string() +
                 "\", \"Deidentification\": { \"Projects\": { " + projects + " } } } }");
  }

  std::string errorOf(const std::string& projects) {
    try {
      parseConfig(doc(projects), dir_.string());
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "no error";
  }

  std::filesystem::path dir_;
};

TEST_F(DeidConfigTest, ProjectsWithTheirSettings) {
  Config c = parseConfig(doc(R"(
    "trial-1": { "KeyFile": "trial.key", "UidRoot": "1.2.826.0.1.3680043.10.1234",
                 "SafePrivateTags": [ { "Group": "0019", "Creator": "SIEMENS MR HEADER", "Element": "0C" },
                                      { "Group": "0029", "Creator": "SIEMENS CSA HEADER", "Element": "xx10" } ],
                 "RefuseBurnedIn": true, "BurnedInModalities": ["US", "XC"],
                 "PatientIdentity": "table", "Lookup": true },
    "plain": { "KeyFile": ")" + (dir_ / "trial.key").string() + R"(" })"),
                         dir_.string());
  ASSERT_EQ(c.deidentification.projects.size(), 2u);
  const DeidProjectConfig& t = c.deidentification.projects.at("trial-1");
  EXPECT_EQ(t.name, "trial-1");
  EXPECT_EQ(t.keyFile, (dir_ / "trial.key").string());
  EXPECT_EQ(t.key, "0123456789abcdef0123456789abcdef");  // without the newline
  EXPECT_EQ(t.uidRoot, "1.2.826.0.1.3680043.10.1234");
  ASSERT_EQ(t.safePrivateTags.size(), 2u);
  EXPECT_EQ(t.safePrivateTags[0].group, 0x0019);
  EXPECT_EQ(t.safePrivateTags[0].creator, "SIEMENS MR HEADER");
  EXPECT_EQ(t.safePrivateTags[0].element, 0x0C);
  EXPECT_EQ(t.safePrivateTags[1].element, 0x10);
  EXPECT_TRUE(t.refuseBurnedIn);
  EXPECT_EQ(t.burnedInModalities, (std::vector<std::string>{"US", "XC"}));
  EXPECT_EQ(t.patientIdentity, PatientIdentityMode::Table);
  EXPECT_TRUE(t.lookup);
  const DeidProjectConfig& p = c.deidentification.projects.at("plain");
  EXPECT_TRUE(p.uidRoot.empty());
  EXPECT_TRUE(p.refuseBurnedIn);
  EXPECT_FALSE(p.burnedInModalities);
  EXPECT_EQ(p.patientIdentity, PatientIdentityMode::Keyed);
  EXPECT_FALSE(p.lookup);
  // No section: no project.
  EXPECT_TRUE(parseConfig(parseJson("{ \"Router\": { \"Rules\": \"" + (dir_ / "rules").string() + "\" } }"))
                  .deidentification.projects.empty());
}

TEST_F(DeidConfigTest, TheKeyFileIsRefusedWhenMissingShortOrReadableByAll) {
  key("short.key", "0123456789abcdef\n", 0600);
  key("open.key", "0123456789abcdef0123456789abcdef", 0644);
  key("group.key", "0123456789abcdef0123456789abcdef", 0640);
  const std::string at = "configuration error: Router.Deidentification.Projects.t.KeyFile: ";
  EXPECT_EQ(errorOf(R"("t": {})").rfind(at + "missing: a file holding the project's secret key", 0), 0u)
      << errorOf(R"("t": {})");
  EXPECT_NE(errorOf(R"("t": { "KeyFile": "nowhere.key" })").find(at + "\""), std::string::npos);
  EXPECT_NE(errorOf(R"("t": { "KeyFile": "nowhere.key" })").find("is not a file (make one: openssl rand -hex 32"),
            std::string::npos);
  EXPECT_NE(errorOf(R"("t": { "KeyFile": "short.key" })").find("holds 16 characters; a key needs at least 32"),
            std::string::npos);
  EXPECT_NE(errorOf(R"("t": { "KeyFile": "open.key" })").find("may be read or written by every user of the machine; chmod 600"),
            std::string::npos)
      << errorOf(R"("t": { "KeyFile": "open.key" })");
  EXPECT_EQ(errorOf(R"("t": { "KeyFile": "group.key" })"), "no error");  // Orthanc's group may read it
}

TEST_F(DeidConfigTest, EveryMistakeNamesItsKey) {
  struct Case {
    const char* projects;
    const char* message;
  };
  const Case cases[] = {
      {R"("t": { "KeyFile": "trial.key", "Keyfile": "x" })",
       "Router.Deidentification.Projects.t.Keyfile: unknown key (known keys: BurnedInModalities, KeyFile, Lookup,"},
      {R"("t t": { "KeyFile": "trial.key" })", "Router.Deidentification.Projects.t t: project names use letters"},
      {R"("t": "trial.key")", "Router.Deidentification.Projects.t: must be a JSON object with at least KeyFile"},
      {R"("t": { "KeyFile": "trial.key", "UidRoot": "1.2.x" })", "Projects.t.UidRoot: \"1.2.x\" must be digits and dots"},
      {R"("t": { "KeyFile": "trial.key", "UidRoot": "1.02.3" })", "Projects.t.UidRoot: \"1.02.3\" has a component with a leading zero"},
      {R"("t": { "KeyFile": "trial.key", "UidRoot": "1.2." })", "must not be empty or end with a dot"},
      {R"("t": { "KeyFile": "trial.key", "UidRoot": "1.2.826.0.1.3680043.10.1234.5678.9" })", "at most 32 leave room"},
      {R"("t": { "KeyFile": "trial.key", "SafePrivateTags": [ { "Group": "0018", "Creator": "X", "Element": "0C" } ] })",
       "Projects.t.SafePrivateTags[0].Group: a private group is odd"},
      {R"("t": { "KeyFile": "trial.key", "SafePrivateTags": [ { "Group": "0019", "Element": "0C" } ] })",
       "Projects.t.SafePrivateTags[0].Creator: missing"},
      {R"("t": { "KeyFile": "trial.key", "SafePrivateTags": [ { "Group": "0019", "Creator": "X", "Element": "100C" } ] })",
       "Projects.t.SafePrivateTags[0].Element: must be the element's low byte"},
      {R"("t": { "KeyFile": "trial.key", "SafePrivateTags": "0019" })", "Projects.t.SafePrivateTags: must be a list"},
      {R"("t": { "KeyFile": "trial.key", "RefuseBurnedIn": "no" })", "Projects.t.RefuseBurnedIn: must be true or false"},
      {R"("t": { "KeyFile": "trial.key", "BurnedInModalities": "US" })", "Projects.t.BurnedInModalities: must be a list"},
      {R"("t": { "KeyFile": "trial.key", "PatientIdentity": "hash" })", "Projects.t.PatientIdentity: must be \"keyed\""},
      {R"("t": { "KeyFile": "trial.key", "Lookup": 1 })", "Projects.t.Lookup: must be true or false"},
  };
  for (const Case& c : cases) {
    const std::string error = errorOf(c.projects);
    EXPECT_NE(error.find(c.message), std::string::npos) << c.projects << " -> " << error;
  }
  try {
    parseConfig(parseJson("{ \"Router\": { \"Rules\": \"" + (dir_ / "rules").string() +
                      "\", \"Deidentification\": { \"Project\": {} } } }"));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("Router.Deidentification.Project: unknown key (known keys: Projects)"),
              std::string::npos) << e.what();
  }
}

// A UID root gives "<root>.<digits>", at most 64 characters, the same for
// the same UID; without one, 2.25.<UUID>.
TEST(DeidUidRoot, UidsUnderTheOrganisationsRoot) {
  for (const std::string root : {"1.2.826.0.1.3680043.10.1234", "1.2.3", "1.2.826.0.1.3680043.10.1234.5678"}) {
    deid::KeyedHash hash("trial-1", "0123456789abcdef0123456789abcdef", root);
    const std::string uid = hash.uid("1.2.3.4.5");
    EXPECT_EQ(uid.rfind(root + ".", 0), 0u) << uid;
    EXPECT_LE(uid.size(), 64u) << uid;
    EXPECT_NE(uid[root.size() + 1], '0') << uid;
    EXPECT_EQ(uid, hash.uid("1.2.3.4.5"));
    EXPECT_NE(uid, hash.uid("1.2.3.4.6"));
  }
  deid::KeyedHash plain("trial-1", "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(plain.uid("1.2.3.4.5").rfind("2.25.", 0), 0u);
  EXPECT_THROW(deid::KeyedHash("t", "0123456789abcdef0123456789abcdef", "1..2"), ConfigError);
}

}  // namespace
}  // namespace router
