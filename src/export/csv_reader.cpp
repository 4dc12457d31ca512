#include "export/csv_reader.hpp"

namespace crs::key_export {

Result<std::vector<std::vector<std::string>>> parse_csv(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string cell;
  bool quoted = false, in_quotes = false, cell_started = false;
  auto end_cell = [&] {
    record.push_back(std::move(cell));
    cell.clear();
    quoted = in_quotes = cell_started = false;
  };
  auto end_record = [&] {
    end_cell();
    records.push_back(std::move(record));
    record.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_quotes) {
      if (c != '"') cell += c;
      else if (i + 1 < text.size() && text[i + 1] == '"') cell += text[++i];
      else in_quotes = false;
      continue;
    }
    if (c == ',') end_cell();
    else if (c == '\n') end_record();
    else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      ++i;
      end_record();
    } else if (c == '"') {
      if (cell_started) return Error{"record " + std::to_string(records.size() + 1) + ": a quote inside an unquoted cell"};
      quoted = in_quotes = cell_started = true;
    } else {
      if (quoted) return Error{"record " + std::to_string(records.size() + 1) + ": text after a closing quote"};
      cell += c;
      cell_started = true;
    }
  }
  if (in_quotes) return Error{"record " + std::to_string(records.size() + 1) + ": a quoted cell never closes"};
  if (cell_started || !record.empty()) end_record();
  return records;
}

}  // namespace crs::key_export
