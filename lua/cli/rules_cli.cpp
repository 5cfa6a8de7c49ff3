// orthanc-router-rules: runs a rules folder against DICOM files offline and
// prints what the router would do with each one, without sending anything.
// Same engine, same sandbox and limits as the plugin.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <json/json.h>

#include "lua/RouteJson.h"
#include "lua/RuleEngine.h"
#include "plugins/core/Log.h"
#include "plugins/core/config/Config.h"
#include "plugins/core/dicom/TagReader.h"
#include "plugins/core/routing/StudySummaries.h"
#include "transcoders/TransferSyntax.h"

namespace {

const char* const kUsage = R"(usage: orthanc-router-rules RULES_DIR FILE.dcm... [options]

Loads every *.lua file of RULES_DIR (in name order, as the router does), then
calls route(instance) for each DICOM file and prints one JSON object per file,
one per line (JSON Lines), on standard output:

  {"file":"ct.dcm","sop_instance_uid":"1.2...","received_transfer_syntax":"1.2.840.10008.1.2.1",
   "routes":[{"destination":"pacs","transfer_syntax":"1.2.840.10008.1.2.4.80",
              "transfer_syntax_keyword":"JPEGLSLossless","modify":{"InstitutionName":"Site B",
              "PatientComments":null},"priority":0}]}
  {"file":"mr.dcm","error":"20-mr.lua:14: attempt to index a nil value","rule_file":"20-mr.lua","rule_line":14}
  {"file":"junk.dcm","error":"cannot read junk.dcm: ..."}

"transfer_syntax": null means as received; in "modify", null removes the element.
When the rules define route_study(study), the files of each study are then
taken as that whole study, and one more line per study gives its decision:

  {"study_instance_uid":"1.2...","instances":3,"series":[{"uid":"1.2...","instances":2},...],
   "routes":[{"destination":"tele","series":["1.2..."],...}]}
If the rules do not compile, one line {"rules":DIR,"error":"file:line: ..."} is printed.
log()/warn() lines of the rules go to standard error.

options:
  --origin calling_aet=X,called_aet=Y,remote_ip=Z,protocol=P
                      where the instances came from (default: protocol DicomProtocol,
                      everything else empty)
  --destinations a,b,c
                      the destination names rules may use (default: any name)
  --config orthanc.json
                      take the destination names from the "Router" section (and
                      "DicomModalities") of an Orthanc configuration file
  --budget N          Lua instructions per route() call (default 1000000)
  --memory-mb N       memory cap of the Lua state in MiB (default 64)
  --quiet             do not print the rules' log() lines
  --help              this text

exit status: 0 all files routed, 1 a rule failed or a file could not be read,
2 bad usage.
)";

struct Options {
  std::string rulesDir;
  std::vector<std::string> files;
  router::Origin origin;
  std::set<std::string> destinations{router::RuleEngine::kAnyDestination};
  router::RuleLimits limits;
  bool quiet = false;
};

struct UsageError {
  std::string message;
};

std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

uint64_t parseNumber(const std::string& option, const std::string& text) {
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || value == 0) {
    throw UsageError{option + " expects a positive whole number, not \"" + text + "\""};
  }
  return value;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw router::RouterError("cannot open " + path);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

std::set<std::string> destinationsFromConfig(const std::string& path) {
  Json::CharReaderBuilder builder;  // allows comments, as Orthanc does
  Json::Value document;
  std::string errors;
  std::istringstream text(readFile(path));
  if (!Json::parseFromStream(builder, text, &document, &errors)) {
    throw router::ConfigError(path + " is not valid JSON: " + errors);
  }
  std::string baseDir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  // Only the destinations matter here: the de-identification projects' key
  // files are for Orthanc's user, not for whoever tries rules.
  if (document.isObject() && document["Router"].isObject()) document["Router"].removeMember("Deidentification");
  router::Config config = router::parseConfig(document, baseDir);
  std::set<std::string> names;
  for (const auto& entry : config.destinations) names.insert(entry.first);
  return names;
}

Options parseArguments(int argc, char** argv) {
  Options options;
  options.origin.protocol = "DicomProtocol";
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw UsageError{arg + " needs a value"};
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else if (arg == "--origin") {
      for (const std::string& pair : splitList(value())) {
        const size_t equals = pair.find('=');
        const std::string key = pair.substr(0, equals);
        const std::string text = equals == std::string::npos ? "" : pair.substr(equals + 1);
        if (key == "calling_aet") {
          options.origin.callingAet = text;
        } else if (key == "called_aet") {
          options.origin.calledAet = text;
        } else if (key == "remote_ip") {
          options.origin.remoteIp = text;
        } else if (key == "protocol") {
          options.origin.protocol = text;
        } else {
          throw UsageError{"--origin: unknown key \"" + key +
                           "\" (calling_aet, called_aet, remote_ip, protocol)"};
        }
      }
    } else if (arg == "--destinations") {
      std::vector<std::string> names = splitList(value());
      options.destinations = std::set<std::string>(names.begin(), names.end());
    } else if (arg == "--config") {
      options.destinations = destinationsFromConfig(value());
    } else if (arg == "--budget") {
      options.limits.instructionBudget = parseNumber(arg, value());
    } else if (arg == "--memory-mb") {
      options.limits.memoryBytes = static_cast<size_t>(parseNumber(arg, value())) << 20;
    } else if (arg == "--quiet") {
      options.quiet = true;
    } else if (arg.size() > 1 && arg[0] == '-') {
      throw UsageError{"unknown option " + arg};
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() < 2) throw UsageError{"expected RULES_DIR and at least one FILE.dcm"};
  options.rulesDir = positional[0];
  options.files.assign(positional.begin() + 1, positional.end());
  return options;
}

// The routes, or the rule's failure with its file and line; false for a failure.
bool addDecision(const router::RouteDecision& decision, Json::Value& line) {
  if (decision.failure) {
    line["error"] = decision.failure->describe();
    line["rule_file"] = decision.failure->file;
    line["rule_line"] = decision.failure->line;
    return false;
  }
  Json::Value routes(Json::arrayValue);
  for (const router::Route& route : decision.routes) routes.append(router::lua::routeToJson(route));
  line["routes"] = routes;
  return true;
}

std::string oneLine(const Json::Value& value) {
  Json::StreamWriterBuilder builder;
  builder["indentation"] = "";
  builder["emitUTF8"] = true;
  return Json::writeString(builder, value);
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    options = parseArguments(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "orthanc-router-rules: " << e.message << "\n(--help for usage)\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "orthanc-router-rules: " << e.what() << "\n";
    return 2;
  }

  router::StderrLog log(!options.quiet);
  std::unique_ptr<router::RuleEngine> engine;
  try {
    router::RuleSource source = router::RuleSource::loadDirectory(options.rulesDir);
    engine = std::make_unique<router::RuleEngine>(source, options.destinations, options.limits, log);
  } catch (const std::exception& e) {
    Json::Value line(Json::objectValue);
    line["rules"] = options.rulesDir;
    line["error"] = e.what();
    std::cout << oneLine(line) << std::endl;
    return 1;
  }

  int exitCode = 0;
  std::vector<router::InstanceView> readable;  // for route_study()
  for (const std::string& path : options.files) {
    Json::Value line(Json::objectValue);
    line["file"] = path;
    try {
      router::InstanceView view = router::readInstanceView(readFile(path));
      view.origin = options.origin;
      line["sop_instance_uid"] = view.sopInstanceUid;
      line["received_transfer_syntax"] = view.transferSyntax;
      router::RouteDecision decision = engine->route(view);
      if (engine->studyCompletion()) readable.push_back(view);
      if (!addDecision(decision, line)) exitCode = 1;
    } catch (const std::exception& e) {
      line["error"] = std::string("cannot read ") + path + ": " + e.what();
      exitCode = 1;
    }
    std::cout << oneLine(line) << std::endl;
  }
  // The files of each study taken as the whole study: route_study()'s answer.
  for (const router::StudySummary& study : router::summarizeStudies(readable)) {
    Json::Value line(Json::objectValue);
    line["study_instance_uid"] = study.uid;
    line["instances"] = study.instances;
    Json::Value series(Json::arrayValue);
    for (const router::SeriesSummary& s : study.series) {
      Json::Value one(Json::objectValue);
      one["uid"] = s.uid;
      one["instances"] = s.instances;
      series.append(one);
    }
    line["series"] = series;
    if (!addDecision(engine->routeStudy(study), line)) exitCode = 1;
    std::cout << oneLine(line) << std::endl;
  }
  return exitCode;
}
