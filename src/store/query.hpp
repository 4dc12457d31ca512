#pragma once
// Reads of many records for admin listings, usage reports, exports and key holders' stats
// (never the relay's hot path, which has its own budget): the commands are cut into batches of
// `batch_size`, each sent as pipelines of `pipeline_size` at once, with at most
// `max_concurrency` batches (max_concurrency x batch_size commands) in flight, all under one
// deadline. With the optimizer off the same
// commands go one per round trip: the same replies, slower.
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "store/redis_client.hpp"

namespace crs::store {

struct QueryOptions {
  bool optimize = true;                       // false: one command per round trip
  size_t pipeline_size = 50;                  // commands per round trip
  size_t batch_size = 100;                    // commands per batch (0: one batch per pipeline)
  size_t max_concurrency = 10;                // batches in flight at once
  std::chrono::milliseconds timeout{30000};   // the whole query; past it: "query timed out"
};

// What a query cost: filled whatever the outcome.
struct QueryProfile {
  size_t commands = 0;
  size_t round_trips = 0;   // pipelines sent (one per command without the optimizer)
  size_t peak_batches = 0;  // batches in flight at once, at most
  size_t reply_bytes = 0;   // payload of the replies (strings, errors, statuses)
  std::chrono::microseconds took{0};
  bool timed_out = false;
};

// The message of a query that ran past its deadline starts with this.
inline constexpr std::string_view kQueryTimedOut = "query timed out";
inline bool is_query_timeout(const Error& e) { return std::string_view(e.message).starts_with(kQueryTimedOut); }

// The replies in the order of `commands`. A Redis error reply is a reply (as with
// RedisClient::pipeline); a connection failure or the deadline is an Error.
Task<Result<std::vector<RedisReply>>> run_query(RedisClient& redis, std::vector<RedisCommand> commands,
                                                QueryOptions options, QueryProfile* profile = nullptr);

}  // namespace crs::store
