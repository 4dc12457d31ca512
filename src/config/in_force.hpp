#pragma once
// The configuration a running relay has in force, with where each value came from: the start's,
// then after each SIGHUP the live keys the reload changed (config/reload.hpp). Read by the
// console's settings page; replaced whole, so a reader never sees half a reload.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/loader.hpp"

namespace crs::config {

struct InForceSnapshot {
  Config config;
  std::map<std::string, Origin> origins;  // by key path
  std::string config_path;                // the file read at start, "" if none
  std::string reloaded_at;                // ISO time of the last reload that changed a key, "" if none
  std::vector<std::string> last_applied;  // the keys that reload changed
};

class InForce {
 public:
  explicit InForce(const Loaded& started);
  std::shared_ptr<const InForceSnapshot> get() const;
  // After a reload: `next` is in force; the `applied` keys now come from `read`.
  void reloaded(const Config& next, const Loaded& read, const std::vector<std::string>& applied);

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const InForceSnapshot> current_;
};

}  // namespace crs::config
