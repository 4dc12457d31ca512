#include "keys/api_key.hpp"

#include <charconv>

#include "core/crypto.hpp"
#include "core/model_names.hpp"
#include "core/secret.hpp"

namespace crs::keys {

std::string generate_plaintext(std::string_view prefix) { return std::string(prefix) + crypto::random_hex(32); }

std::string digest_of(std::string_view plaintext, std::string_view encryption_key) {
  std::string material;
  material.reserve(plaintext.size() + encryption_key.size());
  material.append(plaintext).append(encryption_key);
  return crypto::sha256_hex(material);
}

std::string masked(std::string_view plaintext) { return mask_secret(plaintext); }

namespace {

bool matches(std::string_view rule, std::string_view model) {
  if (rule.ends_with('*')) return model.starts_with(rule.substr(0, rule.size() - 1));
  return rule == model;
}

}  // namespace

namespace {

bool allowed_by_rules(const ApiKey& key, std::string_view model) {
  auto any = [&](const std::vector<std::string>& rules) {
    for (const auto& r : rules)
      if (matches(r, model)) return true;
    return false;
  };
  if (!key.allowed_models.empty() && !any(key.allowed_models)) return false;
  return !any(key.denied_models);
}

}  // namespace

bool model_allowed(const ApiKey& key, std::string_view model) {
  if (!allowed_by_rules(key, model)) return false;
  // A provider's id for a Claude model is also that model: a rule against claude-opus* holds
  // for "us.anthropic.claude-opus-…-v1:0" and "claude-opus-…[1m]".
  std::string plain = claude_model_name(model);
  if (plain != model && !allowed_by_rules(key, plain)) return false;
  // An inference profile's ARN does not say its model: with refused models, only an allowed
  // rule that names it lets it through.
  if (model.starts_with("arn:") && !key.denied_models.empty() && key.allowed_models.empty()) return false;
  return true;
}

bool parse_usd(std::string_view text, int64_t& micro) {
  if (text.empty() || text.size() > 24) return false;
  if (text.front() == '$') text.remove_prefix(1);
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) return false;  // "-0.5" would read as 0.5
  size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot), fraction = dot == std::string_view::npos ? "" : text.substr(dot + 1);
  if ((whole.empty() && fraction.empty()) || fraction.size() > 6) return false;
  int64_t units = 0, parts = 0;
  if (!whole.empty()) {
    auto [end, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), units);
    if (ec != std::errc() || end != whole.data() + whole.size() || units < 0 || units > 1'000'000'000'000) return false;
  }
  for (char c : fraction) {
    if (c < '0' || c > '9') return false;
    parts = parts * 10 + (c - '0');
  }
  for (size_t i = fraction.size(); i < 6; ++i) parts *= 10;
  micro = units * 1'000'000 + parts;
  return true;
}

std::string format_usd(int64_t micro) {
  bool negative = micro < 0;
  uint64_t m = negative ? static_cast<uint64_t>(-(micro + 1)) + 1 : static_cast<uint64_t>(micro);
  char text[32];
  char* end = text;
  if (negative) *end++ = '-';
  end = std::to_chars(end, text + sizeof text, m / 1'000'000).ptr;
  if (uint64_t f = m % 1'000'000) {
    *end++ = '.';
    for (uint64_t unit = 100'000; f; unit /= 10) {  // six digits, zero-padded, trailing zeros dropped
      *end++ = static_cast<char>('0' + f / unit);
      f %= unit;
    }
  }
  return std::string(text, end);
}

}  // namespace crs::keys
