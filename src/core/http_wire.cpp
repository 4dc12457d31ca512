#include "core/http_wire.hpp"

#include <charconv>

namespace crs {
namespace {

void append_fields(std::string& out, const http::fields& fields) {
  for (const auto& f : fields) {
    out += f.name_string();
    out += ": ";
    out += f.value();
    out += "\r\n";
  }
  out += "\r\n";
}

std::string_view version_text(unsigned version) { return version == 10 ? "HTTP/1.0" : "HTTP/1.1"; }

}  // namespace

void append_head(std::string& out, const http::response_header<>& head) {
  char code[8];
  auto end = std::to_chars(code, code + sizeof code, head.result_int()).ptr;
  out += version_text(head.version());
  out += ' ';
  out.append(code, end);
  out += ' ';
  out += head.reason();
  out += "\r\n";
  append_fields(out, head);
}

void append_head(std::string& out, const http::request_header<>& head) {
  out += head.method_string();
  out += ' ';
  out += head.target();
  out += ' ';
  out += version_text(head.version());
  out += "\r\n";
  append_fields(out, head);
}

ChunkPrefix::ChunkPrefix(size_t bytes) {
  auto end = std::to_chars(text, text + sizeof text - 2, bytes, 16).ptr;
  *end++ = '\r';
  *end++ = '\n';
  size = static_cast<size_t>(end - text);
}

}  // namespace crs
