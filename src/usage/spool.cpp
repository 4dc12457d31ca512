#include "usage/spool.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "usage/journal.hpp"

namespace crs::usage {
namespace {

constexpr size_t kReplayBatch = 256;
constexpr auto kFsyncEvery = std::chrono::milliseconds(100);

// Record: "S <completion 0|1> <ambiguous 0|1> <argc> <len>:<request id> (<len>:<arg>)*\n"
// (usage/journal.hpp's fields: any byte is safe in an argument).

int open_for_append(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

}  // namespace

std::string SpoolEntry::encode() const {
  std::string out = "S ";
  out += completion ? '1' : '0';
  out += ' ';
  out += ambiguous ? '1' : '0';
  out += ' ';
  out += std::to_string(command.size());
  out += ' ';
  put_field(out, request_id);
  for (const auto& arg : command) {
    out += ' ';
    put_field(out, arg);
  }
  out += '\n';
  return out;
}

std::optional<SpoolEntry> SpoolEntry::decode(std::string_view& text) {
  std::string_view t = text;
  if (t.size() < 8 || t.substr(0, 2) != "S ") return std::nullopt;
  SpoolEntry e;
  e.completion = t[2] == '1';
  e.ambiguous = t[4] == '1';
  t.remove_prefix(6);
  size_t argc = 0;
  if (!take_number(t, argc, ' ') || argc == 0 || argc > 64) return std::nullopt;
  if (!take_field(t, e.request_id)) return std::nullopt;
  for (size_t i = 0; i < argc; ++i) {
    if (t.empty() || t.front() != ' ') return std::nullopt;
    t.remove_prefix(1);
    std::string arg;
    if (!take_field(t, arg)) return std::nullopt;
    e.command.push_back(std::move(arg));
  }
  if (t.empty() || t.front() != '\n') return std::nullopt;
  t.remove_prefix(1);
  text = t;
  return e;
}

bool failed_before_sending(const std::string& error_message) {
  return error_message.starts_with("redis not connected") || error_message.starts_with("redis client stopped") ||
         error_message.starts_with(store::kRefusedByReplica);
}

UsageSpool::UsageSpool(std::string path, size_t max_entries) : path_(std::move(path)), max_entries_(max_entries) {
  std::error_code ec;
  if (auto dir = std::filesystem::path(path_).parent_path(); !dir.empty()) std::filesystem::create_directories(dir, ec);
  std::ifstream in(path_, std::ios::binary);
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    std::string all = ss.str();
    std::string_view rest = all;
    while (!rest.empty()) {
      auto e = SpoolEntry::decode(rest);
      if (!e) break;  // a record cut by a crash: what follows cannot be trusted either
      e->seq = next_seq_++;
      entries_.push_back(std::move(*e));
    }
    if (!rest.empty()) {
      spdlog::warn("usage spool {}: {} damaged byte(s) at the end ignored", path_, rest.size());
      rewrite_ = true;
    }
    if (!entries_.empty())
      spdlog::warn("usage spool {}: {} record(s) from an earlier run to send to Redis", path_, entries_.size());
  }
  ::chmod(path_.c_str(), 0600);
  thread_ = std::thread([this] { run(); });
}

UsageSpool::~UsageSpool() {
  stop();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void UsageSpool::add(SpoolEntry entry) {
  {
    std::lock_guard lock(mutex_);
    if (entries_.size() >= max_entries_) {
      if (dropped_++ % 1000 == 0)
        spdlog::error("usage spool {} is full ({} records): a record is lost", path_, entries_.size());
      return;
    }
    to_append_.push_back(entry.encode());
    entry.seq = next_seq_++;
    entries_.push_back(std::move(entry));
  }
  wake_.notify_one();
}

size_t UsageSpool::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

void UsageSpool::run() {
  int fd = open_for_append(path_);
  if (fd < 0) spdlog::error("usage spool {}: cannot open: {}", path_, std::strerror(errno));
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || rewrite_ || !to_append_.empty(); });
    if (rewrite_) {
      rewrite_ = false;
      rewrite_locked();
      to_append_.clear();  // the rewrite holds them
      if (fd >= 0) ::close(fd);
      fd = open_for_append(path_);
    }
    std::vector<std::string> batch;
    batch.swap(to_append_);
    bool stop = stopping_;
    lock.unlock();
    bool ok = fd >= 0;
    for (const auto& record : batch) ok = ok && write_all(fd, record);
    if (!batch.empty()) {
      if (!ok) spdlog::error("usage spool {}: write failed: {}", path_, std::strerror(errno));
      else ::fdatasync(fd);  // one sync per batch
    }
    if (stop) break;
    std::this_thread::sleep_for(kFsyncEvery);  // gathers the next batch
    lock.lock();
  }
  if (fd >= 0) ::close(fd);
}

void UsageSpool::rewrite_locked() {
  std::string tmp = path_ + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    spdlog::error("usage spool {}: cannot rewrite: {}", path_, std::strerror(errno));
    return;
  }
  bool ok = true;
  for (const auto& e : entries_) ok = ok && write_all(fd, e.encode());
  ok = ok && ::fdatasync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path_.c_str()) != 0)
    spdlog::error("usage spool {}: rewrite failed: {}", path_, std::strerror(errno));
}

Task<size_t> UsageSpool::replay(store::RedisClient& redis, const ReplayForm& form) {
  std::vector<SpoolEntry> batch;
  {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < entries_.size() && i < kReplayBatch; ++i) batch.push_back(entries_[i]);
  }
  if (batch.empty()) co_return 0;
  std::vector<store::RedisCommand> commands;
  for (const auto& e : batch) commands.push_back(form(e));
  auto replies = co_await redis.pipeline(std::move(commands));
  if (!replies || replies->empty()) co_return 0;  // Redis is not there yet: everything stays
  size_t settled = 0;
  for (size_t i = 0; i < batch.size() && i < replies->size(); ++i) {
    // A replica refused it (a failover is under way): it and what follows wait for the primary.
    if ((*replies)[i].is_read_only()) break;
    // A script error is Redis refusing the record for good (it would refuse it forever):
    // logged and settled, never retried in a loop.
    if ((*replies)[i].is_error())
      spdlog::error("usage spool: Redis refused a spooled record of request {}: {}", batch[i].request_id,
                    (*replies)[i].str);
    ++settled;
  }
  if (settled == 0) co_return 0;
  {
    // By sequence number: another replay may have settled some of these meanwhile.
    std::lock_guard lock(mutex_);
    uint64_t first = batch.front().seq, last = batch[settled - 1].seq;
    std::erase_if(entries_, [&](const SpoolEntry& e) { return e.seq >= first && e.seq <= last; });
    rewrite_ = true;
  }
  wake_.notify_one();
  spdlog::info("usage spool: {} record(s) sent to Redis, {} left", settled, size());
  co_return settled;
}

Task<void> UsageSpool::replay_loop(store::RedisClient& redis, ReplayForm form, std::chrono::milliseconds every) {
  loop_timer_ = std::make_unique<asio::steady_timer>(co_await asio::this_coro::executor);
  while (true) {
    loop_timer_->expires_after(every);
    auto [ec] = co_await loop_timer_->async_wait(use_nothrow);
    if (ec) break;
    while (size() > 0 && redis.connected()) {
      if (co_await replay(redis, form) == 0) break;
    }
  }
}

void UsageSpool::stop() {
  if (loop_timer_) loop_timer_->cancel();
}

}  // namespace crs::usage
