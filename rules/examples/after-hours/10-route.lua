-- After-hours routing: outside working hours, and all weekend, CT and MR go
-- to the teleradiology service as well as to the PACS; the teleradiology
-- link is slow, so they go there as JPEG 2000 lossless and first.
-- Destinations this example expects: "pacs", "telerad".
--
-- Working hours: Monday to Friday, 07:30 to 18:00 (local time of the
-- appliance). between_hours(18, 7.5) is true from 18:00 to 07:29.

function route(instance)
  local routes = { { destination = "pacs" } }
  local after_hours = is_weekend() or between_hours(18, 7.5)
  if after_hours and one_of(instance.tags.Modality, { "CT", "MR" }) then
    routes[#routes + 1] = { destination = "telerad", transfer_syntax = "JPEG2000Lossless", priority = 10 }
  end
  return routes
end
