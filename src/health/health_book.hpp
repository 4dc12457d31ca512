#pragma once
// What this instance knows of each account's health: its circuit and health class (read from
// Redis every second by LoadBalancingSync, and at once from the replies of this instance's own
// circuit scripts), and the attempts it saw that are not yet written to the passive stats.
// Any thread may call it; the request path only reads a map under a mutex.
#include <cstdint>
#include <array>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "health/circuit.hpp"
#include "health/classify.hpp"
#include "health/outcome.hpp"

namespace crs::health {

// What the relay may do with an account now.
enum class Gate {
  Open,     // take it as any other (degraded ones go last)
  Shut,     // the circuit is open, or its trial runs elsewhere; unhealthy: not at all
  Trial,    // the circuit's wait has passed and this instance has not tried to claim its trial
};

class HealthBook {
 public:
  Gate gate(const std::string& account_id, int64_t now_ms) const;
  bool degraded(const std::string& account_id) const;
  // The trial of a due circuit: true for one request of this instance at a time (it then tries
  // the claim); again after kClaimRetryMs if the circuit is still due here (the claim was lost
  // to a request that never got to it, or Redis failed).
  bool try_claim(const std::string& account_id, int64_t now_ms);
  // A success must reach Redis only when the circuit holds failures or is not closed.
  bool success_matters(const std::string& account_id) const;
  static constexpr int64_t kClaimRetryMs = 5000;

  void circuit(const std::string& account_id, const Circuit& c);
  // Another instance announced a change of the account's circuit: shut here until a read that
  // began after the announcement (`read_began`'s number) brings the new state.
  void announced(const std::string& account_id);
  uint64_t read_began();
  void circuit_read(const std::string& account_id, const Circuit& c, uint64_t read);
  void health_class(const std::string& account_id, HealthClass c);
  // Forgets everything of the account (reset-state): until the next read it is healthy, closed.
  void forget(const std::string& account_id);

  void record(const std::string& account_id, Attempt attempt);
  // What was recorded since the last call, per account: counts per outcome, the newest attempts
  // (at most kWindowAttempts, oldest first: Redis keeps no more), the last success and failure.
  struct Pending {
    std::string account_id;
    std::array<int64_t, kOutcomes> counts{};
    std::vector<Attempt> recent;
    int64_t last_success_ms = 0;
    std::optional<Attempt> last_failure;

    void add(Attempt attempt);
  };
  std::vector<Pending> take_pending();

 private:
  struct Entry {
    Circuit circuit;
    HealthClass health = HealthClass::Healthy;
    int64_t claim_tried_for = -1;  // the trial (its nextTry or trialUntil) this instance last tried to claim
    int64_t claim_tried_at = 0;    // ... and when
    uint64_t announced_at = 0;     // the announcement not yet read (0: none)
    std::optional<Pending> pending;
  };
  static bool claim_pending(const Entry& e, int64_t now_ms);

  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  uint64_t announcements_ = 0;
};

}  // namespace crs::health
