#pragma once
// Leased admission: a holder (one I/O thread of one instance) is granted a share of a key's
// limits in one atomic step: slots of its concurrency, requests of its current rate window,
// micro-USD and tokens of its budgets; it admits the key's requests in memory against that
// share (limits/grant_book.hpp), with no Redis round trip per request. Exact across instances:
//   - a grant comes out of the key's free headroom (what is neither used, reserved by a
//     request in flight, nor granted to another holder), at most half of it split among the
//     holders, so exact admissions (limits.hpp) keep the other half;
//   - granted slots count against the key's concurrency (grantSlots), granted requests against
//     its window (winRequests, when granted), granted budget as a reservation (resCost,
//     resTokens) that each completion turns into spending (completion_batch.hpp, lease "G:<holder>");
//   - unused shares are given back when the holder is idle, when the key changes, at shutdown;
//     a holder that dies keeps them until its grant expires (the lease TTL; renewed while held),
//     then the next grant or admission of the key tidies them. Requests granted in a window
//     and never used stay counted until that window ends.
// Redis: limit:grants:<id> (holder -> expiry ms), limit:granted:<id> (holder -> its share,
// "slots|requests|window start|micro-USD|tokens|generation"), and in limit:<id> grantSlots and
// grants (holders with a grant). A completion's lease "G:<holder>#<generation>" takes its charge
// from that life of the share only.
#include <cstdint>
#include <string>

#include "limits/limits.hpp"

namespace crs::limits {

// Amounts of each limited dimension: asked for, given back, or granted.
struct Shares {
  int64_t slots = 0;
  int64_t requests = 0;
  int64_t cost_micro = 0;
  int64_t tokens = 0;
};
inline constexpr int64_t kAll = -1;  // give back everything of a dimension

struct Granted {
  bool ok = false;            // the script answered
  std::string error;
  bool tight = false;         // a dimension asked for could not get its minimum: admit exactly for now
  Shares added;               // what this call granted (nothing when tight)
  int64_t window_start_ms = 0;  // the window the holder's requests belong to (0: the key has none)
  int64_t window_end_ms = 0;
  int64_t now_ms = 0;
  bool known = false;         // Redis held the holder's share of this generation before the call
};

std::string grants_key(std::string_view key_id);
std::string granted_key(std::string_view key_id);

// Gives back `back`, then asks for `want` more, each dimension at least `minimum` or none of
// them (tight). Only the key's limited dimensions are granted. `generation`: the life of the
// holder's share (a new number for a share the holder starts; completions name it).
ScriptCall grant_call(const Limits& limits, const keys::ApiKey& key, const std::string& holder, int64_t generation,
                      const Shares& want, const Shares& minimum, const Shares& back, int64_t now_ms);
Granted parse_granted(const store::RedisReply& reply);
// A holder's grant is kept alive like a lease: Limits::renewal_in(grants_key(id), holder).

}  // namespace crs::limits
