#include "transcoders/TransferSyntax.h"

namespace router {

const std::vector<TransferSyntaxInfo>& knownTransferSyntaxes() {
  static const std::vector<TransferSyntaxInfo> table = {
      {"ImplicitVRLittleEndian", ts::kImplicitVRLittleEndian, false, false, true},
      {"ExplicitVRLittleEndian", ts::kExplicitVRLittleEndian, false, false, true},
      {"DeflatedExplicitVRLittleEndian", ts::kDeflatedExplicitVRLittleEndian, false, false, false},
      {"ExplicitVRBigEndian", ts::kExplicitVRBigEndian, false, false, false},
      {"JPEGBaseline8Bit", ts::kJPEGBaseline8Bit, true, true, true},
      {"JPEGExtended12Bit", ts::kJPEGExtended12Bit, true, true, true},
      {"JPEGLossless", ts::kJPEGLossless, true, false, true},
      {"JPEGLosslessSV1", ts::kJPEGLosslessSV1, true, false, true},
      {"JPEGLSLossless", ts::kJPEGLSLossless, true, false, true},
      {"JPEGLSNearLossless", ts::kJPEGLSNearLossless, true, true, true},
      {"JPEG2000Lossless", ts::kJPEG2000Lossless, true, false, true},
      {"JPEG2000", ts::kJPEG2000, true, true, true},
      {"RLELossless", ts::kRLELossless, true, false, true},
      // Last: the fuzz inputs pick their target by index among the encodable
      // syntaxes (tests/fuzz/FuzzEntries.h); new rows go after the old ones.
      {"HTJ2KLossless", ts::kHTJ2KLossless, true, false, true},
      // Decoded only: OpenJPH 0.9.0 cannot write the TLM markers .202 requires.
      {"HTJ2KLosslessRPCL", ts::kHTJ2KLosslessRPCL, true, false, false},
      {"HTJ2K", ts::kHTJ2K, true, true, true},
  };
  return table;
}

std::optional<std::string> resolveTransferSyntax(std::string_view keywordOrUid) {
  for (const auto& info : knownTransferSyntaxes()) {
    if (keywordOrUid == info.keyword || keywordOrUid == info.uid) return std::string(info.uid);
  }
  return std::nullopt;
}

const TransferSyntaxInfo* findTransferSyntax(std::string_view uid) {
  for (const auto& info : knownTransferSyntaxes()) {
    if (uid == info.uid) return &info;
  }
  return nullptr;
}

std::string whyNotWritten(std::string_view uid) {
  // PS3.5 8.2.14: .202 codestreams carry TLM markers; OpenJPH 0.9.0 has no
  // way to write them (see OpenJphFamily.h).
  if (uid == ts::kHTJ2KLosslessRPCL)
    return "HTJ2KLosslessRPCL requires TLM (tile-part length) markers with RPCL progression, and OpenJPH 0.9.0 "
           "writes TLM only with CPRL; use HTJ2KLossless";
  return "";
}

std::string transferSyntaxName(std::string_view uid) {
  const TransferSyntaxInfo* info = findTransferSyntax(uid);
  return info ? std::string(info->keyword) : std::string(uid);
}

}  // namespace router
