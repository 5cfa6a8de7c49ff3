// libFuzzer target fuzz_multipart: the multipart reader of POST /router/rules/test.
// The input format and what counts as a finding: FuzzEntries.h.
#include <exception>

#include "tests/fuzz/FuzzEntries.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    router::fuzz::multipartOne(data, size);
  } catch (const std::exception&) {
    // The input was refused: a normal outcome.
  }
  return 0;
}
