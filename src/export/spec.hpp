#pragma once
// What an admin asks of a key export, checked once: the format, the fields (columns), the
// filters, whether the output is sanitized, and which usage goes with each key. Pure: the
// admin API, the CLI and the stored task all go through parse_spec, so they refuse the same
// things with the same words.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "core/result.hpp"

namespace crs::key_export {

enum class Format { Json, Csv, Ndjson };
std::optional<Format> parse_format(std::string_view name);
const char* format_name(Format f);
const char* file_extension(Format f);
const char* content_type(Format f);
inline constexpr const char* kKnownFormats[] = {"json", "csv", "ndjson"};

// Timestamps are compared as the ISO 8601 text keys store ("2026-11-26T05:02:48.123Z"): the
// bounds are normalised to that form (a bare date covers its whole day), inclusive.
struct TimeRange {
  std::string from;  // "" = open
  std::string to;    // "" = open
  bool contains(const std::string& iso) const;
  bool any() const { return !from.empty() || !to.empty(); }
};

struct Filters {
  std::string status;              // "", "active", "disabled", "expired"
  std::vector<std::string> tags;   // a key with any of them
  std::optional<std::string> bound;  // account id or "group:<id>"; "" = keys bound to nothing
  TimeRange created;
  TimeRange last_used;             // a key never used is outside any bound range
  std::optional<bool> has_usage;   // all-time requests > 0
};

enum class Period { None, Day, Month };

struct UsageRequest {
  bool totals = false;             // all-time totals (total* fields)
  Period period = Period::None;    // sums over [from, to] (period* fields)
  std::string from, to;            // "YYYY-MM-DD" (months: "YYYY-MM" too)
  std::vector<std::string> buckets;  // the usage buckets summed: days or months from..to
};

struct ExportSpec {
  Format format = Format::Json;
  std::vector<std::string> fields;
  Filters filters;
  bool sanitize = true;
  bool bom = false;                // CSV: a UTF-8 byte order mark for spreadsheet programs
  UsageRequest usage;

  bool needs_totals() const;       // a total* field or the hasUsage filter
  bool needs_period() const;
};

struct SpecPolicy {
  std::vector<std::string> supported_formats;  // apiExport.supportedFormats
  bool sanitize_by_default = true;             // apiExport.sanitizeData
};

// The request body of POST /admin/api-keys/export (and what the CLI builds from its flags):
// {format, fields, filters, sanitize, bom, usage}. The error names the member at fault.
Result<ExportSpec> parse_spec(const boost::json::object& body, const SpecPolicy& policy);

// The spec as stored in the task and shown to admins (parse_spec reads it back).
boost::json::object spec_json(const ExportSpec& spec);

// Every field a row can have, in the default order of columns.
struct FieldInfo {
  const char* name;
  const char* description;
};
const std::vector<FieldInfo>& field_catalogue();
// The columns when none are named: the key's identity, state and dates, plus the usage asked for.
std::vector<std::string> default_fields(const UsageRequest& usage);

// Masked key id for sanitized exports: the first four characters and the last four.
std::string mask_id(std::string_view id);

}  // namespace crs::key_export
