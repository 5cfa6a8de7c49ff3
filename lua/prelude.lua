-- The prelude: helpers every rule file can use. It is loaded before the rule
-- files, into the same sandboxed environment, so a rule file may redefine any
-- of these names. Every helper accepts nil where a tag may be missing
-- (instance.tags.X is nil when the instance has no element X) and then
-- answers false.
--
-- Provided by the engine itself (C++, lua/Sandbox.cpp: rules call them a
-- few dozen times per instance), listed here for reference:
--   match(value, pattern)    true when value contains the Lua pattern
--                            (anchor with ^ and $: match(id, "^TEST"))
--   match(value, {a, b})     true when value equals one of the strings
--   one_of(value, {"CT", "MR"})  true when value equals one of the strings
--   contains(value, part)    true when value contains part (plain text)
--   log(...)                 info line in the router log: "rules 10-ct.lua:12: ..."
--   warn(...)                the same as a warning
--   print(...)               same as log(...)
--   transfer_syntax_uid(s)   UID of a transfer-syntax keyword or UID the
--                            appliance knows ("JPEGLSLossless" ->
--                            "1.2.840.10008.1.2.4.80"), or nil
-- At most 50 log lines per route() call reach the log.
--
-- The sandbox: base functions (no dofile/loadfile; load() of text only;
-- collectgarbage("count") only; no __gc metamethods), string (no
-- string.dump), table, math, utf8, and os.time, os.date, os.clock.

-- The standard functions the helpers use, captured once: a rule file that
-- redefines a global (even one named like a helper) does not change how the
-- helpers behave, and a local costs less than a global lookup on every call
-- (route() calls helpers a few dozen times per instance). The engine's
-- match, one_of and contains do the same in C. The clock (os.time, os.date)
-- is looked up at each use, so that a test rule file can pin it.
local type, tostring, pairs = type, tostring, pairs
local find, sub, byte, gmatch = string.find, string.sub, string.byte, string.gmatch

-- Current time in seconds since the epoch. The time helpers below read the
-- clock through now(), so a test rule file can pin the time by redefining it.
function now()
  return os.time()
end

-- The helpers take tag values as text: nil answers false, a string is used
-- as it is, anything else goes through tostring. starts_with and ends_with
-- spell this out rather than call text(): a Lua call costs about as much as
-- the rest of such a helper.
local function text(value)
  if value == nil or type(value) == "string" then return value end
  return tostring(value)
end

-- starts_with / ends_with: plain text, no pattern characters.
function starts_with(value, prefix)
  if value == nil then return false end
  if type(value) ~= "string" then value = tostring(value) end
  return sub(value, 1, #prefix) == prefix
end

function ends_with(value, suffix)
  if value == nil then return false end
  if type(value) ~= "string" then value = tostring(value) end
  return #suffix == 0 or sub(value, -#suffix) == suffix
end

-- values("ORIGINAL\\PRIMARY\\AXIAL") -> {"ORIGINAL", "PRIMARY", "AXIAL"}:
-- the values of a multi-valued element ({} for nil).
function values(value)
  local list = {}
  value = text(value)
  if value == nil or value == "" then return list end
  for item in gmatch(value .. "\\", "(.-)\\") do
    list[#list + 1] = item
  end
  return list
end

-- has_value(instance.tags.ImageType, "PRIMARY") -> true when one of the
-- values of a multi-valued element equals the string. The same answer as
-- one_of(wanted, values(value)), found in place: an occurrence of wanted
-- counts when a backslash or an end of the text is on each side of it.
local BACKSLASH = 92
function has_value(value, wanted)
  value = text(value)
  wanted = text(wanted)
  if value == nil or value == "" or wanted == nil or find(wanted, "\\", 1, true) then
    return false
  end
  local last = #value
  local init = 1
  while true do
    local first, stop = find(value, wanted, init, true)
    if first == nil then return false end
    if (first == 1 or byte(value, first - 1) == BACKSLASH)
        and (stop == last or byte(value, stop + 1) == BACKSLASH) then
      return true
    end
    init = first + 1
  end
end

-- The local hour (with minutes as a fraction) and weekday (1 = Sunday) of a
-- time. The last answer is kept: rules ask about the same now() many times.
local known_time, known_hour, known_weekday
local function local_time(time)
  if time ~= known_time or known_time == nil then
    local t = os.date("*t", time)
    known_hour, known_weekday = t.hour + t.min / 60, t.wday
    known_time = time
  end
  return known_hour, known_weekday
end

-- between_hours(18, 7) -> true from 18:00 until 06:59 (local time); the
-- window may wrap midnight. Fractions are minutes: between_hours(7.5, 12)
-- starts at 07:30. Optional third argument: the time to test (default now()).
function between_hours(from, to, time)
  if type(from) ~= "number" or type(to) ~= "number" then
    error("between_hours(from, to): hours must be numbers, e.g. between_hours(18, 7)", 2)
  end
  local hour = local_time(time or now())
  if from <= to then
    return hour >= from and hour < to
  end
  return hour >= from or hour < to
end

-- is_weekend() -> true on Saturday and Sunday (local time). Optional
-- argument: the time to test (default now()).
function is_weekend(time)
  local _, day = local_time(time or now())
  return day == 1 or day == 7
end

-- route_to("pacs", { transfer_syntax = "JPEGLSLossless", priority = 5 })
--   -> { destination = "pacs", transfer_syntax = "JPEGLSLossless", priority = 5 }
-- A route built in one call; opts is optional.
function route_to(destination, opts)
  if type(destination) ~= "string" then
    error("route_to(destination, opts): destination must be a string", 2)
  end
  -- Sized for the usual fields at once (nil fields are not stored).
  local route = { destination = destination, transfer_syntax = nil, modify = nil, priority = nil }
  if opts then
    for key, value in pairs(opts) do
      route[key] = value
    end
  end
  return route
end
