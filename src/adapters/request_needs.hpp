#pragma once
// What a Messages request asks of the upstream beyond the operation: images, tools, cache
// control. Read only when an account's kind lacks one of them (no built-in kind does), so the
// relay's common path never walks the body for it.
#include <string>

#include "adapters/adapter.hpp"

namespace crs::adapters {

// `body` gets SIMDJSON_PADDING bytes of spare capacity. A body that cannot be read (over
// 4 MiB, nested deeper than 64, not JSON) is taken to need every content feature.
void read_content_needs(std::string& body, RequestNeeds& needs);

}  // namespace crs::adapters
