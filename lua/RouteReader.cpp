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
#include "transcoders/TransferSyntax.h"

namespace router::lua {
namespace {

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

std::optional<std::string> RouteReader::read(lua_State* L, int index, std::vector<Route>& routes) {
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
  lua_pushnil(L);
  while (lua_next(L, index) != 0) {
    const int value = lua_gettop(L);
    if (lua_type(L, -2) != LUA_TSTRING) {
      lua_pushvalue(L, -2);
      std::string key = describeValue(L, -1);
      lua_pop(L, 3);
      return where() + "unexpected key " + key +
             " (known fields: destination, transfer_syntax, modify, priority, when, quiet, max_wait, expected, late, urgent, deidentify)";
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
      const bool count = field == "expected";
      const lua_Number low = 1, high = count ? 1000000 : 7 * 24 * 3600;
      const lua_Number n = lua_type(L, value) == LUA_TNUMBER ? lua_tonumber(L, value) : 0;
      // Checked before converting: NaN and infinities compare false.
      if (lua_type(L, value) != LUA_TNUMBER || !(n >= low && n <= high) || std::floor(n) != n) {
        problem = where() + std::string(field) + " must be a whole number " +
                  (count ? "of instances, 1..1000000" : "of seconds, 1..604800") + ", not " + describeValue(L, value);
      } else if (count) {
        route.completion.expected = static_cast<int>(n);
      } else if (field == "quiet") {
        route.completion.quiet = std::chrono::seconds(static_cast<long long>(n));
      } else {
        route.completion.maxWait = std::chrono::seconds(static_cast<long long>(n));
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
    } else {
      problem = where() + "unknown field \"" + std::string(field) +
                "\" (known fields: destination, transfer_syntax, modify, priority, when, quiet, max_wait, expected, late, urgent, deidentify)";
    }
    lua_pop(L, 1);
    if (problem) {
      lua_pop(L, 1);
      return problem;
    }
  }
  if (!hasDestination) return where() + "has no destination";
  if (!batchOnly.empty() && route.completion.level == RouteLevel::Instance) {
    return where() + batchOnly + " applies only with when = \"series\" or \"study\"";
  }
  return std::nullopt;
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
      } else {
        d.project = stringAt(L, value);
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
