// Router.Deidentification (see DeidConfig.h).
#include "plugins/core/config/DeidConfig.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "plugins/core/ConfigSection.h"
#include "plugins/core/Error.h"
#include "plugins/core/deid/KeyedHash.h"

namespace router {
namespace {

void checkProjectName(const std::string& name, const std::string& key) {
  const bool ok =
      !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
      });
  if (!ok)
    ConfigSection::fail(key, "project names use letters, digits, '_', '-' and '.' (at most 64)");
}

// The secret key: the file's bytes, without trailing white space. Refused
// when others than its owner and group may read it (a key anyone on the
// machine can read protects nothing), or when it is too short to resist a
// search.
std::string readKeyFile(const std::string& path, const std::string& key) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) {
    ConfigSection::fail(
        key,
        "\"" + path + "\" is not a file (make one: openssl rand -hex 32 > FILE; chmod 600 FILE)");
  }
  if (info.st_mode & (S_IROTH | S_IWOTH)) {
    ConfigSection::fail(key, "\"" + path +
                                 "\" may be read or written by every user of the machine; chmod "
                                 "600 it (or 640 for Orthanc's group)");
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof())
    ConfigSection::fail(key, "\"" + path + "\" cannot be read by Orthanc's user");
  std::string secret = text.str();
  while (!secret.empty() && std::isspace(static_cast<unsigned char>(secret.back())))
    secret.pop_back();
  if (secret.size() < kMinimumKeyFileCharacters) {
    ConfigSection::fail(key, "\"" + path + "\" holds " + std::to_string(secret.size()) +
                                 " characters; a key needs at least " +
                                 std::to_string(kMinimumKeyFileCharacters) +
                                 " (openssl rand -hex 32 > FILE)");
  }
  return secret;
}

int hexValue(const std::string& text, size_t digits, const std::string& key, const char* what) {
  const bool ok = text.size() == digits && std::all_of(text.begin(), text.end(), [](char c) {
                    return std::isxdigit(static_cast<unsigned char>(c));
                  });
  if (!ok) ConfigSection::fail(key, std::string(what));
  return std::stoi(text, nullptr, 16);
}

// { "Group": "0019", "Creator": "SIEMENS MR HEADER", "Element": "0C" } (or "xx0C").
std::vector<deid::SafePrivateTag> parseSafePrivateTags(const ConfigSection& parent) {
  const Json::Value& list = parent.raw("SafePrivateTags");
  const std::string key = parent.key("SafePrivateTags");
  if (!list.isArray()) {
    ConfigSection::fail(
        key,
        "must be a list of { \"Group\": \"0019\", \"Creator\": \"...\", \"Element\": \"0C\" }");
  }
  std::vector<deid::SafePrivateTag> tags;
  for (Json::ArrayIndex i = 0; i < list.size(); ++i) {
    const std::string at = key + "[" + std::to_string(i) + "]";
    if (!list[i].isObject())
      ConfigSection::fail(
          at, "must be { \"Group\": \"0019\", \"Creator\": \"...\", \"Element\": \"0C\" }");
    ConfigSection s(list[i], at, {"Group", "Creator", "Element"});
    deid::SafePrivateTag tag;
    tag.group = static_cast<std::uint16_t>(hexValue(s.string("Group", "", true), 4, s.key("Group"),
                                                    "must be 4 hex digits, e.g. \"0019\""));
    if (tag.group % 2 == 0) ConfigSection::fail(s.key("Group"), "a private group is odd");
    tag.creator = s.string("Creator", "", true);
    if (tag.creator.empty())
      ConfigSection::fail(s.key("Creator"),
                          "the private creator's value, e.g. \"SIEMENS MR HEADER\"");
    std::string element = s.string("Element", "", true);
    if (element.size() == 4 &&
        (element.compare(0, 2, "xx") == 0 || element.compare(0, 2, "XX") == 0))
      element = element.substr(2);
    tag.element = static_cast<std::uint8_t>(hexValue(
        element, 2, s.key("Element"), "must be the element's low byte, \"0C\" or \"xx0C\""));
    tags.push_back(std::move(tag));
  }
  return tags;
}

DeidProjectConfig parseProject(const std::string& name, const Json::Value& value,
                               const std::string& path, const std::string& baseDir) {
  if (!value.isObject()) ConfigSection::fail(path, "must be a JSON object with at least KeyFile");
  ConfigSection s(value, path,
                  {"KeyFile", "UidRoot", "SafePrivateTags", "RefuseBurnedIn", "BurnedInModalities",
                   "PatientIdentity", "Lookup"});
  DeidProjectConfig p;
  p.name = name;
  if (!s.has("KeyFile")) {
    ConfigSection::fail(s.key("KeyFile"),
                        "missing: a file holding the project's secret key (openssl rand -hex 32 > "
                        "FILE; chmod 600 FILE)");
  }
  p.keyFile = resolvePath(s.string("KeyFile", "", true), baseDir);
  p.key = readKeyFile(p.keyFile, s.key("KeyFile"));
  p.uidRoot = s.string("UidRoot", "");
  if (s.has("UidRoot")) {
    const std::string problem = deid::KeyedHash::checkUidRoot(p.uidRoot);
    if (!problem.empty()) ConfigSection::fail(s.key("UidRoot"), "\"" + p.uidRoot + "\" " + problem);
  }
  if (s.has("SafePrivateTags")) p.safePrivateTags = parseSafePrivateTags(s);
  p.refuseBurnedIn = s.boolean("RefuseBurnedIn", true);
  if (s.has("BurnedInModalities")) {
    const Json::Value& list = s.raw("BurnedInModalities");
    if (!list.isArray())
      ConfigSection::fail(s.key("BurnedInModalities"),
                          "must be a list of modalities, e.g. [\"US\", \"SC\"]");
    std::vector<std::string> modalities;
    for (const Json::Value& m : list) {
      if (!m.isString() || m.asString().empty() || m.asString().size() > 16) {
        ConfigSection::fail(s.key("BurnedInModalities"),
                            "must be a list of modality codes, e.g. [\"US\", \"SC\"]");
      }
      modalities.push_back(m.asString());
    }
    p.burnedInModalities = std::move(modalities);
  }
  const std::string identity = s.string("PatientIdentity", "keyed");
  if (identity == "keyed") {
    p.patientIdentity = PatientIdentityMode::Keyed;
  } else if (identity == "table") {
    p.patientIdentity = PatientIdentityMode::Table;
  } else {
    ConfigSection::fail(s.key("PatientIdentity"),
                        "must be \"keyed\" (a keyed hash of the PatientID) or \"table\" (numbered, "
                        "kept in the queue database)");
  }
  p.lookup = s.boolean("Lookup", false);
  // The key, root and tags as the engine will see them: its own checks at start, not at the first
  // instance.
  try {
    deid::DeidOptions options;
    options.project = p.name;
    options.key = p.key;
    options.uidRoot = p.uidRoot;
    options.safePrivateTags = p.safePrivateTags;
    deid::Deidentifier check(options);
  } catch (const std::exception& e) {
    ConfigSection::fail(path, e.what());
  }
  return p;
}

}  // namespace

DeidentificationConfig parseDeidentification(const Json::Value& value, const std::string& baseDir) {
  ConfigSection s(value, "Router.Deidentification", {"Projects"});
  DeidentificationConfig config;
  if (!s.has("Projects")) return config;
  const Json::Value& projects = s.raw("Projects");
  if (!projects.isObject())
    ConfigSection::fail(s.key("Projects"), "must be a JSON object: project name -> settings");
  for (const std::string& name : projects.getMemberNames()) {
    const std::string path = s.key("Projects") + "." + name;
    checkProjectName(name, path);
    config.projects[name] = parseProject(name, projects[name], path, baseDir);
  }
  return config;
}

}  // namespace router
