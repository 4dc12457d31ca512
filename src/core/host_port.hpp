#pragma once
#include <string>
#include <utility>

#include "core/result.hpp"

namespace crs {

// "host:port" (IPv6 as "[addr]:port") into its parts; the port is 1..65535.
Result<std::pair<std::string, int>> parse_host_port(const std::string& text);

}  // namespace crs
