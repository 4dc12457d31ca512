#include "store/redis_codec.hpp"

#include <charconv>

#include <hiredis/hiredis.h>

namespace crs::store {
namespace {

RedisReply convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING: out.type = RedisReply::Type::String; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_STATUS: out.type = RedisReply::Type::Status; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_ERROR: out.type = RedisReply::Type::Error; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_INTEGER: out.type = RedisReply::Type::Integer; out.integer = r->integer; break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::Array;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default: out.type = RedisReply::Type::Nil; break;
  }
  return out;
}

}  // namespace

// RESP written directly (hiredis's redisFormatCommandArgv would allocate and copy).
void append_command(std::string& out, const RedisCommand& args) {
  size_t total = 16;
  for (const auto& a : args) total += a.size() + 16;
  out.reserve(out.size() + total);
  auto count = [&](char type, size_t n) {
    char digits[24];
    out += type;
    out.append(digits, std::to_chars(digits, digits + sizeof digits, n).ptr);
    out += "\r\n";
  };
  count('*', args.size());
  for (const auto& a : args) {
    count('$', a.size());
    out += a;
    out += "\r\n";
  }
}

void ReplyReader::Free::operator()(redisReader* r) const { redisReaderFree(r); }

ReplyReader::ReplyReader() : reader_(redisReaderCreate()) {}
ReplyReader::~ReplyReader() = default;

bool ReplyReader::feed(const char* data, size_t n) {
  if (redisReaderFeed(reader_.get(), data, n) != REDIS_OK) failed_ = true;
  return !failed_;
}

std::optional<RedisReply> ReplyReader::next() {
  void* raw = nullptr;
  if (failed_ || redisReaderGetReply(reader_.get(), &raw) != REDIS_OK) {
    failed_ = true;
    return std::nullopt;
  }
  if (!raw) return std::nullopt;
  auto* reply = static_cast<redisReply*>(raw);
  RedisReply converted = convert(reply);
  freeReplyObject(reply);
  return converted;
}

std::optional<int64_t> RedisReply::as_int() const {
  if (type == Type::Integer) return integer;
  if (type == Type::String || type == Type::Status) {
    try {
      size_t used = 0;
      long long v = std::stoll(str, &used);
      if (used == str.size()) return v;
    } catch (...) {
    }
  }
  return std::nullopt;
}

std::optional<std::string> RedisReply::as_string() const {
  if (type == Type::String || type == Type::Status) return str;
  if (type == Type::Integer) return std::to_string(integer);
  return std::nullopt;
}

}  // namespace crs::store
