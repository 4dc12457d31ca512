#pragma once
// The load balancer's recent decisions on this instance, for the console's load-balancing
// page: which request and model, the strategy, the ranked candidates with their score parts,
// the pick and how it was made (picked, sticky, moved, none). Messages only: token counts would
// drown them. A fixed ring of plain records: recording one copies a few hundred bytes under an
// uncontended lock and allocates nothing.
#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace crs::scheduler {

struct DecisionOption {
  char account[40] = {};
  float score = 0, cost = 0, performance = 0, load = 0, reliability = 0;
  bool paused = false, degraded = false;
};

struct Decision {
  int64_t at_ms = 0;
  char request_id[24] = {};
  char key_id[40] = {};
  char model[64] = {};
  char group[40] = {};  // the key's account group, "" for the whole pool
  char strategy[24] = {};
  char picked[40] = {};  // "" when no account could take it
  char how[24] = {};
  uint8_t candidates = 0;  // how many were ranked (options holds the best of them)
  uint8_t option_count = 0;
  std::array<DecisionOption, 4> options{};
};

// Copies as much of `text` as fits, always terminated.
template <size_t N>
void copy_text(char (&to)[N], std::string_view text) {
  size_t n = std::min(text.size(), N - 1);
  text.copy(to, n);
  to[n] = '\0';
}

class DecisionLog {
 public:
  static constexpr size_t kKept = 256;
  void record(const Decision& d);
  // The newest first, at most `max`.
  std::vector<Decision> recent(size_t max) const;

 private:
  mutable std::mutex mutex_;
  std::array<Decision, kKept> ring_{};
  size_t next_ = 0, count_ = 0;
};

// This process's log (every I/O thread records into it).
DecisionLog& decision_log();

}  // namespace crs::scheduler
