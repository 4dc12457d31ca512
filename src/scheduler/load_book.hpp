#pragma once
// What this instance knows of each account's load, for the strategies: requests in flight,
// tokens in its window, the upstream's utilisation, when it was last selected, and how its
// recent calls went (time to first byte, success). Updated at once by this instance's
// requests and every second from Redis with what all instances recorded (LoadRefresher in
// src/app). Any thread may call it.
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>
#include <unordered_map>

#include "scheduler/selection.hpp"
#include "scheduler/strategy.hpp"

namespace crs::scheduler {

class LoadBook {
 public:
  AccountLoad load_of(const std::string& account_id) const;

  // This instance's own events, seen at once.
  void selected(const std::string& account_id, int64_t now_ms);
  void finished(const std::string& account_id);
  void charged(const std::string& account_id, int64_t tokens);
  void answered(const std::string& account_id, double ttfb_ms, bool account_ok);
  void utilization(const std::string& account_id, const Utilization& reported);

  // What this instance has to write to Redis (LoadBalancingSync, once a second): the tokens
  // metered since the last call, and the utilisation reported since. Taken out of the book.
  struct Unwritten {
    std::vector<std::pair<std::string, int64_t>> tokens;
    std::vector<std::pair<std::string, Utilization>> utilization;
  };
  Unwritten take_unwritten();

  // The shared view, read from Redis after the unwritten part was written: tokens in the
  // window (every instance's), requests in flight (capped accounts: leases of every instance;
  // -1 keeps the local count), last selection anywhere, and the utilisation an instance
  // recorded (-1: none recorded).
  void refreshed(const std::string& account_id, int64_t window_tokens, int in_flight, int64_t last_used_ms,
                 const Utilization& recorded);

  // Recent times to first byte of the account (newest last), at most kRecent.
  std::deque<double> recent_ttfb(const std::string& account_id) const;
  static constexpr size_t kRecent = 5;

 private:
  struct Entry {
    AccountLoad load;
    int local_in_flight = 0;
    int shared_in_flight = -1;        // from Redis; -1: not known
    int64_t pending_tokens = 0;       // metered here, not yet taken for writing
    int64_t in_transit_tokens = 0;    // taken for writing, not yet in a refresh
    int64_t shared_tokens = 0;        // every instance's, as last read
    Utilization utilization;
    bool utilization_changed = false;
    std::deque<double> ttfb;          // recent, newest last
  };
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace crs::scheduler
