-- Vendor bridging, part 2: morph the tags per site before the PACS sees them.
-- Destinations this example expects: "pacs".
--
--   * IssuerOfPatientID set to the site's issuer;
--   * AccessionNumber prefixed with the site's letter ("12345" -> "N12345"),
--     so numbers from the two sites never collide; an empty accession stays
--     empty;
--   * InstitutionName set to the site's official name;
--   * the site's private tag (0009,0010) removed;
--   * an unknown sender is still archived, unchanged, with a warning in the log.

function route(instance)
  local site = SITES[instance.origin.calling_aet]
  if site == nil then
    warn("unknown sender " .. tostring(instance.origin.calling_aet) .. ": archived unchanged")
    return { { destination = "pacs" } }
  end
  local accession = instance.tags.AccessionNumber or ""
  if accession ~= "" and not starts_with(accession, site.accession_prefix) then
    accession = site.accession_prefix .. accession
  end
  return {
    { destination = "pacs", modify = {
        IssuerOfPatientID = site.issuer,
        AccessionNumber = accession,
        InstitutionName = site.institution,
        ["0009,0010"] = false,
    } },
  }
end
