// The sandbox: every way out (io, os, require, debug, bytecode, garbage
// collector, finalizers, the string metatable) fails cleanly with the rule's
// file and line; endless loops and memory bombs are stopped quickly, pcall
// cannot swallow that, and the engine routes the next instance normally.
#include <gtest/gtest.h>

#include <chrono>

#include "rule_test_support.h"

namespace router {
namespace {

using ruletest::CapturingLog;
using ruletest::kTimeSlack;
using ruletest::millisecondsSince;
using ruletest::sourceOf;
using ruletest::testDestinations;

// route(instance) runs body; line 2 of the file is the body's first line.
// A healthy instance (id "ok") always gets { { destination = "pacs" } }.
std::string ruleWith(const std::string& body) {
  return "function route(instance)\n"
         "  if instance.id ~= 'ok' then\n" +
         body +
         "\n  end\n"
         "  return { { destination = 'pacs' } }\n"
         "end\n";
}

InstanceView named(const std::string& id) {
  InstanceView view;
  view.id = id;
  return view;
}

struct Sandbox : ::testing::Test {
  CapturingLog log;
  RuleLimits limits;

  // The wall-clock backstop must not stop, in a slow sanitizer build, what
  // these tests expect the instruction budget or the memory limit to stop.
  Sandbox() {
    limits.timeLimit = std::chrono::milliseconds(static_cast<long>(limits.timeLimit.count() * kTimeSlack));
  }

  // Runs the escape attempt; expects a failure at 10-rules.lua:line whose
  // message contains messagePart, then a normal route for the next instance.
  void expectRefused(const std::string& body, int line, const std::string& messagePart) {
    SCOPED_TRACE(body);
    RuleEngine engine(sourceOf(ruleWith(body)), testDestinations(), limits, log);
    RouteDecision decision = engine.route(named("attempt"));
    ASSERT_TRUE(decision.failure) << "not refused";
    EXPECT_TRUE(decision.routes.empty());
    EXPECT_EQ(decision.failure->file, "10-rules.lua") << decision.failure->describe();
    EXPECT_EQ(decision.failure->line, line);
    EXPECT_NE(decision.failure->message.find(messagePart), std::string::npos) << decision.failure->describe();
    RouteDecision next = engine.route(named("ok"));
    ASSERT_FALSE(next.failure) << next.failure->describe();
    EXPECT_EQ(next.routes.size(), 1u);
  }
};

TEST_F(Sandbox, NoIoOsRequireDebugPackage) {
  expectRefused("    io.open('/etc/passwd')", 3, "attempt to index a nil value (global 'io')");
  expectRefused("    os.execute('touch /tmp/escaped')", 3, "attempt to call a nil value (field 'execute')");
  expectRefused("    return os.getenv('HOME')", 3, "(field 'getenv')");
  expectRefused("    os.remove('/tmp/x')", 3, "(field 'remove')");
  expectRefused("    os.exit(1)", 3, "(field 'exit')");
  expectRefused("    require('os')", 3, "attempt to call a nil value (global 'require')");
  expectRefused("    local _ = package.loaded", 3, "(global 'package')");
  expectRefused("    debug.getinfo(1)", 3, "(global 'debug')");
  expectRefused("    dofile('/etc/passwd')", 3, "(global 'dofile')");
  expectRefused("    loadfile('/etc/passwd')", 3, "(global 'loadfile')");
  expectRefused("    coroutine.wrap(function() end)", 3, "(global 'coroutine')");
}

TEST_F(Sandbox, NoBytecode) {
  expectRefused("    local f = string.dump(function() end)", 3, "(field 'dump')");
  expectRefused("    local f = load('\\27Lua\\84\\0', 'x', 'b')", 3, "only text chunks may be loaded by rules");
  expectRefused("    local f = load('return 1', 'x', 'bt')", 3, "only text chunks");
  // Bytecode bytes given as text: Lua itself refuses them in mode "t".
  expectRefused("    local f, why = load('\\27Lua\\84\\0')\n    error(why)", 4, "attempt to load a binary chunk (mode is 't')");
  // Through a reader function, too.
  expectRefused(
      "    local sent = false\n"
      "    local f, why = load(function() if sent then return nil end sent = true return '\\27Lua' end)\n"
      "    error(why)",
      5, "binary chunk");
}

TEST_F(Sandbox, TextLoadWorksInsideTheSandbox) {
  RuleEngine engine(sourceOf("function route(instance)\n"
                             "  local f = load('return { { destination = \"pacs\" } }')\n"
                             "  local g = load('return io', 'chunk', 't', {})\n"
                             "  assert(g() == nil)\n"
                             "  return f()\n"
                             "end\n"),
                    testDestinations(), limits, log);
  RouteDecision decision = engine.route(named("x"));
  ASSERT_FALSE(decision.failure) << decision.failure->describe();
  EXPECT_EQ(decision.routes.at(0).destination, "pacs");
}

TEST_F(Sandbox, GarbageCollectorOnlyCounts) {
  expectRefused("    collectgarbage()", 3, "collectgarbage(\"collect\") is not available to rules");
  expectRefused("    collectgarbage('stop')", 3, "collectgarbage(\"stop\")");
  expectRefused("    collectgarbage('generational')", 3, "not available");
  expectRefused("    collectgarbage('step', 1000000)", 3, "not available");
  expectRefused("    error('kb=' .. math.type(collectgarbage('count')))", 3, "kb=float");
}

TEST_F(Sandbox, NoFinalizersAndAProtectedStringMetatable) {
  expectRefused("    setmetatable({}, { __gc = function() while true do end end })", 3,
                "__gc metamethods are not available to rules");
  expectRefused("    error('mt=' .. tostring(getmetatable('')))", 3, "mt=false");
  expectRefused("    getmetatable('').__index = function() return 'x' end", 3, "attempt to index a boolean value");
  expectRefused("    setmetatable('', {})", 3, "bad argument #1 to 'setmetatable' (table expected, got string)");
  expectRefused("    setmetatable(instance.tags, {})", 3, "cannot change a protected metatable");
  // Ordinary metatables still work.
  expectRefused("    local t = setmetatable({}, { __index = function(_, k) return k .. '!' end })\n    error(t.x)", 4, "x!");
}

TEST_F(Sandbox, OnlyTheThreeOsFunctions) {
  expectRefused(
      "    local names = {}\n"
      "    for name in pairs(os) do names[#names + 1] = name end\n"
      "    table.sort(names)\n"
      "    error(table.concat(names, ','))",
      6, "clock,date,time");
  expectRefused("    error(type(os.time()) .. type(os.date('%Y')) .. type(os.clock()))", 3, "numberstringnumber");
}

TEST_F(Sandbox, EndlessLoopIsStoppedQuicklyAndTheNextCallWorks) {
  RuleEngine engine(sourceOf(ruleWith("    local n = 0\n    while true do n = n + 1 end")), testDestinations(),
                    limits, log);
  for (int round = 0; round < 3; ++round) {
    const auto start = std::chrono::steady_clock::now();
    RouteDecision decision = engine.route(named("loop"));
    const double ms = millisecondsSince(start);
    ASSERT_TRUE(decision.failure);
    EXPECT_EQ(decision.failure->describe(),
              "10-rules.lua:4: stopped after 1000000 Lua instructions (the instruction budget): an endless loop?");
    EXPECT_LT(ms, 100.0 * kTimeSlack);
    EXPECT_FALSE(engine.route(named("ok")).failure);
  }
}

TEST_F(Sandbox, WorkInsideLibraryFunctionsIsChargedToTheBudget) {
  const char* loops[] = {
      "    while true do local s = string.rep('x', 100000) end",
      "    local t = {}\n    for i = 1, 200 do t[i] = i end\n    while true do table.sort(t) end",
      "    local s = string.rep('a', 100000)\n    while true do s:find('b') end",
      "    while true do pcall(error, 'x') end",
  };
  for (const char* loop : loops) {
    const auto start = std::chrono::steady_clock::now();
    expectRefused(loop, std::string(loop).find("\n") == std::string::npos ? 3 : (std::string(loop).find("sort") != std::string::npos ? 5 : 4),
                  "instruction budget");
    EXPECT_LT(millisecondsSince(start), 300.0 * kTimeSlack) << loop;
  }
}

// The size-charged library functions run inside their wrapper: the charge
// holds however they are reached (a local alias, a method call), and their
// argument errors name the function and the rule line.
TEST_F(Sandbox, ChargedLibraryFunctionsKeepTheirBudgetAndTheirErrors) {
  expectRefused("    local find, s = string.find, string.rep('a', 100000)\n    while true do find(s, 'b') end", 4,
                "instruction budget");
  expectRefused("    local s = string.rep('a', 100000)\n    while true do local _ = s:upper() end", 4, "instruction budget");
  expectRefused("    string.find(nil, 'x')", 3, "bad argument #1 to 'find' (string expected, got nil)");
  expectRefused("    table.concat({ {} })", 3, "at index 1 in table for 'concat'");
  expectRefused("    local n = 0\n    for w in string.gmatch('a b c', '%a') do n = n + 1 end\n    error('words=' .. n)", 5,
                "words=3");
  expectRefused("    local t = { 3, 1, 2 }\n    table.sort(t, function(a, b) return a > b end)\n    error(table.concat(t, ','))",
                5, "3,2,1");
}

// one_of and match walk a list in C: a list whose __index (a C function)
// answers for ever is stopped by the budget as the Lua loop was.
TEST_F(Sandbox, EndlessListsInHelpersAreBounded) {
  expectRefused("    one_of('x', setmetatable({}, { __index = tostring }))", 3, "instruction budget");
  expectRefused("    match('x', setmetatable({}, { __index = tostring }))", 3, "instruction budget");
  expectRefused("    match('x', '[')", 3, "malformed pattern");
}

// type() is the sandbox's own (made once, without a name lookup per call):
// the same answers and the same error as the standard one.
TEST_F(Sandbox, TypeAnswersAsTheStandardOne) {
  expectRefused("    error(table.concat({ type(nil), type(true), type(1), type('s'), type({}), type(print), type(type),\n"
                "      type(string.gmatch('a', 'a')), type(coroutine) }, ','))",
                3, "nil,boolean,number,string,table,function,function,function,nil");
  expectRefused("    type()", 3, "bad argument #1 to 'type' (value expected");
}

// Freed small blocks are kept for reuse outside the rules' count; the cap
// still stops a bomb of small objects, and memory comes back after it.
TEST_F(Sandbox, MemoryCapHoldsForManySmallObjects) {
  limits.memoryBytes = 4u << 20;
  limits.instructionBudget = 100000000;
  for (int round = 0; round < 3; ++round) {
    expectRefused("    local t = {}\n    while true do t[#t + 1] = { #t } end", 4, "needed more than 4 MiB of memory");
    expectRefused("    for i = 1, 20000 do local _ = { i, tostring(i) } end\n    error('churn done')", 4, "churn done");
  }
}

TEST_F(Sandbox, TimeLimitIsABackstop) {
  limits.instructionBudget = uint64_t{1} << 50;
  limits.timeLimit = std::chrono::milliseconds(50);
  const auto start = std::chrono::steady_clock::now();
  expectRefused("    while true do end", 3, "stopped after running 50 ms (the time limit)");
  EXPECT_LT(millisecondsSince(start), 200.0 * kTimeSlack);
}

TEST_F(Sandbox, PcallCannotSwallowTheBudget) {
  expectRefused("    while true do pcall(function() while true do end end) end", 3, "instruction budget");
  expectRefused("    while true do xpcall(function() while true do end end, function(e) while true do end end) end", 3,
                "instruction budget");
  expectRefused("    while true do local ok = pcall(error, 'x') end", 3, "instruction budget");
  // Ordinary errors are still caught by pcall.
  expectRefused("    local ok, why = pcall(error, 'inner')\n    error('caught ' .. why)", 4, "caught inner");
  expectRefused("    local ok, why = xpcall(function() error('inner', 0) end, function(e) return 'handled ' .. e end)\n    error(why)",
                4, "handled inner");
}

TEST_F(Sandbox, RecursionAndSortComparatorsAreBounded) {
  // Stopped by the budget; with a larger budget, by the memory cap or Lua's stack limit.
  expectRefused("    local function f() return 1 + f() end\n    f()", 3, "instruction budget");
  limits.instructionBudget = 100000000;
  expectRefused("    local function f() return 1 + f() end\n    f()", 3, "");
  limits.instructionBudget = RuleLimits{}.instructionBudget;
  expectRefused("    local t = {}\n    for i = 1, 100 do t[i] = i end\n    table.sort(t, function(a, b) while true do end end)", 5,
                "instruction budget");
}

TEST_F(Sandbox, MemoryBombIsStoppedWithFileAndLine) {
  limits.memoryBytes = 16u << 20;
  expectRefused("    local t = {}\n    while true do t[#t + 1] = string.rep('x', 100000) .. #t end", 4,
                "needed more than 16 MiB of memory (the memory limit)");
  // One huge allocation.
  expectRefused("    local s = string.rep('x', 1 << 30)", 3, "memory limit");
  // Doubling a string.
  expectRefused("    local s = 'x'\n    for i = 1, 40 do\n      s = s .. s\n    end", 5, "memory limit");
  // Caught by pcall: still stopped.
  expectRefused("    local ok = pcall(string.rep, 'x', 1 << 30)\n    return { { destination = 'pacs' } }", 3, "memory limit");
}

TEST_F(Sandbox, MemoryIsGivenBackAfterABomb) {
  limits.memoryBytes = 16u << 20;
  RuleEngine engine(sourceOf("function route(instance)\n"
                             "  local t = {}\n"
                             "  local n = instance.id == 'bomb' and 1000 or 100\n"
                             "  for i = 1, n do t[i] = string.rep('y', 100000) .. i end\n"  // 10 MB: fits alone
                             "  return { { destination = 'pacs' } }\n"
                             "end\n"),
                    testDestinations(), limits, log);
  for (int round = 0; round < 5; ++round) {
    EXPECT_TRUE(engine.route(named("bomb")).failure);
    RouteDecision ok = engine.route(named("fine"));
    EXPECT_FALSE(ok.failure) << ok.failure->describe();
  }
}

TEST_F(Sandbox, TopLevelLoopOrBombIsACompileError) {
  const auto start = std::chrono::steady_clock::now();
  try {
    RuleEngine engine(sourceOf({{"10-ok.lua", "function route() end\n"}, {"20-loop.lua", "x = 1\n\nwhile true do end\n"}}),
                      testDestinations(), limits, log);
    FAIL() << "compiled";
  } catch (const RuleCompileError& e) {
    EXPECT_EQ(e.failure().file, "20-loop.lua");
    EXPECT_EQ(e.failure().line, 3);
    EXPECT_NE(e.failure().message.find("instruction budget"), std::string::npos);
  }
  EXPECT_LT(millisecondsSince(start), 500.0 * kTimeSlack);

  limits.memoryBytes = 8u << 20;
  try {
    RuleEngine engine(sourceOf("function route() end\nlocal t = {}\nfor i = 1, 1e9 do\n  t[i] = string.rep('z', 1000) .. i\nend\n"),
                      testDestinations(), limits, log);
    FAIL() << "compiled";
  } catch (const RuleCompileError& e) {
    EXPECT_EQ(e.failure().file, "10-rules.lua");
    EXPECT_EQ(e.failure().line, 4);
    EXPECT_NE(e.failure().message.find("memory limit"), std::string::npos) << e.what();
  }
}

TEST_F(Sandbox, RulesCannotTouchTheEnginesInstanceTables) {
  expectRefused("    error(tostring(getmetatable(instance.tags)))", 3, "false");
  // A tags table taken from one call answers nothing in the next.
  RuleEngine engine(sourceOf("function route(instance)\n"
                             "  if kept then return { { destination = 'pacs', modify = { PatientComments = tostring(kept.Modality) } } } end\n"
                             "  kept = instance.tags\n"
                             "end\n"),
                    testDestinations(), limits, log);
  InstanceView view;
  view.tags.push_back({0x0008, 0x0060, "Modality", "CT"});
  EXPECT_FALSE(engine.route(view).failure);
  RouteDecision decision = engine.route(view);
  ASSERT_FALSE(decision.failure);
  EXPECT_EQ(decision.routes.at(0).modify, (TagEdits{{"PatientComments", "nil"}}));
}

}  // namespace
}  // namespace router
