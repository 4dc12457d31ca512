#pragma once
// Delivers alerts to every configured channel on a thread of its own (libcurl, blocking there
// and nowhere else): a channel that fails is tried again with a growing delay (1 s doubling to
// 5 min) for an hour; every failure is logged, and so is giving up: an alert is never lost
// silently. Email goes over SMTP with STARTTLS required (or TLS from the start on port 465) and
// AUTH when a user is set.
#include <atomic>
#include <chrono>
#include <memory>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "alerts/alert.hpp"
#include "alerts/channels.hpp"
#include "config/config.hpp"
#include "core/result.hpp"

namespace crs::alerts {

struct SenderSettings {
  std::vector<Channel> channels;
  std::string webhook_secret;
  std::string smtp_host;
  int smtp_port = 587;
  std::string smtp_user, smtp_pass, smtp_ca_file;
  std::string from;
  std::vector<std::string> to;
  std::chrono::seconds give_up_after{3600};
  std::chrono::milliseconds first_retry{1000};
  std::chrono::milliseconds longest_retry{300000};
};

Result<SenderSettings> sender_settings(const config::Config& cfg);

// One attempt to deliver `alert` to `channel` (blocking; at most about 20 s, less once `*stop`
// turns true).
Status deliver(const SenderSettings& settings, const Channel& channel, const Alert& alert,
               const std::atomic<bool>* stop = nullptr);

// One thread per channel, so a channel that hangs delays only itself.
class AlertSender {
 public:
  explicit AlertSender(SenderSettings settings);
  ~AlertSender();
  AlertSender(const AlertSender&) = delete;
  AlertSender& operator=(const AlertSender&) = delete;

  void start();
  void stop();  // aborts transfers in progress; what is still queued is logged as not delivered
  // Waits until nothing is queued or being sent (retries included), or `deadline`, or `cut`.
  void drain(std::chrono::steady_clock::time_point deadline, const std::atomic<bool>& cut);
  // Thread-safe: queues the alert for every channel.
  void send(const Alert& alert);

 private:
  struct Job {
    Alert alert;
    int attempts = 0;
    std::chrono::steady_clock::time_point next_try, first_try;
  };
  struct Worker {
    const Channel* channel = nullptr;
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<Job> jobs;
    bool sending = false;  // a job taken from `jobs` is being delivered
    std::thread thread;
  };
  void run(Worker& w);
  void attempt(Worker& w, Job job);

  SenderSettings settings_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> stopping_{false};
};

}  // namespace crs::alerts
