// The transfer syntaxes the appliance knows by keyword, and lookups between
// keywords and UIDs. Pure data; safe to use from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace router {

struct TransferSyntaxInfo {
  const char* keyword;  // DICOM keyword, e.g. "JPEGLSLossless"
  const char* uid;
  bool encapsulated;    // pixel data in fragments (compressed)
  bool lossy;
  bool canEncode;       // the appliance can produce it (some are decode-only)
};

const std::vector<TransferSyntaxInfo>& knownTransferSyntaxes();

// Accepts a keyword or a UID of a known syntax; returns the UID, or nullopt.
std::optional<std::string> resolveTransferSyntax(std::string_view keywordOrUid);

// The info of a known UID, or nullptr.
const TransferSyntaxInfo* findTransferSyntax(std::string_view uid);

// Why a known syntax is not written ("" when it is, or no reason is known).
std::string whyNotWritten(std::string_view uid);

// Keyword for a UID; the UID itself when unknown.
std::string transferSyntaxName(std::string_view uid);

namespace ts {
inline constexpr const char* kImplicitVRLittleEndian = "1.2.840.10008.1.2";
inline constexpr const char* kExplicitVRLittleEndian = "1.2.840.10008.1.2.1";
inline constexpr const char* kDeflatedExplicitVRLittleEndian = "1.2.840.10008.1.2.1.99";
inline constexpr const char* kExplicitVRBigEndian = "1.2.840.10008.1.2.2";
inline constexpr const char* kJPEGBaseline8Bit = "1.2.840.10008.1.2.4.50";
inline constexpr const char* kJPEGExtended12Bit = "1.2.840.10008.1.2.4.51";
inline constexpr const char* kJPEGLossless = "1.2.840.10008.1.2.4.57";
inline constexpr const char* kJPEGLosslessSV1 = "1.2.840.10008.1.2.4.70";
inline constexpr const char* kJPEGLSLossless = "1.2.840.10008.1.2.4.80";
inline constexpr const char* kJPEGLSNearLossless = "1.2.840.10008.1.2.4.81";
inline constexpr const char* kJPEG2000Lossless = "1.2.840.10008.1.2.4.90";
inline constexpr const char* kJPEG2000 = "1.2.840.10008.1.2.4.91";
inline constexpr const char* kHTJ2KLossless = "1.2.840.10008.1.2.4.201";
inline constexpr const char* kHTJ2KLosslessRPCL = "1.2.840.10008.1.2.4.202";
inline constexpr const char* kHTJ2K = "1.2.840.10008.1.2.4.203";
inline constexpr const char* kRLELossless = "1.2.840.10008.1.2.5";
}  // namespace ts

}  // namespace router
