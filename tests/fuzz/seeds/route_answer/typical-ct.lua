-- the README's example answer
if instance.tags.Modality == "CT" then
  return {
    { destination = "pacs", transfer_syntax = "JPEGLSLossless" },
    { destination = "cloud" },
    { destination = "export", modify = { InstitutionName = "Site B" } },
  }
end
return {}
