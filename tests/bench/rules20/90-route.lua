-- route(): runs RULES in order; the first route to a destination wins (a
-- destination appears once in the answer); a rule answering "stop" drops
-- the instance.
function route(instance)
  local out, seen = {}, {}
  for _, r in ipairs(RULES) do
    if r.when(instance) then
      local routes = r.routes(instance)
      if routes == "stop" then return {} end
      for _, route in ipairs(routes) do
        if not seen[route.destination] then
          seen[route.destination] = true
          out[#out + 1] = route
        end
      end
    end
  end
  return out
end
