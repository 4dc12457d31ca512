#include "config/reload.hpp"

#include "config/schema.hpp"

namespace crs::config {

Reload merge_live(const Config& running, const Config& loaded) {
  Reload r{running, {}, {}};
  for (const auto& key : schema()) {
    Value now = key.get(running);
    Value then = key.get(loaded);
    if (now == then) continue;
    if (key.live) {
      key.set(r.next, then);
      r.applied.push_back(key.path);
    } else {
      r.needs_restart.push_back(key.path);
    }
  }
  return r;
}

}  // namespace crs::config
