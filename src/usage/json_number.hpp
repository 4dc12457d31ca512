#pragma once
// A JSON number's value as its text says it. simdjson 3.0.1's get_double misreads numbers of
// more than 19 significant digits (0.84467440737098375495e4 came back as 1068.05) and refuses
// 1e400; every reader of a number the relay acts on (token counts, max_tokens) goes through here
// instead. Here rather than in core: simdjson is a dependency of usage and up, not of core.
#include <optional>
#include <string_view>

#include <simdjson.h>

namespace crs::usage {

// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
bool is_json_number(std::string_view text);

// A JSON value's text without the whitespace simdjson leaves after a token.
std::string_view trim_json_token(std::string_view token);

// The number `v` holds: integers as simdjson reads them, any other number correctly rounded by
// strtod (out of range: +-inf or 0). nullopt if `v` is no well-formed number.
std::optional<double> json_number(simdjson::ondemand::value v);

}  // namespace crs::usage
