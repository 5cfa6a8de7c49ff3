// Dispatch between codec families, and the rules every result follows.
#include "transcoders/TranscoderSet.h"

#include <gdcmSequenceOfFragments.h>
#include <gdcmTrace.h>

#include "transcoders/CharlsFamily.h"
#include "transcoders/GdcmFamily.h"
#include "transcoders/LossyMarking.h"
#include "transcoders/RleFamily.h"
#include "transcoders/TransferSyntax.h"

namespace router {

std::unique_ptr<Transcoder> makeTranscoder() { return std::make_unique<codecs::TranscoderSet>(); }

namespace codecs {

namespace {

// Syntaxes whose pixel data GDCM's reader leaves native and little endian in
// memory (deflate is undone while reading).
bool isNativeLittleEndian(const std::string& syntax) {
  return syntax == ts::kExplicitVRLittleEndian || syntax == ts::kImplicitVRLittleEndian ||
         syntax == ts::kDeflatedExplicitVRLittleEndian;
}

bool isPart10(const std::string& bytes) { return bytes.size() > 132 && bytes.compare(128, 4, "DICM") == 0; }

std::string encodableList() {
  std::string list;
  for (const auto& info : knownTransferSyntaxes())
    if (info.canEncode) list += (list.empty() ? "" : ", ") + std::string(info.keyword);
  return list;
}

}  // namespace

TranscoderSet::TranscoderSet() {
  // GDCM writes warnings to stderr (inside Orthanc: into its log) for things
  // that are fine here; every failure is reported through TranscodeError.
  // The switch is process-wide in GDCM.
  gdcm::Trace::WarningOff();
  families_.push_back(std::make_unique<CharlsFamily>());  // first: JPEG-LS never goes to GDCM
  families_.push_back(std::make_unique<RleFamily>());   // before GDCM, whose RLE coder aborts on odd sizes
  families_.push_back(std::make_unique<GdcmFamily>());
}

const CodecFamily& TranscoderSet::decoderFor(const std::string& syntax) const {
  for (const auto& family : families_)
    if (family->canDecode(syntax)) return *family;
  throw TranscodeError("no decoder for the source transfer syntax " + transferSyntaxName(syntax));
}

const CodecFamily& TranscoderSet::encoderFor(const std::string& syntax) const {
  for (const auto& family : families_)
    if (family->canEncode(syntax)) return *family;
  throw TranscodeError("no encoder for " + transferSyntaxName(syntax));
}

std::string TranscoderSet::transcode(const std::string& part10, const std::string& targetTransferSyntaxUid,
                                     const TranscodeOptions& options) const {
  const std::string target = resolveTransferSyntax(targetTransferSyntaxUid).value_or(targetTransferSyntaxUid);
  const TransferSyntaxInfo* info = findTransferSyntax(target);
  if (!info || !info->canEncode)
    throw TranscodeError("cannot produce transfer syntax " + transferSyntaxName(target) +
                         "; the appliance writes " + encodableList());

  DicomFile dicom = parsePart10(part10);
  // No pixels (SR, KO, PR, ...): only the dataset encoding changes.
  if (!dicom.hasPixelData()) return serializePart10(dicom, target);
  if (dicom.syntax == target && isPart10(part10)) return part10;

  PixelLayout layout = readPixelLayout(dicom.dataset());
  if (options.onParsed) options.onParsed(layout.describe() + ", " + transferSyntaxName(dicom.syntax));
  if (layout.bitsAllocated % 8 != 0 || layout.bitsAllocated > 32) {
    if (isNativeLittleEndian(dicom.syntax) && !info->encapsulated) return serializePart10(dicom, target);
    throw TranscodeError("cannot transcode " + std::to_string(layout.bitsAllocated) +
                         "-bit pixel data (BitsAllocated " + std::to_string(layout.bitsAllocated) +
                         ") to " + transferSyntaxName(target) + ": no codec takes it; send it as received");
  }

  if (isNativeLittleEndian(dicom.syntax)) {
    dicom.syntax = ts::kExplicitVRLittleEndian;
  } else {
    decoderFor(dicom.syntax).decode(dicom, layout);
    layout = readPixelLayout(dicom.dataset());  // decoders may change the colour attributes
  }
  if (!info->encapsulated) return serializePart10(dicom, target);

  const gdcm::ByteValue* native = dicom.dataset().GetDataElement(kPixelDataTag).GetByteValue();
  const double nativeBytes = native ? double(uint32_t(native->GetLength())) : 0.0;
  encoderFor(target).encode(dicom, layout, target, options);
  if (info->lossy) {
    const gdcm::SequenceOfFragments* fragments =
        dicom.dataset().GetDataElement(kPixelDataTag).GetSequenceOfFragments();
    const double compressed = fragments ? fragments->ComputeByteLength() : 0;
    markLossy(dicom.dataset(), compressed > 0 ? nativeBytes / compressed : 1.0, lossyMethod(target),
              options.newUidWhenLossy);
  }
  return serializePart10(dicom, target);
}

}  // namespace codecs
}  // namespace router
