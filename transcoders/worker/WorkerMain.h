// The body of a transcoder worker process (orthanc-router-transcoder), kept
// in a library so that the tests' fault-injecting worker runs exactly the
// same code with one hook added.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace router::worker {

// Called with each input once it is parsed, just before a codec runs.
using BeforeTranscode = std::function<void(std::string_view input)>;

// Parses --memory-mb N, locks the process down, serves requests on
// kSocketFd until the router closes it. Returns the process's exit code.
int runWorker(int argc, char** argv, const BeforeTranscode& before = {});

}  // namespace router::worker
