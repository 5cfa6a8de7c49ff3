// The worker process's life: lock down, answer Ready, then convert one image
// per request until the router closes the socket (see WorkerProtocol.h).
#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "transcoders/Transcoder.h"
#include "transcoders/worker/Lockdown.h"
#include "transcoders/worker/WorkerMain.h"
#include "transcoders/worker/WorkerProtocol.h"

namespace router::worker {
namespace {

void reply(ReplyKind kind, const std::string& text, uint64_t size = 0, int fd = -1) {
  Reply r;
  r.kind = kind;
  r.size = size;
  setText(r.text, text);
  sendMessage(kSocketFd, &r, sizeof r, fd);
}


int serve(const Transcoder& transcoder, const BeforeTranscode& before) {
  for (;;) {
    Request request;
    int in = -1;
    if (!receiveMessage(kSocketFd, &request, sizeof request, &in)) return 0;  // the router is gone
    request.target[sizeof request.target - 1] = '\0';
    try {
      if (in < 0) throw TranscodeError("no input file was passed");
      // The router's sealed file, read where it is mapped: no copy.
      const MappedMemfd input(in, request.inputSize);
      close(in);
      in = -1;
      TranscodeOptions options;
      options.quality = request.quality;
      options.newUidWhenLossy = request.newUidWhenLossy != 0;
      options.onParsed = [&](const std::string& what) {
        reply(ReplyKind::Parsed, what);
        if (before) before(input.bytes());
      };
      const std::string output = transcoder.transcode(input.bytes(), request.target, options);
      int out = makeSealedMemfd("router-output", output.data(), output.size());
      if (out < 0) throw std::bad_alloc();
      reply(ReplyKind::Done, "", output.size(), out);
      close(out);
    } catch (const std::bad_alloc&) {
      if (in >= 0) close(in);
      reply(ReplyKind::OutOfMemory, "the image needs more memory than the worker's limit");
      return 3;  // a fresh process for the next image: the heap may be in any state
    } catch (const std::exception& e) {
      if (in >= 0) close(in);
      reply(ReplyKind::Failed, e.what());
    }
  }
}

}  // namespace

int runWorker(int argc, char** argv, const BeforeTranscode& before) {
  Limits limits;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--memory-mb") == 0) limits.memoryBytes = std::strtoull(argv[i + 1], nullptr, 10) << 20;
    if (std::strcmp(argv[i], "--nice") == 0) limits.nice = std::atoi(argv[i + 1]);
  }
  if (isatty(kSocketFd) || fcntl(kSocketFd, F_GETFD) < 0) {
    std::fprintf(stderr, "orthanc-router-transcoder: started by the router plugin only (no socket on fd %d)\n",
                 kSocketFd);
    return 2;
  }
  close_range(kSocketFd + 1, ~0U, 0);
  // One image after another of about the same size: keep freed buffers in
  // the heap for the next one instead of mapping and faulting in new pages
  // for every image (glibc maps blocks over 128 KiB on their own by default).
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  try {
    // The codecs are set up before the lockdown; from here on the process
    // can only compute and answer on its socket.
    std::unique_ptr<Transcoder> transcoder = makeTranscoder();
    lockDown(limits);
    reply(ReplyKind::Ready, describeLockdown(limits));
    return serve(*transcoder, before);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "orthanc-router-transcoder: %s\n", e.what());
    reply(ReplyKind::Failed, std::string("the transcoder worker could not start: ") + e.what());
    return 2;
  }
}

}  // namespace router::worker
