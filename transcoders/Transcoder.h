// Transfer-syntax conversion of whole DICOM files, usable without Orthanc.
// One implementation per codec family (GDCM: uncompressed, JPEG, JPEG 2000,
// RLE; CharLS: JPEG-LS); TranscoderSet picks the right one per direction.
//
// Thread safety: transcode() is const and may be called from several threads
// at once on the same object.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "plugins/core/Error.h"

namespace router {

// A conversion that cannot be done: unsupported input (e.g. 1-bit), corrupt
// pixel data, a codec failure. The message says which and why.
class TranscodeError : public RouterError {
 public:
  using RouterError::RouterError;
};

// The transcoder itself failed, not the input: its worker process died (a
// signal), ran past its time limit or over its memory limit. Counted apart
// (transcoder_crashes_total) because it points at a codec bug or a hostile
// file, and the worker was replaced.
class TranscoderCrash : public TranscodeError {
 public:
  enum class Kind { Crash, Timeout, Memory };
  TranscoderCrash(Kind kind, const std::string& message) : TranscodeError(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

// "crash", "timeout", "memory": the label of transcoder_crashes_total.
const char* toString(TranscoderCrash::Kind kind);

struct TranscodeOptions {
  // Lossy targets: quality 1..100 (JPEG; HTJ2K, see OpenJphFamily.h), or
  // compression ratio (JPEG 2000), or NEAR (JPEG-LS near-lossless).
  // 0 = the codec's documented default.
  int quality = 0;
  // Lossy targets get a new SOP Instance UID unless this is false.
  bool newUidWhenLossy = true;
  // Called once the input is parsed, before any codec runs, with what is
  // being converted ("255x255, 8 bits, RGB, JPEGBaseline8Bit"), so that a
  // failure later can say what was asked. Optional.
  std::function<void(const std::string& what)> onParsed;
};

class Transcoder {
 public:
  virtual ~Transcoder() = default;
  // Input: a DICOM Part-10 file (preamble + meta header + dataset), only
  // read, and only during the call (a worker reads it where the router's
  // shared memory maps it).
  // Output: the same instance as a Part-10 file in targetTransferSyntaxUid.
  // Throws TranscodeError.
  virtual std::string transcode(std::string_view part10, const std::string& targetTransferSyntaxUid,
                                const TranscodeOptions& options = {}) const = 0;
};

// The transcoder the appliance uses: dispatches to the codec family that can
// decode the source and encode the target.
std::unique_ptr<Transcoder> makeTranscoder();

}  // namespace router
