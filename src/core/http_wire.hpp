#pragma once
// HTTP/1.1 message heads as text, and chunk framing. Beast's serializer walks nested buffer
// sequences (about 20k instructions for a small response); the relay writes a head it built
// in one string plus the body in one gather write instead.
#include <array>
#include <string>
#include <string_view>

#include "core/net.hpp"

namespace crs {

void append_head(std::string& out, const http::response_header<>& head);
void append_head(std::string& out, const http::request_header<>& head);

// "1a2b\r\n" for a chunk of that many bytes.
struct ChunkPrefix {
  char text[20];
  size_t size = 0;
  explicit ChunkPrefix(size_t bytes);
  asio::const_buffer buffer() const { return {text, size}; }
};

inline std::array<asio::const_buffer, 2> gather(std::string_view a, std::string_view b) {
  return {asio::const_buffer(a.data(), a.size()), asio::const_buffer(b.data(), b.size())};
}

}  // namespace crs
