-- answers the contract refuses, one per instance number
local pick = { { destination = "pacs" },
  { { destination = "nowhere" } },
  { { destination = "pacs", transfer_syntax = "ExplicitVRBigEndian" } },
  { { destination = "pacs", modify = { PixelData = "x" } } },
  { { destination = "pacs", modify = { ["0002,0010"] = "1.2" } } },
  { { destination = "pacs" }, { destination = "pacs" } },
  { { destination = "pacs", priority = 1.5 } },
  { [2] = { destination = "pacs" } },
  "pacs" }
return pick[(tonumber(instance.tags.InstanceNumber) or 1) % #pick + 1]
