// The shipped rule sets (rules/default.lua and rules/examples/*), loaded from
// the source tree exactly as the router loads a folder, routed against
// generated instances: each gives the routes its comments promise.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "rule_test_support.h"
#include "transcoders/TransferSyntax.h"

namespace router {
namespace {

using ruletest::CapturingLog;
using ruletest::spec;
using ruletest::viewOf;

const std::string kRules = std::string(ROUTER_SOURCE_DIR) + "/rules";

struct Examples : ::testing::Test {
  CapturingLog log;

  // The example folder, plus optional extra files (e.g. a pinned clock).
  std::unique_ptr<RuleEngine> load(const std::string& example, const std::set<std::string>& destinations,
                                    const std::string& extraFile = "") {
    RuleSource source = RuleSource::loadDirectory(kRules + "/examples/" + example);
    if (!extraFile.empty()) source.files.push_back({"zz-test-clock.lua", extraFile});
    return std::make_unique<RuleEngine>(source, destinations, RuleLimits{}, log);
  }
};

// destination -> route, failing the test on a rule failure.
std::map<std::string, Route> routesOf(RuleEngine& engine, const InstanceView& view) {
  RouteDecision decision = engine.route(view);
  EXPECT_FALSE(decision.failure) << decision.failure->describe();
  std::map<std::string, Route> byDestination;
  for (Route& route : decision.routes) byDestination[route.destination] = route;
  return byDestination;
}

std::set<std::string> namesOf(const std::map<std::string, Route>& routes) {
  std::set<std::string> names;
  for (const auto& entry : routes) names.insert(entry.first);
  return names;
}

TEST_F(Examples, DefaultSendsEverythingToOutAsJpegLsLossless) {
  RuleSource source = RuleSource::loadDirectory(kRules);
  ASSERT_EQ(source.files.size(), 1u);  // the examples live in subfolders and are not loaded
  RuleEngine engine(source, {"out"}, RuleLimits{}, log);
  for (const testdata::ImageSpec& s : testdata::standardSuite()) {
    auto routes = routesOf(engine, viewOf(s));
    ASSERT_EQ(namesOf(routes), (std::set<std::string>{"out"})) << s.name;
    EXPECT_EQ(routes["out"].transferSyntax, ts::kJPEGLSLossless);
    EXPECT_TRUE(routes["out"].modify.empty());
  }
}

TEST_F(Examples, ByModalityAndCallingAet) {
  auto engine = load("by-modality-and-aet", {"pacs", "cloud", "export"});
  EXPECT_EQ(namesOf(routesOf(*engine, viewOf(spec("mr", "MR"), "MR3T"))), (std::set<std::string>{"pacs"}));
  testdata::ImageSpec us = spec("us", "US");
  us.bitsAllocated = us.bitsStored = 8;
  EXPECT_EQ(namesOf(routesOf(*engine, viewOf(us, "ECHO2"))), (std::set<std::string>{"cloud"}));
  EXPECT_EQ(namesOf(routesOf(*engine, viewOf(us, "US_ER"))), (std::set<std::string>{"pacs"}));
  EXPECT_EQ(namesOf(routesOf(*engine, viewOf(spec("mr", "MR"), "RES_7T"))), (std::set<std::string>{"export"}));
  EXPECT_TRUE(routesOf(*engine, viewOf(spec("ct", "CT"), "CT01")).empty());
}

TEST_F(Examples, CtToPacsAsJpegLsAndToAiFirst) {
  auto engine = load("ct-pacs-and-ai", {"pacs", "ai"});
  auto ct = routesOf(*engine, viewOf(spec("ct", "CT")));
  ASSERT_EQ(namesOf(ct), (std::set<std::string>{"pacs", "ai"}));
  EXPECT_EQ(ct["pacs"].transferSyntax, ts::kJPEGLSLossless);
  EXPECT_EQ(ct["ai"].transferSyntax, "");
  EXPECT_GT(ct["ai"].priority, ct["pacs"].priority);
  auto mr = routesOf(*engine, viewOf(spec("mr", "MR")));
  ASSERT_EQ(namesOf(mr), (std::set<std::string>{"pacs"}));
  EXPECT_EQ(mr["pacs"].transferSyntax, "");
}

TEST_F(Examples, SeriesToAiStudiesToTeleradiologyAndPriorsResent) {
  auto engine = load("studies", {"ai", "tele", "pacs"});
  auto ct = routesOf(*engine, viewOf(spec("ct", "CT"), "CT01"));
  ASSERT_EQ(namesOf(ct), (std::set<std::string>{"ai", "tele"}));
  EXPECT_EQ(ct["ai"].completion.level, RouteLevel::Series);
  EXPECT_EQ(ct["ai"].completion.quiet, std::chrono::seconds(30));
  EXPECT_EQ(ct["ai"].completion.expected, 0);  // the generator's CT states no ImagesInAcquisition
  EXPECT_EQ(ct["tele"].completion.level, RouteLevel::Study);
  EXPECT_EQ(ct["tele"].completion.maxWait, std::chrono::seconds(3600));
  EXPECT_EQ(ct["tele"].completion.late, LatePolicy::Alone);
  EXPECT_EQ(ct["tele"].transferSyntax, ts::kJPEGLSLossless);
  auto prior = routesOf(*engine, viewOf(spec("mr", "MR"), "ARCHIVE"));
  ASSERT_EQ(namesOf(prior), (std::set<std::string>{"tele", "pacs"}));
  EXPECT_EQ(prior["pacs"].completion.late, LatePolicy::Resend);
}

TEST_F(Examples, DoseReportsToTheRegistryWithoutPatientName) {
  auto engine = load("dose-registry", {"registry", "pacs"});
  testdata::ImageSpec dose = spec("dose", "SR");
  dose.noPixelData = true;
  dose.sopClassUid = "1.2.840.10008.5.1.4.1.1.88.67";
  auto routes = routesOf(*engine, viewOf(dose));
  ASSERT_EQ(namesOf(routes), (std::set<std::string>{"registry", "pacs"}));
  EXPECT_EQ(routes["registry"].modify, (TagEdits{{"PatientName", std::nullopt}}));
  EXPECT_TRUE(routes["pacs"].modify.empty());

  testdata::ImageSpec text = spec("text", "SR");
  text.noPixelData = true;  // a Basic Text SR: a report, not a dose
  EXPECT_EQ(namesOf(routesOf(*engine, viewOf(text))), (std::set<std::string>{"pacs"}));
  EXPECT_EQ(namesOf(routesOf(*engine, viewOf(spec("ct", "CT")))), (std::set<std::string>{"pacs"}));
}

TEST_F(Examples, VendorBridgingMorphsTagsPerSite) {
  auto engine = load("vendor-bridging", {"pacs"});
  testdata::ImageSpec ct = spec("ct", "CT");
  ct.accessionNumber = "12345";
  auto north = routesOf(*engine, viewOf(ct, "NORTH_CT"));
  EXPECT_EQ(north["pacs"].modify, (TagEdits{{"0009,0010", std::nullopt},
                                            {"AccessionNumber", "N12345"},
                                            {"InstitutionName", "North Hospital"},
                                            {"IssuerOfPatientID", "NORTH-HOSP"}}));
  auto south = routesOf(*engine, viewOf(ct, "SOUTH_CT"));
  EXPECT_EQ(south["pacs"].modify, (TagEdits{{"0009,0010", std::nullopt},
                                            {"AccessionNumber", "S12345"},
                                            {"InstitutionName", "South Clinic"},
                                            {"IssuerOfPatientID", "SOUTH-CLINIC"}}));
  auto unknown = routesOf(*engine, viewOf(ct, "VISITOR"));
  ASSERT_EQ(namesOf(unknown), (std::set<std::string>{"pacs"}));
  EXPECT_TRUE(unknown["pacs"].modify.empty());
  bool warned = false;
  for (const auto& [level, line] : log.lines()) {
    warned |= level == "warning" && line == "rules 20-route.lua:15: unknown sender VISITOR: archived unchanged";
  }
  EXPECT_TRUE(warned);
}

// now() pinned by an extra rule file, as the prelude documents.
std::string clockAt(int day, int hour, int minute) {
  return "function now() return os.time{ year = 2024, month = 1, day = " + std::to_string(day) +
         ", hour = " + std::to_string(hour) + ", min = " + std::to_string(minute) + " } end\n";
}

TEST_F(Examples, AfterHoursToTeleradiology) {
  const std::set<std::string> destinations = {"pacs", "telerad"};
  struct Case {
    int day, hour, minute;  // January 2024: the 15th is a Monday, the 20th a Saturday
    bool telerad;
  } cases[] = {{15, 12, 0, false}, {15, 7, 29, true}, {15, 7, 30, false}, {15, 17, 59, false},
               {15, 18, 0, true},  {16, 2, 0, true},  {20, 12, 0, true}};
  for (const Case& c : cases) {
    auto engine = load("after-hours", destinations, clockAt(c.day, c.hour, c.minute));
    auto ct = routesOf(*engine, viewOf(spec("ct", "CT")));
    SCOPED_TRACE(std::to_string(c.day) + " " + std::to_string(c.hour) + ":" + std::to_string(c.minute));
    EXPECT_EQ(ct.count("pacs"), 1u);
    EXPECT_EQ(ct.count("telerad"), c.telerad ? 1u : 0u);
    if (c.telerad) {
      EXPECT_EQ(ct["telerad"].transferSyntax, ts::kJPEG2000Lossless);
      EXPECT_GT(ct["telerad"].priority, ct["pacs"].priority);
    }
    testdata::ImageSpec sc = spec("sc", "OT");
    sc.bitsAllocated = sc.bitsStored = 8;
    EXPECT_EQ(namesOf(routesOf(*engine, viewOf(sc))), (std::set<std::string>{"pacs"}));
  }
}

TEST_F(Examples, NoRouteForTestPatients) {
  auto engine = load("test-patients", {"pacs", "cloud"});
  testdata::ImageSpec patient = spec("ct", "CT");
  patient.patientId = "P123";
  patient.patientName = "DOE^JANE";
  EXPECT_EQ(namesOf(routesOf(*engine, viewOf(patient))), (std::set<std::string>{"pacs", "cloud"}));
  for (auto [id, name] : {std::pair<const char*, const char*>{"TEST01", "DOE^JANE"}, {"QA-7", "X"}, {"P9", "PHANTOM^CT"}}) {
    testdata::ImageSpec test = patient;
    test.patientId = id;
    test.patientName = name;
    RouteDecision decision = engine->route(viewOf(test));
    EXPECT_FALSE(decision.failure) << id;
    EXPECT_TRUE(decision.routes.empty()) << id;
  }
  // "QA" without the dash is a real patient: the pattern escapes '-'.
  patient.patientId = "QAB";
  EXPECT_EQ(routesOf(*engine, viewOf(patient)).size(), 2u);
}

TEST_F(Examples, EveryExampleCompilesOnItsOwn) {
  for (const auto& entry : std::filesystem::directory_iterator(kRules + "/examples")) {
    if (!entry.is_directory()) continue;
    SCOPED_TRACE(entry.path().string());
    EXPECT_NO_THROW(RuleEngine(RuleSource::loadDirectory(entry.path().string()), {RuleEngine::kAnyDestination},
                               RuleLimits{}, log));
  }
}

}  // namespace
}  // namespace router
