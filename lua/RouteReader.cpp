#include "lua/RouteReader.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstdio>
#include <string_view>

#include "lua/RuleEngine.h"
#include "plugins/core/deid/ProfileTable.h"
#include "plugins/core/dicom/TagEditor.h"
#include "plugins/core/dicom/Uid.h"
#include "transcoders/TransferSyntax.h"

namespace router::lua {
namespace {

constexpr const char* kKnownFields =
    " (known fields: destination, transfer_syntax, modify, priority, when, quiet, max_wait, expected, required, late, "
    "urgent, deidentify)";

// Glob with * and ?, ASCII case ignored.
bool glob(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
  const auto same = [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  };
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || (pattern[p] != '*' && same(pattern[p], text[t])))) {
      ++p, ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// The whole value, or any one of its backslash-separated values.
bool matchesPattern(const std::string& pattern, std::string_view value) {
  if (glob(pattern, trimUid(value))) return true;
  if (value.find('\\') == std::string_view::npos) return false;
  for (size_t at = 0; at <= value.size();) {
    size_t end = value.find('\\', at);
    if (end == std::string_view::npos) end = value.size();
    if (glob(pattern, trimUid(value.substr(at, end - at)))) return true;
    at = end + 1;
  }
  return false;
}

// A value as the rule writer would write it, for messages ("\"CT\"", "a table").
std::string describeValue(lua_State* L, int index) {
  switch (lua_type(L, index)) {
    case LUA_TSTRING: {
      size_t length = 0;
      const char* text = lua_tolstring(L, index, &length);
      std::string shown(text, std::min<size_t>(length, 64));
      return "\"" + shown + (length > 64 ? "...\"" : "\"");
    }
    case LUA_TNUMBER:
      if (lua_isinteger(L, index)) return std::to_string(lua_tointeger(L, index));
      return "the number " + std::to_string(lua_tonumber(L, index));
    case LUA_TBOOLEAN:
      return lua_toboolean(L, index) ? "true" : "false";
    case LUA_TNIL:
      return "nil";
    default:
      return std::string("a ") + luaL_typename(L, index);
  }
}

// A number in its Lua spelling (3, 2.5, 1e+20); integers without ".0".
std::string numberText(lua_State* L, int index) {
  if (lua_isinteger(L, index)) return std::to_string(lua_tointeger(L, index));
  char text[64];
  std::snprintf(text, sizeof text, "%.14g", static_cast<double>(lua_tonumber(L, index)));
  return text;
}

std::string stringAt(lua_State* L, int index) {
  size_t length = 0;
  const char* text = lua_tolstring(L, index, &length);
  return std::string(text, length);
}

}  // namespace

RouteReader::RouteReader(std::set<std::string> destinations)
    : destinations_(std::move(destinations)),
      anyDestination_(destinations_.count(RuleEngine::kAnyDestination) > 0) {}

std::string RouteReader::configuredList() const {
  if (destinations_.empty()) return "no destination is configured";
  std::string list = "configured: ";
  int shown = 0;
  for (const std::string& name : destinations_) {
    if (shown == 12) {
      list += ", ...";
      break;
    }
    list += (shown++ > 0 ? ", " : "") + name;
  }
  return list;
}

std::optional<std::string> RouteReader::read(lua_State* L, int index, std::vector<Route>& routes,
                                             const std::set<std::string>* studySeries) {
  struct Mode {
    const std::set<std::string>*& slot;
    ~Mode() { slot = nullptr; }
  } mode{studySeries_};
  studySeries_ = studySeries;
  index = lua_absindex(L, index);
  routes.clear();
  if (lua_isnil(L, index)) return std::nullopt;  // no route
  if (!lua_istable(L, index)) {
    return "route() must return a list of routes (a table) or nil, not " + describeValue(L, index);
  }
  lua_pushliteral(L, "destination");
  const bool single = lua_rawget(L, index) != LUA_TNIL;
  lua_pop(L, 1);
  if (single) {
    return "route() returned one route; return a list of routes instead: "
           "{ { destination = ... } }";
  }
  const lua_Integer count = static_cast<lua_Integer>(lua_rawlen(L, index));
  lua_pushnil(L);
  while (lua_next(L, index) != 0) {
    lua_pop(L, 1);
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > count) {
      lua_pushvalue(L, -1);  // a copy: converting the key itself would confuse lua_next
      std::string key = describeValue(L, -1);
      lua_pop(L, 2);
      return "route() returned a table with the key " + key +
             "; it must be a list of routes: { { destination = ... }, ... }";
    }
  }
  // A destination named twice: answers are short, a scan finds it faster
  // than a set; a long one (the offline CLI accepts any name) uses the set.
  constexpr lua_Integer kScanned = 16;
  std::set<std::string> seen;
  routes.reserve(static_cast<size_t>(std::min(count, kScanned)));
  for (lua_Integer i = 1; i <= count; ++i) {
    lua_rawgeti(L, index, i);
    Route route;
    std::optional<std::string> problem = readRoute(L, lua_gettop(L), static_cast<int>(i), route);
    lua_pop(L, 1);
    if (problem) return problem;
    const bool repeated =
        count > kScanned ? !seen.insert(route.destination).second
                         : std::any_of(routes.begin(), routes.end(), [&](const Route& earlier) {
                             return earlier.destination == route.destination;
                           });
    if (repeated) {
      return "route #" + std::to_string(i) + ": destination \"" + route.destination +
             "\" is named twice";
    }
    routes.push_back(std::move(route));
  }
  return std::nullopt;
}

std::optional<std::string> RouteReader::readRoute(lua_State* L, int index, int number,
                                                  Route& route) {
  // Built only for a message: most answers are well formed.
  const auto where = [number] { return "route #" + std::to_string(number) + ": "; };
  if (!lua_istable(L, index)) {
    return where() + "must be a table like { destination = \"name\" }, not " +
           describeValue(L, index);
  }
  bool hasDestination = false;
  std::string batchOnly;  // a field that means something only with when = "series" or "study"
  bool studyOnly = false;  // required: only with when = "study"
  lua_pushnil(L);
  while (lua_next(L, index) != 0) {
    const int value = lua_gettop(L);
    if (lua_type(L, -2) != LUA_TSTRING) {
      lua_pushvalue(L, -2);
      std::string key = describeValue(L, -1);
      lua_pop(L, 3);
      return where() + "unexpected key " + key + kKnownFields;
    }
    size_t fieldLength = 0;
    const char* fieldText = lua_tolstring(L, -2, &fieldLength);  // a string key: no conversion
    const std::string_view field(fieldText, fieldLength);
    std::optional<std::string> problem;
    if (field == "destination") {
      if (lua_type(L, value) != LUA_TSTRING) {
        problem = where() + "destination must be a string, not " + describeValue(L, value);
      } else {
        route.destination = stringAt(L, value);
        hasDestination = true;
        if (!anyDestination_ && destinations_.count(route.destination) == 0) {
          problem = where() + "destination \"" + route.destination + "\" is not configured (" +
                    configuredList() + ")";
        }
      }
    } else if (field == "transfer_syntax") {
      if (lua_type(L, value) != LUA_TSTRING) {
        problem = where() + "transfer_syntax must be a keyword or a UID, not " +
                  describeValue(L, value);
      } else {
        size_t length = 0;
        const char* text = lua_tolstring(L, value, &length);
        const std::string_view name(text, length);
        std::optional<std::string> uid = resolveTransferSyntax(name);
        const TransferSyntaxInfo* info = uid ? findTransferSyntax(*uid) : nullptr;
        if (!uid) {
          problem = where() + "unknown transfer syntax \"" + std::string(name) + "\"";
        } else if (info != nullptr && !info->canEncode) {
          problem = where() + "the appliance cannot produce transfer syntax " + info->keyword +
                    " (" + info->uid + ")";
        } else {
          route.transferSyntax = std::move(*uid);
        }
      }
    } else if (field == "modify") {
      if (!lua_istable(L, value)) {
        problem = where() + "modify must be a table { Keyword = \"value\" or false }, not " +
                  describeValue(L, value);
      } else if (std::optional<std::string> why = readModify(L, value, route.modify)) {
        problem = where() + *why;
      }
    } else if (field == "deidentify") {
      if (std::optional<std::string> why = readDeidentify(L, value, route.deidentify)) problem = where() + *why;
    } else if (field == "priority") {
      lua_Integer priority = 0;
      bool ok = lua_isinteger(L, value);
      if (ok) {
        priority = lua_tointeger(L, value);
      } else if (lua_type(L, value) == LUA_TNUMBER) {
        const lua_Number n = lua_tonumber(L, value);
        ok = std::floor(n) == n && std::fabs(n) < 1e9;
        // Only in range: converting NaN, an infinity or a float beyond the
        // integers is undefined behaviour (found by fuzz_route_answer).
        if (ok) priority = static_cast<lua_Integer>(n);
      }
      if (!ok || priority < INT_MIN || priority > INT_MAX) {
        problem = where() + "priority must be a whole number, not " + describeValue(L, value);
      } else {
        route.priority = static_cast<int>(priority);
      }
    } else if (field == "when") {
      const std::string text = lua_type(L, value) == LUA_TSTRING ? stringAt(L, value) : std::string();
      if (text == "instance") {
        route.completion.level = RouteLevel::Instance;
      } else if (text == "series") {
        route.completion.level = RouteLevel::Series;
      } else if (text == "study") {
        route.completion.level = RouteLevel::Study;
      } else {
        problem = where() + "when must be \"instance\", \"series\" or \"study\", not " + describeValue(L, value);
      }
    } else if (field == "quiet" || field == "max_wait" || field == "expected") {
      if (std::optional<std::string> why = readCompletionNumber(L, value, field, route.completion)) {
        problem = where() + *why;
      }
      batchOnly = std::string(field);
    } else if (field == "urgent") {
      if (lua_type(L, value) != LUA_TBOOLEAN) {
        problem = where() + "urgent must be true or false, not " + describeValue(L, value);
      } else {
        route.urgent = lua_toboolean(L, value) != 0;
      }
    } else if (field == "late") {
      const std::string text = lua_type(L, value) == LUA_TSTRING ? stringAt(L, value) : std::string();
      if (text == "batch") {
        route.completion.late = LatePolicy::Batch;
      } else if (text == "alone") {
        route.completion.late = LatePolicy::Alone;
      } else if (text == "resend") {
        route.completion.late = LatePolicy::Resend;
      } else {
        problem = where() + "late must be \"batch\", \"alone\" or \"resend\", not " + describeValue(L, value);
      }
      batchOnly = "late";
    } else if (field == "required") {
      if (std::optional<std::string> why = readRequired(L, value, route.completion.required)) {
        problem = where() + *why;
      }
      studyOnly = true;
    } else if (field == "series" && studySeries_ != nullptr) {
      if (std::optional<std::string> why = readSeries(L, value, route.series)) problem = where() + *why;
    } else if (field == "series") {
      problem = where() + "series applies only to the routes route_study(study) returns";
    } else {
      problem = where() + "unknown field \"" + std::string(field) + "\"" + kKnownFields;
    }
    lua_pop(L, 1);
    if (problem) {
      lua_pop(L, 1);
      return problem;
    }
  }
  if (!hasDestination) return where() + "has no destination";
  if (studySeries_ != nullptr && (!batchOnly.empty() || studyOnly || route.completion.level != RouteLevel::Instance)) {
    return where() + "route_study(study) is called once the study is complete: when, quiet, max_wait, expected, "
                     "required and late do not apply to its routes";
  }
  if (!batchOnly.empty() && route.completion.level == RouteLevel::Instance) {
    return where() + batchOnly + " applies only with when = \"series\" or \"study\"";
  }
  if (studyOnly && route.completion.level != RouteLevel::Study) {
    return where() + "required applies only with when = \"study\" (a study waits for its series)";
  }
  return std::nullopt;
}

std::optional<std::string> RouteReader::readCompletionNumber(lua_State* L, int value, std::string_view field,
                                                             Completion& completion) {
  const bool count = field == "expected";
  const lua_Number low = 1, high = count ? 1000000 : 7 * 24 * 3600;
  const lua_Number n = lua_type(L, value) == LUA_TNUMBER ? lua_tonumber(L, value) : 0;
  // Checked before converting: NaN and infinities compare false.
  if (lua_type(L, value) != LUA_TNUMBER || !(n >= low && n <= high) || std::floor(n) != n) {
    return std::string(field) + " must be a whole number " +
           (count ? "of instances, 1..1000000" : "of seconds, 1..604800") + ", not " + describeValue(L, value);
  }
  if (count) {
    completion.expected = static_cast<int>(n);
  } else if (field == "quiet") {
    completion.quiet = std::chrono::seconds(static_cast<long long>(n));
  } else {
    completion.maxWait = std::chrono::seconds(static_cast<long long>(n));
  }
  return std::nullopt;
}

std::optional<std::string> RouteReader::readSeries(lua_State* L, int index, std::vector<std::string>& series) {
  if (!lua_istable(L, index)) {
    return "series must be a list of SeriesInstanceUIDs of the study (study.series[i].uid), not " +
           describeValue(L, index);
  }
  const lua_Integer count = static_cast<lua_Integer>(lua_rawlen(L, index));
  for (lua_Integer i = 1; i <= count; ++i) {
    lua_rawgeti(L, index, i);
    std::optional<std::string> problem;
    if (lua_type(L, -1) != LUA_TSTRING) {
      problem = "series #" + std::to_string(i) + " must be a SeriesInstanceUID string, not " + describeValue(L, -1);
    } else if (std::string uid = stringAt(L, -1); studySeries_->count(uid) == 0) {
      problem = "series #" + std::to_string(i) + " \"" + uid + "\" is not a series of this study";
    } else if (std::find(series.begin(), series.end(), uid) == series.end()) {
      series.push_back(std::move(uid));
    }
    lua_pop(L, 1);
    if (problem) return problem;
  }
  if (series.empty()) return std::string("series is empty: leave it out to send the whole study");
  return std::nullopt;
}

std::optional<std::string> RouteReader::readStudyCompletion(lua_State* L, int index, Completion& completion) {
  completion.level = RouteLevel::Study;
  if (!lua_istable(L, index)) {
    return "study_complete must be a table { quiet = seconds, max_wait = seconds, required = {...}, late = "
           "\"batch\" or \"resend\" }, not " + describeValue(L, index);
  }
  lua_pushnil(L);
  while (lua_next(L, index) != 0) {
    const int value = lua_gettop(L);
    std::optional<std::string> problem;
    const std::string field = lua_type(L, -2) == LUA_TSTRING ? stringAt(L, -2) : std::string();
    if (field == "quiet" || field == "max_wait") {
      problem = readCompletionNumber(L, value, field, completion);
    } else if (field == "required") {
      problem = readRequired(L, value, completion.required);
    } else if (field == "late") {
      const std::string text = lua_type(L, value) == LUA_TSTRING ? stringAt(L, value) : std::string();
      if (text == "batch" || text == "resend") {
        completion.late = text == "batch" ? LatePolicy::Batch : LatePolicy::Resend;
      } else {
        problem = "late must be \"batch\" or \"resend\" (a decision is about a study, never one instance), not " +
                  describeValue(L, value);
      }
    } else {
      lua_pushvalue(L, -2);
      problem = "unknown field " + describeValue(L, -1) + " (known fields: quiet, max_wait, required, late)";
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (problem) {
      lua_pop(L, 1);
      return "study_complete: " + *problem;
    }
  }
  return std::nullopt;
}

std::optional<std::string> RouteReader::readRequired(lua_State* L, int index,
                                                     std::vector<Requirement>& required) {
  const char* const shape =
      "required must be a list of series, each a modality (\"PT\") or a table of patterns "
      "({ Modality = \"CT\", SeriesDescription = \"*LUNG*\" })";
  if (!lua_istable(L, index)) return std::string(shape) + ", not " + describeValue(L, index);
  const lua_Integer count = static_cast<lua_Integer>(lua_rawlen(L, index));
  if (count < 1 || count > static_cast<lua_Integer>(Completion::kMaxRequired)) {
    return "required lists 1 to " + std::to_string(Completion::kMaxRequired) + " series, not " +
           std::to_string(count);
  }
  for (lua_Integer i = 1; i <= count; ++i) {
    const std::string which = "required #" + std::to_string(i) + ": ";
    Requirement requirement;
    const int entry = lua_gettop(L) + 1;
    lua_rawgeti(L, index, i);
    if (lua_type(L, entry) == LUA_TSTRING) {
      requirement.matches.push_back({0x0008, 0x0060, "Modality", stringAt(L, entry)});
    } else if (lua_istable(L, entry)) {
      lua_pushnil(L);
      while (lua_next(L, entry) != 0) {
        const int value = lua_gettop(L);
        std::optional<std::string> problem;
        std::optional<DcmTagKey> key;
        if (lua_type(L, -2) != LUA_TSTRING || !(key = parseTagName(stringAt(L, -2)))) {
          lua_pushvalue(L, -2);
          problem = which + "the key " + describeValue(L, -1) + " is not a DICOM keyword or \"GGGG,EEEE\"";
          lua_pop(L, 1);
        } else if (lua_type(L, value) == LUA_TSTRING) {
          requirement.matches.push_back({key->getGroup(), key->getElement(), stringAt(L, -2), stringAt(L, value)});
        } else if (lua_type(L, value) == LUA_TNUMBER) {
          requirement.matches.push_back({key->getGroup(), key->getElement(), stringAt(L, -2), numberText(L, value)});
        } else {
          problem = which + stringAt(L, -2) + " must be a pattern string, not " + describeValue(L, value);
        }
        lua_pop(L, 1);
        if (problem) {
          lua_pop(L, 2);
          return problem;
        }
      }
      if (requirement.matches.empty()) {
        lua_pop(L, 1);
        return which + "an empty table matches every series; name at least one element";
      }
      // lua_next order is arbitrary; a stable order keeps batches and logs reproducible.
      std::sort(requirement.matches.begin(), requirement.matches.end(),
                [](const auto& a, const auto& b) { return a.name < b.name; });
    } else {
      std::string shown = describeValue(L, entry);
      lua_pop(L, 1);
      return which + "must be a modality string or a table of patterns, not " + shown;
    }
    lua_pop(L, 1);
    required.push_back(std::move(requirement));
  }
  return std::nullopt;
}

bool meets(const Requirement& requirement, const InstanceView& instance) {
  for (const Requirement::Match& match : requirement.matches) {
    const TagValue* found = nullptr;
    for (const TagValue& tag : instance.tags) {
      if (tag.group == match.group && tag.element == match.element) {
        found = &tag;
        break;
      }
    }
    if (found == nullptr || !matchesPattern(match.pattern, found->value)) return false;
  }
  return true;
}

std::optional<std::string> RouteReader::readModify(lua_State* L, int index, TagEdits& edits) {
  lua_pushnil(L);
  while (lua_next(L, index) != 0) {
    const int value = lua_gettop(L);
    if (lua_type(L, -2) != LUA_TSTRING) {
      lua_pushvalue(L, -2);
      std::string key = describeValue(L, -1);
      lua_pop(L, 3);
      return "modify: the key " + key + " is not a DICOM keyword or \"GGGG,EEEE\"";
    }
    std::string name = stringAt(L, -2);
    const std::string& problem = checkTagName(name);
    if (!problem.empty()) {
      lua_pop(L, 2);
      return "modify: " + problem;
    }
    if (name.size() == 9 && name[4] == ',') {
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    }
    switch (lua_type(L, value)) {
      case LUA_TSTRING:
        edits.emplace_back(name, stringAt(L, value));
        break;
      case LUA_TNUMBER:
        edits.emplace_back(name, numberText(L, value));
        break;
      case LUA_TBOOLEAN:
        if (!lua_toboolean(L, value)) {
          edits.emplace_back(name, std::nullopt);
          break;
        }
        [[fallthrough]];
      default: {
        std::string shown = describeValue(L, value);
        lua_pop(L, 2);
        return "modify: " + name + " must be a string, a number, or false to remove it, not " +
               shown;
      }
    }
    lua_pop(L, 1);
  }
  // lua_next order is arbitrary; a stable order keeps jobs and logs reproducible.
  std::sort(edits.begin(), edits.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return std::nullopt;
}

// deidentify = { project = "trial-1", profile = "basic", options = { "RetainDeviceIdentity", ... } }
std::optional<std::string> RouteReader::readDeidentify(lua_State* L, int index, Deidentify& out) {
  static const char* const kUsage =
      "deidentify must be a table { project = \"name\", profile = \"basic\", options = { \"RetainDeviceIdentity\", ... } }";
  if (!lua_istable(L, index)) return std::string(kUsage) + ", not " + describeValue(L, index);
  Deidentify d;
  lua_pushnil(L);
  while (lua_next(L, index) != 0) {
    const int value = lua_gettop(L);
    std::optional<std::string> problem;
    const std::string field = lua_type(L, -2) == LUA_TSTRING ? stringAt(L, -2) : std::string();
    if (field == "project") {
      if (lua_type(L, value) != LUA_TSTRING || lua_rawlen(L, value) == 0) {
        problem = "deidentify.project must be the name of a project of Router.Deidentification, not " +
                  describeValue(L, value);
      } else if (d.project = stringAt(L, value); projects_ && projects_->count(d.project) == 0) {
        std::string known;
        for (const std::string& name : *projects_) known += (known.empty() ? "" : ", ") + name;
        problem = "deidentify.project \"" + d.project + "\" is not a project of Router.Deidentification (" +
                  (known.empty() ? std::string("none is configured") : "projects: " + known) + ")";
      }
    } else if (field == "profile") {
      if (lua_type(L, value) != LUA_TSTRING || stringAt(L, value) != "basic") {
        problem = "deidentify.profile must be \"basic\" (PS3.15 Annex E, the Basic Application Level "
                  "Confidentiality Profile; the options change it), not " + describeValue(L, value);
      }
    } else if (field == "options") {
      if (!lua_istable(L, value)) {
        problem = "deidentify.options must be a list of option names such as { \"RetainDeviceIdentity\" }, not " +
                  describeValue(L, value);
      } else {
        const lua_Integer count = static_cast<lua_Integer>(lua_rawlen(L, value));
        for (lua_Integer i = 1; i <= count && !problem; ++i) {
          lua_rawgeti(L, value, i);
          const std::string name = lua_type(L, -1) == LUA_TSTRING ? stringAt(L, -1) : std::string();
          if (!deid::parseProfileOption(name)) {
            std::string known;
            for (size_t o = 0; o < deid::kOptionCount; ++o)
              known += std::string(known.empty() ? "" : ", ") +
                       deid::optionNames(static_cast<deid::ProfileOption>(o)).keyword;
            problem = "deidentify.options: unknown option " + describeValue(L, -1) + " (known: " + known + ")";
          } else if (std::find(d.options.begin(), d.options.end(), name) != d.options.end()) {
            problem = "deidentify.options: \"" + name + "\" is named twice";
          } else {
            d.options.push_back(name);
          }
          lua_pop(L, 1);
        }
        if (!problem) lua_pushnil(L);  // a key beyond the list's length is a mistake too
        while (!problem && lua_next(L, value) != 0) {
          lua_pop(L, 1);
          if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > count) {
            lua_pop(L, 1);
            problem = std::string("deidentify.options must be a list: { \"RetainDeviceIdentity\", ... }");
            break;
          }
        }
      }
    } else {
      lua_pushvalue(L, -2);
      problem = "deidentify: unknown field " + describeValue(L, -1) + " (known fields: project, profile, options)";
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (problem) {
      lua_pop(L, 1);
      return problem;
    }
  }
  if (d.project.empty()) return std::string("deidentify has no project (") + kUsage + ")";
  std::sort(d.options.begin(), d.options.end());
  const auto has = [&](const char* o) { return std::find(d.options.begin(), d.options.end(), o) != d.options.end(); };
  if (has("RetainLongitudinalFullDates") && has("RetainLongitudinalModifiedDates")) {
    return std::string("deidentify.options: RetainLongitudinalFullDates and RetainLongitudinalModifiedDates "
                       "exclude each other");
  }
  out = std::move(d);
  return std::nullopt;
}

const std::string& RouteReader::checkTagName(const std::string& name) {
  auto cached = tagNameProblems_.find(name);
  if (cached != tagNameProblems_.end()) return cached->second;
  if (tagNameProblems_.size() > 10000) tagNameProblems_.clear();  // rules making names up
  std::string problem;
  std::optional<DcmTagKey> key = parseTagName(name);
  if (!key) {
    problem = "\"" + name + "\" is not a DICOM keyword (e.g. InstitutionName) or a tag \"GGGG,EEEE\"";
  } else if (key->getGroup() == 0x0002 || *key == DcmTagKey(0x7fe0, 0x0010)) {
    problem = name + " cannot be edited by rules (file meta information or pixel data)";
  }
  return tagNameProblems_.emplace(name, std::move(problem)).first->second;
}

}  // namespace router::lua
