#include "plugins/core/delivery/PreparedCache.h"

#include <cstring>

namespace router {

void PreparedCache::touch(Entry& entry, const std::string& key) {
  recent_.erase(entry.position);
  recent_.push_front(key);
  entry.position = recent_.begin();
  entry.used = std::chrono::steady_clock::now();
}

bool PreparedCache::roomFromStale(size_t size) {
  auto staleBefore = std::chrono::steady_clock::now() - stale_;
  auto it = recent_.end();
  while (bytes_ + size + 1 > maxBytes_ && it != recent_.begin()) {
    --it;
    auto entry = entries_.find(*it);
    if (entry->second.size == 0) continue;                 // being computed
    if (entry->second.used > staleBefore) break;           // the rest is more recent still
    bytes_ -= entry->second.size;
    entries_.erase(entry);
    it = recent_.erase(it);
  }
  return bytes_ + size + 1 <= maxBytes_;
}

void PreparedCache::evict() {
  auto it = recent_.end();
  while (bytes_ > maxBytes_ && it != recent_.begin()) {
    --it;
    auto entry = entries_.find(*it);
    if (entry->second.size == 0) continue;  // still being computed
    bytes_ -= entry->second.size;
    entries_.erase(entry);
    it = recent_.erase(it);
  }
}

PreparedCache::Value PreparedCache::get(const std::string& key, const std::function<std::string()>& make) {
  std::promise<Value> promise;
  std::unique_lock<std::mutex> lock(mutex_);
  auto expected = expected_.find(key);
  if (expected != expected_.end() && !entries_.count(key)) {
    auto until = expected->second + kOfferWait;
    offered_.wait_until(lock, until, [&] { return !expected_.count(key) || entries_.count(key); });
    expected_.erase(key);  // came, or will not come in time
  }
  auto found = entries_.find(key);
  if (found != entries_.end()) {
    touch(found->second, key);
    std::shared_future<Value> pending = found->second.value;
    lock.unlock();  // wait for whoever computes it without holding the cache
    return pending.get();
  }
  recent_.push_front(key);
  Entry entry;
  entry.value = promise.get_future().share();
  entry.position = recent_.begin();
  entry.used = std::chrono::steady_clock::now();
  entries_.emplace(key, std::move(entry));
  lock.unlock();

  try {
    Value value = std::make_shared<const std::string>(make());
    promise.set_value(value);
    lock.lock();
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      it->second.size = value->size() + 1;
      bytes_ += it->second.size;
      evict();
    }
    return value;
  } catch (...) {
    promise.set_exception(std::current_exception());
    if (!lock.owns_lock()) lock.lock();
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      recent_.erase(it->second.position);
      entries_.erase(it);
    }
    throw;
  }
}

void PreparedCache::settleOffer(const std::string& key, bool kept) {
  expected_.erase(key);
  if (!kept && declined_.insert(key).second) {
    declinedOrder_.push_back(key);
    if (declinedOrder_.size() > 1024) {
      declined_.erase(declinedOrder_.front());
      declinedOrder_.pop_front();
    }
  }
  offered_.notify_all();
}

void PreparedCache::expect(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (entries_.count(key) || declined_.count(key)) return;
  auto now = std::chrono::steady_clock::now();
  if (expected_.size() >= 4096) {  // offers that never came: forget the stale ones
    for (auto it = expected_.begin(); it != expected_.end();) {
      it = now - it->second > kOfferWait ? expected_.erase(it) : std::next(it);
    }
    if (expected_.size() >= 4096) return;
  }
  expected_[key] = now;
}

void PreparedCache::decline(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  settleOffer(key, false);
}

bool PreparedCache::offer(const std::string& key, const char* data, size_t size) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      // Being read right now, or already read (whoever needed it was
      // quicker than this offer): keep it unless its content differs.
      bool same = it->second.size != 0 && it->second.value.get()->size() == size &&
                  std::memcmp(it->second.value.get()->data(), data, size) == 0;
      if (it->second.size == 0 || same) {
        settleOffer(key, true);
        return false;
      }
      bytes_ -= it->second.size;
      recent_.erase(it->second.position);
      entries_.erase(it);
    }
    if (!roomFromStale(size)) {
      settleOffer(key, false);
      return false;
    }
  }
  std::string copy(data, size);  // outside the lock
  std::lock_guard<std::mutex> lock(mutex_);
  if (entries_.count(key) || bytes_ + size + 1 > maxBytes_) {  // others were quicker
    settleOffer(key, entries_.count(key) > 0);
    return false;
  }
  std::promise<Value> promise;
  promise.set_value(std::make_shared<const std::string>(std::move(copy)));
  recent_.push_front(key);
  Entry entry;
  entry.value = promise.get_future().share();
  entry.size = size + 1;
  entry.position = recent_.begin();
  entry.used = std::chrono::steady_clock::now();
  entries_.emplace(key, std::move(entry));
  bytes_ += size + 1;
  settleOffer(key, true);
  return true;
}

void PreparedCache::erase(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.size == 0) return;
  bytes_ -= it->second.size;
  recent_.erase(it->second.position);
  entries_.erase(it);
}

void PreparedCache::eraseWithPrefix(const std::string& prefix) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.lower_bound(prefix);
  while (it != entries_.end() && it->first.compare(0, prefix.size(), prefix) == 0) {
    if (it->second.size == 0) {  // being computed: its maker still needs it
      ++it;
      continue;
    }
    bytes_ -= it->second.size;
    recent_.erase(it->second.position);
    it = entries_.erase(it);
  }
}

void PreparedCache::forgetInstance(const std::string& instanceId) {
  erase(cachekey::file(instanceId));
  erase(cachekey::origin(instanceId));
  eraseWithPrefix("edit:" + instanceId + "|");
  eraseWithPrefix("syntax:" + instanceId + "|");
}

size_t PreparedCache::bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bytes_;
}

}  // namespace router
