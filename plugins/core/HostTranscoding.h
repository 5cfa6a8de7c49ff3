// Conversions the host asks for: Orthanc's own transcoding (DICOMweb
// retrieval, C-MOVE/C-GET and its C-STORE SCU, "Transcode" in /modify) is
// offered to the plugin first (OrthancPluginRegisterTranscoderCallback), and
// runs here in the same worker processes and codecs as routing: JPEG-LS by
// CharLS 2.4, HTJ2K by OpenJPH, and nothing in Orthanc's process.
//
// Thread safety: convert() may be called from any number of threads at once
// (the worker pool and Metrics are shared safely); the object is immutable.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/core/Log.h"
#include "plugins/core/metrics/Metrics.h"
#include "transcoders/Transcoder.h"

namespace router {

// The syntax to convert to: the first of allowed the appliance encodes, in
// this order: Explicit then Implicit VR Little Endian, then the other
// lossless ones in allowed's order, then (only with allowLossy) the lossy
// ones. Empty when none qualifies, or when source is allowed already.
std::string chooseHostTarget(const std::string& source, const std::vector<std::string>& allowed, bool allowLossy);

class HostTranscoding {
 public:
  // quality: Transcoding.Quality (by UID), as for routed conversions.
  HostTranscoding(const Transcoder& transcoder, std::map<std::string, int> quality, Metrics& metrics, Log& log)
      : transcoder_(transcoder), quality_(std::move(quality)), metrics_(metrics), log_(log) {}

  // The file in one of allowed, or nothing: no allowed syntax qualifies,
  // the file cannot be read, or the conversion fails (said in the log at
  // info level; Orthanc then tries its own transcoder).
  std::optional<std::string> convert(std::string_view part10, const std::vector<std::string>& allowed,
                                     bool allowLossy) const;

 private:
  const Transcoder& transcoder_;
  const std::map<std::string, int> quality_;
  Metrics& metrics_;
  Log& log_;
};

}  // namespace router
