// The pure parts of the key export: what a request may ask (parse_spec), how cells are
// written (CSV quoting, formula neutralisation, JSON), filters, file names.
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "export/csv_reader.hpp"
#include "export/files.hpp"
#include "export/rows.hpp"
#include "export/spec.hpp"

namespace crs::key_export {
namespace {
namespace json = boost::json;

SpecPolicy policy(std::vector<std::string> formats = {"json", "csv", "ndjson"}, bool sanitize = true) {
  return SpecPolicy{std::move(formats), sanitize};
}

Result<ExportSpec> spec_of(const std::string& body, const SpecPolicy& p = policy()) {
  return parse_spec(json::parse(body).as_object(), p);
}

std::string error_of(const std::string& body, const SpecPolicy& p = policy()) {
  auto s = spec_of(body, p);
  return s ? std::string("(accepted)") : s.error().message;
}

TEST(ExportSpec, DefaultsAreJsonSanitizedWithTheDefaultFields) {
  auto s = spec_of("{}");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->format, Format::Json);
  EXPECT_TRUE(s->sanitize);
  EXPECT_EQ(s->fields, default_fields(UsageRequest{}));
  EXPECT_FALSE(s->needs_totals());
  auto unsanitized_by_config = spec_of("{}", policy({"json"}, false));
  ASSERT_TRUE(unsanitized_by_config);
  EXPECT_FALSE(unsanitized_by_config->sanitize);
}

TEST(ExportSpec, RefusesWhatItDoesNotKnowNamingIt) {
  EXPECT_NE(error_of(R"({"format":"xml"})").find("format: one of json, csv, ndjson"), std::string::npos);
  EXPECT_NE(error_of(R"({"format":"json"})", policy({"csv"})).find("apiExport.supportedFormats"), std::string::npos);
  EXPECT_NE(error_of(R"({"fields":["name","password"]})").find("unknown field \"password\""), std::string::npos);
  EXPECT_NE(error_of(R"({"fields":["name","name"]})").find("named twice"), std::string::npos);
  EXPECT_NE(error_of(R"({"fields":[]})").find("at least one"), std::string::npos);
  EXPECT_NE(error_of(R"({"filters":{"owner":"x"}})").find("filters.owner: unknown filter"), std::string::npos);
  EXPECT_NE(error_of(R"({"filters":{"status":"gone"}})").find("filters.status"), std::string::npos);
  EXPECT_NE(error_of(R"({"filters":{"createdFrom":"yesterday"}})").find("filters.createdFrom"), std::string::npos);
  EXPECT_NE(error_of(R"({"filters":{"createdFrom":"2026-02-01","createdTo":"2026-01-01"}})").find("after"), std::string::npos);
  EXPECT_NE(error_of(R"({"filters":{"hasUsage":"yes"}})").find("filters.hasUsage"), std::string::npos);
  EXPECT_NE(error_of(R"({"sanitize":"no"})").find("sanitize: true or false"), std::string::npos);
  EXPECT_NE(error_of(R"({"bom":true})").find("only for csv"), std::string::npos);
  EXPECT_NE(error_of(R"({"password":"x"})").find("password: unknown member"), std::string::npos);
  EXPECT_NE(error_of(R"({"usage":{"period":"week","from":"2026-01-01","to":"2026-01-02"}})").find("usage.period"), std::string::npos);
  EXPECT_NE(error_of(R"({"usage":{"period":"day","from":"2025-01-01","to":"2026-12-31"}})").find("366"), std::string::npos);
  EXPECT_NE(error_of(R"({"usage":{"from":"2026-01-01"}})").find("need usage.period"), std::string::npos);
  EXPECT_NE(error_of(R"({"fields":["periodCost"]})").find("needs usage.period"), std::string::npos);
}

TEST(ExportSpec, FieldsMayBeACommaListAndFormatsAnyCase) {
  auto s = spec_of(R"({"format":"CSV","fields":"id, name,totalCost"})");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->format, Format::Csv);
  EXPECT_EQ(s->fields, (std::vector<std::string>{"id", "name", "totalCost"}));
}

TEST(ExportSpec, TheKeyHashNeedsSanitizeFalseExplicitly) {
  EXPECT_NE(error_of(R"({"fields":["id","keyHash"]})").find("sanitize"), std::string::npos);
  auto s = spec_of(R"({"fields":["id","keyHash"],"sanitize":false})");
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->sanitize);
  // A configuration that does not sanitize by default is not enough for the hash.
  EXPECT_NE(error_of(R"({"fields":["id","keyHash"]})", policy({"json"}, false)).find("sanitize"), std::string::npos);
  EXPECT_TRUE(spec_of(R"({"fields":["id"]})", policy({"json"}, false)));
}

TEST(ExportSpec, UsageAddsItsColumnsAndPeriodsAreBuckets) {
  auto s = spec_of(R"({"format":"csv","usage":{"totals":true,"period":"month","from":"2026-01-15","to":"2026-03"}})");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->needs_totals());
  EXPECT_TRUE(s->needs_period());
  EXPECT_EQ(s->usage.buckets, (std::vector<std::string>{"2026-01", "2026-02", "2026-03"}));
  EXPECT_NE(std::find(s->fields.begin(), s->fields.end(), "totalCost"), s->fields.end());
  EXPECT_NE(std::find(s->fields.begin(), s->fields.end(), "periodRequests"), s->fields.end());
  // The stored form reads back to the same request.
  auto again = parse_spec(spec_json(*s), policy());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->fields, s->fields);
  EXPECT_EQ(again->usage.buckets, s->usage.buckets);
}

KeyRow row_named(const std::string& name) {
  KeyRow r;
  r.key.id = "0123abcd-0000-4000-8000-00000000cafe";
  r.key.name = name;
  r.key.digest = std::string(64, 'd');
  r.key.tags = {"team, \"a\"", "b"};
  r.key.created_at = "2026-03-01T10:00:00.000Z";
  r.totals.requests = 3;
  r.totals.cost_micro = 12345678;
  return r;
}

TEST(ExportRows, FormulaTriggersAreNeutralisedInCsv) {
  for (std::string trigger : {"=", "+", "-", "@", "\t", "\r"}) {
    Cell c{Cell::Kind::Text, 0, trigger + "SUM(A1:A9)", {}};
    std::string cell = csv_cell(c);
    auto parsed = parse_csv(cell + "\r\n");
    ASSERT_TRUE(parsed) << cell;
    EXPECT_EQ(parsed->at(0).at(0), "'" + trigger + "SUM(A1:A9)") << "trigger " << int(trigger[0]);
  }
  EXPECT_EQ(csv_cell(Cell{Cell::Kind::Text, 0, "plain", {}}), "plain");
  EXPECT_EQ(csv_cell(Cell{Cell::Kind::Usd, 12345678, {}, {}}), "12.345678");
}

TEST(ExportRows, CsvQuotingRoundTrips) {
  ExportSpec spec;
  spec.format = Format::Csv;
  spec.fields = {"id", "name", "tags", "totalCost"};
  std::vector<std::string> names{"Quote \"q\", comma", "line\nbreak and \r\n CRLF", "Ünïcødé 名前 ✓", ""};
  auto writer = make_writer(spec, ExportHeader{});
  std::string text = writer->begin();
  for (const auto& n : names) text += writer->row(cells_of(row_named(n), spec, "2026-06-01T00:00:00.000Z"));
  auto parsed = parse_csv(text);
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->size(), names.size() + 1);
  EXPECT_EQ(parsed->at(0), spec.fields);
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(parsed->at(i + 1).at(0), "0123****cafe");
    EXPECT_EQ(parsed->at(i + 1).at(1), names[i]);
    EXPECT_EQ(json::parse(parsed->at(i + 1).at(2)), json::parse(R"(["team, \"a\"","b"])"));
    EXPECT_EQ(parsed->at(i + 1).at(3), "12.345678");
  }
}

TEST(ExportRows, JsonIsOneDocumentAndNdjsonOneObjectALine) {
  ExportSpec spec;
  spec.fields = {"id", "name", "keyHash", "totalRequests", "totalCost", "lastUsedAt"};
  spec.sanitize = false;
  auto writer = make_writer(spec, ExportHeader{"t-1", "2026-06-01T00:00:00.000Z", false});
  std::string text = writer->begin();
  text += writer->row(cells_of(row_named("a \"b\"\n\x01 \xff bad utf8"), spec, "2026-06-01T00:00:00.000Z"));
  text += writer->row(cells_of(row_named("second"), spec, "2026-06-01T00:00:00.000Z"));
  text += writer->end(2);
  auto doc = json::parse(text).as_object();
  EXPECT_EQ(doc.at("count").as_int64(), 2);
  const auto& first = doc.at("keys").as_array().at(0).as_object();
  EXPECT_EQ(first.at("id").as_string(), "0123abcd-0000-4000-8000-00000000cafe");
  EXPECT_EQ(first.at("name").as_string(), "a \"b\"\n\x01 \xEF\xBF\xBD bad utf8");
  EXPECT_EQ(first.at("keyHash").as_string(), std::string(64, 'd'));
  EXPECT_DOUBLE_EQ(first.at("totalCost").to_number<double>(), 12.345678);
  EXPECT_TRUE(first.at("lastUsedAt").is_null());

  spec.format = Format::Ndjson;
  spec.sanitize = true;
  auto nd = make_writer(spec, ExportHeader{});
  std::string line = nd->row(cells_of(row_named("x"), spec, "2026-06-01T00:00:00.000Z"));
  EXPECT_EQ(line.back(), '\n');
  auto o = json::parse(line).as_object();
  EXPECT_EQ(o.at("id").as_string(), "0123****cafe");
  EXPECT_TRUE(o.at("keyHash").is_null());  // never in a sanitized export
}

TEST(ExportRows, FiltersSelectTheKeysAsked) {
  std::string now = "2026-06-01T00:00:00.000Z";
  auto r = row_named("x");
  r.key.bound_account = "group:g1";
  r.key.last_used_at = "2026-05-20T08:00:00.000Z";
  auto f = spec_of(R"({"filters":{"status":"active","tags":["b","zzz"],"boundAccount":"group:g1",
                      "createdFrom":"2026-03-01","createdTo":"2026-03-01","lastUsedFrom":"2026-05-20T08:00:00Z",
                      "hasUsage":true}})");
  ASSERT_TRUE(f);
  EXPECT_TRUE(matches(r, f->filters, now));
  auto miss = [&](const std::string& filter) {
    auto s = spec_of(R"({"filters":)" + filter + "}");
    EXPECT_TRUE(s) << filter;
    return !matches(r, s->filters, now);
  };
  EXPECT_TRUE(miss(R"({"status":"disabled"})"));
  EXPECT_TRUE(miss(R"({"tags":["c"]})"));
  EXPECT_TRUE(miss(R"({"boundAccount":""})"));
  EXPECT_TRUE(miss(R"({"createdFrom":"2026-03-02"})"));
  EXPECT_TRUE(miss(R"({"lastUsedTo":"2026-05-19"})"));
  EXPECT_TRUE(miss(R"({"hasUsage":false})"));
  r.key.expires_at = "2026-05-31T00:00:00.000Z";
  EXPECT_EQ(key_status(r.key, now), "expired");
  r.key.enabled = false;
  EXPECT_EQ(key_status(r.key, now), "disabled");
}

TEST(ExportFiles, OnlyNamesOfOurOwnFormAreExportFiles) {
  std::string id = "0123abcd-0000-4000-8000-00000000cafe";
  EXPECT_TRUE(parse_file_name(final_name(id, Format::Csv)));
  auto temp = parse_file_name(temp_name(id, Format::Json));
  ASSERT_TRUE(temp);
  EXPECT_TRUE(temp->temporary);
  EXPECT_EQ(temp->task_id, id);
  for (const std::string& bad : std::vector<std::string>{"keys-../../etc/passwd.csv", "keys-" + id + ".csv/../x", "keys-" + id + ".exe",
                          "../keys-" + id + ".csv", "keys-" + id, "notes.txt", "keys-0123ABCD-0000-4000-8000-00000000CAFE.csv"})
    EXPECT_FALSE(parse_file_name(bad)) << bad;
  EXPECT_FALSE(open_export_file("/tmp", "../etc/passwd"));
}

TEST(ExportCsvReader, RefusesMalformedText) {
  EXPECT_FALSE(parse_csv("a,\"b\nc"));
  EXPECT_FALSE(parse_csv("a,b\"c\"\n"));
  auto bom = parse_csv("\xEF\xBB\xBFid,name\r\n1,x\r\n");
  ASSERT_TRUE(bom);
  EXPECT_EQ(bom->at(0).at(0), "id");
}

}  // namespace
}  // namespace crs::key_export
