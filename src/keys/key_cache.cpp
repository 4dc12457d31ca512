#include "keys/key_cache.hpp"

namespace crs::keys {

KeyCache::KeyCache(std::chrono::seconds ttl, std::chrono::seconds negative_ttl)
    : ttl_(ttl), negative_ttl_(negative_ttl) {}

std::optional<KeyCache::Record> KeyCache::lookup(const std::string& digest) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(digest);
  if (it == entries_.end()) return std::nullopt;
  if (Clock::now() >= it->second.expires) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.key;
}

uint64_t KeyCache::generation() const {
  std::lock_guard lock(mutex_);
  return generation_;
}

void KeyCache::put(const std::string& digest, Record key, uint64_t seen_generation) {
  auto expires = Clock::now() + (key ? ttl_ : negative_ttl_);
  std::lock_guard lock(mutex_);
  if (seen_generation != generation_) return;  // read before an invalidation: stale
  if (entries_.size() > 100000) entries_.clear();  // bound memory under a flood of random keys
  entries_[digest] = Entry{std::move(key), expires};
}

void KeyCache::invalidate(const std::string& key_id) {
  std::lock_guard lock(mutex_);
  ++generation_;
  for (auto it = entries_.begin(); it != entries_.end();) {
    // A new key may match a digest we remembered as unknown: drop negative entries too.
    if (!it->second.key || it->second.key->id == key_id) it = entries_.erase(it);
    else ++it;
  }
}

void KeyCache::clear() {
  std::lock_guard lock(mutex_);
  ++generation_;
  entries_.clear();
}

}  // namespace crs::keys
