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

TEST(PreparedCacheTest, ANewerCopyReplacesAndMemoryIsBounded) {
  PreparedCache cache(1000);
  cache.offer("file", "old", 3);
  cache.offer("file", "new", 3);
  EXPECT_EQ(*cache.get("file", [] { return std::string("read again"); }), "new");
  for (int i = 0; i < 20; ++i) cache.get("big" + std::to_string(i), [] { return std::string(300, 'x'); });
  EXPECT_LE(cache.bytes(), 1000u);
  // The least recently used went first: an early key is computed again.
  EXPECT_EQ(*cache.get("big0", [] { return std::string("recomputed"); }), "recomputed");
}

TEST(PreparedCacheTest, OffersAreKeptOnlyWhenTheyFitAndReplaceOlderCopies) {
  PreparedCache cache(1000);
  const std::string first(400, 'a');
  EXPECT_TRUE(cache.offer("file:1", first.data(), first.size()));
  EXPECT_EQ(*cache.get("file:1", [] { return std::string("read from Orthanc"); }), first);

  const std::string second(400, 'b');
  EXPECT_TRUE(cache.offer("file:2", second.data(), second.size()));
  // No room left: refused, and nothing else was pushed out for it.
  const std::string third(400, 'c');
  EXPECT_FALSE(cache.offer("file:3", third.data(), third.size()));
  EXPECT_EQ(*cache.get("file:1", [] { return std::string("evicted"); }), first);
  EXPECT_EQ(*cache.get("file:3", [] { return std::string("read from Orthanc"); }), "read from Orthanc");

  // The same instance stored again: the new content replaces the old copy.
  cache.erase("file:3");
  const std::string again(300, 'z');
  EXPECT_TRUE(cache.offer("file:1", again.data(), again.size()));
  EXPECT_EQ(*cache.get("file:1", [] { return std::string("read from Orthanc"); }), again);
  cache.erase("file:1");
  cache.get("syntax:2|a", [] { return std::string("x"); });
  cache.get("syntax:2|b", [] { return std::string("y"); });
  cache.get("syntax:20|a", [] { return std::string("z"); });
  cache.eraseWithPrefix("syntax:2|");
  EXPECT_EQ(*cache.get("syntax:20|a", [] { return std::string("gone"); }), "z");
  EXPECT_EQ(*cache.get("syntax:2|a", [] { return std::string("gone"); }), "gone");
  cache.erase("syntax:2|a");
  cache.erase("syntax:20|a");
  cache.erase("file:2");
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(PreparedCacheTest, AnExpectedOfferIsWaitedForInsteadOfRead) {
  PreparedCache cache(1u << 20);
  const std::string file(1000, 'f');
  cache.expect("file:1");
  std::thread storer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    cache.offer("file:1", file.data(), file.size());
  });
  bool read = false;
  EXPECT_EQ(*cache.get("file:1", [&] { read = true; return std::string("read from Orthanc"); }), file);
  EXPECT_FALSE(read);
  storer.join();

  // Declined (too big, no room): nobody waits for it, now or later.
  cache.expect("file:2");
  cache.decline("file:2");
  cache.expect("file:2");
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(*cache.get("file:2", [] { return std::string("read"); }), "read");
  EXPECT_LT(std::chrono::steady_clock::now() - started, PreparedCache::kOfferWait);

  // Never offered: read once the wait is over.
  cache.expect("file:3");
  EXPECT_EQ(*cache.get("file:3", [] { return std::string("read late"); }), "read late");
}

TEST(PreparedCacheTest, OffersPushOutOnlyWhatNobodyAskedForLately) {
  PreparedCache cache(1000, std::chrono::milliseconds(100));
  const std::string old(600, 'o'), fresh(600, 'f');
  EXPECT_TRUE(cache.offer("file:waiting-for-a-dead-destination", old.data(), old.size()));
  EXPECT_FALSE(cache.offer("file:2", fresh.data(), fresh.size()));  // the first one is recent
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_TRUE(cache.offer("file:3", fresh.data(), fresh.size()));   // now it is stale: dropped
  EXPECT_EQ(*cache.get("file:waiting-for-a-dead-destination", [] { return std::string("read again"); }),
            "read again");
}

}  // namespace
}  // namespace router
