#include "aws/event_stream.hpp"

#include <boost/crc.hpp>

namespace crs::aws {

namespace {

uint32_t read_u32(std::string_view b, size_t at) {
  return (static_cast<uint32_t>(static_cast<unsigned char>(b[at])) << 24) |
         (static_cast<uint32_t>(static_cast<unsigned char>(b[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<unsigned char>(b[at + 2])) << 8) |
         static_cast<uint32_t>(static_cast<unsigned char>(b[at + 3]));
}

uint16_t read_u16(std::string_view b, size_t at) {
  return static_cast<uint16_t>((static_cast<unsigned char>(b[at]) << 8) | static_cast<unsigned char>(b[at + 1]));
}

void put_u32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

// Size of a fixed-size value, or -1 for the types with a 2-byte length, -2 for unknown types.
int fixed_size(uint8_t type) {
  switch (static_cast<HeaderType>(type)) {
    case HeaderType::kTrue:
    case HeaderType::kFalse: return 0;
    case HeaderType::kByte: return 1;
    case HeaderType::kInt16: return 2;
    case HeaderType::kInt32: return 4;
    case HeaderType::kInt64:
    case HeaderType::kTimestamp: return 8;
    case HeaderType::kUuid: return 16;
    case HeaderType::kBytes:
    case HeaderType::kString: return -1;
  }
  return -2;
}

// The headers section of a frame, or false if it does not parse to its exact length.
bool parse_headers(std::string_view b, std::vector<FrameHeader>& out) {
  size_t at = 0;
  while (at < b.size()) {
    size_t name_length = static_cast<unsigned char>(b[at++]);
    if (name_length == 0 || at + name_length + 1 > b.size()) return false;
    FrameHeader h;
    h.name = std::string(b.substr(at, name_length));
    at += name_length;
    uint8_t type = static_cast<uint8_t>(b[at++]);
    int size = fixed_size(type);
    if (size == -2) return false;
    size_t length = static_cast<size_t>(size);
    if (size == -1) {
      if (at + 2 > b.size()) return false;
      length = read_u16(b, at);
      at += 2;
    }
    if (at + length > b.size()) return false;
    h.type = static_cast<HeaderType>(type);
    h.value = std::string(b.substr(at, length));
    at += length;
    out.push_back(std::move(h));
  }
  return true;
}

}  // namespace

uint32_t crc32(std::string_view bytes) {
  boost::crc_32_type crc;
  crc.process_bytes(bytes.data(), bytes.size());
  return crc.checksum();
}

std::string_view Frame::header(std::string_view name) const {
  for (const auto& h : headers)
    if (h.name == name && h.type == HeaderType::kString) return h.value;
  return {};
}

bool EventStreamDecoder::fail(std::string why) {
  error_ = std::move(why);
  buffer_.clear();
  return false;
}

bool EventStreamDecoder::feed(std::string_view bytes, std::vector<Frame>& out) {
  if (!error_.empty()) return false;
  buffer_.append(bytes);
  size_t at = 0;
  while (buffer_.size() - at >= 12) {
    std::string_view rest(buffer_.data() + at, buffer_.size() - at);
    uint32_t total = read_u32(rest, 0), header_bytes = read_u32(rest, 4);
    if (crc32(rest.substr(0, 8)) != read_u32(rest, 8)) return fail("corrupt prelude (CRC)");
    if (total < 16 || total > kMaxFrame || header_bytes > total - 16) return fail("corrupt prelude (lengths)");
    if (rest.size() < total) break;
    std::string_view frame = rest.substr(0, total);
    if (crc32(frame.substr(0, total - 4)) != read_u32(frame, total - 4)) return fail("corrupt frame (CRC)");
    Frame f;
    if (!parse_headers(frame.substr(12, header_bytes), f.headers)) return fail("corrupt frame (headers)");
    f.payload = std::string(frame.substr(12 + header_bytes, total - header_bytes - 16));
    out.push_back(std::move(f));
    at += total;
  }
  buffer_.erase(0, at);
  return true;
}

std::string encode_frame(const std::vector<FrameHeader>& headers, std::string_view payload) {
  std::string encoded_headers;
  for (const auto& h : headers) {
    encoded_headers += static_cast<char>(h.name.size());
    encoded_headers += h.name;
    encoded_headers += static_cast<char>(h.type);
    if (fixed_size(static_cast<uint8_t>(h.type)) == -1) {
      encoded_headers += static_cast<char>((h.value.size() >> 8) & 0xff);
      encoded_headers += static_cast<char>(h.value.size() & 0xff);
    }
    encoded_headers += h.value;
  }
  uint32_t total = static_cast<uint32_t>(16 + encoded_headers.size() + payload.size());
  std::string frame;
  frame.reserve(total);
  put_u32(frame, total);
  put_u32(frame, static_cast<uint32_t>(encoded_headers.size()));
  put_u32(frame, crc32(frame));
  frame += encoded_headers;
  frame += payload;
  put_u32(frame, crc32(frame));
  return frame;
}

}  // namespace crs::aws
