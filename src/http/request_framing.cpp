#include "http/request_framing.hpp"

#include <algorithm>

namespace crs::http_server {
namespace {

// RFC 9112 §2.2 asks a server to skip at least one; more is not a client, and every byte
// skipped would go unscanned past the header limit.
constexpr size_t kMostLeadingEmptyLines = 4;

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The fields framing depends on, counted in one pass over the head (a lookup by name would
// walk the field set's case-insensitive index once per question).
struct FramingFields {
  size_t hosts = 0, lengths = 0, codings = 0;
  std::string_view length, coding;
};

FramingFields framing_fields(const http::request_header<>& head) {
  FramingFields f;
  for (const auto& field : head) {
    switch (field.name()) {
      case http::field::host: ++f.hosts; break;
      case http::field::content_length: ++f.lengths, f.length = field.value(); break;
      case http::field::transfer_encoding: ++f.codings, f.coding = field.value(); break;
      default: break;
    }
  }
  return f;
}

std::optional<std::string> body_framing_problem(const http::request_header<>& head, const FramingFields& f) {
  if (f.lengths > 1) return "more than one Content-Length";
  if (f.lengths == 1 && !is_digits(f.length)) return "a Content-Length that is not a number";
  if (f.codings == 0) return std::nullopt;
  if (f.lengths) return "both Content-Length and Transfer-Encoding";
  if (head.version() < 11) return "Transfer-Encoding in an HTTP/1.0 request";
  if (f.codings > 1 || !beast::iequals(trimmed(f.coding), "chunked"))
    return "a Transfer-Encoding other than chunked; no other coding is accepted";
  return std::nullopt;
}

}  // namespace

HeadScanner::State HeadScanner::refuse(std::string why) {
  problem_ = std::move(why);
  return State::refused;
}

HeadScanner::State HeadScanner::end_line(Progress& p) {
  bool empty = p.line_length == 0;
  p.line_length = 0;
  p.colon_seen = false;
  if (!empty) {
    ++p.line;
  } else if (p.line > 0) {
    head_size_ = p.seen;
    return State::complete;
  } else {
    p.leading = p.seen;  // an empty line before the request line
    if (++p.empty_lines > kMostLeadingEmptyLines) return refuse("empty lines before the request line");
  }
  return State::more;
}

HeadScanner::State HeadScanner::scan(std::string_view buffered) {
  if (!problem_.empty()) return State::refused;
  if (head_size_) return State::complete;
  Progress p = progress_;
  State state = State::more;
  while (p.seen < buffered.size() && state == State::more) {
    // Most bytes only lengthen the line, and are skipped here: in the request line and in a
    // field's value all but CR, LF and NUL (all below 14), in a field's name also but ':' and
    // ' ' (a line's first byte included: only whitespace there is folding).
    if (!p.after_cr) {
      size_t at = p.seen;
      auto byte = [&] { return static_cast<unsigned char>(buffered[at]); };
      if (p.line > 0 && !p.colon_seen) {
        while (at < buffered.size() && byte() > '\r' && byte() != ':' && byte() != ' ') ++at;
      } else {
        while (at < buffered.size() && byte() > '\r') ++at;
      }
      p.line_length += at - p.seen;
      p.seen = at;
      if (at == buffered.size()) break;
    }
    state = scan_byte(p, buffered[p.seen++]);
  }
  progress_ = p;
  return state;
}

HeadScanner::State HeadScanner::scan_byte(Progress& p, char c) {
  if (p.after_cr) {
    if (c != '\n') return refuse("a CR not followed by LF");
    p.after_cr = false;
    return end_line(p);
  }
  if (c == '\r') {
    p.after_cr = true;
    return State::more;
  }
  if (c == '\n') return refuse("a line ending in LF without CR");
  if (c == '\0') return refuse("a NUL byte");
  if (p.line > 0 && p.line_length == 0 && (c == ' ' || c == '\t'))
    return refuse("obsolete line folding (a line starting with whitespace)");
  if (p.line > 0 && !p.colon_seen) {
    if (c == ':') p.colon_seen = true;
    else if (c == ' ' || c == '\t') return refuse("whitespace in a field name");
  }
  ++p.line_length;
  return State::more;
}

std::optional<std::string> path_problem(std::string_view target) {
  if (target.empty() || target.front() != '/') return "a target that is not a path (absolute, authority or * form)";
  std::string_view path = target.substr(0, target.find('?'));
  // The decoded segment so far: only whether it is "." or ".." matters.
  size_t segment_length = 0;
  bool segment_all_dots = true;
  auto add = [&](char c) {
    ++segment_length;
    segment_all_dots = segment_all_dots && c == '.';
  };
  auto dot_segment_ends = [&] {
    bool dot_segment = segment_all_dots && (segment_length == 1 || segment_length == 2);
    segment_length = 0;
    segment_all_dots = true;
    return dot_segment;
  };
  for (size_t i = 0; i <= path.size(); ++i) {
    char c = i < path.size() ? path[i] : '/';
    if (c == '%') {
      int hi = i + 2 < path.size() ? hex_value(path[i + 1]) : -1;
      int lo = hi >= 0 ? hex_value(path[i + 2]) : -1;
      if (hi < 0 || lo < 0) return "a broken percent-escape in the path";
      char decoded = static_cast<char>(hi * 16 + lo);
      if (decoded == '\\' || decoded == '\0') return "an escaped backslash or NUL in the path";
      i += 2;
      // An escaped "/" may be part of an id ("anthropic%2Fclaude"), but a reader that decodes it
      // sees a separator: the dot-segment rule holds either way.
      if (decoded != '/') add(decoded);
      else if (dot_segment_ends()) return "a dot segment in the path";
      continue;
    }
    if (c == '\\') return "a backslash in the path";
    if (c != '/') add(c);
    else if (dot_segment_ends()) return "a dot segment in the path";
  }
  return std::nullopt;
}

std::optional<std::string> framing_problem(const http::request_header<>& head) {
  auto fields = framing_fields(head);
  if (fields.hosts > 1) return "more than one Host";
  if (fields.hosts == 0 && head.version() >= 11) return "no Host";
  if (auto p = body_framing_problem(head, fields)) return p;
  return path_problem(head.target());
}

}  // namespace crs::http_server
