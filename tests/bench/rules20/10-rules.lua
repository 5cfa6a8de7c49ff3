-- The 20 rules: each is { name, when(instance) -> bool, routes(instance) -> list }.
-- 90-route.lua runs them in order and merges what they return.

RULES = {}
local function rule(name, when, routes)
  RULES[#RULES + 1] = { name = name, when = when, routes = routes }
end

local function t(i) return i.tags end

-- 1. Test patients never leave the building (stops the evaluation).
rule("test-patients", function(i) return starts_with(t(i).PatientID, "TEST") or match(t(i).PatientName, "^ZZ") end,
     function() return "stop" end)
-- 2. Every CT goes to the PACS as JPEG-LS lossless.
rule("ct-to-pacs", function(i) return t(i).Modality == "CT" end,
     function() return { route_to("pacs", { transfer_syntax = "JPEGLSLossless" }) } end)
-- 3. MR to the PACS as received.
rule("mr-to-pacs", function(i) return t(i).Modality == "MR" end,
     function() return { route_to("pacs") } end)
-- 4. CT, MR, PT, NM to the long-term archive as received.
rule("archive", function(i) return one_of(t(i).Modality, { "CT", "MR", "PT", "NM" }) end,
     function() return { route_to("archive") } end)
-- 5. Emergency CT scanners: the on-call reading service at night and at weekends.
rule("er-oncall", function(i)
       return one_of(i.origin.calling_aet, { "CT_ER_1", "CT_ER_2" }) and (between_hours(19, 7) or is_weekend())
     end,
     function() return { route_to("oncall", { priority = 10 }) } end)
-- 6. Chest CT images (not localizers) to the AI node as JPEG 2000 lossless.
rule("chest-ai", function(i)
       return (i.sop_class_uid == CT_IMAGE_STORAGE or i.sop_class_uid == ENHANCED_CT_STORAGE)
         and (contains(t(i).StudyDescription, "CHEST") or contains(t(i).StudyDescription, "THORAX")
              or match(t(i).BodyPartExamined, { "CHEST", "LUNG" }))
         and not has_value(t(i).ImageType, "LOCALIZER")
     end,
     function() return { route_to("ai", { transfer_syntax = "JPEG2000Lossless" }) } end)
-- 7. Structured reports to the reporting system.
rule("sr-reports", function(i) return t(i).Modality == "SR" end,
     function() return { route_to("reports") } end)
-- 8. Dose reports also to the dose registry.
rule("dose-registry", function(i) return i.sop_class_uid == DOSE_SR_STORAGE or contains(t(i).SeriesDescription, "Dose") end,
     function() return { route_to("dose") } end)
-- 9. Images from the partner site get our institution name on export.
rule("site-b-export", function(i) return match(t(i).InstitutionName, "^Site") or match(t(i).InstitutionName, "Clinic$") end,
     function() return { route_to("export", { modify = { InstitutionName = "Site B", InstitutionAddress = false } }) } end)
-- 10. Research studies, de-identified.
rule("research", function(i) return match(t(i).StudyDescription, "RESEARCH") or starts_with(t(i).AccessionNumber, "R") end,
     function(i)
       return { route_to("research", { modify = {
         PatientName = "ANON^" .. string.sub(t(i).StudyInstanceUID or "", -8),
         PatientID = "R" .. string.sub(t(i).StudyInstanceUID or "0", -6),
         PatientBirthDate = false, ReferringPhysicianName = false, InstitutionName = false } }) }
     end)
-- 11. Neuro MR and CT to the neuro workstation.
rule("neuro", function(i) return one_of(t(i).BodyPartExamined, NEURO_PARTS) or one_of(i.origin.calling_aet, SCANNERS_MR) and contains(t(i).StudyDescription, "BRAIN") end,
     function() return { route_to("neuro") } end)
-- 12. Ultrasound and secondary capture: archive only, uncompressed for the old archive.
rule("us-sc", function(i) return one_of(t(i).Modality, { "US", "OT", "SC", "XC" }) end,
     function() return { route_to("archive", { transfer_syntax = "ExplicitVRLittleEndian" }) } end)
-- 13. Numeric accession numbers from the RIS get the site prefix.
rule("accession-prefix", function(i) return match(t(i).AccessionNumber, "^%d+$") end,
     function(i) return { route_to("export", { modify = { AccessionNumber = "SB" .. t(i).AccessionNumber } }) } end)
-- 14. Partner vendors' images to the vendor's service archive, with the
--     station name normalised, by tag number.
rule("vendor", function(i) return match(i.tags["0008,0070"], PARTNER_VENDORS) end,
     function(i) return { route_to("vendor", { modify = { StationName = string.upper(i.tags["0008,1010"] or "UNKNOWN") } }) } end)
-- 15. Compressed-in, uncompressed-out for the old PACS viewer.
rule("legacy-viewer", function(i) return starts_with(i.transfer_syntax, "1.2.840.10008.1.2.4") end,
     function() return { route_to("legacy", { transfer_syntax = "ExplicitVRLittleEndian" }) } end)
-- 16. Studies sent to the AI AE title go to the AI node whatever they are.
rule("called-ai", function(i) return i.origin.called_aet == "ROUTER_AI" end,
     function() return { route_to("ai") } end)
-- 17. Teaching file: anything whose description says TEACHING.
rule("teaching", function(i) return contains(string.upper(t(i).StudyDescription or ""), "TEACHING") end,
     function() return { route_to("teaching", { modify = { PatientName = "TEACHING", PatientID = false } }) } end)
-- 18. Oncology planning CT: the planning system, in business hours, high priority.
rule("onco-planning", function(i)
       return i.origin.calling_aet == "CT_ONCO" and between_hours(7.5, 18) and not is_weekend()
     end,
     function() return { route_to("planning", { priority = 5 }) } end)
-- 19. Multi-frame objects to the cloud as JPEG-LS near-lossless (small and fast).
rule("multiframe-cloud", function(i) return tonumber(t(i).NumberOfFrames or "1") > 1 end,
     function() return { route_to("cloud", { transfer_syntax = "JPEGLSNearLossless" }) } end)
-- 20. Everything from a known scanner is mirrored to the cloud as received.
rule("scanner-mirror", function(i) return one_of(i.origin.calling_aet, SCANNERS_CT) or one_of(i.origin.calling_aet, SCANNERS_MR) end,
     function() return { route_to("cloud") } end)
