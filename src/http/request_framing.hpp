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
  size_t leading_empty_lines() const { return leading_; }
  const std::string& problem() const { return problem_; }  // when refused

 private:
  State refuse(std::string why);
  State end_line();

  size_t seen_ = 0;
  size_t line_ = 0;         // 0: the request line
  size_t line_length_ = 0;  // bytes of this line so far
  bool after_cr_ = false;
  bool colon_seen_ = false;
  size_t head_size_ = 0;
  size_t leading_ = 0;  // bytes
  size_t empty_lines_ = 0;
  std::string problem_;
};

std::optional<std::string> framing_problem(const http::request_header<>& head);

// Why the path of an origin-form target could lead somewhere other than it reads, if it could.
std::optional<std::string> path_problem(std::string_view target);

}  // namespace crs::http_server
