// The root object's lifecycle with its real stages: a Router over a memory
// changes log, the real queue, rules, transcoder workers and a folder
// destination routes, transcodes and delivers; it does so again after a stop
// and a start; stop without start is fine; status() reports the state, also
// while other threads start and stop it. Waits have no
// deadline: what never arrives hangs the test, and ctest's timeout says so.
#include "plugins/core/Router.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "plugins/core/destinations/folder/FolderKind.h"
#include "plugins/core/dicom/TagReader.h"
#include "tests/generator/TestData.h"
#include "tests/generator/TestSupport.h"
#include "tests/unit/destination_settings.h"
#include "tests/unit/memory_orthanc.h"
#include "transcoders/TransferSyntax.h"

namespace router {
namespace {

using namespace std::chrono_literals;

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() {
    std::filesystem::create_directories(dir_ / "rules");
    std::ofstream(dir_ / "rules" / "10.lua")
        << "function route(i) return { { destination = \"out\", transfer_syntax = \"JPEGLSLossless\" } } end\n";
    config_.rulesDir = (dir_ / "rules").string();
    config_.queueDatabase = (dir_ / "queue.sqlite").string();
    config_.threads = 1;
    DestinationConfig& out = config_.destinations["out"];
    out.name = "out";
    editSettings<FolderSettings>(out).path = (dir_ / "out").string();
    config_.transcoding.workerExecutable = ROUTER_BINARY_DIR "/plugins/orthanc/orthanc-router-transcoder";
    config_.transcoding.workers = 1;
  }

  // What Orthanc does when a modality stores an instance: the stored-instance
  // callback, then the NewInstance change.
  std::string arrive(Router& router) {
    auto [id, sop] = orthanc_.store();
    std::string file = orthanc_.file(id);
    router.onStored(id, file.data(), file.size(), Origin{});
    router.onNewInstance(id);
    return sop;
  }
  // The file delivered for sop, once it is there.
  std::string delivered(const std::string& sop) {
    const std::filesystem::path path = dir_ / "out" / (sop + ".dcm");
    while (!std::filesystem::exists(path)) std::this_thread::sleep_for(10ms);
    std::ifstream in(path, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
  }

  testdata::TempDir dir_{"router-router-test"};
  Config config_;
  MemoryOrthanc orthanc_;
  StderrLog log_;
};

TEST_F(RouterTest, StartStopStartRoutesTranscodesAndDeliversAgain) {
  Router router(config_, orthanc_, log_);
  EXPECT_EQ(router.state(), RunState::Created);
  EXPECT_EQ(std::string(toString(router.status().state)), "created");
  EXPECT_NE(router.status().state, RunState::Running);

  router.start();
  EXPECT_EQ(router.state(), RunState::Running);
  EXPECT_EQ(std::string(toString(router.status().state)), "running");
  EXPECT_EQ(router.status().state, RunState::Running);
  EXPECT_EQ(readIdentity(delivered(arrive(router))).transferSyntax, ts::kJPEGLSLossless);

  router.stop();
  EXPECT_EQ(router.state(), RunState::Stopped);
  EXPECT_EQ(std::string(toString(router.status().state)), "stopped");
  EXPECT_NE(router.status().state, RunState::Running);
  EXPECT_EQ(router.status().transcoding.workers, 0);

  // Stored while the router was stopped: taken in from the changes log at
  // the next start. Then one stored while it runs again.
  auto [whileStopped, stoppedSop] = orthanc_.store();
  router.start();
  EXPECT_EQ(std::string(toString(router.status().state)), "running");
  EXPECT_EQ(readIdentity(delivered(stoppedSop)).transferSyntax, ts::kJPEGLSLossless);
  EXPECT_EQ(readIdentity(delivered(arrive(router))).transferSyntax, ts::kJPEGLSLossless);
  EXPECT_EQ(router.status().transcoding.workers, 1);
  router.stop();
  EXPECT_EQ(std::string(toString(router.status().state)), "stopped");
  EXPECT_EQ(router.status().destinations.at(0).jobs.at(JobState::Pending), 0);
}

TEST_F(RouterTest, StopWithoutStartIsFine) {
  Router router(config_, orthanc_, log_);
  router.stop();
  EXPECT_EQ(router.state(), RunState::Stopped);
  EXPECT_EQ(std::string(toString(router.status().state)), "stopped");
}

TEST_F(RouterTest, StatusMayBeReadWhileOtherThreadsStartAndStop) {
  Router router(config_, orthanc_, log_);
  std::atomic<bool> done{false};
  std::thread rest([&] {
    while (!done) {
      const RouterStatus status = router.status();
      const std::string state = toString(status.state);
      EXPECT_TRUE(state == "created" || state == "running" || state == "stopping" || state == "stopped") << state;
    }
  });
  for (int i = 0; i < 3; ++i) {
    router.start();
    router.stop();
  }
  done = true;
  rest.join();
  EXPECT_EQ(router.state(), RunState::Stopped);
}

}  // namespace
}  // namespace router
