// libFuzzer target fuzz_transcode: the transcoder's decode/encode on untrusted bytes.
// The input format and what counts as a finding: FuzzEntries.h.
#include <exception>

#include "tests/fuzz/FuzzEntries.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    router::fuzz::transcodeOne(data, size);
  } catch (const std::exception&) {
    // The input was refused: a normal outcome.
  }
  return 0;
}
