// What a lossy result must say about itself (PS3.3 C.7.6.1.1.5): Lossy Image
// Compression "01", the ratio and method appended to any earlier lossy steps,
// and, by default, a new SOP Instance UID that refers to the original.
#pragma once

#include <string>

#include <gdcmDataSet.h>

namespace router::codecs {

// The defined term of Lossy Image Compression Method for a lossy syntax
// (ISO_10918_1, ISO_14495_1, ISO_15444_1).
std::string lossyMethod(const std::string& syntax);

// ratio: uncompressed bytes / compressed bytes.
void markLossy(gdcm::DataSet& ds, double ratio, const std::string& method, bool newSopInstanceUid);

}  // namespace router::codecs
