// Internal to lua/: the bookkeeping of one sandboxed Lua state (memory used,
// a pool of freed small blocks, instructions used, where an error was raised,
// the instance being routed), and the functions that create and drive such
// a state. The C callbacks reach the Runtime through the state's extra space,
// so no global is involved.
//
// Thread safety: a Runtime belongs to one RuleEngine and is used by one
// thread at a time, like its lua_State.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <lua.hpp>

#include "plugins/core/Log.h"
#include "plugins/core/model/Instance.h"
#include "plugins/core/model/Study.h"

namespace router::lua {

// The count hook fires every this many VM instructions.
inline constexpr int kHookInterval = 1000;
// Bytes allocated that cost one instruction of the budget: copying and
// filling memory is work the VM instruction count does not see.
inline constexpr size_t kBytesPerInstruction = 64;
// What a caught error costs (a C++ throw and catch takes microseconds).
inline constexpr uint64_t kErrorCost = 1000;
// Log lines one route() call (or one file's top-level code) may write.
inline constexpr int kMaxLogLinesPerCall = 50;

// The state's small blocks, kept for reuse once freed: each route() call
// allocates and frees a few dozen small objects (tables, strings, closures),
// and a free list serves them several times faster than malloc and free.
// Blocks in the pool are not counted as used by the rules; the pool holds at
// most kMaxPooledBytes. Blocks larger than kMaxBlock go to malloc directly.
// Like the Runtime that holds it, used by one thread at a time.
class BlockPool {
 public:
  static constexpr size_t kGranule = 16;
  static constexpr size_t kMaxBlock = 256;
  static constexpr size_t kMaxPooledBytes = 1u << 20;

  BlockPool() = default;
  ~BlockPool();
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  // nullptr when memory is exhausted (size > 0).
  void* allocate(size_t size) noexcept;
  // size: the size the block was allocated or last resized with.
  void release(void* block, size_t size) noexcept;
  // Like realloc (block not null, sizes > 0): nullptr on failure, the block
  // then unchanged.
  void* resize(void* block, size_t oldSize, size_t newSize) noexcept;

 private:
  struct FreeBlock {
    FreeBlock* next;
  };
  static size_t classOf(size_t size) { return (size - 1) / kGranule; }
  static size_t bytesOf(size_t sizeClass) { return (sizeClass + 1) * kGranule; }

  FreeBlock* free_[kMaxBlock / kGranule] = {};
  size_t pooledBytes_ = 0;
};

struct Location {
  std::string file;  // rule file name ("10-ct.lua"); empty when unknown
  int line = 0;
};

struct Runtime {
  Runtime(size_t memoryLimitBytes, uint64_t instructionBudgetPerCall,
          std::chrono::milliseconds timeLimitPerCall, Log& logSink)
      : memoryLimit(memoryLimitBytes),
        instructionBudget(instructionBudgetPerCall),
        timeLimit(timeLimitPerCall),
        log(logSink) {}

  BlockPool pool;  // declared first, destroyed last: the state's blocks return here
  lua_State* state = nullptr;  // the main thread, once created

  // Memory: every allocation of the state is counted; beyond the limit the
  // allocator refuses and sets memoryExceeded.
  size_t memoryLimit;
  size_t memoryUsed = 0;
  bool memoryExceeded = false;

  // Instructions of the current call; the hook stops the rules past the budget.
  uint64_t instructionBudget;
  uint64_t instructionsUsed = 0;
  bool budgetExceeded = false;
  // The allocator or a library function pushed the count past the budget:
  // the hook was set to fire at the next instruction.
  bool hookHastened = false;
  // Wall-clock backstop, checked by the hook.
  std::chrono::milliseconds timeLimit;
  std::chrono::steady_clock::time_point deadline;
  bool timeExceeded = false;
  Location budgetAt;  // where the budget or the time ran out

  Location errorAt;  // set by the message handler: where the error was raised

  // Line tracking (while loading files, and when re-running a call to find
  // where memory ran out): the last rule line executed.
  bool trackLines = false;
  Location lastLine;

  Log& log;
  bool logMuted = false;
  int logLines = 0;

  // The instance being routed, valid only during a route() call. tagsTable is
  // the identity of its lazily filled tags table (lua_topointer).
  const InstanceView* instance = nullptr;
  const void* tagsTable = nullptr;
  int tagsMetatableRef = 0;  // registry reference

  // Once the budget or the memory is exhausted the rules must not carry on:
  // the sandbox's pcall/xpcall re-raise and the hook keeps raising.
  bool aborting() const { return memoryExceeded || budgetExceeded || timeExceeded; }

  // Before each protected call (through beginCall): fresh budget, no error recorded.
  void startCall() {
    instructionsUsed = 0;
    budgetExceeded = false;
    timeExceeded = false;
    deadline = std::chrono::steady_clock::now() + timeLimit;
    memoryExceeded = false;
    budgetAt = {};
    errorAt = {};
    lastLine = {};
    logLines = 0;
  }
};

Runtime& runtime(lua_State* L);

struct LuaCloser {
  void operator()(lua_State* L) const { lua_close(L); }
};
using LuaPtr = std::unique_ptr<lua_State, LuaCloser>;

// A new state with the sandboxed libraries, the engine's C functions, the
// count hook and the memory cap. Throws RuleCompileError.
LuaPtr newSandboxState(Runtime& runtime);

// The innermost stack frame that runs code of a rule file (chunk name "@file");
// frames of the prelude and of C functions are skipped.
Location ruleLocation(lua_State* L);

// Before each protected call: Runtime::startCall, and the hook back to its
// normal interval.
void beginCall(lua_State* L);

// Turns per-line tracking on or off (Runtime::lastLine).
void setLineTracking(lua_State* L, bool on);

// Calls f(ud) in protected mode with the engine's message handler. Returns
// the Lua status; on error the error object is left on the stack top.
int protectedCall(lua_State* L, lua_CFunction f, void* ud);

// The text of the error object on the stack top (strings and numbers as they
// are; other values described by their type). Does not call Lua code.
std::string errorText(lua_State* L);

// Builds the instance table (see RuleEngine.h for its shape) on the stack.
void pushInstance(lua_State* L, const InstanceView& instance);
// Builds the study table route_study() receives (see README, "Study-level
// decisions"): plain tables, filled at once (a study has a few series).
void pushStudy(lua_State* L, const StudySummary& study);
// Creates the metatable of the lazy tags tables; called once by setup.
void registerInstanceSupport(lua_State* L);

}  // namespace router::lua
