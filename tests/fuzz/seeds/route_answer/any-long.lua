--* any destination name (like the offline CLI); a long list uses the set
local list = {}
for i = 1, 40 do list[i] = { destination = "peer" .. i, priority = i } end
return list
