// What the rules see of one stored instance: its tags as strings and where it
// came from. Built from the DICOM file (plugins/core/dicom/TagReader) and from
// Orthanc's metadata; immutable once built, so it can be shared freely.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace router {

struct Origin {
  std::string callingAet;  // the modality's AE title (DICOM), empty otherwise
  std::string calledAet;   // the AE title it called us by
  std::string remoteIp;
  std::string protocol;    // Orthanc's "Origin" metadata: DicomProtocol, RestApi, Plugins, ...
};

// One top-level, non-sequence, non-binary element.
struct TagValue {
  uint16_t group = 0;
  uint16_t element = 0;
  std::string keyword;  // DICOM keyword ("Modality"); empty for private/unknown tags
  std::string value;    // multi-valued elements joined with '\'
};

struct InstanceView {
  std::string id;  // Orthanc's instance id (empty offline)
  std::string sopClassUid;
  std::string sopInstanceUid;
  std::string transferSyntax;  // UID of the stored object
  std::vector<TagValue> tags;
  Origin origin;
};

}  // namespace router
