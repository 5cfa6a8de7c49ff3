#include "plugins/core/delivery/PreparedCache.h"

namespace router {

void PreparedCache::touch(Entry& entry, const std::string& key) {
  recent_.erase(entry.position);
  recent_.push_front(key);
  entry.position = recent_.begin();
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

void PreparedCache::put(const std::string& key, std::string value) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(key);
    if (it != entries_.end() && it->second.size != 0) {
      bytes_ -= it->second.size;
      recent_.erase(it->second.position);
      entries_.erase(it);
    }
  }
  get(key, [&] { return std::move(value); });
}

size_t PreparedCache::bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bytes_;
}

}  // namespace router
