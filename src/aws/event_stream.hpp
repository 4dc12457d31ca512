#pragma once
// The AWS event-stream framing of Bedrock's streamed answers (spec/bedrock.md §5): frames of
// a prelude (total and header lengths, CRC-32), typed headers, a payload and a CRC-32 of the
// whole frame, back to back and split anywhere by the network. The decoder checks both CRCs
// and the lengths before waiting for the rest of a frame, so a corrupt length cannot make it
// buffer without end. The encoder is the fake upstream's, and the tests'.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace crs::aws {

// Header value types of the framing.
enum class HeaderType : uint8_t {
  kTrue = 0, kFalse = 1, kByte = 2, kInt16 = 3, kInt32 = 4, kInt64 = 5,
  kBytes = 6, kString = 7, kTimestamp = 8, kUuid = 9,
};

struct FrameHeader {
  std::string name;
  HeaderType type = HeaderType::kString;
  std::string value;  // the raw value bytes (strings and byte arrays without their length)
};

struct Frame {
  std::vector<FrameHeader> headers;
  std::string payload;
  // A string header's value, or "" when absent.
  std::string_view header(std::string_view name) const;
};

class EventStreamDecoder {
 public:
  // The largest frame taken (Bedrock's are a few KB); a larger announced length is corrupt.
  static constexpr uint32_t kMaxFrame = 16 * 1024 * 1024;

  // Adds bytes; every frame they complete is appended to `out`. False once the stream is
  // corrupt (a CRC, a length or a header that does not hold): error() says which, and the
  // decoder takes nothing more.
  bool feed(std::string_view bytes, std::vector<Frame>& out);
  // At the end of the stream: bytes of an unfinished frame mean it was cut.
  bool has_partial() const { return !buffer_.empty(); }
  const std::string& error() const { return error_; }

 private:
  bool fail(std::string why);
  std::string buffer_;
  std::string error_;
};

uint32_t crc32(std::string_view bytes);

// One frame with these headers and payload, CRCs included.
std::string encode_frame(const std::vector<FrameHeader>& headers, std::string_view payload);

}  // namespace crs::aws
