// The internal interface each codec family implements. A family decodes the
// compressed syntaxes it knows to native pixel data (little endian, in the
// dataset) and encodes native pixel data into the syntaxes it produces;
// TranscoderSet chains two families when one cannot do both directions.
//
// Implementations hold no mutable state: decode() and encode() may run on
// several threads at once, each on its own DicomFile.
#pragma once

#include <string>

#include "transcoders/DicomFile.h"
#include "transcoders/Transcoder.h"

namespace router::codecs {

class CodecFamily {
 public:
  virtual ~CodecFamily() = default;
  virtual const char* name() const = 0;
  virtual bool canDecode(const std::string& syntax) const = 0;
  virtual bool canEncode(const std::string& syntax) const = 0;
  // dicom.syntax is one canDecode() accepts; afterwards the pixel data is
  // native and dicom.syntax is ExplicitVRLittleEndian. Throws TranscodeError.
  virtual void decode(DicomFile& dicom, const PixelLayout& layout) const = 0;
  // dicom's pixel data is native; afterwards it is encapsulated in target,
  // attributes the codec changes (PhotometricInterpretation, ...) updated.
  virtual void encode(DicomFile& dicom, const PixelLayout& layout, const std::string& target,
                      const TranscodeOptions& options) const = 0;
};

}  // namespace router::codecs
