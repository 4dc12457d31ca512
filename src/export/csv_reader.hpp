#pragma once
// An RFC 4180 reader: what `crs export test` parses its own CSV back with (and the unit tests).
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace crs::key_export {

// Records of cells. Quoted cells may hold commas, quotes ("") and line breaks; records end
// with CRLF or LF; a leading UTF-8 BOM is skipped. A quote inside an unquoted cell, or a
// quoted cell that never closes, is an error naming the record.
Result<std::vector<std::vector<std::string>>> parse_csv(std::string_view text);

}  // namespace crs::key_export
