#include "store/redis_codec.hpp"

#include <algorithm>
#include <charconv>

#include <hiredis/hiredis.h>

namespace crs::store {
namespace {

// hiredis parses; the replies are built straight into RedisReply through its object functions
// (no hiredis objects to convert and free). An array's elements are appended as they arrive,
// never allocated from the length it announces: hiredis 0.14's own arrays are, so a reply
// claiming a billion elements made it try to allocate gigabytes (found by fuzzing).
// No exception may cross hiredis' C frames: out of memory is a null object, which hiredis
// reports as its own out-of-memory error (the reader fails, the connection is dropped).
RedisReply* place(const redisReadTask* task, RedisReply&& value) noexcept try {
  if (!task->parent) return new RedisReply(std::move(value));
  // Elements come in order and an earlier one is complete before the next starts, so a parent
  // growing its vector never moves an element hiredis still holds.
  auto* parent = static_cast<RedisReply*>(task->parent->obj);
  parent->elements.push_back(std::move(value));
  return &parent->elements.back();
} catch (...) {
  return nullptr;
}

void* create_string(const redisReadTask* task, char* str, size_t len) noexcept try {
  RedisReply r;
  r.type = task->type == REDIS_REPLY_ERROR    ? RedisReply::Type::Error
           : task->type == REDIS_REPLY_STATUS ? RedisReply::Type::Status
                                              : RedisReply::Type::String;
  r.str.assign(str, len);
  return place(task, std::move(r));
} catch (...) {
  return nullptr;
}

void* create_array(const redisReadTask* task, int elements) noexcept try {
  RedisReply r;
  r.type = RedisReply::Type::Array;
  r.elements.reserve(static_cast<size_t>(std::clamp(elements, 0, 64)));
  return place(task, std::move(r));
} catch (...) {
  return nullptr;
}

void* create_integer(const redisReadTask* task, long long value) {
  RedisReply r;
  r.type = RedisReply::Type::Integer;
  r.integer = value;
  return place(task, std::move(r));
}

void* create_nil(const redisReadTask* task) { return place(task, RedisReply{}); }

// hiredis frees only a whole reply (the root): elements belong to their array.
void free_reply(void* reply) { delete static_cast<RedisReply*>(reply); }

redisReplyObjectFunctions kReplyFunctions{create_string, create_array, create_integer, create_nil, free_reply};

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

ReplyReader::ReplyReader() : reader_(redisReaderCreateWithFunctions(&kReplyFunctions)) {}
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
  std::unique_ptr<RedisReply> reply(static_cast<RedisReply*>(raw));
  return std::move(*reply);
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
