// The CSV, JSON and NDJSON writers of key exports (export/rows): whatever the cells hold (names,
// tags and descriptions come from users), what is written parses back to the same rows: CSV
// through the RFC 4180 reader `crs export test` uses, JSON through a full parser. Text comes
// back as valid UTF-8 (invalid bytes as U+FFFD), a CSV text a spreadsheet would run as a
// formula with an apostrophe before it, amounts exact to the micro-dollar.
// Input: cells, each a kind byte then its bytes (see next_cell).
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "export/csv_reader.hpp"
#include "export/rows.hpp"
#include "fuzz_check.hpp"

namespace {

namespace json = boost::json;
using crs::key_export::Cell;

struct Input {
  std::string_view rest;
  uint8_t byte() {
    if (rest.empty()) return 0;
    uint8_t b = static_cast<uint8_t>(rest.front());
    rest.remove_prefix(1);
    return b;
  }
  std::string text() {
    size_t wanted = byte();  // before rest.size(): the order of a call's arguments is unspecified
    size_t n = std::min<size_t>(wanted, rest.size());
    std::string out(rest.substr(0, n));
    rest.remove_prefix(n);
    return out;
  }
  int64_t number() {
    int64_t v = 0;
    size_t n = std::min<size_t>(8, rest.size());
    std::memcpy(&v, rest.data(), n);
    rest.remove_prefix(n);
    return v;
  }
};

Cell next_cell(Input& in) {
  Cell c;
  switch (in.byte() % 6) {
    case 0: break;
    case 1: c.kind = Cell::Kind::Bool, c.number = in.byte() & 1; break;
    case 2: c.kind = Cell::Kind::Integer, c.number = in.number(); break;
    case 3: c.kind = Cell::Kind::Usd, c.number = in.number(); break;
    case 4: c.kind = Cell::Kind::Text, c.text = in.text(); break;
    default:
      c.kind = Cell::Kind::List;
      for (int n = in.byte() % 5; n > 0; --n) c.list.push_back(in.text());
  }
  return c;
}

// micro-USD as a decimal, computed apart from the writer's own formatting.
std::string decimal(int64_t micro) {
  bool negative = micro < 0;
  unsigned __int128 v = negative ? static_cast<unsigned __int128>(-static_cast<__int128>(micro)) : micro;
  std::string fraction = std::to_string(static_cast<uint64_t>(v % 1000000));
  fraction.insert(0, 6 - fraction.size(), '0');
  std::string out = negative ? "-" : "";
  out.append(std::to_string(static_cast<uint64_t>(v / 1000000))).append(".").append(fraction);
  return out;
}

json::array utf8_list(const std::vector<std::string>& items) {
  json::array out;
  for (const auto& i : items) out.emplace_back(crs::key_export::valid_utf8(i));
  return out;
}

std::string expected_csv(const Cell& c) {
  switch (c.kind) {
    case Cell::Kind::Null: return "";
    case Cell::Kind::Bool: return c.number ? "true" : "false";
    case Cell::Kind::Integer: return std::to_string(c.number);
    case Cell::Kind::Usd: return decimal(c.number);
    case Cell::Kind::List: return "";  // compared as JSON below
    case Cell::Kind::Text: break;
  }
  std::string v = crs::key_export::valid_utf8(c.text);
  if (!v.empty() && std::string_view("=+-@\t\r").find(v[0]) != std::string_view::npos) v.insert(v.begin(), '\'');
  return v;
}

void check_csv_cell(const Cell& c, const std::string& read) {
  if (c.kind != Cell::Kind::List) {
    FUZZ_CHECK(read == expected_csv(c), "a CSV cell read back differently");
    return;
  }
  boost::system::error_code ec;
  auto v = json::parse(read, ec);
  FUZZ_CHECK(!ec && v == json::value(utf8_list(c.list)), "a CSV list read back differently");
}

void check_json_value(const Cell& c, const json::value& v) {
  switch (c.kind) {
    case Cell::Kind::Null: FUZZ_CHECK(v.is_null(), "null"); break;
    case Cell::Kind::Bool: FUZZ_CHECK(v.is_bool() && v.as_bool() == (c.number != 0), "a boolean"); break;
    case Cell::Kind::Integer: FUZZ_CHECK(v.is_int64() && v.as_int64() == c.number, "an integer"); break;
    case Cell::Kind::Usd: FUZZ_CHECK(v.is_number(), "an amount that is not a number"); break;
    case Cell::Kind::Text:
      FUZZ_CHECK(v.is_string() && v.as_string() == crs::key_export::valid_utf8(c.text), "a text");
      break;
    case Cell::Kind::List: FUZZ_CHECK(v == json::value(utf8_list(c.list)), "a list"); break;
  }
}

std::string write(crs::key_export::Format format, const std::vector<std::vector<Cell>>& rows,
                  const std::vector<std::string>& fields) {
  crs::key_export::ExportSpec spec;
  spec.format = format;
  spec.fields = fields;
  spec.bom = format == crs::key_export::Format::Csv;
  auto writer = crs::key_export::make_writer(spec, {"task-1", "2026-12-05T00:00:00Z", true});
  std::string out = writer->begin();
  for (const auto& r : rows) out += writer->row(r);
  return out + writer->end(static_cast<int64_t>(rows.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in{std::string_view(reinterpret_cast<const char*>(data), size)};
  size_t columns = 1 + in.byte() % 4;
  std::vector<std::string> fields;
  for (size_t i = 0; i < columns; ++i) fields.push_back(std::string("f").append(std::to_string(i)));
  std::vector<std::vector<Cell>> rows;
  while (!in.rest.empty() && rows.size() < 64) {
    rows.emplace_back();
    for (size_t i = 0; i < columns; ++i) rows.back().push_back(next_cell(in));
  }

  auto csv = crs::key_export::parse_csv(write(crs::key_export::Format::Csv, rows, fields));
  FUZZ_CHECK(csv.ok(), "a written CSV does not parse");
  FUZZ_CHECK(csv->size() == rows.size() + 1 && (*csv)[0] == fields, "CSV records lost or added");
  for (size_t r = 0; r < rows.size(); ++r) {
    FUZZ_CHECK((*csv)[r + 1].size() == columns, "a CSV record with other cells");
    for (size_t i = 0; i < columns; ++i) check_csv_cell(rows[r][i], (*csv)[r + 1][i]);
  }

  boost::system::error_code ec;
  auto doc = json::parse(write(crs::key_export::Format::Json, rows, fields), ec);
  FUZZ_CHECK(!ec && doc.is_object(), "a written JSON export does not parse");
  const auto& keys = doc.as_object().at("keys").as_array();
  FUZZ_CHECK(keys.size() == rows.size() && doc.as_object().at("count").as_int64() == static_cast<int64_t>(rows.size()),
             "JSON rows lost or added");
  std::string ndjson = write(crs::key_export::Format::Ndjson, rows, fields);
  size_t line_start = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    size_t line_end = ndjson.find('\n', line_start);
    FUZZ_CHECK(line_end != std::string::npos, "an NDJSON row lost");
    std::string_view text = std::string_view(ndjson).substr(line_start, line_end - line_start);
    auto line = json::parse(text, ec);
    FUZZ_CHECK(!ec && line.is_object(), "an NDJSON row that does not parse");
    line_start = line_end + 1;
    for (size_t i = 0; i < columns; ++i) {
      const Cell& c = rows[r][i];
      check_json_value(c, keys[r].as_object().at(fields[i]));
      check_json_value(c, line.as_object().at(fields[i]));
      // Amounts exactly as digits (a double holds about 16 of them; the parser may round).
      if (c.kind == Cell::Kind::Usd)
        FUZZ_CHECK(text.find("\"" + fields[i] + "\":" + decimal(c.number)) != std::string_view::npos,
                   "an amount not written exactly");
    }
  }
  FUZZ_CHECK(line_start == ndjson.size(), "NDJSON rows added");
  return 0;
}
