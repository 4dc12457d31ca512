// Replies from Redis (or whatever answers on its port): the reader decodes the same replies
// however the bytes are cut, never crashes or allocates without bound, and stops at the first
// malformed byte. Every command the relay encodes decodes back to its own arguments.
// Input: one byte that picks where the bytes are cut, then the bytes (also read as arguments,
// separated by 0xff, for the encoding's round trip).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "store/redis_codec.hpp"

namespace {

using crs::store::RedisReply;

void describe(const RedisReply& r, std::string& out) {
  out += std::to_string(static_cast<int>(r.type)) + ":" + std::to_string(r.integer) + ":" +
         std::to_string(r.str.size()) + ":" + r.str + "[";
  for (const auto& e : r.elements) describe(e, out);
  out += "]";
}

// Every reply the bytes hold, fed `piece` bytes at a time; "!" once the reader fails.
std::string read_all(std::string_view bytes, size_t piece) {
  crs::store::ReplyReader reader;
  std::string out;
  for (size_t at = 0; at < bytes.size(); at += piece) {
    if (!reader.feed(bytes.data() + at, std::min(piece, bytes.size() - at))) return out + "!";
    while (auto reply = reader.next()) describe(*reply, out);
    if (reader.failed()) return out + "!";
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t piece = 1 + data[0] % 64;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string whole = read_all(bytes, bytes.size() + 1), cut = read_all(bytes, piece);
  FUZZ_CHECK(whole == cut, "the replies depend on how the bytes were cut");

  crs::store::RedisCommand args;
  size_t start = 0;
  for (size_t i = 0; i <= bytes.size(); ++i) {
    if (i == bytes.size() || static_cast<uint8_t>(bytes[i]) == 0xff) {
      args.emplace_back(bytes.substr(start, i - start));
      start = i + 1;
    }
  }
  std::string encoded;
  crs::store::append_command(encoded, args);
  crs::store::ReplyReader reader;
  FUZZ_CHECK(reader.feed(encoded.data(), encoded.size()), "an encoded command the reader refuses");
  auto decoded = reader.next();
  FUZZ_CHECK(decoded && decoded->is_array() && decoded->elements.size() == args.size(), "an encoded command lost");
  for (size_t i = 0; i < args.size(); ++i)
    FUZZ_CHECK(decoded->elements[i].type == RedisReply::Type::String && decoded->elements[i].str == args[i],
               "an argument changed in its encoding");
  FUZZ_CHECK(!reader.next(), "an encoded command read as more than one");
  return 0;
}
