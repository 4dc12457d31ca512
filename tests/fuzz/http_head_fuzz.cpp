// Request heads and bodies from clients (http/request_framing, then Beast's parser as the
// server runs it). Properties:
//   - the raw scan decides the same whatever pieces the bytes arrive in, and the same as a
//     plain byte-by-byte reading of its rules (the scanner skips through values in a fast loop);
//   - a head the relay accepts is framed the same by a naive reader that splits lines at CRLF
//     and names at the first colon (a proxy in front): the same Host, Content-Length and
//     Transfer-Encoding fields, once each at most;
//   - its target is a path that, decoded, has no dot segment;
//   - its body (Content-Length or chunked) parses within the limit or fails cleanly.
// Input: one byte that picks where the bytes are cut, then the bytes.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "http/request_framing.hpp"

namespace {

using crs::http_server::HeadScanner;
namespace beast = boost::beast;
namespace http = beast::http;

struct Scan {
  HeadScanner::State state;
  size_t head_size = 0, leading = 0;
  std::string problem;
};

Scan scan_in_pieces(std::string_view bytes, size_t piece) {
  HeadScanner s;
  HeadScanner::State state = HeadScanner::State::more;
  for (size_t end = std::min(piece, bytes.size());; end = std::min(end + piece, bytes.size())) {
    state = s.scan(bytes.substr(0, end));
    if (state != HeadScanner::State::more || end == bytes.size()) break;
  }
  return {state, s.head_size(), s.leading_empty_lines(), s.problem()};
}

// The scanner's rules read one byte at a time, the plain way: where the head ends (or why it is
// refused) and how many leading bytes are empty lines.
Scan reference_scan(std::string_view bytes) {
  size_t line = 0, length = 0, empty_lines = 0, leading = 0;
  bool colon = false;
  auto refused = [](const char* why) { return Scan{HeadScanner::State::refused, 0, 0, why}; };
  for (size_t i = 0; i < bytes.size(); ++i) {
    char c = bytes[i];
    if (c == '\r') {
      if (i + 1 == bytes.size()) break;
      if (bytes[++i] != '\n') return refused("a CR not followed by LF");
      if (length > 0) ++line;
      else if (line > 0) return {HeadScanner::State::complete, i + 1, leading, ""};
      else if (++empty_lines > 4) return refused("empty lines before the request line");
      else leading = i + 1;
      length = 0;
      colon = false;
      continue;
    }
    if (c == '\n') return refused("a line ending in LF without CR");
    if (c == '\0') return refused("a NUL byte");
    if (line > 0 && length == 0 && (c == ' ' || c == '\t'))
      return refused("obsolete line folding (a line starting with whitespace)");
    if (line > 0 && !colon && c == ':') colon = true;
    else if (line > 0 && !colon && (c == ' ' || c == '\t')) return refused("whitespace in a field name");
    ++length;
  }
  return {HeadScanner::State::more, 0, leading, ""};
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// How many lines of the head name `field`, read the naive way.
size_t naive_count(std::string_view head, std::string_view field) {
  size_t count = 0;
  size_t at = head.find("\r\n");  // past the request line
  while (at != std::string_view::npos && at + 2 < head.size()) {
    size_t start = at + 2;
    size_t end = head.find("\r\n", start);
    std::string_view line = head.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (iequals(line.substr(0, line.find(':')), field) && line.find(':') != std::string_view::npos) ++count;
    at = end;
  }
  return count;
}

// The path, percent-decoded at once, split at / and \: no segment is . or ..
bool decoded_path_has_dot_segment(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  std::string decoded;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '%' && i + 2 < path.size()) {
      decoded += static_cast<char>(std::stoi(std::string(path.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      decoded += path[i];
    }
  }
  std::replace(decoded.begin(), decoded.end(), '\\', '/');
  size_t start = 0;
  while (start <= decoded.size()) {
    size_t end = decoded.find('/', start);
    if (end == std::string::npos) end = decoded.size();
    std::string_view seg(decoded.data() + start, end - start);
    if (seg == "." || seg == "..") return true;
    start = end + 1;
  }
  return false;
}

void check_accepted_head(std::string_view head, const http::request_header<>& parsed) {
  for (auto field : {http::field::host, http::field::content_length, http::field::transfer_encoding}) {
    size_t beast = parsed.count(field);
    FUZZ_CHECK(beast <= 1, "a framing field twice in an accepted head");
    FUZZ_CHECK(naive_count(head, http::to_string(field)) == beast, "a naive reader counts framing fields differently");
  }
  FUZZ_CHECK(!(parsed.count(http::field::content_length) && parsed.count(http::field::transfer_encoding)),
             "Content-Length and Transfer-Encoding together");
  FUZZ_CHECK(parsed.target().starts_with("/"), "a target that is not a path");
  FUZZ_CHECK(!decoded_path_has_dot_segment(parsed.target()), "a dot segment in an accepted path");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  size_t piece = 1 + data[0] % 64;
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);

  Scan whole = scan_in_pieces(bytes, bytes.size() + 1);
  Scan cut = scan_in_pieces(bytes, piece);
  FUZZ_CHECK(whole.state == cut.state && whole.head_size == cut.head_size && whole.leading == cut.leading &&
                 whole.problem == cut.problem,
             "the scan depends on how the bytes arrive");
  Scan plain = reference_scan(bytes);
  FUZZ_CHECK(plain.state == whole.state && plain.problem == whole.problem &&
                 (plain.state == HeadScanner::State::refused ||
                  (plain.head_size == whole.head_size && plain.leading == whole.leading)),
             "the scanner and its rules read one byte at a time disagree");
  if (whole.state != HeadScanner::State::complete) return 0;

  std::string_view rest = bytes.substr(whole.leading);
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(64 * 1024);
  parser.eager(false);
  beast::error_code ec;
  size_t used = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
  if (ec || !parser.is_header_done()) return 0;
  FUZZ_CHECK(used == whole.head_size - whole.leading, "Beast and the scan end the head at different bytes");
  if (crs::http_server::framing_problem(parser.get())) return 0;
  check_accepted_head(rest.substr(0, used), parser.get());

  // The body as the server reads it: within the limit or a clean error.
  parser.eager(true);
  std::string_view body = rest.substr(used);
  while (!body.empty() && !parser.is_done()) {
    size_t n = parser.put(boost::asio::buffer(body.data(), body.size()), ec);
    if (ec == http::error::need_more) break;
    if (ec) return 0;
    if (n == 0) break;
    body.remove_prefix(n);
  }
  if (parser.is_done()) FUZZ_CHECK(parser.get().body().size() <= 64 * 1024, "a body over its limit");
  return 0;
}
