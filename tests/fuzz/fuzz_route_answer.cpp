// libFuzzer target fuzz_route_answer: the reading of a rule's answer (lua/RouteReader).
// The input format and what counts as a finding: FuzzEntries.h.
#include <exception>

#include "tests/fuzz/FuzzEntries.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    router::fuzz::routeAnswerOne(data, size);
  } catch (const std::exception&) {
    // The input was refused: a normal outcome.
  }
  return 0;
}
