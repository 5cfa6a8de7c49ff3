-- CT to the PACS as JPEG-LS lossless (about half the storage, pixel-exact),
-- and the same CT as received to an AI node, sent first (priority 5) so the
-- AI result is ready when the radiologist opens the study.
-- Destinations this example expects: "pacs", "ai".
--
-- Other modalities go to the PACS as received.

function route(instance)
  if instance.tags.Modality == "CT" then
    return {
      { destination = "pacs", transfer_syntax = "JPEGLSLossless" },
      { destination = "ai", priority = 5 },
    }
  end
  return { { destination = "pacs" } }
end
