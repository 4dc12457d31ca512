#pragma once
// `crs data verify [--repair]`: every index the relay reads checked against the records it
// indexes, and every usage total against the buckets it sums:
//  - keys:      apikey:hash_map (digest -> id) <-> apikey:<id>.apiKey; apikey:idx:createdAt
//               <-> the key records (found through both indexes and a SCAN of apikey:*)
//  - accounts:  crs:account:index <-> crs:account:<id>; credentials this ENCRYPTION_KEY opens
//  - groups:    crs:account_group:index <-> group records; members that are accounts
//  - usage:     usage:<key> totals = the sum of usage:<key>:model:alltime:<model> (both folded
//               by one script, so they agree exactly), the key's model set; the same for
//               usage:global:total and usage:model:alltime:<model>
// Index repairs only add what a record proves or remove what no record backs, each by a script
// that checks its reason again at the moment it writes (a writer may have changed it since the
// check). Usage totals are derived data: a repair sets them to the sum of their buckets (the
// finer record), in a script per key that is atomic against the aggregator.
#include <map>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "store/redis_client.hpp"

namespace crs::ops {

struct Finding {
  std::string check;    // "keys.digest-index", "accounts.index", "usage.totals", ...
  std::string subject;  // the key, account, group or model id
  std::string problem;
  bool repairable = false;
  bool repaired = false;
};

struct IntegrityReport {
  std::vector<Finding> findings;
  std::map<std::string, int64_t> checked;  // records looked at, per kind
  size_t unrepaired() const;
};

struct IntegrityOptions {
  bool repair = false;
  std::string encryption_key;  // to check that account credentials open
};

Task<Result<IntegrityReport>> verify_data(store::RedisClient& redis, IntegrityOptions options);

}  // namespace crs::ops
