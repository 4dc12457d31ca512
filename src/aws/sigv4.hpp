#pragma once
// AWS Signature Version 4 (spec/bedrock.md §4.2) for the Bedrock runtime: the canonical
// request of the exact bytes that will be sent, the string to sign and the Authorization
// header. Pure: the caller gives the time, so the spec's vectors are reproduced exactly.
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crs::aws {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // temporary credentials only; then signed as x-amz-security-token
};

struct SigningInput {
  std::string_view method;       // "POST"
  std::string_view path;         // as sent on the wire, already percent-encoded
  std::string_view query;        // without '?'; "" for Bedrock's operations
  std::string_view body;         // the exact bytes sent
  std::string_view region;       // "us-east-1"
  std::string_view service;      // "bedrock"
  // Headers to sign besides host, x-amz-date and x-amz-security-token (which are added): for
  // Bedrock, content-type. Names in any case.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view host;         // with ":port" when the port is not the scheme's default
  std::chrono::system_clock::time_point now;
};

struct Signature {
  std::string amz_date;           // X-Amz-Date: 20250102T030405Z
  std::string authorization;      // the Authorization header's value
  std::string canonical_request;  // for tests and for the fake's check
  std::string string_to_sign;
  std::string signing_key_hex;
};

Signature sign_v4(const SigningInput& input, const Credentials& credentials);

// RFC 3986 encoding as SigV4 wants it: unreserved characters kept, everything else %XX
// (uppercase); '/' kept when `keep_slash`.
std::string uri_encode(std::string_view text, bool keep_slash);

// "20250102T030405Z" for a time point (UTC).
std::string amz_date(std::chrono::system_clock::time_point t);

}  // namespace crs::aws
