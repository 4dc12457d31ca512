#include "config/in_force.hpp"

#include "core/time.hpp"

namespace crs::config {

InForce::InForce(const Loaded& started) {
  auto s = std::make_shared<InForceSnapshot>();
  s->config = started.config;
  s->origins = started.origins;
  s->config_path = started.config_path;
  current_ = std::move(s);
}

std::shared_ptr<const InForceSnapshot> InForce::get() const {
  std::lock_guard lock(mutex_);
  return current_;
}

void InForce::reloaded(const Config& next, const Loaded& read, const std::vector<std::string>& applied) {
  std::lock_guard lock(mutex_);
  auto s = std::make_shared<InForceSnapshot>(*current_);
  s->config = next;
  for (const auto& path : applied)
    if (auto it = read.origins.find(path); it != read.origins.end()) s->origins[path] = it->second;
  s->reloaded_at = iso8601_utc();
  s->last_applied = applied;
  current_ = std::move(s);
}

}  // namespace crs::config
