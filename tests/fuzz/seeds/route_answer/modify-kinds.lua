-- modify with strings, numbers, false, tags by number, priority
return { { destination = "out", priority = 5, transfer_syntax = "1.2.840.10008.1.2.1",
  modify = { PatientName = "Doe^Jane", PatientAge = 42, PatientWeight = 2.5, InstitutionName = false,
             ["0010,0020"] = "ID-7", ["0009,1010"] = "private", ["0008,103e"] = instance.tags.Modality } } }
