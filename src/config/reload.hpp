#pragma once
// What SIGHUP does with a configuration read again: the keys marked live in the schema take
// their new values; every other key keeps the value the relay started with, and is named, so an
// admin knows a restart is needed. The result is whole and consistent: a reader of the next
// configuration never sees a value that is not in force.
#include <string>
#include <vector>

#include "config/config.hpp"

namespace crs::config {

struct Reload {
  Config next;                             // running, with the changed live keys of `loaded`
  std::vector<std::string> applied;        // live keys that changed, by path
  std::vector<std::string> needs_restart;  // other keys that changed, by path
};

Reload merge_live(const Config& running, const Config& loaded);

}  // namespace crs::config
