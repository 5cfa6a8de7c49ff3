-- Radiation dose structured reports to the national dose registry, chosen
-- by SOP class (the modality of a dose SR is "SR", like any report), and
-- without the patient's name (the registry needs the dose, not the name).
-- Destinations this example expects: "registry", "pacs".
--
--   * X-Ray Radiation Dose SR (1.2.840.10008.5.1.4.1.1.88.67) and
--     Enhanced X-Ray Radiation Dose SR (1.2.840.10008.5.1.4.1.1.88.76):
--     to the registry with PatientName removed, and to the PACS unchanged;
--   * everything else: to the PACS.

local dose_sr_classes = {
  "1.2.840.10008.5.1.4.1.1.88.67",
  "1.2.840.10008.5.1.4.1.1.88.76",
}

function route(instance)
  if one_of(instance.sop_class_uid, dose_sr_classes) then
    return {
      { destination = "registry", modify = { PatientName = false } },
      { destination = "pacs" },
    }
  end
  return { { destination = "pacs" } }
end
