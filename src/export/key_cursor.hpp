#pragma once
// The export's walk over the creation index (apikey:idx:createdAt), a batch at a time, that
// neither skips nor repeats a key when keys are created or deleted between batches.
#include <cstdint>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "store/redis_client.hpp"

namespace crs::key_export {

// Where the walk stands: the last member read and its score ("" before the first batch). The
// next batch starts right after that member, found by its rank, or, if it was deleted
// meanwhile, after the members that sort before it.
struct Cursor {
  std::string score;
  std::string member;
};

// The index as the export began: keys created later (a higher score) are not in it.
struct Bounds {
  std::string max_score;  // "" when the index is empty
  int64_t total = 0;
};

Task<Result<Bounds>> index_bounds(store::RedisClient& redis);

// The next `batch` ids after `cursor` within `bounds`, in index order; advances the cursor.
// Empty at the end.
Task<Result<std::vector<std::string>>> next_ids(store::RedisClient& redis, Cursor& cursor, const Bounds& bounds,
                                                size_t batch);

}  // namespace crs::key_export
