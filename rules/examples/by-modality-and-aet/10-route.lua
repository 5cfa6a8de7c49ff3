-- Route by modality and by the sending modality's AE title.
-- Destinations this example expects: "pacs", "cloud", "export".
--
--   * every MR goes to the PACS;
--   * ultrasound sent by the cardiology carts (calling AE titles ECHO1,
--     ECHO2) goes to the cloud archive, other ultrasound to the PACS;
--   * anything sent by the research scanner (calling AE title starting with
--     "RES") goes only to the export folder, whatever the modality;
--   * everything else: no route.

local cardiology_carts = { "ECHO1", "ECHO2" }

function route(instance)
  local modality = instance.tags.Modality
  local aet = instance.origin.calling_aet

  if starts_with(aet, "RES") then
    return { { destination = "export" } }
  end
  if modality == "MR" then
    return { { destination = "pacs" } }
  end
  if modality == "US" then
    if one_of(aet, cardiology_carts) then
      return { { destination = "cloud" } }
    end
    return { { destination = "pacs" } }
  end
  return {}
end
