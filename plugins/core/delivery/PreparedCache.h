// Recently read and prepared instances, shared by all workers: the file read
// by routing is reused by every destination's delivery, and an instance
// wanted in the same syntax with the same tag edits by several destinations
// is transcoded once. When several threads ask for the same key at once, one
// computes and the others wait for its result (or its exception).
//
// Thread safety: get() may be called from any thread. Values are immutable
// shared strings; memory is bounded (least recently used entries go first).
#pragma once

#include <cstddef>
#include <functional>
#include <future>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace router {

class PreparedCache {
 public:
  using Value = std::shared_ptr<const std::string>;

  explicit PreparedCache(size_t maxBytes) : maxBytes_(maxBytes) {}

  // The value for key, computed by make() if nobody has it. Rethrows make()'s
  // exception (and forgets the key, so a later call tries again).
  Value get(const std::string& key, const std::function<std::string()>& make);

  // Stores a value already at hand, replacing what the key held.
  void put(const std::string& key, std::string value);

  size_t bytes() const;

 private:
  struct Entry {
    std::shared_future<Value> value;
    size_t size = 0;  // 0 while being computed
    std::list<std::string>::iterator position;
  };
  void touch(Entry& entry, const std::string& key);
  void evict();

  size_t maxBytes_;
  mutable std::mutex mutex_;
  size_t bytes_ = 0;
  std::map<std::string, Entry> entries_;
  std::list<std::string> recent_;  // front = most recently used
};

}  // namespace router
