// The Transcoder the appliance uses. It parses the file once, decodes the
// pixel data with the family that knows the source syntax, encodes it with
// the family that produces the target, marks lossy results and writes a
// Part-10 file. JPEG-LS -> JPEG 2000, for example, is CharLS decode then GDCM
// encode.
//
// Immutable after construction: transcode() may run on several threads.
#pragma once

#include <memory>
#include <vector>

#include "transcoders/CodecFamily.h"

namespace router::codecs {

class TranscoderSet final : public Transcoder {
 public:
  TranscoderSet();
  std::string transcode(std::string_view part10, const std::string& targetTransferSyntaxUid,
                        const TranscodeOptions& options = {}) const override;

 private:
  const CodecFamily& decoderFor(const std::string& syntax) const;
  const CodecFamily& encoderFor(const std::string& syntax) const;

  std::vector<std::unique_ptr<CodecFamily>> families_;
};

}  // namespace router::codecs
