#include "aws/sigv4.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>

#include "core/crypto.hpp"

namespace crs::aws {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// Leading and trailing spaces trimmed, inner runs of spaces collapsed to one.
std::string canonical_value(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// Non-S3 services encode the path as sent once more, segment by segment.
std::string canonical_uri(std::string_view path) {
  if (path.empty()) return "/";
  return uri_encode(path, true);
}

// name=value pairs, each part encoded, sorted (Bedrock's operations send no query).
std::string canonical_query(std::string_view query) {
  if (query.empty()) return {};
  std::vector<std::pair<std::string, std::string>> pairs;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    size_t eq = part.find('=');
    pairs.emplace_back(uri_encode(part.substr(0, eq), false),
                       eq == std::string_view::npos ? std::string() : uri_encode(part.substr(eq + 1), false));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [k, v] : pairs) out += (out.empty() ? "" : "&") + k + "=" + v;
  return out;
}

std::string hex(std::string_view raw) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

}  // namespace

std::string uri_encode(std::string_view text, bool keep_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kDigits[c >> 4];
      out += kDigits[c & 15];
    }
  }
  return out;
}

std::string amz_date(std::chrono::system_clock::time_point t) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char out[17];
  std::strftime(out, sizeof out, "%Y%m%dT%H%M%SZ", &tm);
  return out;
}

Signature sign_v4(const SigningInput& in, const Credentials& creds) {
  Signature s;
  s.amz_date = amz_date(in.now);
  std::string day = s.amz_date.substr(0, 8);
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [name, value] : in.headers) headers.emplace_back(lower(name), canonical_value(value));
  headers.emplace_back("host", canonical_value(in.host));
  headers.emplace_back("x-amz-date", s.amz_date);
  if (!creds.session_token.empty()) headers.emplace_back("x-amz-security-token", creds.session_token);
  std::sort(headers.begin(), headers.end());

  std::string canonical_headers, signed_headers;
  for (const auto& [name, value] : headers) {
    canonical_headers += name + ":" + value + "\n";
    signed_headers += (signed_headers.empty() ? "" : ";") + name;
  }
  s.canonical_request = std::string(in.method) + "\n" + canonical_uri(in.path) + "\n" + canonical_query(in.query) +
                        "\n" + canonical_headers + "\n" + signed_headers + "\n" + crypto::sha256_hex(in.body);
  std::string scope = day + "/" + std::string(in.region) + "/" + std::string(in.service) + "/aws4_request";
  s.string_to_sign = "AWS4-HMAC-SHA256\n" + s.amz_date + "\n" + scope + "\n" + crypto::sha256_hex(s.canonical_request);

  std::string key = crypto::hmac_sha256_raw("AWS4" + creds.secret_access_key, day);
  key = crypto::hmac_sha256_raw(key, in.region);
  key = crypto::hmac_sha256_raw(key, in.service);
  key = crypto::hmac_sha256_raw(key, "aws4_request");
  s.signing_key_hex = hex(key);
  std::string signature = crypto::hmac_sha256_hex(key, s.string_to_sign);
  crypto::wipe(key);
  s.authorization = "AWS4-HMAC-SHA256 Credential=" + creds.access_key_id + "/" + scope +
                    ", SignedHeaders=" + signed_headers + ", Signature=" + signature;
  return s;
}

}  // namespace crs::aws
