// Dispatch between codec families, and the rules every result follows.
#include "transcoders/TranscoderSet.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdict.h>
#include <gdcmSequenceOfFragments.h>
#include <gdcmTrace.h>

#include "transcoders/CharlsFamily.h"
#include "transcoders/GdcmFamily.h"
#include "transcoders/LossyMarking.h"
#include "transcoders/OpenJpegFamily.h"
#include "transcoders/OpenJphFamily.h"
#include "transcoders/PixelCheck.h"
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

bool isEncapsulated(const std::string& syntax) {
  if (const TransferSyntaxInfo* info = findTransferSyntax(syntax)) return info->encapsulated;
  return gdcm::TransferSyntax(gdcm::TransferSyntax::GetTSType(syntax.c_str())).IsEncapsulated();
}

bool isPart10(std::string_view bytes) { return bytes.size() > 132 && bytes.compare(128, 4, "DICM") == 0; }

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
  // DCMTK checks every input first (parsePart10); its dictionary is loaded
  // now, before a transcoder worker locks itself down.
  (void)dcmDataDict.isDictionaryLoaded();
  families_.push_back(std::make_unique<CharlsFamily>());  // first: JPEG-LS never goes to GDCM
  families_.push_back(std::make_unique<RleFamily>());   // before GDCM, whose RLE coder aborts on odd sizes
  families_.push_back(std::make_unique<OpenJpegFamily>());  // JPEG 2000 never goes to GDCM
  families_.push_back(std::make_unique<OpenJphFamily>());  // HTJ2K: GDCM's support is unfinished
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

std::string TranscoderSet::transcode(std::string_view part10, const std::string& targetTransferSyntaxUid,
                                     const TranscodeOptions& options) const {
  const std::string target = resolveTransferSyntax(targetTransferSyntaxUid).value_or(targetTransferSyntaxUid);
  const TransferSyntaxInfo* info = findTransferSyntax(target);
  if (!info || !info->canEncode) {
    const std::string why = whyNotWritten(target);
    throw TranscodeError("cannot produce transfer syntax " + transferSyntaxName(target) + (why.empty() ? "" : ": " + why) +
                         "; the appliance writes " + encodableList());
  }

  DicomFile dicom = parsePart10(part10);
  const auto tell = [&](const std::string& what) {
    if (options.onParsed) options.onParsed(what + ", " + transferSyntaxName(dicom.syntax));  // the caller knows the target
  };
  // No pixels (SR, KO, PR, ...): only the dataset encoding changes.
  if (!dicom.hasPixelData()) {
    tell("no pixel data");
    return serializePart10(dicom, target);
  }
  if (dicom.syntax == target && isPart10(part10)) return std::string(part10);

  // Nothing reaches a codec before its attributes and pixel data are sane.
  PixelLayout layout = readPixelLayout(dicom.dataset());
  tell(layout.describe());
  if (isEncapsulated(dicom.syntax)) {
    checkEncapsulatedPixelData(dicom, layout);
  } else {
    repairNativePixelData(dicom, layout, true);
    if (isSubsampledNative(layout) && info->encapsulated)
      throw TranscodeError("uncompressed YBR_FULL_422 (chroma-subsampled) pixel data cannot be compressed here (" +
                           layout.describe() + "); send it as received or uncompressed");
  }
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
    repairNativePixelData(dicom, layout, false);  // and must give back the described size
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
