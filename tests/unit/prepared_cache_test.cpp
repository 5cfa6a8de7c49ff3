// The shared cache of read and prepared instances: computed once however many
// workers ask, failures not cached, memory bounded.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "plugins/core/delivery/PreparedCache.h"

namespace router {
namespace {

TEST(PreparedCacheTest, ComputesOnceForConcurrentCallers) {
  PreparedCache cache(1 << 20);
  std::atomic<int> computed{0};
  std::vector<std::thread> workers;
  std::vector<PreparedCache::Value> values(8);
  for (int i = 0; i < 8; ++i) {
    workers.emplace_back([&, i] {
      values[i] = cache.get("k", [&] {
        ++computed;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        return std::string("transcoded");
      });
    });
  }
  for (auto& t : workers) t.join();
  EXPECT_EQ(computed.load(), 1);
  for (const auto& v : values) EXPECT_EQ(*v, "transcoded");
}

TEST(PreparedCacheTest, FailuresReachEveryCallerAndAreNotKept) {
  PreparedCache cache(1 << 20);
  EXPECT_THROW(cache.get("k", []() -> std::string { throw std::runtime_error("codec failed"); }),
               std::runtime_error);
  EXPECT_EQ(*cache.get("k", [] { return std::string("second try"); }), "second try");
}

TEST(PreparedCacheTest, PutReplacesAndMemoryIsBounded) {
  PreparedCache cache(1000);
  cache.put("file", "old");
  cache.put("file", "new");
  EXPECT_EQ(*cache.get("file", [] { return std::string("read again"); }), "new");
  for (int i = 0; i < 20; ++i) cache.get("big" + std::to_string(i), [] { return std::string(300, 'x'); });
  EXPECT_LE(cache.bytes(), 1000u);
  // The least recently used went first: an early key is computed again.
  EXPECT_EQ(*cache.get("big0", [] { return std::string("recomputed"); }), "recomputed");
}

}  // namespace
}  // namespace router
