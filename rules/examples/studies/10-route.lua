-- Series and studies as units (README, Routing rules: Series and studies).
-- Destinations this example expects: "ai", "tele", "pacs".
--
-- A CT series goes whole to the AI node once the scanner is done with it:
-- 30 s without a new slice, or at once when the count the CT states for its
-- acquisition (ImagesInAcquisition) is reached.
-- Every study goes whole to the teleradiology reader as JPEG-LS, after two
-- quiet minutes and at the latest an hour after its first image; a series
-- that comes later is sent by itself.
-- A prior fetched from the archive (it calls as ARCHIVE) goes to the PACS as
-- a study; if more of it comes later, the whole study is sent again.

function route(instance)
  local t = instance.tags
  local routes = {}
  if t.Modality == "CT" then
    routes[#routes + 1] = { destination = "ai", when = "series", quiet = 30,
                            expected = tonumber(t.ImagesInAcquisition) }
  end
  routes[#routes + 1] = { destination = "tele", when = "study", quiet = 120, max_wait = 3600,
                          late = "alone", transfer_syntax = "JPEGLSLossless" }
  if instance.origin.calling_aet == "ARCHIVE" then
    routes[#routes + 1] = { destination = "pacs", when = "study", quiet = 20, late = "resend" }
  end
  return routes
end
