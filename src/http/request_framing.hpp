#pragma once
// Request heads that two HTTP parsers could read differently are refused (request smuggling:
// a proxy in front frames or routes the bytes one way, the relay another). Two checks:
//   HeadScanner      the raw bytes, before Beast parses them: every line ends in CRLF, no
//                    obsolete line folding, no whitespace in a field name, no NUL. Beast
//                    unfolds folded lines silently, so only the raw bytes can tell;
//   framing_problem  the parsed head: one Host, one Content-Length of digits or else exactly
//                    "Transfer-Encoding: chunked" (HTTP/1.1 only), and an origin-form target
//                    whose path has no dot segment, backslash or encoded separator.
#include <optional>
#include <string>
#include <string_view>

#include "core/net.hpp"

namespace crs::http_server {

class HeadScanner {
 public:
  enum class State { more, complete, refused };
  // Looks at what `buffered` holds past what earlier calls saw (the same bytes, maybe more).
  State scan(std::string_view buffered);
  size_t head_size() const { return head_size_; }  // bytes up to the blank line, when complete
  // Empty lines before the request line (RFC 9112 §2.2 lets a server skip them; Beast does not).
  size_t leading_empty_lines() const { return progress_.leading; }
  const std::string& problem() const { return problem_; }  // when refused

 private:
  // Where the scan is: copied to a local while scan() runs (the bytes are chars, which may
  // alias members, so a loop on members would store them back at every byte).
  struct Progress {
    size_t seen = 0;
    size_t line = 0;         // 0: the request line
    size_t line_length = 0;  // bytes of this line so far
    bool after_cr = false;
    bool colon_seen = false;
    size_t leading = 0;  // bytes
    size_t empty_lines = 0;
  };
  State refuse(std::string why);
  State end_line(Progress& p);
  State scan_byte(Progress& p, char c);  // one byte that may end a line or break a rule

  Progress progress_;
  size_t head_size_ = 0;
  std::string problem_;
};

std::optional<std::string> framing_problem(const http::request_header<>& head);

// Why the path of an origin-form target could lead somewhere other than it reads, if it could.
std::optional<std::string> path_problem(std::string_view target);

}  // namespace crs::http_server
