-- metatables must not change what is read (raw access only)
local routes = setmetatable({}, { __index = function() return { destination = "pacs" } end,
                                  __len = function() return 3 end })
local route = setmetatable({ destination = "cloud" }, { __index = { transfer_syntax = "Nope" } })
routes[1] = route
return routes
