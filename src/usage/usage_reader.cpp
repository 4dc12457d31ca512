#include "usage/usage_reader.hpp"

#include <charconv>

#include <boost/json.hpp>
#include <fmt/format.h>

namespace crs::usage {
namespace json = boost::json;

void UsageTotals::add(const UsageTotals& o) {
  requests += o.requests;
  input += o.input;
  output += o.output;
  cache_create += o.cache_create;
  cache_read += o.cache_read;
  all += o.all;
  cost_micro += o.cost_micro;
}

UsageTotals totals_of(const store::HashRecord& r, bool all_time_names) {
  auto n = [&](const char* plain, const char* total) {
    return std::atoll(store::field(r, all_time_names ? total : plain, "0").c_str());
  };
  return UsageTotals{n("requests", "totalRequests"),         n("inputTokens", "totalInputTokens"),
                     n("outputTokens", "totalOutputTokens"), n("cacheCreateTokens", "totalCacheCreateTokens"),
                     n("cacheReadTokens", "totalCacheReadTokens"), n("allTokens", "totalAllTokens"),
                     n("costMicro", "totalCostMicro")};
}

json::object to_json(const UsageTotals& t) {
  std::string formatted = fmt::format("${}.{:06}", t.cost_micro / 1000000, t.cost_micro % 1000000);
  return json::object{{"requests", t.requests},
                      {"inputTokens", t.input},
                      {"outputTokens", t.output},
                      {"cacheCreateTokens", t.cache_create},
                      {"cacheReadTokens", t.cache_read},
                      {"allTokens", t.all},
                      {"tokens", t.all},
                      {"cost", static_cast<double>(t.cost_micro) / 1e6},
                      {"costMicroUsd", t.cost_micro},
                      {"formattedCost", formatted}};
}

namespace {

const char* granularity_name(Granularity g) {
  switch (g) {
    case Granularity::Hour: return "hourly";
    case Granularity::Day: return "daily";
    case Granularity::Month: return "monthly";
  }
  return "daily";
}

// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm) and back.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int>(static_cast<int64_t>(yoe) + era * 400 + (m <= 2));
}

bool number(std::string_view s, int& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

// "YYYY-MM-DD" (or "YYYY-MM" when the day may be left out) as days since the epoch.
std::optional<int64_t> parse_day(const std::string& s, bool month_allowed) {
  int y = 0, m = 0, d = 1;
  bool ok = (s.size() == 10 || (month_allowed && s.size() == 7)) && s[4] == '-' && number(s.substr(0, 4), y) &&
            number(s.substr(5, 2), m) && (s.size() == 7 || (s[7] == '-' && number(s.substr(8, 2), d)));
  if (!ok || y < 2000 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31) return std::nullopt;
  int64_t days = days_from_civil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
  int y2 = 0;
  unsigned m2 = 0, d2 = 0;
  civil_from_days(days, y2, m2, d2);
  if (d2 != static_cast<unsigned>(d)) return std::nullopt;  // 2026-02-30
  return days;
}

}  // namespace

std::string bucket_key(Subject subject, const std::string& id, Granularity g, const std::string& period) {
  const char* kind = granularity_name(g);
  switch (subject) {
    case Subject::Key: return fmt::format("usage:{}:{}:{}", kind, id, period);
    case Subject::Account: return fmt::format("account_usage:{}:{}:{}", kind, id, period);
    case Subject::Model: return fmt::format("usage:model:{}:{}:{}", kind, id, period);
    case Subject::Global: return fmt::format("usage:global:{}:{}", kind, period);
  }
  return {};
}

std::string all_time_key(Subject subject, const std::string& id) {
  switch (subject) {
    case Subject::Key: return "usage:" + id;
    case Subject::Account: return "account_usage:" + id;
    case Subject::Model: return "usage:model:alltime:" + id;
    case Subject::Global: return "usage:global:total";
  }
  return {};
}

std::string key_model_key(const std::string& key_id, const std::string& model, const std::string& kind,
                          const std::string& period) {
  if (period.empty()) return fmt::format("usage:{}:model:alltime:{}", key_id, model);
  return fmt::format("usage:{}:model:{}:{}:{}", key_id, kind, model, period);
}

std::string key_models_index(const std::string& key_id) { return "usage:" + key_id + ":models"; }

Result<std::vector<std::string>> periods(Granularity g, const std::string& from, const std::string& to,
                                         size_t max_buckets) {
  bool months = g == Granularity::Month;
  auto first = parse_day(from, months);
  if (!first) return Error{"from: expected a date YYYY-MM-DD" + std::string(months ? " or a month YYYY-MM" : "")};
  auto last = parse_day(to, months);
  if (!last) return Error{"to: expected a date YYYY-MM-DD" + std::string(months ? " or a month YYYY-MM" : "")};
  if (*last < *first) return Error{"to: must not be before from"};
  std::vector<std::string> out;
  auto too_many = [&] {
    return Error{fmt::format("the range has more than {} {} buckets; ask for a shorter one", max_buckets,
                             granularity_name(g))};
  };
  if (months) {
    int y = 0, y_end = 0;
    unsigned m = 0, m_end = 0, d = 0;
    civil_from_days(*first, y, m, d);
    civil_from_days(*last, y_end, m_end, d);
    while (y < y_end || (y == y_end && m <= m_end)) {
      if (out.size() == max_buckets) return too_many();
      out.push_back(fmt::format("{:04}-{:02}", y, m));
      if (++m == 13) {
        m = 1;
        ++y;
      }
    }
    return out;
  }
  for (int64_t day = *first; day <= *last; ++day) {
    int y = 0;
    unsigned m = 0, d = 0;
    civil_from_days(day, y, m, d);
    std::string date = fmt::format("{:04}-{:02}-{:02}", y, m, d);
    for (int h = 0; h < (g == Granularity::Hour ? 24 : 1); ++h) {
      if (out.size() == max_buckets) return too_many();
      out.push_back(g == Granularity::Hour ? fmt::format("{}:{:02}", date, h) : date);
    }
  }
  return out;
}

Task<Result<std::vector<UsageTotals>>> read_totals(const query::QueryRunner& queries, store::RedisClient& redis,
                                                   const std::vector<std::string>& hashes, bool all_time_names,
                                                   std::string name) {
  std::vector<store::RedisCommand> commands;
  commands.reserve(hashes.size());
  for (const auto& h : hashes) commands.push_back(store::make_command("HGETALL", h));
  std::vector<UsageTotals> out;
  if (commands.empty()) co_return out;
  auto replies = co_await queries.run(redis, std::move(name), std::move(commands));
  if (!replies) co_return replies.error();
  out.reserve(replies->size());
  for (const auto& r : *replies) {
    if (r.is_error()) co_return Error{r.str};
    out.push_back(totals_of(store::to_record(r), all_time_names));
  }
  co_return out;
}

}  // namespace crs::usage
