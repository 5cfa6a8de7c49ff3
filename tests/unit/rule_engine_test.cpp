// The rule contract: what route(instance) sees (tags by keyword and number,
// origin, UIDs), how its answer becomes Routes (syntax keywords, modify with
// false, priority), how malformed answers, errors and compile problems are
// reported (file and line), RuleSource, the prelude helpers and log().
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "lua/RouteJson.h"
#include "rule_test_support.h"
#include "transcoders/TransferSyntax.h"

namespace router {
namespace {

using ruletest::CapturingLog;
using ruletest::sourceOf;
using ruletest::spec;
using ruletest::testDestinations;
using ruletest::viewOf;

struct Fixture : ::testing::Test {
  CapturingLog log;
  RuleEngine engine(const std::string& code) {
    return RuleEngine(sourceOf(code), testDestinations(), RuleLimits{}, log);
  }
};

// Route #1's modify value for key (rules echo what they saw through it).
std::string echoed(const RouteDecision& decision, const std::string& key) {
  EXPECT_FALSE(decision.failure) << decision.failure->describe();
  if (decision.failure || decision.routes.empty()) return "<no route>";
  for (const auto& [name, value] : decision.routes[0].modify) {
    if (name == key) return value ? *value : "<removed>";
  }
  return "<absent>";
}

TEST_F(Fixture, TagsByKeywordAndByNumber) {
  testdata::ImageSpec s = spec("mr", "MR");
  s.institutionName = "General Hospital";
  InstanceView view = viewOf(s);
  RuleEngine rules = engine(R"(
    function route(instance)
      local t = instance.tags
      return { { destination = "pacs", modify = {
        PatientComments = t.Modality .. "|" .. t["0008,0060"] .. "|" .. t["0008,0080"] .. "|" .. t.InstitutionName,
        StudyComments = tostring(t.NoSuchKeyword) .. "|" .. tostring(t["0009,0010"]) .. "|" .. tostring(t[42]),
        ImageComments = t["0008,0060"] .. t["0008,0060"] .. t["0020,000d"],
      } } }
    end)");
  RouteDecision decision = rules.route(view);
  EXPECT_EQ(echoed(decision, "PatientComments"), "MR|MR|General Hospital|General Hospital");
  EXPECT_EQ(echoed(decision, "StudyComments"), "nil|nil|nil");
  std::string studyUid;
  for (const TagValue& tag : view.tags) {
    if (tag.keyword == "StudyInstanceUID") studyUid = tag.value;
  }
  EXPECT_EQ(echoed(decision, "ImageComments"), "MRMR" + studyUid);
}

TEST_F(Fixture, PrivateTagsByNumberAndMultiValuedJoined) {
  InstanceView view;
  view.tags.push_back({0x0008, 0x0008, "ImageType", "ORIGINAL\\PRIMARY\\AXIAL"});
  view.tags.push_back({0x0029, 0x0010, "", "SIEMENS CSA HEADER"});
  view.tags.push_back({0x0029, 0x1008, "", "IMAGE NUM 4"});
  RuleEngine rules = engine(R"(
    function route(instance)
      local t = instance.tags
      return { { destination = "pacs", modify = {
        PatientComments = t["0029,0010"] .. "|" .. t["0029,1008"] .. "|" .. t.ImageType,
        StudyComments = tostring(has_value(t.ImageType, "PRIMARY")) .. tostring(has_value(t.ImageType, "PRIM")),
        ImageComments = table.concat(values(t.ImageType), "+"),
      } } }
    end)");
  RouteDecision decision = rules.route(view);
  EXPECT_EQ(echoed(decision, "PatientComments"), "SIEMENS CSA HEADER|IMAGE NUM 4|ORIGINAL\\PRIMARY\\AXIAL");
  EXPECT_EQ(echoed(decision, "StudyComments"), "truefalse");
  EXPECT_EQ(echoed(decision, "ImageComments"), "ORIGINAL+PRIMARY+AXIAL");
}

TEST_F(Fixture, PairsListsEveryTagByKeywordAndByNumber) {
  InstanceView view = viewOf(spec("ct", "CT"));
  size_t keywords = 0;
  for (const TagValue& tag : view.tags) keywords += tag.keyword.empty() ? 0 : 1;
  RuleEngine rules = engine(R"(
    function route(instance)
      local _ = instance.tags.Modality  -- one cached before the traversal
      local byKeyword, byNumber = 0, 0
      for key, value in pairs(instance.tags) do
        assert(type(value) == "string")
        if key:match("^%x%x%x%x,%x%x%x%x$") then byNumber = byNumber + 1 else byKeyword = byKeyword + 1 end
      end
      return { { destination = "pacs", modify = { PatientComments = byKeyword .. "/" .. byNumber } } }
    end)");
  EXPECT_EQ(echoed(rules.route(view), "PatientComments"),
            std::to_string(keywords) + "/" + std::to_string(view.tags.size()));
}

TEST_F(Fixture, InstanceFieldsAndOrigin) {
  testdata::ImageSpec s = spec("ct", "CT");
  InstanceView view = viewOf(s, "MODALITY_1");
  RuleEngine rules = engine(R"(
    function route(instance)
      local o = instance.origin
      return { { destination = "pacs", modify = {
        PatientComments = table.concat({ o.calling_aet, o.called_aet, o.remote_ip, o.protocol }, "|"),
        StudyComments = table.concat({ instance.id, instance.transfer_syntax, instance.sop_class_uid }, "|"),
        ImageComments = instance.sop_instance_uid,
      } } }
    end)");
  RouteDecision decision = rules.route(view);
  EXPECT_EQ(echoed(decision, "PatientComments"), "MODALITY_1|ROUTER|10.0.0.7|DicomProtocol");
  EXPECT_EQ(echoed(decision, "StudyComments"),
            "orthanc-id-ct|1.2.840.10008.1.2.1|1.2.840.10008.5.1.4.1.1.2");
  EXPECT_EQ(echoed(decision, "ImageComments"), testdata::withIdentity(s).sopInstanceUid);
}

TEST_F(Fixture, TheContractExample) {
  RuleEngine rules = engine(R"(
    function route(instance)
      if instance.tags.Modality ~= "CT" then return nil end
      return { { destination = "pacs", transfer_syntax = "JPEGLSLossless" },
               { destination = "cloud" },
               { destination = "export", modify = { InstitutionName = "Site B", PatientComments = false,
                                                    ["0010,1010"] = 42, ["0008,103e"] = 2.5 } },
               { destination = "ai", priority = 5, transfer_syntax = "1.2.840.10008.1.2.4.90" } }
    end)");
  RouteDecision decision = rules.route(viewOf(spec("ct", "CT")));
  ASSERT_FALSE(decision.failure) << decision.failure->describe();
  ASSERT_EQ(decision.routes.size(), 4u);
  EXPECT_EQ(decision.routes[0].destination, "pacs");
  EXPECT_EQ(decision.routes[0].transferSyntax, ts::kJPEGLSLossless);
  EXPECT_EQ(decision.routes[0].priority, 0);
  EXPECT_EQ(decision.routes[1].destination, "cloud");
  EXPECT_EQ(decision.routes[1].transferSyntax, "");  // as received
  EXPECT_TRUE(decision.routes[1].modify.empty());
  const TagEdits expected = {{"0008,103E", "2.5"},
                             {"0010,1010", "42"},
                             {"InstitutionName", "Site B"},
                             {"PatientComments", std::nullopt}};
  EXPECT_EQ(decision.routes[2].modify, expected);
  EXPECT_EQ(decision.routes[3].destination, "ai");
  EXPECT_EQ(decision.routes[3].priority, 5);
  EXPECT_EQ(decision.routes[3].transferSyntax, ts::kJPEG2000Lossless);

  RouteDecision none = rules.route(viewOf(spec("mr", "MR")));
  EXPECT_FALSE(none.failure);
  EXPECT_TRUE(none.routes.empty());
}

TEST_F(Fixture, RoutesMayWaitForTheirSeriesOrStudy) {
  RuleEngine rules = engine(R"(
    function route(instance)
      return { { destination = "ai", when = "series", quiet = 20, expected = 120 },
               { destination = "pacs", when = "study", max_wait = 900, late = "resend", priority = 2 },
               { destination = "cloud", when = "instance", urgent = true },
               { destination = "export" } }
    end)");
  RouteDecision decision = rules.route(viewOf(spec("ct", "CT")));
  ASSERT_FALSE(decision.failure) << decision.failure->describe();
  ASSERT_EQ(decision.routes.size(), 4u);
  const Completion& ai = decision.routes[0].completion;
  EXPECT_EQ(ai.level, RouteLevel::Series);
  EXPECT_EQ(ai.quiet, std::chrono::seconds(20));
  EXPECT_EQ(ai.maxWait, Completion::kDefaultMaxWait);
  EXPECT_EQ(ai.expected, 120);
  EXPECT_EQ(ai.late, LatePolicy::Batch);
  const Completion& pacs = decision.routes[1].completion;
  EXPECT_EQ(pacs.level, RouteLevel::Study);
  EXPECT_EQ(pacs.quiet, Completion::kDefaultQuiet);
  EXPECT_EQ(pacs.maxWait, std::chrono::seconds(900));
  EXPECT_EQ(pacs.late, LatePolicy::Resend);
  EXPECT_EQ(decision.routes[1].priority, 2);
  EXPECT_EQ(decision.routes[2].completion.level, RouteLevel::Instance);
  EXPECT_TRUE(decision.routes[2].urgent);
  EXPECT_FALSE(decision.routes[3].urgent);
  EXPECT_EQ(decision.routes[3].completion.level, RouteLevel::Instance);
}

TEST_F(Fixture, AStudyRouteNamesItsRequiredSeriesAndEachInstanceSaysWhichItMeets) {
  RuleEngine rules = engine(R"(
    function route(instance)
      return { { destination = "pacs", when = "study",
                 required = { "CT", { Modality = "PT", SeriesDescription = "*whole body*" },
                              { ["0020,0011"] = 7 } } } }
    end)");
  testdata::ImageSpec ct = spec("ct", "CT");
  RouteDecision decision = rules.route(viewOf(ct));
  ASSERT_FALSE(decision.failure) << decision.failure->describe();
  const Completion& c = decision.routes.at(0).completion;
  ASSERT_EQ(c.required.size(), 3u);
  EXPECT_EQ(c.required[0].describe(), "Modality=CT");
  EXPECT_EQ(c.required[1].describe(), "Modality=PT, SeriesDescription=*whole body*");
  EXPECT_EQ(c.required[2].describe(), "0020,0011=7");
  EXPECT_EQ(c.requiredMet, 1u);

  InstanceView pet = viewOf(spec("pt", "PT"));
  auto set = [&](uint16_t group, uint16_t element, const char* keyword, const char* value) {
    for (TagValue& tag : pet.tags) {
      if (tag.group == group && tag.element == element) {
        tag.value = value;
        return;
      }
    }
    pet.tags.push_back({group, element, keyword, value});
  };
  set(0x0008, 0x103e, "SeriesDescription", "PET WHOLE BODY AC ");
  set(0x0020, 0x0011, "SeriesNumber", "7");
  EXPECT_EQ(rules.route(pet).routes.at(0).completion.requiredMet, 6u);  // patterns ignore case and padding
  InstanceView ctAsPart = viewOf(ct);
  for (TagValue& tag : ctAsPart.tags) {
    if (tag.keyword == "Modality") tag.value = "PT\\CT";  // any one value of several
  }
  EXPECT_EQ(rules.route(ctAsPart).routes.at(0).completion.requiredMet, 1u);
}

StudySummary twoSeriesStudy() {
  auto view = [](const char* modality, const char* description, const char* number) {
    InstanceView v;
    v.tags = {{0x0008, 0x0060, "Modality", modality},
              {0x0008, 0x103e, "SeriesDescription", description},
              {0x0010, 0x0020, "PatientID", "P1"},
              {0x0020, 0x0011, "SeriesNumber", number}};
    return v;
  };
  StudySummary study;
  study.uid = "1.2.9";
  study.instances = 5;
  study.senders = {"CT01", "PET02"};
  study.first = view("CT", "CHEST", "1");
  study.series = {{"1.2.9.1", 3, view("CT", "CHEST", "1")}, {"1.2.9.2", 2, view("PT", "WB AC", "2")}};
  return study;
}

TEST_F(Fixture, RouteStudyDecidesOnTheSummaryOfACompleteStudy) {
  RuleEngine rules = engine(R"(
    study_complete = { quiet = 90, max_wait = 1800, required = { "CT", "PT" }, late = "resend" }
    function route_study(study)
      local pet = {}
      for _, s in ipairs(study.series) do
        if s.modality == "PT" then pet[#pet + 1] = s.uid end
      end
      return { { destination = "pacs" },
               { destination = "ai", series = pet, transfer_syntax = "JPEGLSLossless", priority = 3,
                 modify = { InstitutionName = study.tags.PatientID .. "/" .. #study.senders .. "/" ..
                            study.series[2].tags.SeriesDescription .. "/" .. study.instances } } }
    end)");
  ASSERT_TRUE(rules.studyCompletion());
  EXPECT_EQ(rules.studyCompletion()->quiet, std::chrono::seconds(90));
  EXPECT_EQ(rules.studyCompletion()->maxWait, std::chrono::seconds(1800));
  EXPECT_EQ(rules.studyCompletion()->late, LatePolicy::Resend);
  ASSERT_EQ(rules.studyCompletion()->required.size(), 2u);
  // No route(): nothing per instance; each instance joins its study's decision.
  InstanceView pt = twoSeriesStudy().series[1].first;
  EXPECT_TRUE(rules.route(pt).routes.empty());
  Route joining = rules.studyDecisionRoute(pt);
  EXPECT_EQ(joining.destination, kStudyDecision);
  EXPECT_EQ(joining.completion.level, RouteLevel::Study);
  EXPECT_EQ(joining.completion.requiredMet, 2u);

  RouteDecision decision = rules.routeStudy(twoSeriesStudy());
  ASSERT_FALSE(decision.failure) << decision.failure->describe();
  ASSERT_EQ(decision.routes.size(), 2u);
  EXPECT_TRUE(decision.routes[0].series.empty());  // the whole study
  EXPECT_EQ(decision.routes[1].series, std::vector<std::string>{"1.2.9.2"});
  EXPECT_EQ(decision.routes[1].priority, 3);
  EXPECT_EQ(decision.routes[1].modify, (TagEdits{{"InstitutionName", "P1/2/WB AC/5"}}));
}

TEST_F(Fixture, RouteStudyAnswersAreCheckedLikeRoutes) {
  struct Case {
    const char* answer;
    const char* messagePart;
  };
  const Case cases[] = {
      {R"({ { destination = "pacs", series = { "9.9" } } })", "series #1 \"9.9\" is not a series of this study"},
      {R"({ { destination = "pacs", series = {} } })", "series is empty: leave it out to send the whole study"},
      {R"({ { destination = "pacs", when = "study" } })", "when, quiet, max_wait, expected, required and late do not apply"},
      {R"({ { destination = "nowhere" } })", "destination \"nowhere\" is not configured"},
  };
  for (const Case& c : cases) {
    RuleEngine rules = engine(std::string("function route_study(study)\n  return ") + c.answer + "\nend\n");
    RouteDecision decision = rules.routeStudy(twoSeriesStudy());
    ASSERT_TRUE(decision.failure) << c.answer;
    EXPECT_NE(decision.failure->message.find(c.messagePart), std::string::npos)
        << c.answer << " -> " << decision.failure->message;
  }
  // series belongs to route_study()'s answers only.
  RuleEngine plain = engine("function route(i) return { { destination = 'pacs', series = { '1' } } } end");
  EXPECT_NE(plain.route(InstanceView{}).failure->message.find("series applies only to the routes route_study"),
            std::string::npos);
  // A runtime error names its line.
  RuleEngine failing = engine("function route_study(study)\n  return study.nothing.here\nend\n");
  RouteDecision failed = failing.routeStudy(twoSeriesStudy());
  ASSERT_TRUE(failed.failure);
  EXPECT_EQ(failed.failure->line, 2);
  // A bad study_complete refuses the rules, with the reason.
  for (const auto& [code, part] : std::vector<std::pair<std::string, std::string>>{
           {"study_complete = { late = 'alone' }", "late must be \"batch\" or \"resend\""},
           {"study_complete = { quiet = -1 }", "quiet must be a whole number of seconds"},
           {"study_complete = { wait = 3 }", "unknown field \"wait\""},
           {"study_complete = 5", "study_complete must be a table"}}) {
    try {
      engine(code + "\nfunction route_study(study) return {} end");
      ADD_FAILURE() << code;
    } catch (const RuleCompileError& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  }
}

TEST_F(Fixture, EveryKnownSyntaxKeywordResolves) {
  for (const TransferSyntaxInfo& info : knownTransferSyntaxes()) {
    if (!info.canEncode) continue;
    RuleEngine rules = engine(std::string("function route() return { { destination = 'pacs', transfer_syntax = '") +
                              info.keyword + "' } } end");
    RouteDecision decision = rules.route(InstanceView{});
    ASSERT_FALSE(decision.failure) << info.keyword << ": " << decision.failure->describe();
    EXPECT_EQ(decision.routes.at(0).transferSyntax, info.uid);
  }
}

TEST_F(Fixture, EmptyListAndNilAreNoRoute) {
  for (const char* answer : {"{}", "nil", ""}) {
    RuleEngine rules = engine(std::string("function route(instance)\n return ") + answer + "\nend");
    RouteDecision decision = rules.route(InstanceView{});
    EXPECT_FALSE(decision.failure) << answer;
    EXPECT_TRUE(decision.routes.empty());
  }
}

struct Malformed {
  const char* answer;
  const char* messagePart;
};

TEST_F(Fixture, MalformedAnswersFailWithTheRouteFunctionsFileAndLine) {
  const Malformed cases[] = {
      {R"("pacs")", "must return a list of routes (a table) or nil, not \"pacs\""},
      {R"({ destination = "pacs" })", "returned one route; return a list of routes"},
      {R"({ { destination = "nowhere" } })", "destination \"nowhere\" is not configured (configured: ai, cloud, export, out, pacs)"},
      {R"({ { destination = "pacs" }, { destination = "pacs", priority = 2 } })", "route #2: destination \"pacs\" is named twice"},
      {R"({ { destination = "pacs", transfer_syntax = "JPEG-LS" } })", "route #1: unknown transfer syntax \"JPEG-LS\""},
      {R"({ { destination = "pacs", transfer_syntax = "ExplicitVRBigEndian" } })", "cannot produce transfer syntax ExplicitVRBigEndian"},
      {R"({ { destination = "pacs", transfersyntax = "JPEGLSLossless" } })", "route #1: unknown field \"transfersyntax\""},
      {R"({ { transfer_syntax = "JPEGLSLossless" } })", "route #1: has no destination"},
      {R"({ { destination = 7 } })", "destination must be a string, not 7"},
      {R"({ "pacs" })", "route #1: must be a table like { destination = \"name\" }, not \"pacs\""},
      {R"({ { destination = "pacs" }, x = 1 })", "a table with the key \"x\""},
      {R"({ { destination = "pacs", priority = 1.5 } })", "priority must be a whole number"},
      {R"({ { destination = "pacs", modify = { InstitutionNam = "x" } } })", "modify: \"InstitutionNam\" is not a DICOM keyword"},
      {R"({ { destination = "pacs", modify = { PatientName = true } } })", "modify: PatientName must be a string, a number, or false to remove it, not true"},
      {R"({ { destination = "pacs", modify = { PatientName = {} } } })", "not a table"},
      {R"({ { destination = "pacs", modify = { PixelData = false } } })", "PixelData cannot be edited by rules"},
      {R"({ { destination = "pacs", modify = { ["0002,0010"] = "1.2" } } })", "0002,0010 cannot be edited"},
      {R"({ { destination = "pacs", modify = "PatientName" } })", "modify must be a table"},
      {R"({ { destination = "pacs", when = "serie" } })", "when must be \"instance\", \"series\" or \"study\", not \"serie\""},
      {R"({ { destination = "pacs", quiet = 30 } })", "route #1: quiet applies only with when = \"series\" or \"study\""},
      {R"({ { destination = "pacs", when = "series", quiet = 0 } })", "quiet must be a whole number of seconds, 1..604800, not 0"},
      {R"({ { destination = "pacs", when = "series", max_wait = 0/0 } })", "max_wait must be a whole number of seconds"},
      {R"({ { destination = "pacs", when = "study", expected = 2.5 } })", "expected must be a whole number of instances"},
      {R"({ { destination = "pacs", when = "study", late = "again" } })", "late must be \"batch\", \"alone\" or \"resend\""},
      {R"({ { destination = "pacs", urgent = "yes" } })", "urgent must be true or false, not \"yes\""},
      {R"({ { destination = "pacs", when = "series", required = { "CT" } } })", "required applies only with when = \"study\""},
      {R"({ { destination = "pacs", when = "study", required = "CT" } })", "required must be a list of series"},
      {R"({ { destination = "pacs", when = "study", required = {} } })", "required lists 1 to 16 series, not 0"},
      {R"({ { destination = "pacs", when = "study", required = { {} } } })", "required #1: an empty table matches every series"},
      {R"({ { destination = "pacs", when = "study", required = { { Modalty = "CT" } } } })", "required #1: the key \"Modalty\" is not a DICOM keyword"},
      {R"({ { destination = "pacs", when = "study", required = { "CT", 3 } } })", "required #2: must be a modality string or a table of patterns, not 3"},
      {R"({ { destination = "pacs", when = "study", required = { { Modality = true } } } })", "required #1: Modality must be a pattern string, not true"},
  };
  for (const Malformed& c : cases) {
    RuleEngine rules = engine(std::string("\n\nfunction route(instance)\n  return ") + c.answer + "\nend\n");
    RouteDecision decision = rules.route(InstanceView{});
    ASSERT_TRUE(decision.failure) << c.answer;
    EXPECT_EQ(decision.failure->file, "10-rules.lua") << c.answer;
    EXPECT_EQ(decision.failure->line, 3) << c.answer;  // where route() is defined
    EXPECT_NE(decision.failure->message.find(c.messagePart), std::string::npos)
        << c.answer << " -> " << decision.failure->message;
    EXPECT_TRUE(decision.routes.empty());
    // The engine is still usable.
    EXPECT_TRUE(rules.route(InstanceView{}).failure);
  }
}

TEST_F(Fixture, RuntimeErrorNamesFileAndLineOnce) {
  RuleEngine rules = engine("function route(instance)\n  local x = nil\n  return x.field\nend\n");
  RouteDecision decision = rules.route(InstanceView{});
  ASSERT_TRUE(decision.failure);
  EXPECT_EQ(decision.failure->file, "10-rules.lua");
  EXPECT_EQ(decision.failure->line, 3);
  EXPECT_EQ(decision.failure->describe(), "10-rules.lua:3: attempt to index a nil value (local 'x')");
}

TEST_F(Fixture, ErrorsInHelpersAndNestedFunctionsPointAtTheRuleLine) {
  RuleSource source = sourceOf({{"10-helpers.lua", "function check(v)\n  error('bad value ' .. v)\nend\n"},
                                {"20-route.lua", "function route(instance)\n  if match(nil, 5) then end\n  return {}\nend\n"},
                                {"30-wrap.lua", "local inner = route\nfunction route(i)\n  check('x')\nend\n"}});
  RuleEngine rules(source, testDestinations(), RuleLimits{}, log);
  RouteDecision decision = rules.route(InstanceView{});
  ASSERT_TRUE(decision.failure);
  EXPECT_EQ(decision.failure->describe(), "10-helpers.lua:2: bad value x");

  RuleSource helperMisuse = sourceOf({{"20-route.lua", "function route(instance)\n\n  if match('CT', 5) then end\n  return {}\nend\n"}});
  RuleEngine misuse(helperMisuse, testDestinations(), RuleLimits{}, log);
  decision = misuse.route(InstanceView{});
  ASSERT_TRUE(decision.failure);
  EXPECT_EQ(decision.failure->file, "20-route.lua");
  EXPECT_EQ(decision.failure->line, 3);
  EXPECT_NE(decision.failure->message.find("must be a Lua pattern or a list of strings"), std::string::npos)
      << decision.failure->message;
}

TEST_F(Fixture, ErrorWithANonStringObjectOrLevelZero) {
  RuleEngine rules = engine("function route(instance)\n  if instance.id == 'a' then error({ code = 1 }) end\n  error('plain', 0)\nend\n");
  InstanceView a;
  a.id = "a";
  RouteDecision decision = rules.route(a);
  ASSERT_TRUE(decision.failure);
  EXPECT_EQ(decision.failure->describe(), "10-rules.lua:2: error object is a table value");
  decision = rules.route(InstanceView{});
  ASSERT_TRUE(decision.failure);
  EXPECT_EQ(decision.failure->describe(), "10-rules.lua:3: plain");
}

TEST_F(Fixture, FilesShareOneEnvironmentInNameOrderAndALaterFileWrapsRoute) {
  RuleSource source = sourceOf({{"10-base.lua", R"(
      SITE = "A"
      function route(instance) return { { destination = "pacs" } } end)"},
                                {"20-also-cloud.lua", R"(
      local base = route
      function route(instance)
        local routes = base(instance)
        routes[#routes + 1] = { destination = "cloud", modify = { InstitutionName = SITE } }
        return routes
      end)"}});
  RuleEngine rules(source, testDestinations(), RuleLimits{}, log);
  RouteDecision decision = rules.route(InstanceView{});
  ASSERT_FALSE(decision.failure) << decision.failure->describe();
  ASSERT_EQ(decision.routes.size(), 2u);
  EXPECT_EQ(decision.routes[0].destination, "pacs");
  EXPECT_EQ(decision.routes[1].destination, "cloud");
  EXPECT_EQ(decision.routes[1].modify, (TagEdits{{"InstitutionName", "A"}}));
}

TEST_F(Fixture, SyntaxErrorIsACompileErrorWithFileAndLine) {
  RuleSource source = sourceOf({{"10-ok.lua", "x = 1\n"},
                                {"20-broken.lua", "function route(instance)\n  if then\nend\n"}});
  try {
    RuleEngine rules(source, testDestinations(), RuleLimits{}, log);
    FAIL() << "compiled";
  } catch (const RuleCompileError& e) {
    EXPECT_EQ(e.failure().file, "20-broken.lua");
    EXPECT_EQ(e.failure().line, 2);
    EXPECT_NE(e.failure().message.find("unexpected symbol near 'then'"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()), e.failure().describe());
  }
}

TEST_F(Fixture, TopLevelErrorAndMissingRouteAreCompileErrors) {
  try {
    RuleEngine rules(sourceOf("local t = nil\n\nprint(t.x)\n"), testDestinations(), RuleLimits{}, log);
    FAIL() << "compiled";
  } catch (const RuleCompileError& e) {
    EXPECT_EQ(e.failure().describe(), "10-rules.lua:3: attempt to index a nil value (local 't')");
  }
  try {
    RuleEngine rules(sourceOf("function rout(instance) end\n"), testDestinations(), RuleLimits{}, log);
    FAIL() << "compiled";
  } catch (const RuleCompileError& e) {
    EXPECT_NE(std::string(e.what()).find("no rule file defines the global function route(instance)"), std::string::npos);
  }
  try {
    RuleEngine rules(sourceOf("route = 5\n"), testDestinations(), RuleLimits{}, log);
    FAIL() << "compiled";
  } catch (const RuleCompileError& e) {
    EXPECT_NE(std::string(e.what()).find("route must be a function"), std::string::npos);
  }
}

TEST_F(Fixture, RouteReplacedByARuleAtRunTime) {
  RuleEngine rules = engine("function route(instance)\n  route = nil\n  return {}\nend\n");
  EXPECT_FALSE(rules.route(InstanceView{}).failure);
  RouteDecision decision = rules.route(InstanceView{});
  ASSERT_TRUE(decision.failure);
  EXPECT_NE(decision.failure->message.find("route is no longer a function"), std::string::npos);
}

TEST_F(Fixture, AnyDestinationAcceptsEveryName) {
  RuleEngine rules(sourceOf("function route() return { { destination = 'whatever' } } end"),
                   {RuleEngine::kAnyDestination}, RuleLimits{}, log);
  RouteDecision decision = rules.route(InstanceView{});
  ASSERT_FALSE(decision.failure);
  EXPECT_EQ(decision.routes.at(0).destination, "whatever");

  RuleEngine none(sourceOf("function route() return { { destination = 'pacs' } } end"), {}, RuleLimits{}, log);
  decision = none.route(InstanceView{});
  ASSERT_TRUE(decision.failure);
  EXPECT_NE(decision.failure->message.find("no destination is configured"), std::string::npos);
}

// Short answers are checked for a repeated destination by a scan, long ones
// (possible with any destination allowed) by a set: both find the repeat.
TEST_F(Fixture, RepeatedDestinationIsFoundInShortAndLongAnswers) {
  RuleEngine rules(sourceOf(R"(
    function route(instance)
      local n, repeated = tonumber(instance.id), instance.sop_class_uid
      local list = {}
      for k = 1, n do list[k] = { destination = "d" .. k } end
      if repeated ~= "" then list[n + 1] = { destination = repeated } end
      return list
    end)"),
                   {RuleEngine::kAnyDestination}, RuleLimits{}, log);
  for (int n : {3, 16, 40}) {
    InstanceView view;
    view.id = std::to_string(n);
    RouteDecision decision = rules.route(view);
    ASSERT_FALSE(decision.failure) << decision.failure->describe();
    EXPECT_EQ(decision.routes.size(), size_t(n));
    view.sopClassUid = "d2";
    decision = rules.route(view);
    ASSERT_TRUE(decision.failure) << n;
    EXPECT_NE(decision.failure->message.find("route #" + std::to_string(n + 1) + ": destination \"d2\" is named twice"),
              std::string::npos)
        << decision.failure->message;
  }
}

TEST_F(Fixture, KeptInstanceTablesDoNotReadTheNextInstance) {
  RuleEngine rules = engine(R"(
    function route(instance)
      local answer = "first"
      if previous then answer = tostring(previous.tags.Modality) .. "/" .. tostring(previous.tags.PatientID) end
      previous = instance
      local _ = instance.tags.Modality
      return { { destination = "pacs", modify = { PatientComments = answer } } }
    end)");
  EXPECT_EQ(echoed(rules.route(viewOf(spec("ct", "CT"))), "PatientComments"), "first");
  // The kept table still has what it cached, and nothing of the new instance.
  EXPECT_EQ(echoed(rules.route(viewOf(spec("mr", "MR"))), "PatientComments"), "CT/nil");
}

TEST_F(Fixture, LogAndWarnGoToTheRouterLogWithFileAndLine) {
  RuleEngine rules = engine("log('loaded')\nfunction route(instance)\n  warn('odd instance', 42, nil)\n  print('p')\n  return {}\nend\n");
  rules.route(InstanceView{});
  auto lines = log.lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], (std::pair<std::string, std::string>{"info", "rules 10-rules.lua:1: loaded"}));
  EXPECT_EQ(lines[1], (std::pair<std::string, std::string>{"warning", "rules 10-rules.lua:3: odd instance 42 nil"}));
  EXPECT_EQ(lines[2], (std::pair<std::string, std::string>{"info", "rules 10-rules.lua:4: p"}));
}

TEST_F(Fixture, LogFloodIsCappedPerCall) {
  RuleEngine rules = engine("function route(instance)\n  for i = 1, 100000 do log('line', i) end\n  return {}\nend\n");
  EXPECT_FALSE(rules.route(InstanceView{}).failure);
  EXPECT_FALSE(rules.route(InstanceView{}).failure);
  auto lines = log.lines();
  EXPECT_EQ(lines.size(), 2u * 51u);
  EXPECT_NE(lines[50].second.find("more than 50 log lines in one call"), std::string::npos) << lines[50].second;
  EXPECT_EQ(lines[51].second, "rules 10-rules.lua:2: line 1");
}

TEST_F(Fixture, PreludeHelpers) {
  RuleEngine rules = engine(R"(
    local function b(v) return v and "1" or "0" end
    function route(instance)
      local t = instance.tags
      local monday_23h = os.time{ year = 2024, month = 1, day = 15, hour = 23, min = 10 }
      local monday_12h = os.time{ year = 2024, month = 1, day = 15, hour = 12, min = 0 }
      local saturday = os.time{ year = 2024, month = 1, day = 20, hour = 12 }
      local checks = {
        b(match(t.Modality, "^C")), b(match(t.Modality, {"MR", "CT"})), b(match(nil, "x")), b(match(t.Modality, "^T")),
        b(one_of(t.Modality, {"CT"})), b(one_of(nil, {"CT"})),
        b(starts_with(t.PatientID, "TEST.")), b(starts_with(nil, "x")), b(ends_with("abc", "bc")), b(contains("a.b", ".")),
        b(between_hours(18, 7, monday_23h)), b(between_hours(18, 7, monday_12h)), b(between_hours(7.5, 12.25, monday_12h)),
        b(between_hours(8, 17, monday_12h)), b(is_weekend(saturday)), b(is_weekend(monday_12h)),
      }
      local r = route_to("pacs", { transfer_syntax = "JPEGLSLossless", priority = 3 })
      r.modify = { PatientComments = table.concat(checks), StudyComments = transfer_syntax_uid("RLELossless") .. "|" .. tostring(transfer_syntax_uid("x")) }
      return { r }
    end)");
  testdata::ImageSpec s = spec("ct", "CT");
  s.patientId = "TEST.7";
  RouteDecision decision = rules.route(viewOf(s));
  EXPECT_EQ(echoed(decision, "PatientComments"), "1100" "10" "1011" "1011" "10");
  EXPECT_EQ(echoed(decision, "StudyComments"), std::string(ts::kRLELossless) + "|nil");
  EXPECT_EQ(decision.routes.at(0).transferSyntax, ts::kJPEGLSLossless);
  EXPECT_EQ(decision.routes.at(0).priority, 3);
}

// has_value() finds the value in place (no list, no pattern): it must answer
// exactly what one_of(wanted, values(value)) answers, empty values, stray
// backslashes and non-string arguments included.
TEST_F(Fixture, HasValueAnswersAsOneOfValues) {
  RuleEngine rules = engine(R"(
    function route(instance)
      local texts = { "ORIGINAL\\PRIMARY\\AXIAL", "PRIMARY", "", "\\", "\\\\", "A\\", "\\A", "A\\\\B", "AA\\A",
                      "A\\AA", "PRIMARYX\\XPRIMARY", "1\\2.5\\3", "a.b\\a%b", 12, 2.5, true, nil }
      local wanted = { "PRIMARY", "A", "", "AA", "A\\B", "\\", "B", "2.5", 12, 3, "a.b", "a%b", ".", true, nil }
      local mismatches, checks = {}, 0
      for i = 1, 17 do
        for j = 1, 15 do
          local v, w = texts[i], wanted[j]
          checks = checks + 1
          if has_value(v, w) ~= one_of(w, values(v)) then
            mismatches[#mismatches + 1] = tostring(v) .. "|" .. tostring(w)
          end
        end
      end
      local t = instance.tags
      local direct = tostring(has_value(t.ImageType, "PRIMARY")) .. tostring(has_value(t.ImageType, "PRIM"))
      return { { destination = "pacs", modify = { PatientComments = table.concat(mismatches, ","),
                                                  StudyComments = checks .. " " .. direct } } }
    end)");
  RouteDecision decision = rules.route(viewOf(spec("ct", "CT")));
  EXPECT_EQ(echoed(decision, "PatientComments"), "");
  EXPECT_EQ(echoed(decision, "StudyComments"), "255 truefalse");
}

// match, one_of and contains are written in C; they must answer as their
// former Lua definitions (kept here) do, errors included, for every kind of
// value and list (holes, __index, __tostring, bad patterns).
TEST_F(Fixture, HelpersInCAnswerAsTheirLuaDefinitions) {
  RuleEngine rules = engine(R"(
    local function text(value)
      if value == nil then return nil end
      return tostring(value)
    end
    local function lua_match(value, what)
      value = text(value)
      if value == nil then return false end
      if type(what) == "table" then
        for _, candidate in ipairs(what) do
          if value == candidate then return true end
        end
        return false
      end
      if type(what) ~= "string" then error("not a pattern", 2) end
      return string.find(value, what) ~= nil
    end
    local function lua_one_of(value, list)
      if type(list) ~= "table" then error("not a list", 2) end
      return lua_match(value, list)
    end
    local function lua_contains(value, part)
      value = text(value)
      return value ~= nil and string.find(value, part, 1, true) ~= nil
    end
    local shown = setmetatable({}, { __tostring = function() return "CT" end })
    local plain = {}
    function route(instance)
      local values = { "CT", "", "a.b", "CT\\MR", 12, 2.5, true, shown, plain, nil }
      local seconds = { "CT", "^C", ".", "%d", "[", "", { "CT", "MR" }, { "X", nil, "CT" }, { 12 }, { "12" },
                        setmetatable({}, { __index = function(_, k) if k < 3 then return "CT" end end }),
                        5, true, nil }
      local pairs_of = { { match, lua_match, "match" }, { one_of, lua_one_of, "one_of" },
                         { contains, lua_contains, "contains" } }
      local mismatches, checks = {}, 0
      for _, f in ipairs(pairs_of) do
        for i = 1, 10 do
          for j = 1, 14 do
            checks = checks + 1
            local ok1, r1 = pcall(f[1], values[i], seconds[j])
            local ok2, r2 = pcall(f[2], values[i], seconds[j])
            if ok1 ~= ok2 or (ok1 and r1 ~= r2) then
              mismatches[#mismatches + 1] = f[3] .. "(" .. tostring(values[i]) .. ", #" .. j .. ")=" .. tostring(r1)
            end
          end
        end
      end
      return { { destination = "pacs", modify = { PatientComments = table.concat(mismatches, " "),
                                                  StudyComments = tostring(checks) } } }
    end)");
  RouteDecision decision = rules.route(viewOf(spec("ct", "CT")));
  EXPECT_EQ(echoed(decision, "PatientComments"), "");
  EXPECT_EQ(echoed(decision, "StudyComments"), "420");
}

// The helpers use the standard functions as the sandbox made them: a rule
// that redefines a global, even one the helpers use, does not change them.
TEST_F(Fixture, HelpersDoNotDependOnGlobalsARuleRedefines) {
  RuleEngine rules = engine(R"(
    function match() error("the rule's own match") end
    function values() error("the rule's own values") end
    tostring, ipairs, pairs = nil, nil, nil
    string.find, string.sub = nil, nil
    function route(instance)
      local t = instance.tags
      local checks = {
        one_of(t.Modality, { "MR", "CT" }), has_value("A\\B", "B"), contains(t.Modality, "T"),
        starts_with(t.Modality, "C"), ends_with(t.Modality, "T"), one_of(7, { "7" }), not one_of(nil, { "CT" }),
      }
      local all = true
      for k = 1, #checks do all = all and checks[k] end
      local r = route_to("pacs", { priority = 2 })
      r.modify = { PatientComments = all and "yes" or "no" }
      return { r }
    end)");
  RouteDecision decision = rules.route(viewOf(spec("ct", "CT")));
  EXPECT_EQ(echoed(decision, "PatientComments"), "yes");
  EXPECT_EQ(decision.routes.at(0).priority, 2);
}

// between_hours/is_weekend remember the last time they broke down: a rule
// file that pins now() to another time gets the answer for that time.
TEST_F(Fixture, TimeHelpersFollowNowFromCallToCall) {
  const std::string code = R"(
    local times = {
      os.time{ year = 2024, month = 1, day = 15, hour = 23, min = 10 },  -- Monday night
      os.time{ year = 2024, month = 1, day = 15, hour = 12, min = 0 },   -- Monday noon
      os.time{ year = 2024, month = 1, day = 20, hour = 12, min = 0 },   -- Saturday noon
    }
    function route(instance)
      local when = times[tonumber(instance.id)]
      PIN
      local answer = tostring(between_hours(18, 7)) .. "/" .. tostring(is_weekend())
      return { { destination = "pacs", modify = { PatientComments = answer } } }
    end)";
  const char* expected[] = {"true/false", "false/false", "false/true", "true/false"};
  // Pinned through now(), or one level lower through os.time (now() follows).
  for (const char* pin : {"function now() return when end", "os.time = function() return when end"}) {
    std::string pinned = code;
    pinned.replace(pinned.find("PIN"), 3, pin);
    RuleEngine rules = engine(pinned);
    for (int call = 0; call < 4; ++call) {
      InstanceView view;
      view.id = std::to_string(call % 3 + 1);
      EXPECT_EQ(echoed(rules.route(view), "PatientComments"), expected[call]) << pin << ", call " << call;
    }
  }
}

TEST_F(Fixture, VersionIsTheSourceVersion) {
  RuleEngine rules = engine("function route() end");
  EXPECT_EQ(rules.version(), "test");
}

TEST_F(Fixture, Utf8ByteOrderMarkIsAccepted) {
  RuleEngine rules = engine("\xEF\xBB\xBF" "function route() return { { destination = 'pacs' } } end");
  EXPECT_EQ(rules.route(InstanceView{}).routes.size(), 1u);
}

TEST_F(Fixture, OneEnginePerThreadRunsInParallel) {
  const RuleSource source = sourceOf(R"(
    function route(instance)
      if between_hours(0, 24) and match(instance.tags.Modality, {"CT", "MR"}) then
        return { { destination = "pacs", modify = { PatientComments = os.date("%Y", 0) .. instance.tags.Modality } } }
      end
      return {}
    end)");
  const InstanceView ct = viewOf(spec("ct", "CT"));
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      RuleEngine rules(source, testDestinations(), RuleLimits{}, log);
      for (int i = 0; i < 2000; ++i) {
        RouteDecision d = rules.route(ct);
        if (!d.failure && d.routes.size() == 1 && d.routes[0].modify.at(0).second.value().size() == 6) ++good;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(good.load(), 8000);
}

// ---------------------------------------------------------------- RuleSource

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char name[] = "/tmp/rule-source-XXXXXX";
    path = mkdtemp(name);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name, std::ios::binary) << text;
  }
};

TEST_F(Fixture, ADeidentifyProjectMustBeConfiguredOnceTheProjectsAreKnown) {
  RuleEngine rules = engine(R"(function route(i) return { { destination = "pacs", deidentify = { project = "trail-1" } } } end)");
  EXPECT_FALSE(rules.route(InstanceView{}).failure);  // the offline CLI: any name
  rules.limitProjects({"trial-1", "trial-2"});
  RouteDecision decision = rules.route(InstanceView{});
  ASSERT_TRUE(decision.failure);
  EXPECT_NE(decision.failure->message.find("deidentify.project \"trail-1\" is not a project of "
                                           "Router.Deidentification (projects: trial-1, trial-2)"),
            std::string::npos)
      << decision.failure->message;
  rules.limitProjects({});
  EXPECT_NE(rules.route(InstanceView{}).failure->message.find("none is configured"), std::string::npos);
}

// deidentify = { project, profile, options }: read into the Route, options
// sorted; shown by the rules test JSON; every mistake named.
TEST_F(Fixture, RoutesMayDeidentify) {
  RuleEngine rules = engine(R"(
    function route(instance)
      return { { destination = "ai", deidentify = { project = "trial-1", profile = "basic",
                 options = { "RetainPatientCharacteristics", "CleanDescriptors" } } },
               { destination = "pacs", deidentify = { project = "trial-2" } },
               { destination = "export" } }
    end)");
  RouteDecision decision = rules.route(viewOf(spec("ct", "CT")));
  ASSERT_FALSE(decision.failure) << decision.failure->describe();
  ASSERT_EQ(decision.routes.size(), 3u);
  const Deidentify& ai = decision.routes[0].deidentify;
  EXPECT_EQ(ai.project, "trial-1");
  EXPECT_EQ(ai.profile, "basic");
  EXPECT_EQ(ai.options, (std::vector<std::string>{"CleanDescriptors", "RetainPatientCharacteristics"}));
  EXPECT_TRUE(decision.routes[1].deidentify.active());
  EXPECT_TRUE(decision.routes[1].deidentify.options.empty());
  EXPECT_FALSE(decision.routes[2].deidentify.active());

  const Json::Value json = lua::routeToJson(decision.routes[0]);
  EXPECT_EQ(json["deidentify"]["project"].asString(), "trial-1");
  EXPECT_EQ(json["deidentify"]["profile"].asString(), "basic");
  EXPECT_EQ(json["deidentify"]["options"][0].asString(), "CleanDescriptors");
  EXPECT_FALSE(lua::routeToJson(decision.routes[2]).isMember("deidentify"));

  const Malformed cases[] = {
      {R"({ { destination = "pacs", deidentify = "trial-1" } })", "deidentify must be a table { project = "},
      {R"({ { destination = "pacs", deidentify = {} } })", "deidentify has no project"},
      {R"({ { destination = "pacs", deidentify = { project = 7 } } })", "deidentify.project must be the name of a project"},
      {R"({ { destination = "pacs", deidentify = { project = "p", profile = "full" } } })", "deidentify.profile must be \"basic\""},
      {R"({ { destination = "pacs", deidentify = { project = "p", options = "CleanDescriptors" } } })", "deidentify.options must be a list"},
      {R"({ { destination = "pacs", deidentify = { project = "p", options = { "RetainUID" } } } })", "deidentify.options: unknown option \"RetainUID\" (known: RetainUIDs, RetainDeviceIdentity"},
      {R"({ { destination = "pacs", deidentify = { project = "p", options = { "CleanDescriptors", "CleanDescriptors" } } } })", "\"CleanDescriptors\" is named twice"},
      {R"({ { destination = "pacs", deidentify = { project = "p", options = { x = "CleanDescriptors" } } } })", "deidentify.options must be a list"},
      {R"({ { destination = "pacs", deidentify = { project = "p", options = { "RetainLongitudinalFullDates", "RetainLongitudinalModifiedDates" } } } })", "exclude each other"},
      {R"({ { destination = "pacs", deidentify = { project = "p", projet = "q" } } })", "deidentify: unknown field \"projet\" (known fields: project, profile, options)"},
      {R"({ { destination = "pacs", deidentify = { project = "p", [1] = "q" } } })", "deidentify: unknown field 1"},
  };
  for (const Malformed& c : cases) {
    RuleEngine bad = engine(std::string("\n\nfunction route(instance)\n  return ") + c.answer + "\nend\n");
    RouteDecision failed = bad.route(InstanceView{});
    ASSERT_TRUE(failed.failure) << c.answer;
    EXPECT_NE(failed.failure->message.find("route #1: "), std::string::npos) << failed.failure->message;
    EXPECT_NE(failed.failure->message.find(c.messagePart), std::string::npos)
        << c.answer << " -> " << failed.failure->message;
    EXPECT_TRUE(bad.route(InstanceView{}).failure);  // still usable
  }
}

TEST(RuleSource, ReadsLuaFilesInNameOrderAndHashesThem) {
  TempDir dir;
  dir.write("20-b.lua", "b");
  dir.write("10-a.lua", "a");
  dir.write("README.md", "not a rule");
  dir.write(".#10-a.lua", "editor lock file");
  std::filesystem::create_directory(dir.path / "examples.lua");
  RuleSource source = RuleSource::loadDirectory(dir.path.string());
  ASSERT_EQ(source.files.size(), 2u);
  EXPECT_EQ(source.files[0].name, "10-a.lua");
  EXPECT_EQ(source.files[0].code, "a");
  EXPECT_EQ(source.files[1].name, "20-b.lua");
  EXPECT_EQ(source.directory, dir.path.string());
  EXPECT_EQ(source.version.size(), 16u);
  EXPECT_EQ(RuleSource::loadDirectory(dir.path.string()).version, source.version);

  dir.write("20-b.lua", "b2");
  const std::string changed = RuleSource::loadDirectory(dir.path.string()).version;
  EXPECT_NE(changed, source.version);
  dir.write("30-c.lua", "");
  EXPECT_NE(RuleSource::loadDirectory(dir.path.string()).version, changed);
}

TEST(RuleSource, MissingOrEmptyFolderNamesTheFolder) {
  TempDir dir;
  try {
    RuleSource::loadDirectory(dir.path.string());
    FAIL();
  } catch (const RouterError& e) {
    EXPECT_EQ(std::string(e.what()), "rules folder " + dir.path.string() + " has no *.lua file");
  }
  try {
    RuleSource::loadDirectory((dir.path / "missing").string());
    FAIL();
  } catch (const RouterError& e) {
    EXPECT_NE(std::string(e.what()).find((dir.path / "missing").string()), std::string::npos);
  }
}

TEST(RuleFailure, Describe) {
  EXPECT_EQ((RuleFailure{"10-ct.lua", 12, "boom"}).describe(), "10-ct.lua:12: boom");
  EXPECT_EQ((RuleFailure{"10-ct.lua", 0, "boom"}).describe(), "10-ct.lua: boom");
  EXPECT_EQ((RuleFailure{"", 0, "boom"}).describe(), "boom");
}

}  // namespace
}  // namespace router
