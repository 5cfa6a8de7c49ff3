-- The prelude: helpers every rule file can use. It is loaded before the rule
-- files, into the same sandboxed environment, so a rule file may redefine any
-- of these names. Every helper accepts nil where a tag may be missing
-- (instance.tags.X is nil when the instance has no element X) and then
-- answers false.
--
-- Provided by the engine itself (C++), listed here for reference:
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

-- Current time in seconds since the epoch. The time helpers below read the
-- clock through now(), so a test rule file can pin the time by redefining it.
function now()
  return os.time()
end

local function text(value)
  if value == nil then return nil end
  return tostring(value)
end

-- match(value, pattern)  -> true when value contains the Lua pattern
--                           (anchor with ^ and $: match(id, "^TEST"))
-- match(value, {a, b})   -> true when value equals one of the strings
function match(value, what)
  value = text(value)
  if value == nil then return false end
  if type(what) == "table" then
    for _, candidate in ipairs(what) do
      if value == candidate then return true end
    end
    return false
  end
  if type(what) ~= "string" then
    error("match(value, pattern_or_list): the second argument must be a Lua pattern "
          .. "or a list of strings, not " .. type(what), 2)
  end
  return string.find(value, what) ~= nil
end

-- one_of(value, {"CT", "MR"}) -> true when value equals one of the strings.
function one_of(value, list)
  if type(list) ~= "table" then
    error("one_of(value, list): the second argument must be a list of strings", 2)
  end
  return match(value, list)
end

-- starts_with / ends_with / contains: plain text, no pattern characters.
function starts_with(value, prefix)
  value = text(value)
  return value ~= nil and string.sub(value, 1, #prefix) == prefix
end

function ends_with(value, suffix)
  value = text(value)
  return value ~= nil and (#suffix == 0 or string.sub(value, -#suffix) == suffix)
end

function contains(value, part)
  value = text(value)
  return value ~= nil and string.find(value, part, 1, true) ~= nil
end

-- values("ORIGINAL\\PRIMARY\\AXIAL") -> {"ORIGINAL", "PRIMARY", "AXIAL"}:
-- the values of a multi-valued element ({} for nil).
function values(value)
  local list = {}
  value = text(value)
  if value == nil or value == "" then return list end
  for item in string.gmatch(value .. "\\", "(.-)\\") do
    list[#list + 1] = item
  end
  return list
end

-- has_value(instance.tags.ImageType, "PRIMARY") -> true when one of the
-- values of a multi-valued element equals the string.
function has_value(value, wanted)
  return one_of(wanted, values(value))
end

-- between_hours(18, 7) -> true from 18:00 until 06:59 (local time); the
-- window may wrap midnight. Fractions are minutes: between_hours(7.5, 12)
-- starts at 07:30. Optional third argument: the time to test (default now()).
function between_hours(from, to, time)
  if type(from) ~= "number" or type(to) ~= "number" then
    error("between_hours(from, to): hours must be numbers, e.g. between_hours(18, 7)", 2)
  end
  local t = os.date("*t", time or now())
  local hour = t.hour + t.min / 60
  if from <= to then
    return hour >= from and hour < to
  end
  return hour >= from or hour < to
end

-- is_weekend() -> true on Saturday and Sunday (local time). Optional
-- argument: the time to test (default now()).
function is_weekend(time)
  local day = os.date("*t", time or now()).wday  -- 1 = Sunday
  return day == 1 or day == 7
end

-- route_to("pacs", { transfer_syntax = "JPEGLSLossless", priority = 5 })
--   -> { destination = "pacs", transfer_syntax = "JPEGLSLossless", priority = 5 }
-- A route built in one call; opts is optional.
function route_to(destination, opts)
  if type(destination) ~= "string" then
    error("route_to(destination, opts): destination must be a string", 2)
  end
  local route = { destination = destination }
  for key, value in pairs(opts or {}) do
    route[key] = value
  end
  return route
end
