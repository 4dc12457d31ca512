#pragma once
// One alert, as the monitor raises it and every channel tells it: raised once while its
// condition holds, then a recovery notice when it clears.
#include <string>

#include <boost/json/object.hpp>

namespace crs::alerts {

struct Alert {
  std::string id;        // what it is about, the same while it holds: "account_unauthorized:<id>"
  std::string kind;      // account_unauthorized, account_blocked, circuit_open, utilization, memory,
                         // redis_unreachable, error_rate, export_failed, test
  std::string severity;  // critical, warning, info
  std::string title;     // one line
  std::string message;   // a few lines for people
  boost::json::object details;
  bool recovered = false;  // the recovery notice of an alert raised before
  std::string at;          // ISO 8601, when it was raised or recovered
  std::string instance;    // the relay instance that tells it
};

}  // namespace crs::alerts
