// The sandboxed Lua state: a counting allocator (memory cap), a count hook
// (instruction budget), the subset of the standard libraries rules may use,
// and the engine's C functions (log, warn, print, transfer_syntax_uid, type,
// and the prelude helpers match, one_of and contains).
//
// Lua is built as C++ here: lua_error unwinds with a C++ exception, so the
// C++ objects in these functions are destroyed properly. No std::exception
// may leave a lua_CFunction: guarded() turns one into a Lua error.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "lua/RuleEngine.h"
#include "lua/Runtime.h"
#include "transcoders/TransferSyntax.h"

namespace router::lua {
namespace {

// Runs body(); a std::exception becomes a Lua error (never crosses into Lua).
template <typename Body>
int guarded(lua_State* L, Body&& body) {
  std::string message;
  try {
    return body();
  } catch (const std::exception& e) {
    try {
      message = e.what();
    } catch (const std::bad_alloc&) {
    }
  }
  return luaL_error(L, "%s", message.empty() ? "internal error" : message.c_str());
}

void hook(lua_State* L, lua_Debug* ar);

int hookMask(const Runtime& rt) { return rt.trackLines ? (LUA_MASKCOUNT | LUA_MASKLINE) : LUA_MASKCOUNT; }

// Makes the hook fire at the next VM instruction. lua_sethook is safe to
// call at any moment (Lua documents it for signal handlers), so also from
// inside the allocator.
void hastenHook(Runtime& rt) {
  if (rt.hookHastened || rt.state == nullptr) return;
  rt.hookHastened = true;
  lua_sethook(rt.state, hook, hookMask(rt), 1);
}

[[noreturn]] void raiseBudgetExhausted(lua_State* L) {
  lua_pushliteral(L, "instruction budget exhausted");
  lua_error(L);
  std::abort();  // not reached: lua_error does not return
}

// Adds the cost of work done inside a library function; raises at once when
// the budget is gone.
void charge(lua_State* L, uint64_t cost) {
  Runtime& rt = runtime(L);
  rt.instructionsUsed += cost;
  if (rt.instructionsUsed <= rt.instructionBudget && !rt.aborting()) return;
  if (!rt.aborting()) {
    rt.budgetExceeded = true;
    rt.budgetAt = ruleLocation(L);
  }
  raiseBudgetExhausted(L);
}

// Every allocation of the state goes through here. Refusing (returning
// nullptr) makes Lua raise a memory error; shrinking never fails.
void* countingAlloc(void* ud, void* ptr, size_t osize, size_t nsize) noexcept {
  auto* rt = static_cast<Runtime*>(ud);
  const size_t old = ptr != nullptr ? osize : 0;  // without ptr, osize is a type tag
  if (nsize == 0) {
    if (ptr != nullptr) rt->pool.release(ptr, osize);
    rt->memoryUsed -= old;
    return nullptr;
  }
  if (nsize > old && rt->memoryUsed - old + nsize > rt->memoryLimit) return nullptr;
  void* block = ptr != nullptr ? rt->pool.resize(ptr, old, nsize) : rt->pool.allocate(nsize);
  if (block == nullptr) return nsize <= old ? ptr : nullptr;
  rt->memoryUsed = rt->memoryUsed - old + nsize;
  if (nsize > old) {
    rt->instructionsUsed += (nsize - old) / kBytesPerInstruction;
    if (rt->instructionsUsed > rt->instructionBudget) hastenHook(*rt);
  }
  return block;
}

void hook(lua_State* L, lua_Debug* ar) {
  Runtime& rt = runtime(L);
  if (ar->event == LUA_HOOKLINE) {
    if (!rt.trackLines || !lua_getinfo(L, "S", ar)) return;
    if (ar->source != nullptr && ar->source[0] == '@') {
      try {
        rt.lastLine.file.assign(ar->source + 1);
        rt.lastLine.line = ar->currentline;
      } catch (const std::bad_alloc&) {
      }
    }
    return;
  }
  if (ar->event != LUA_HOOKCOUNT) return;
  rt.instructionsUsed += rt.hookHastened ? 1 : kHookInterval;
  if (!rt.aborting()) {
    if (rt.instructionsUsed > rt.instructionBudget) {
      rt.budgetExceeded = true;
    } else if (std::chrono::steady_clock::now() > rt.deadline) {
      rt.timeExceeded = true;
    } else {
      return;
    }
    rt.budgetAt = ruleLocation(L);
  }
  // Raised again at every hook until the call unwinds: rule code that
  // catches it with pcall cannot carry on.
  raiseBudgetExhausted(L);
}

int messageHandler(lua_State* L) {
  runtime(L).errorAt = ruleLocation(L);
  return 1;  // the error object, unchanged
}

// log(...), warn(...), print(...): one line in the router log, prefixed with
// the rule file and line. Upvalue 1: true for a warning.
int logWrite(lua_State* L) {
  Runtime& rt = runtime(L);
  const bool warning = lua_toboolean(L, lua_upvalueindex(1));
  const int n = lua_gettop(L);
  luaL_Buffer buffer;
  luaL_buffinit(L, &buffer);
  for (int i = 1; i <= n; ++i) {
    if (i > 1) luaL_addchar(&buffer, ' ');
    luaL_tolstring(L, i, nullptr);
    luaL_addvalue(&buffer);
  }
  luaL_pushresult(&buffer);
  if (rt.logMuted) return 0;
  ++rt.logLines;
  if (rt.logLines > kMaxLogLinesPerCall + 1) return 0;
  size_t length = 0;
  const char* text = lua_tolstring(L, -1, &length);
  return guarded(L, [&] {
    Location where = ruleLocation(L);
    std::string line = "rules " + (where.file.empty() ? std::string("?") : where.file);
    if (where.line > 0) line += ":" + std::to_string(where.line);
    line += ": ";
    if (rt.logLines > kMaxLogLinesPerCall) {
      line += "more than " + std::to_string(kMaxLogLinesPerCall) +
              " log lines in one call; the rest are dropped";
    } else {
      line.append(text, length);
    }
    if (warning) {
      rt.log.warning(line);
    } else {
      rt.log.info(line);
    }
    return 0;
  });
}

// load() for text chunks only: bytecode could break out of the sandbox.
// Upvalue 1: the standard load.
int sandboxLoad(lua_State* L) {
  const char* mode = luaL_optstring(L, 3, "t");
  if (std::strcmp(mode, "t") != 0) {
    return luaL_error(L, "load: only text chunks may be loaded by rules (mode \"t\"), not \"%s\"",
                      mode);
  }
  int n = lua_gettop(L);
  if (n < 3) {
    lua_settop(L, 3);
    n = 3;
  }
  lua_pushliteral(L, "t");
  lua_replace(L, 3);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, LUA_MULTRET);
  return lua_gettop(L);
}

// setmetatable() without __gc: a finalizer runs during garbage collection,
// where Lua turns hooks off, so the budget could not stop it (and it could
// run later, outside any route() call, e.g. while the state is closed).
int sandboxSetmetatable(lua_State* L) {
  const int type = lua_type(L, 2);
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_argexpected(L, type == LUA_TNIL || type == LUA_TTABLE, 2, "nil or table");
  if (type == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    if (lua_rawget(L, 2) != LUA_TNIL) {
      return luaL_error(L, "setmetatable: __gc metamethods are not available to rules");
    }
    lua_pop(L, 1);
  }
  if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL) {
    return luaL_error(L, "cannot change a protected metatable");
  }
  lua_settop(L, 2);
  lua_setmetatable(L, 1);
  return 1;
}

// pcall/xpcall that cannot swallow the end of the budget or of the memory.
int finishPcall(lua_State* L, int status, int extra) {
  if (status == LUA_OK) return lua_gettop(L) - extra;
  Runtime& rt = runtime(L);
  if (status == LUA_ERRMEM) rt.memoryExceeded = true;
  if (rt.aborting()) return lua_error(L);
  charge(L, kErrorCost);
  lua_pushboolean(L, 0);
  lua_pushvalue(L, -2);
  return 2;
}

int sandboxPcall(lua_State* L) {
  luaL_checkany(L, 1);
  lua_pushboolean(L, 1);
  lua_insert(L, 1);
  const int status = lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 0);
  return finishPcall(L, status, 0);
}

// The rule's message handler, called only for ordinary errors. An error
// raised by the hook (budget) reaches the handler while Lua has hooks turned
// off, so a handler that loops would never be stopped. Upvalue 1: the handler.
int guardedMessageHandler(lua_State* L) {
  if (runtime(L).aborting()) return 1;
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

int sandboxXpcall(lua_State* L) {
  const int n = lua_gettop(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushvalue(L, 2);
  lua_pushcclosure(L, guardedMessageHandler, 1);
  lua_replace(L, 2);
  lua_pushboolean(L, 1);
  lua_pushvalue(L, 1);
  lua_rotate(L, 3, 2);
  const int status = lua_pcall(L, n - 2, LUA_MULTRET, 2);
  return finishPcall(L, status, 2);
}

// collectgarbage("count") only: a full collection costs milliseconds but
// only a few instructions, so it would slip past the budget.
int sandboxCollectgarbage(lua_State* L) {
  const char* option = luaL_optstring(L, 1, "collect");
  if (std::strcmp(option, "count") != 0) {
    return luaL_error(L, "collectgarbage(\"%s\") is not available to rules (only \"count\")",
                      option);
  }
  const int kilobytes = lua_gc(L, LUA_GCCOUNT);
  const int bytes = lua_gc(L, LUA_GCCOUNTB);
  lua_pushnumber(L, static_cast<lua_Number>(kilobytes) + bytes / 1024.0);
  return 1;
}

// type(v), as the standard one answers, from type names made once: the
// standard type() finds the name from its C text on every call, and rules
// and the prelude call type() a lot. Upvalues 1..LUA_NUMTYPES: the names.
int fastType(lua_State* L) {
  const int type = lua_type(L, 1);
  luaL_argexpected(L, type != LUA_TNONE, 1, "value");
  lua_pushvalue(L, lua_upvalueindex(type + 1));
  return 1;
}

void setTypeFunction(lua_State* L) {
  for (int type = 0; type < LUA_NUMTYPES; ++type) lua_pushstring(L, lua_typename(L, type));
  lua_pushcclosure(L, fastType, LUA_NUMTYPES);
  lua_setglobal(L, "type");
}

// ---- Prelude helpers written in C (see prelude.lua for the others). Rules
// call them a few dozen times per instance; in C each is one call instead of
// a Lua function making several library calls. They answer exactly as their
// Lua definitions did (tests/unit/rule_engine_test.cpp compares them).

// Replaces the value at index by its text (strings as they are, other values
// as tostring makes them). False, and nothing done, for nil or none.
bool textAt(lua_State* L, int index) {
  const int type = lua_type(L, index);
  if (type == LUA_TNIL || type == LUA_TNONE) return false;
  if (type != LUA_TSTRING) {
    luaL_tolstring(L, index, nullptr);
    lua_replace(L, index);
  }
  return true;
}

// Whether list[1], list[2], ... up to the first nil (what ipairs visits)
// holds the string at index value. Each element costs one instruction of the
// budget: an __index written in C could otherwise answer for ever.
bool listed(lua_State* L, int value, int list) {
  for (lua_Integer k = 1;; ++k) {
    charge(L, 1);
    if (lua_geti(L, list, k) == LUA_TNIL) {
      lua_pop(L, 1);
      return false;
    }
    const bool equal = lua_rawequal(L, value, -1) != 0;
    lua_pop(L, 1);
    if (equal) return true;
  }
}

// Calls string.find (upvalue 1: the sandbox's, charged by size) on the
// arguments from index 1 to the top; true when it found something.
bool found(lua_State* L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return !lua_isnil(L, -1);
}

// one_of(value, list): value equals one of the strings of list.
int helperOneOf(lua_State* L) {
  if (lua_type(L, 2) != LUA_TTABLE) {
    return luaL_error(L, "one_of(value, list): the second argument must be a list of strings");
  }
  lua_pushboolean(L, textAt(L, 1) && listed(L, 1, 2));
  return 1;
}

// match(value, pattern): value contains the Lua pattern;
// match(value, list): value equals one of the strings of list.
int helperMatch(lua_State* L) {
  if (!textAt(L, 1)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  const int kind = lua_type(L, 2);
  if (kind == LUA_TTABLE) {
    lua_pushboolean(L, listed(L, 1, 2));
    return 1;
  }
  if (kind != LUA_TSTRING) {
    return luaL_error(L,
                      "match(value, pattern_or_list): the second argument must be a Lua pattern "
                      "or a list of strings, not %s",
                      lua_typename(L, kind == LUA_TNONE ? LUA_TNIL : kind));
  }
  lua_settop(L, 2);
  lua_pushboolean(L, found(L));
  return 1;
}

// contains(value, part): value contains part as plain text.
int helperContains(lua_State* L) {
  if (!textAt(L, 1)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_settop(L, 2);
  lua_pushinteger(L, 1);
  lua_pushboolean(L, 1);
  lua_pushboolean(L, found(L));
  return 1;
}

void setHelpers(lua_State* L) {
  lua_pushcfunction(L, helperOneOf);
  lua_setglobal(L, "one_of");
  lua_getglobal(L, "string");
  lua_getfield(L, -1, "find");
  lua_pushcclosure(L, helperMatch, 1);
  lua_setglobal(L, "match");
  lua_getfield(L, -1, "find");
  lua_pushcclosure(L, helperContains, 1);
  lua_setglobal(L, "contains");
  lua_pop(L, 1);
}

// transfer_syntax_uid(name): the UID of a keyword or UID the appliance knows, or nil.
int transferSyntaxUid(lua_State* L) {
  size_t length = 0;
  const char* name = luaL_checklstring(L, 1, &length);
  return guarded(L, [&] {
    std::optional<std::string> uid = resolveTransferSyntax(std::string_view(name, length));
    if (uid) {
      lua_pushlstring(L, uid->data(), uid->size());
    } else {
      lua_pushnil(L);
    }
    return 1;
  });
}

// A library function whose cost grows with the size of an argument (a
// string's length, a table's length): charged before it runs. Upvalues: the
// function, the argument index, whether the cost is n log n (sorting), and
// the index of an "init" argument that starts the work later in the string
// (0: none).
void chargeForSize(lua_State* L) {
  const int argument = static_cast<int>(lua_tointeger(L, lua_upvalueindex(2)));
  const int type = lua_type(L, argument);
  if (type != LUA_TSTRING && type != LUA_TTABLE) return;
  uint64_t n = lua_rawlen(L, argument);
  const int init = static_cast<int>(lua_tointeger(L, lua_upvalueindex(4)));
  if (init > 0 && lua_isinteger(L, init)) {
    const lua_Integer start = lua_tointeger(L, init);
    if (start > 1) n = static_cast<uint64_t>(start) > n ? 0 : n - static_cast<uint64_t>(start) + 1;
  }
  if (lua_toboolean(L, lua_upvalueindex(3))) {
    uint64_t log2 = 1;
    while ((uint64_t{1} << log2) < n && log2 < 63) ++log2;
    n *= log2;
  }
  charge(L, n);
}

// The wrapper of a C function that has no upvalue of its own (all of
// string, table and utf8 in Lua 5.4): it runs inside the wrapper's own call,
// on the same arguments, saving a second call through Lua.
int chargedDirectCall(lua_State* L) {
  chargeForSize(L);
  return lua_tocfunction(L, lua_upvalueindex(1))(L);
}

// The general wrapper: calls the function through Lua.
int chargedCall(lua_State* L) {
  chargeForSize(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

void chargeBySize(lua_State* L, const char* library, const char* name, int argument,
                  bool sorting = false, int init = 0) {
  lua_getglobal(L, library);
  lua_getfield(L, -1, name);
  // A C function without upvalues can be called directly from the wrapper.
  bool direct = lua_tocfunction(L, -1) != nullptr;
  if (direct && lua_getupvalue(L, -1, 1) != nullptr) {
    direct = false;
    lua_pop(L, 1);
  }
  lua_pushinteger(L, argument);
  lua_pushboolean(L, sorting);
  lua_pushinteger(L, init);
  lua_pushcclosure(L, direct ? chargedDirectCall : chargedCall, 4);
  lua_setfield(L, -2, name);
  lua_pop(L, 1);
}

void wrapGlobal(lua_State* L, const char* name, lua_CFunction wrapper) {
  lua_getglobal(L, name);
  lua_pushcclosure(L, wrapper, 1);
  lua_setglobal(L, name);
}

void setGlobalFunction(lua_State* L, const char* name, lua_CFunction function) {
  lua_pushcfunction(L, function);
  lua_setglobal(L, name);
}

void setLogFunction(lua_State* L, const char* name, bool warning) {
  lua_pushboolean(L, warning);
  lua_pushcclosure(L, logWrite, 1);
  lua_setglobal(L, name);
}

int openSandbox(lua_State* L) {
  lua_settop(L, 0);
  luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
  luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
  luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
  luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
  luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);  // not global: only three functions are
  const int os = lua_gettop(L);
  lua_createtable(L, 0, 3);
  for (const char* name : {"time", "date", "clock"}) {
    lua_getfield(L, os, name);
    lua_setfield(L, -2, name);
  }
  lua_setglobal(L, "os");
  lua_settop(L, 0);

  for (const char* name : {"dofile", "loadfile", "require", "package", "io", "debug", "coroutine"}) {
    lua_pushnil(L);
    lua_setglobal(L, name);
  }
  lua_getglobal(L, "string");
  lua_pushnil(L);
  lua_setfield(L, -2, "dump");  // bytecode out, bytecode in: both refused
  lua_pop(L, 1);
  // getmetatable("") answers false: rules cannot change how every string behaves.
  lua_pushliteral(L, "");
  lua_getmetatable(L, -1);
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 2);

  // Work the VM does not count: charged by size (allocations are charged
  // by the allocator).
  chargeBySize(L, "table", "sort", 1, true);
  for (const char* name : {"insert", "remove", "concat", "unpack"}) chargeBySize(L, "table", name, 1);
  for (const char* name : {"find", "match", "gmatch"}) chargeBySize(L, "string", name, 1, false, 3);
  for (const char* name : {"gsub", "upper", "lower", "reverse"}) chargeBySize(L, "string", name, 1);
  chargeBySize(L, "utf8", "len", 1, false, 2);

  setTypeFunction(L);
  setHelpers(L);  // after chargeBySize: they call the charged string.find
  wrapGlobal(L, "load", sandboxLoad);
  setGlobalFunction(L, "setmetatable", sandboxSetmetatable);
  setGlobalFunction(L, "pcall", sandboxPcall);
  setGlobalFunction(L, "xpcall", sandboxXpcall);
  setGlobalFunction(L, "collectgarbage", sandboxCollectgarbage);
  setGlobalFunction(L, "transfer_syntax_uid", transferSyntaxUid);
  setLogFunction(L, "log", false);
  setLogFunction(L, "print", false);
  setLogFunction(L, "warn", true);
  registerInstanceSupport(L);
  return 0;
}

}  // namespace

BlockPool::~BlockPool() {
  for (FreeBlock*& head : free_) {
    while (head != nullptr) {
      FreeBlock* next = head->next;
      std::free(head);
      head = next;
    }
  }
}

void* BlockPool::allocate(size_t size) noexcept {
  if (size > kMaxBlock) return std::malloc(size);
  const size_t sizeClass = classOf(size);
  if (FreeBlock* block = free_[sizeClass]) {
    free_[sizeClass] = block->next;
    pooledBytes_ -= bytesOf(sizeClass);
    return block;
  }
  return std::malloc(bytesOf(sizeClass));
}

void BlockPool::release(void* block, size_t size) noexcept {
  if (size <= kMaxBlock) {
    const size_t sizeClass = classOf(size);
    if (pooledBytes_ + bytesOf(sizeClass) <= kMaxPooledBytes) {
      free_[sizeClass] = new (block) FreeBlock{free_[sizeClass]};
      pooledBytes_ += bytesOf(sizeClass);
      return;
    }
  }
  std::free(block);
}

void* BlockPool::resize(void* block, size_t oldSize, size_t newSize) noexcept {
  if (oldSize > kMaxBlock && newSize > kMaxBlock) return std::realloc(block, newSize);
  if (oldSize <= kMaxBlock && newSize <= kMaxBlock && classOf(oldSize) == classOf(newSize)) {
    return block;
  }
  void* moved = allocate(newSize);
  if (moved == nullptr) return nullptr;
  std::memcpy(moved, block, oldSize < newSize ? oldSize : newSize);
  release(block, oldSize);
  return moved;
}

Runtime& runtime(lua_State* L) { return **static_cast<Runtime**>(lua_getextraspace(L)); }

LuaPtr newSandboxState(Runtime& rt) {
  LuaPtr state(lua_newstate(countingAlloc, &rt));
  if (!state) {
    throw RuleCompileError({"", 0, "cannot create a Lua state within the memory limit of " +
                                       std::to_string(rt.memoryLimit) + " bytes"});
  }
  lua_State* L = state.get();
  *static_cast<Runtime**>(lua_getextraspace(L)) = &rt;
  rt.state = L;
  // Each route() call makes short-lived tables (instance, routes): the
  // generational collector frees them young, which keeps the p99 down.
  lua_gc(L, LUA_GCGEN, 0, 0);
  lua_sethook(L, hook, LUA_MASKCOUNT, kHookInterval);
  beginCall(L);
  if (protectedCall(L, openSandbox, nullptr) != LUA_OK) {
    std::string why = errorText(L);
    throw RuleCompileError({"", 0, "cannot set up the Lua sandbox: " + why});
  }
  lua_settop(L, 0);
  return state;
}

Location ruleLocation(lua_State* L) {
  lua_Debug ar;
  for (int level = 0; lua_getstack(L, level, &ar) != 0; ++level) {
    if (lua_getinfo(L, "Sl", &ar) == 0) break;
    if (ar.source != nullptr && ar.source[0] == '@' && ar.currentline > 0) {
      try {
        return Location{ar.source + 1, ar.currentline};
      } catch (const std::bad_alloc&) {
        return {};
      }
    }
  }
  return {};
}

void beginCall(lua_State* L) {
  Runtime& rt = runtime(L);
  rt.startCall();
  if (rt.hookHastened) {
    rt.hookHastened = false;
    lua_sethook(L, hook, hookMask(rt), kHookInterval);
  }
}

void setLineTracking(lua_State* L, bool on) {
  Runtime& rt = runtime(L);
  rt.trackLines = on;
  rt.hookHastened = false;
  lua_sethook(L, hook, hookMask(rt), kHookInterval);
}

int protectedCall(lua_State* L, lua_CFunction f, void* ud) {
  lua_pushcfunction(L, messageHandler);
  const int handler = lua_gettop(L);
  lua_pushcfunction(L, f);
  lua_pushlightuserdata(L, ud);
  const int status = lua_pcall(L, 1, 0, handler);
  lua_remove(L, handler);
  return status;
}

std::string errorText(lua_State* L) {
  switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
      size_t length = 0;
      const char* text = lua_tolstring(L, -1, &length);
      return std::string(text, length);
    }
    case LUA_TNUMBER: {
      if (lua_isinteger(L, -1)) return std::to_string(lua_tointeger(L, -1));
      char text[64];
      std::snprintf(text, sizeof text, "%.14g", static_cast<double>(lua_tonumber(L, -1)));
      return text;
    }
    default:
      return std::string("error object is a ") + luaL_typename(L, -1) + " value";
  }
}

}  // namespace router::lua
