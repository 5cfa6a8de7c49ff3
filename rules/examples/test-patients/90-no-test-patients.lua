-- No route for test patients, part 2: a later file wraps route() so that
-- whatever the rules above decide, instances of test patients (used by the
-- service engineers to check the modalities) are routed nowhere and only
-- logged. Test patients: PatientID starting with "TEST" or "QA-", or a
-- PatientName starting with "PHANTOM" (case as sent).
--
-- Because it wraps route(), this file can be dropped into any rule set.

local route_for_patients = route

local function is_test_patient(tags)
  return match(tags.PatientID, "^TEST") or match(tags.PatientID, "^QA%-")
      or starts_with(tags.PatientName, "PHANTOM")
end

function route(instance)
  if is_test_patient(instance.tags) then
    log("test patient " .. tostring(instance.tags.PatientID) .. ": not routed")
    return {}
  end
  return route_for_patients(instance)
end
