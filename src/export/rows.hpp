#pragma once
// One exported key as cells, and the writers that turn rows into CSV, JSON or NDJSON text.
// Pure: the runner feeds them and writes what they return to the file.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "export/spec.hpp"
#include "keys/api_key.hpp"
#include "usage/usage_reader.hpp"

namespace crs::key_export {

// A value as both formats write it exactly: micro-USD as a decimal ("12.345678"), lists as
// lists (a JSON array in a CSV cell, so tags holding commas or quotes come back intact).
struct Cell {
  enum class Kind { Null, Bool, Integer, Usd, Text, List } kind = Kind::Null;
  int64_t number = 0;  // Integer, Usd (micro-USD), Bool (0/1)
  std::string text;
  std::vector<std::string> list;
};

struct KeyRow {
  keys::ApiKey key;
  usage::UsageTotals totals;  // all time
  usage::UsageTotals period;  // usage.from..usage.to
};

// "active", "disabled" or "expired" at `now_iso`.
std::string key_status(const keys::ApiKey& key, const std::string& now_iso);
bool matches(const KeyRow& row, const Filters& filters, const std::string& now_iso);
// The row's cells, in the order of spec.fields.
std::vector<Cell> cells_of(const KeyRow& row, const ExportSpec& spec, const std::string& now_iso);

// Text with every invalid UTF-8 sequence replaced by U+FFFD, so each format stays valid.
std::string valid_utf8(std::string_view text);
// A CSV cell, RFC 4180 quoted when needed; a text that a spreadsheet would run as a formula
// (starting with =, +, -, @, tab or carriage return) is prefixed with an apostrophe.
std::string csv_cell(const Cell& cell);

struct ExportHeader {
  std::string task_id;
  std::string exported_at;  // ISO 8601
  bool sanitized = true;
};

class RowWriter {
 public:
  virtual ~RowWriter() = default;
  virtual std::string begin() = 0;
  virtual std::string row(const std::vector<Cell>& cells) = 0;
  virtual std::string end(int64_t rows) = 0;
};

std::unique_ptr<RowWriter> make_writer(const ExportSpec& spec, const ExportHeader& header);

}  // namespace crs::key_export
