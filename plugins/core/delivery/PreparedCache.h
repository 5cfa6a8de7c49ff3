// Recently read and prepared instances, shared by all workers: the file read
// by routing is reused by every destination's delivery, and an instance
// wanted in the same syntax with the same tag edits by several destinations
// is transcoded once. When several threads ask for the same key at once, one
// computes and the others wait for its result (or its exception).
//
// Thread safety: get() may be called from any thread. Values are immutable
// shared strings; memory is bounded (least recently used entries go first).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

namespace router {

// The keys of what the router keeps per instance: its stored file, where it
// came from, and what delivery derives from it (tag edits and
// de-identification, then transcodes; `edits` identifies a route's tag edits
// with its de-identification project and options).
namespace cachekey {
inline std::string file(const std::string& instanceId) { return "file:" + instanceId; }
inline std::string origin(const std::string& instanceId) { return "origin:" + instanceId; }
inline std::string edited(const std::string& instanceId, const std::string& edits) {
  return "edit:" + instanceId + "|" + edits;
}
inline std::string transcoded(const std::string& instanceId, const std::string& edits, const std::string& syntax) {
  return "syntax:" + instanceId + "|" + edits + "|" + syntax;
}
}  // namespace cachekey

class PreparedCache {
 public:
  using Value = std::shared_ptr<const std::string>;

  // stale: how long a value nobody asked for may still block an offer.
  explicit PreparedCache(size_t maxBytes, std::chrono::milliseconds stale = std::chrono::seconds(10))
      : maxBytes_(maxBytes), stale_(stale) {}

  // The value for key, computed by make() if nobody has it. Rethrows make()'s
  // exception (and forgets the key, so a later call tries again).
  Value get(const std::string& key, const std::function<std::string()>& make);

  // A value offered ahead of need (a file Orthanc has just stored). It is
  // kept only if it fits without pushing out anything asked for lately (bytes
  // are copied only then); it replaces a held value only if the content differs.
  // Returns whether it was kept.
  bool offer(const std::string& key, const char* data, size_t size);

  // Says an offer for key is on its way: until it comes (or was declined, or
  // kOfferWait passed), get() for key waits for it instead of computing.
  void expect(const std::string& key);
  // The offer for key will not be made.
  void decline(const std::string& key);
  static constexpr std::chrono::milliseconds kOfferWait{250};

  // Forgets the key (a value nobody will ask for again).
  void erase(const std::string& key);
  // Forgets every key that starts with prefix.
  void eraseWithPrefix(const std::string& prefix);
  // Forgets everything held for an instance (the keys below).
  void forgetInstance(const std::string& instanceId);

  size_t bytes() const;

 private:
  struct Entry {
    std::shared_future<Value> value;
    size_t size = 0;  // 0 while being computed
    std::list<std::string>::iterator position;
    std::chrono::steady_clock::time_point used;  // last asked for (or stored)
  };
  void touch(Entry& entry, const std::string& key);
  void evict();
  void settleOffer(const std::string& key, bool kept);  // under mutex_
  // Makes room for size bytes by dropping values nobody asked for during
  // stale_ (e.g. files waiting for a destination that is down), least
  // recently used first. Under mutex_. Returns whether there is room.
  bool roomFromStale(size_t size);

  size_t maxBytes_;
  std::chrono::milliseconds stale_;
  mutable std::mutex mutex_;
  size_t bytes_ = 0;
  std::map<std::string, Entry> entries_;
  std::list<std::string> recent_;  // front = most recently used
  // Offers announced by expect() and not made yet, and the last offers
  // declined (so that a late expect() does not wait for them); both bounded.
  std::map<std::string, std::chrono::steady_clock::time_point> expected_;
  std::set<std::string> declined_;
  std::deque<std::string> declinedOrder_;
  std::condition_variable offered_;
};

}  // namespace router
