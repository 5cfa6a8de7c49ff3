-- an error, a self-referencing answer, a function value
local t = { { destination = "pacs", modify = {} } }
t[1].modify.PatientComments = t
if instance.tags.Modality == "MR" then error("not for MR") end
return t
