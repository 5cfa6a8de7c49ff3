// RuleSource (reading a rules folder) and RuleEngine (compiling it into one
// sandboxed Lua state and calling route() per instance). The sandbox itself
// is in Sandbox.cpp, the instance table in InstanceTable.cpp, the reading of
// route()'s answer in RouteReader.cpp.
#include "lua/RuleEngine.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lua/Prelude.h"
#include "lua/RouteReader.h"
#include "lua/Runtime.h"

namespace router {
namespace fs = std::filesystem;

// ---------------------------------------------------------------- RuleSource

namespace {

void fnv1a(uint64_t& hash, const std::string& bytes) {
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
}

std::string readWholeFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw RouterError("cannot read rule file " + path.string() + ": " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw RouterError("cannot read rule file " + path.string());
  return text.str();
}

}  // namespace

RuleSource RuleSource::loadDirectory(const std::string& dir) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    throw RouterError("rules folder " + dir + " does not exist or is not a folder");
  }
  std::vector<std::string> names;
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    // Dot files are editor leftovers (".#10-ct.lua"), not rules.
    if (name.size() > 4 && name[0] != '.' && name.compare(name.size() - 4, 4, ".lua") == 0 &&
        it->is_regular_file(error)) {
      names.push_back(name);
    }
  }
  if (error) throw RouterError("cannot list rules folder " + dir + ": " + error.message());
  if (names.empty()) throw RouterError("rules folder " + dir + " has no *.lua file");
  std::sort(names.begin(), names.end());

  RuleSource source;
  source.directory = dir;
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (const std::string& name : names) {
    File file{name, readWholeFile(fs::path(dir) / name)};
    fnv1a(hash, name);
    fnv1a(hash, std::string(1, '\0'));
    fnv1a(hash, file.code);
    fnv1a(hash, std::string(1, '\0'));
    source.files.push_back(std::move(file));
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  source.version = hex;
  return source;
}

std::string RuleFailure::describe() const {
  if (file.empty()) return message;
  if (line <= 0) return file + ": " + message;
  return file + ":" + std::to_string(line) + ": " + message;
}

// ---------------------------------------------------------------- RuleEngine

namespace {

using lua::Location;
using lua::Runtime;

struct Chunk {
  const char* code;
  size_t size;
  std::string chunkName;    // "@10-ct.lua"
  std::string syntaxError;  // set when the text does not parse
};

// Loads and runs one chunk (a rule file's top-level code, or the prelude).
int loadChunk(lua_State* L) {
  auto* chunk = static_cast<Chunk*>(lua_touserdata(L, 1));
  const int status = luaL_loadbufferx(L, chunk->code, chunk->size, chunk->chunkName.c_str(), "t");
  if (status == LUA_ERRSYNTAX) {
    std::string text = lua::errorText(L);  // may throw bad_alloc: rare, ends as a Lua error below
    chunk->syntaxError = std::move(text);
    return 0;
  }
  if (status != LUA_OK) return lua_error(L);
  lua_call(L, 0, 0);
  return 0;
}

struct RouteCheck {
  lua::RouteReader* reader;
  std::string problem;  // empty: route and/or route_study are functions
  bool hasRoute = false;
  std::optional<Completion> study;  // route_study is defined: when a study is complete
};

int checkRouteDefined(lua_State* L) {
  auto* check = static_cast<RouteCheck*>(lua_touserdata(L, 1));
  const int type = lua_getglobal(L, "route");
  const int studyType = lua_getglobal(L, "route_study");
  if (type == LUA_TNIL && studyType == LUA_TNIL) {
    check->problem = "no rule file defines the global function route(instance) or route_study(study)";
  } else if (type != LUA_TNIL && type != LUA_TFUNCTION) {
    check->problem = std::string("route must be a function route(instance), not a ") + lua_typename(L, type);
  } else if (studyType != LUA_TNIL && studyType != LUA_TFUNCTION) {
    check->problem = std::string("route_study must be a function route_study(study), not a ") +
                     lua_typename(L, studyType);
  }
  check->hasRoute = type == LUA_TFUNCTION;
  if (!check->problem.empty() || studyType != LUA_TFUNCTION) return 0;
  check->study.emplace();
  check->study->level = RouteLevel::Study;
  if (lua_getglobal(L, "study_complete") != LUA_TNIL) {
    if (std::optional<std::string> why = check->reader->readStudyCompletion(L, lua_gettop(L), *check->study)) {
      check->problem = *why;
    }
  }
  return 0;
}

// Where the Lua function at index was defined (a rule file and line), for a
// malformed answer, which has no line of its own.
Location definedAt(lua_State* L, int index) {
  lua_Debug ar;
  lua_pushvalue(L, index);
  if (lua_getinfo(L, ">S", &ar) != 0 && ar.source != nullptr && ar.source[0] == '@') {
    return Location{ar.source + 1, ar.linedefined};
  }
  return {};
}

struct StudyCall {
  const StudySummary* study;
  lua::RouteReader* reader;
  std::vector<Route> routes;
  std::optional<std::string> malformed;
  Location definedAt;
};

int callRouteStudy(lua_State* L) {
  auto* call = static_cast<StudyCall*>(lua_touserdata(L, 1));
  lua_settop(L, 0);
  if (lua_getglobal(L, "route_study") != LUA_TFUNCTION) {
    return luaL_error(L, "route_study is no longer a function (it is a %s): a rule replaced it",
                      luaL_typename(L, -1));
  }
  std::string cxxError;
  try {
    std::set<std::string> series;
    for (const SeriesSummary& s : call->study->series) series.insert(s.uid);
    lua_pushvalue(L, 1);
    lua::pushStudy(L, *call->study);
    lua_call(L, 1, 1);
    call->malformed = call->reader->read(L, 2, call->routes, &series);
    if (call->malformed) call->definedAt = definedAt(L, 1);
  } catch (const std::exception& e) {
    cxxError = e.what();
  }
  if (!cxxError.empty()) return luaL_error(L, "%s", cxxError.c_str());
  return 0;
}

struct RouteCall {
  const InstanceView* instance;
  lua::RouteReader* reader;
  std::vector<Route> routes;
  std::optional<std::string> malformed;  // route() answered something unusable
  Location routeDefinedAt;
};

int callRoute(lua_State* L) {
  auto* call = static_cast<RouteCall*>(lua_touserdata(L, 1));
  lua_settop(L, 0);
  if (lua_getglobal(L, "route") != LUA_TFUNCTION) {
    return luaL_error(L, "route is no longer a function (it is a %s): a rule replaced it",
                      luaL_typename(L, -1));
  }
  lua_pushvalue(L, 1);
  lua::pushInstance(L, *call->instance);
  lua_call(L, 1, 1);
  std::string cxxError;
  try {
    call->malformed = call->reader->read(L, 2, call->routes);
    if (call->malformed) call->routeDefinedAt = definedAt(L, 1);
  } catch (const std::exception& e) {
    cxxError = e.what();
  }
  if (!cxxError.empty()) return luaL_error(L, "%s", cxxError.c_str());
  return 0;
}

std::string mebibytes(size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.0f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return text;
}

// "10-ct.lua:12: boom" -> file, line, "boom" (what Lua puts in front of messages).
bool splitPosition(const std::string& text, Location& where, std::string& rest) {
  const size_t colon = text.find(':');
  if (colon == std::string::npos || colon == 0) return false;
  size_t end = colon + 1;
  while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
  if (end == colon + 1 || end + 1 >= text.size() || text[end] != ':' || text[end + 1] != ' ') {
    return false;
  }
  where.file = text.substr(0, colon);
  where.line = std::stoi(text.substr(colon + 1, end - colon - 1));
  rest = text.substr(end + 2);
  return true;
}

}  // namespace

struct RuleEngine::State {
  State(const RuleSource& source, std::set<std::string> destinations, RuleLimits limits,
        Log& logSink)
      : runtime(limits.memoryBytes, limits.instructionBudget, limits.timeLimit, logSink),
        lua(lua::newSandboxState(runtime)),
        reader(std::move(destinations)),
        version(source.version),
        log(logSink) {}

  // What went wrong in the protected call that returned status; the error
  // object is on the stack top.
  RuleFailure failureOf(int status) {
    lua_State* L = lua.get();
    if (runtime.timeExceeded) {
      return {runtime.budgetAt.file, runtime.budgetAt.line,
              "stopped after running " + std::to_string(runtime.timeLimit.count()) +
                  " ms (the time limit): an endless loop, or too much work for one instance?"};
    }
    if (runtime.budgetExceeded) {
      return {runtime.budgetAt.file, runtime.budgetAt.line,
              "stopped after " + std::to_string(runtime.instructionBudget) +
                  " Lua instructions (the instruction budget): an endless loop?"};
    }
    if (status == LUA_ERRMEM || runtime.memoryExceeded) {
      return {runtime.lastLine.file, runtime.lastLine.line,
              "stopped: the rules needed more than " + mebibytes(runtime.memoryLimit) +
                  " of memory (the memory limit)"};
    }
    std::string message = lua::errorText(L);
    Location where = runtime.errorAt;
    Location prefix;
    std::string rest;
    if (splitPosition(message, prefix, rest)) {
      if (where.file.empty()) where = prefix;
      if (prefix.file == where.file && prefix.line == where.line) message = rest;
    }
    return {where.file, where.line, message};
  }

  // Runs one chunk during compilation; throws RuleCompileError.
  void runChunk(const std::string& code, const std::string& chunkName, const std::string& file) {
    lua_State* L = lua.get();
    // A UTF-8 byte order mark (Windows editors) is not Lua.
    size_t skip = code.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
    Chunk chunk{code.data() + skip, code.size() - skip, chunkName, {}};
    lua::beginCall(L);
    const int status = lua::protectedCall(L, loadChunk, &chunk);
    if (status == LUA_OK && chunk.syntaxError.empty()) return;
    RuleFailure failure;
    if (status == LUA_OK) {
      Location where;
      std::string rest;
      if (splitPosition(chunk.syntaxError, where, rest)) {
        failure = {where.file, where.line, rest};
      } else {
        failure = {file, 0, chunk.syntaxError};
      }
    } else {
      failure = failureOf(status);
      if (failure.file.empty()) failure.file = file;
    }
    lua_settop(L, 0);
    throw RuleCompileError(std::move(failure));
  }

  void compile(const RuleSource& source) {
    lua_State* L = lua.get();
    runChunk(lua::kPreludeSource, "=prelude", "prelude");
    lua::setLineTracking(L, true);  // top-level code runs once: tracking costs nothing here
    for (const RuleSource::File& file : source.files) {
      runChunk(file.code, "@" + file.name, file.name);
    }
    lua::setLineTracking(L, false);
    RouteCheck check{&reader, {}, false, std::nullopt};
    lua::beginCall(L);
    const int status = lua::protectedCall(L, checkRouteDefined, &check);
    if (status != LUA_OK) {
      RuleFailure failure = failureOf(status);
      lua_settop(L, 0);
      throw RuleCompileError(std::move(failure));
    }
    lua_settop(L, 0);
    if (!check.problem.empty()) throw RuleCompileError({"", 0, check.problem});
    hasRoute = check.hasRoute;
    studyCompletion = std::move(check.study);
    lua_gc(L, LUA_GCCOLLECT, 0);
  }

  RouteDecision routeStudy(const StudySummary& study) {
    lua_State* L = lua.get();
    RouteDecision decision;
    if (!studyCompletion) return decision;
    StudyCall call{&study, &reader, {}, std::nullopt, {}};
    lua::beginCall(L);
    const int status = lua::protectedCall(L, callRouteStudy, &call);
    if (status == LUA_OK && !call.malformed) {
      decision.routes = std::move(call.routes);
    } else if (status == LUA_OK) {
      decision.failure = RuleFailure{call.definedAt.file, call.definedAt.line,
                                     "route_study() returned something unusable: " + *call.malformed};
    } else {
      decision.failure = failureOf(status);
    }
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
    return decision;
  }

  RouteDecision route(const InstanceView& instance) {
    lua_State* L = lua.get();
    RouteDecision decision;
    if (!hasRoute) return decision;  // only route_study(): nothing per instance
    RouteCall call{&instance, &reader, {}, std::nullopt, {}};
    lua::beginCall(L);
    const int status = lua::protectedCall(L, callRoute, &call);
    runtime.instance = nullptr;
    runtime.tagsTable = nullptr;
    if (status == LUA_OK && !call.malformed) {
      decision.routes = std::move(call.routes);
      for (Route& route : decision.routes) {
        Completion& c = route.completion;
        for (size_t i = 0; i < c.required.size(); ++i) {
          if (lua::meets(c.required[i], instance)) c.requiredMet |= 1u << i;
        }
      }
      return decision;
    }
    if (status == LUA_OK) {
      decision.failure = RuleFailure{call.routeDefinedAt.file, call.routeDefinedAt.line,
                                     "route() returned something unusable: " + *call.malformed};
    } else {
      const bool memory = status == LUA_ERRMEM || runtime.memoryExceeded;
      decision.failure = failureOf(status);
      lua_settop(L, 0);
      if (memory) locateMemoryFailure(instance, *decision.failure);
    }
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);  // whatever the failed call left behind
    return decision;
  }

  // A memory error carries no position (Lua runs no handler for it): run the
  // call again, quietly, tracking lines, to find the rule line it died on.
  void locateMemoryFailure(const InstanceView& instance, RuleFailure& failure) {
    lua_State* L = lua.get();
    lua_gc(L, LUA_GCCOLLECT, 0);
    RouteCall again{&instance, &reader, {}, std::nullopt, {}};
    lua::beginCall(L);
    // The hook on every line makes this run several times slower than the
    // one that failed: with only the usual time limit, a slow machine (or a
    // sanitizer build) stops it on time before it reaches the memory error,
    // and the failure is left without its line. The instruction budget and
    // the memory limit still hold as usual.
    runtime.deadline = std::chrono::steady_clock::now() + 4 * runtime.timeLimit;
    runtime.logMuted = true;
    lua::setLineTracking(L, true);
    const int status = lua::protectedCall(L, callRoute, &again);
    lua::setLineTracking(L, false);
    runtime.logMuted = false;
    runtime.instance = nullptr;
    runtime.tagsTable = nullptr;
    if (status != LUA_OK && (status == LUA_ERRMEM || runtime.memoryExceeded)) {
      failure.file = runtime.lastLine.file;
      failure.line = runtime.lastLine.line;
    }
    lua_settop(L, 0);
  }

  Runtime runtime;  // declared before lua: the state's allocator points into it
  lua::LuaPtr lua;
  lua::RouteReader reader;
  std::string version;
  Log& log;
  bool hasRoute = false;
  std::optional<Completion> studyCompletion;
};

RuleEngine::RuleEngine(const RuleSource& source, std::set<std::string> destinations,
                       RuleLimits limits, Log& log)
    : state_(std::make_unique<State>(source, std::move(destinations), limits, log)) {
  state_->compile(source);
}

RuleEngine::~RuleEngine() = default;

RouteDecision RuleEngine::route(const InstanceView& instance) { return state_->route(instance); }

RouteDecision RuleEngine::routeStudy(const StudySummary& study) { return state_->routeStudy(study); }

void RuleEngine::limitProjects(std::set<std::string> projects) { state_->reader.limitProjects(std::move(projects)); }

const std::optional<Completion>& RuleEngine::studyCompletion() const { return state_->studyCompletion; }

Route RuleEngine::studyDecisionRoute(const InstanceView& instance) const {
  Route route;
  route.destination = kStudyDecision;
  route.completion = state_->studyCompletion.value_or(Completion{});
  route.completion.level = RouteLevel::Study;
  for (size_t i = 0; i < route.completion.required.size(); ++i) {
    if (lua::meets(route.completion.required[i], instance)) route.completion.requiredMet |= 1u << i;
  }
  return route;
}

const std::string& RuleEngine::version() const { return state_->version; }

}  // namespace router
