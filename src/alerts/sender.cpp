#include "alerts/sender.hpp"

#include "alerts/curl_library.hpp"

#include <algorithm>
#include <mutex>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "core/crypto.hpp"
#include "metrics/metrics.hpp"

namespace crs::alerts {
namespace json = boost::json;

namespace {

struct Easy {
  explicit Easy(const CurlLibrary& library) : lib(library), h(lib.easy_init()) {}
  ~Easy() {
    lib.slist_free_all(headers);
    lib.slist_free_all(recipients);
    if (h) lib.easy_cleanup(h);
  }
  Easy(const Easy&) = delete;
  Easy& operator=(const Easy&) = delete;

  const CurlLibrary& lib;
  CURL* h;
  curl_slist* headers = nullptr;
  curl_slist* recipients = nullptr;
  char error[CURL_ERROR_SIZE] = {0};
};

size_t collect(char* data, size_t size, size_t n, void* out) {
  auto* s = static_cast<std::string*>(out);
  if (s->size() < 65536) s->append(data, size * n);
  return size * n;
}

struct Upload {
  const std::string* text;
  size_t at = 0;
};

size_t feed(char* buffer, size_t size, size_t n, void* in) {
  auto* u = static_cast<Upload*>(in);
  size_t left = u->text->size() - u->at, take = std::min(left, size * n);
  std::copy_n(u->text->data() + u->at, take, buffer);
  u->at += take;
  return take;
}

// A transfer in progress ends as soon as `*stop` turns true (the relay shuts down).
int progress(void* stop, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(stop)->load() ? 1 : 0;
}

void abort_on(Easy& e, const std::atomic<bool>* stop) {
  if (!stop) return;
  e.lib.easy_setopt(e.h, CURLOPT_NOPROGRESS, 0L);
  e.lib.easy_setopt(e.h, CURLOPT_XFERINFOFUNCTION, progress);
  e.lib.easy_setopt(e.h, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(stop));
}

std::string curl_failure(const Easy& e, CURLcode code) {
  return e.error[0] ? std::string(e.error) : std::string(e.lib.easy_strerror(code));
}

// Receivers that answer 200 and say in the body that they refused: Slack-like {"ok": false},
// DingTalk/WeCom/Feishu {"errcode"|"code": non-zero}.
std::string refused_in_body(const std::string& body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) return {};
  const auto& o = v.as_object();
  if (auto* ok = o.if_contains("ok"); ok && ok->is_bool() && !ok->as_bool()) return "the receiver answered ok: false";
  for (const char* name : {"errcode", "code", "StatusCode"})
    if (auto* c = o.if_contains(name); c && c->is_int64() && c->as_int64() != 0)
      return fmt::format("the receiver answered {} {}", name, c->as_int64());
  return {};
}

Status post_webhook(const CurlLibrary& curl, const SenderSettings& s, const Channel& c, const Alert& alert,
                    const std::atomic<bool>* stop) {
  auto out = webhook_request(c.hook, alert, s.webhook_secret);
  Easy e(curl);
  if (!e.h) return Error{"libcurl could not start"};
  e.headers = e.lib.slist_append(e.headers, "Content-Type: application/json");
  for (const auto& [k, v] : out.headers) e.headers = e.lib.slist_append(e.headers, (k + ": " + v).c_str());
  std::string answer;
  e.lib.easy_setopt(e.h, CURLOPT_URL, out.url.c_str());
  e.lib.easy_setopt(e.h, CURLOPT_HTTPHEADER, e.headers);
  e.lib.easy_setopt(e.h, CURLOPT_POSTFIELDS, out.body.c_str());
  e.lib.easy_setopt(e.h, CURLOPT_POSTFIELDSIZE, static_cast<long>(out.body.size()));
  e.lib.easy_setopt(e.h, CURLOPT_USERAGENT, "claude-relay-service-alerts");
  e.lib.easy_setopt(e.h, CURLOPT_TIMEOUT, 15L);
  e.lib.easy_setopt(e.h, CURLOPT_CONNECTTIMEOUT, 5L);
  e.lib.easy_setopt(e.h, CURLOPT_NOSIGNAL, 1L);
  e.lib.easy_setopt(e.h, CURLOPT_PROTOCOLS_STR, "http,https");
  abort_on(e, stop);
  e.lib.easy_setopt(e.h, CURLOPT_WRITEFUNCTION, collect);
  e.lib.easy_setopt(e.h, CURLOPT_WRITEDATA, &answer);
  e.lib.easy_setopt(e.h, CURLOPT_ERRORBUFFER, e.error);
  CURLcode code = e.lib.easy_perform(e.h);
  if (code != CURLE_OK) return Error{curl_failure(e, code)};
  long status = 0;
  e.lib.easy_getinfo(e.h, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status > 299) return Error{fmt::format("the receiver answered HTTP {}", status)};
  // Only the platforms answer 200 with a refusal inside; a generic receiver's body is its own.
  if (c.hook.format != Format::Generic)
    if (auto refused = refused_in_body(answer); !refused.empty()) return Error{refused};
  return Ok{};
}

Status send_email(const CurlLibrary& curl, const SenderSettings& s, const Alert& alert, const std::atomic<bool>* stop) {
  std::string message = email_message(alert, s.from, s.to, crypto::uuid_v4() + "@claude-relay-service");
  Easy e(curl);
  if (!e.h) return Error{"libcurl could not start"};
  // Port 465 speaks TLS from the first byte; any other port must upgrade with STARTTLS.
  std::string url = fmt::format("{}://{}:{}", s.smtp_port == 465 ? "smtps" : "smtp", s.smtp_host, s.smtp_port);
  for (const auto& to : s.to) e.recipients = e.lib.slist_append(e.recipients, ("<" + to + ">").c_str());
  Upload upload{&message};
  e.lib.easy_setopt(e.h, CURLOPT_URL, url.c_str());
  e.lib.easy_setopt(e.h, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  if (!s.smtp_ca_file.empty()) e.lib.easy_setopt(e.h, CURLOPT_CAINFO, s.smtp_ca_file.c_str());
  if (!s.smtp_user.empty()) {
    e.lib.easy_setopt(e.h, CURLOPT_USERNAME, s.smtp_user.c_str());
    e.lib.easy_setopt(e.h, CURLOPT_PASSWORD, s.smtp_pass.c_str());
  }
  e.lib.easy_setopt(e.h, CURLOPT_MAIL_FROM, ("<" + s.from + ">").c_str());
  e.lib.easy_setopt(e.h, CURLOPT_MAIL_RCPT, e.recipients);
  abort_on(e, stop);
  e.lib.easy_setopt(e.h, CURLOPT_READFUNCTION, feed);
  e.lib.easy_setopt(e.h, CURLOPT_READDATA, &upload);
  e.lib.easy_setopt(e.h, CURLOPT_UPLOAD, 1L);
  e.lib.easy_setopt(e.h, CURLOPT_TIMEOUT, 20L);
  e.lib.easy_setopt(e.h, CURLOPT_CONNECTTIMEOUT, 5L);
  e.lib.easy_setopt(e.h, CURLOPT_NOSIGNAL, 1L);
  e.lib.easy_setopt(e.h, CURLOPT_ERRORBUFFER, e.error);
  CURLcode code = e.lib.easy_perform(e.h);
  if (code != CURLE_OK) return Error{curl_failure(e, code)};
  return Ok{};
}

}  // namespace

Result<SenderSettings> sender_settings(const config::Config& cfg) {
  auto channels = configured_channels(cfg);
  if (!channels) return channels.error();
  const auto& a = cfg.monitoring.alerts;
  SenderSettings s;
  s.channels = std::move(*channels);
  s.webhook_secret = a.webhookSecret;
  s.smtp_host = a.email.smtp.host;
  s.smtp_port = a.email.smtp.port;
  s.smtp_user = a.email.smtp.user;
  s.smtp_pass = a.email.smtp.pass;
  s.smtp_ca_file = a.email.smtp.caFile;
  s.from = a.email.from;
  s.to = a.email.to;
  return s;
}

Status deliver(const SenderSettings& settings, const Channel& channel, const Alert& alert,
               const std::atomic<bool>* stop) {
  auto curl = curl_library();
  if (!curl) return curl.error();
  return channel.email ? send_email(**curl, settings, alert, stop) : post_webhook(**curl, settings, channel, alert, stop);
}

AlertSender::AlertSender(SenderSettings settings) : settings_(std::move(settings)) {
  for (const auto& c : settings_.channels) {
    workers_.push_back(std::make_unique<Worker>());
    workers_.back()->channel = &c;
  }
}

AlertSender::~AlertSender() { stop(); }

void AlertSender::start() {
  for (auto& w : workers_)
    if (!w->thread.joinable()) w->thread = std::thread([this, worker = w.get()] { run(*worker); });
}

void AlertSender::stop() {
  stopping_ = true;
  for (auto& w : workers_) {
    { std::lock_guard lock(w->mutex); }  // a worker between its check and its wait sees the flag
    w->wake.notify_all();
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
    std::lock_guard lock(w->mutex);  // a monitor's round may still be sending
    for (const auto& job : w->jobs)
      spdlog::error("alert {} ({}) not delivered to {}: the relay stopped", job.alert.id,
                    job.alert.recovered ? "recovery" : "raised", w->channel->name);
    w->jobs.clear();
  }
}

void AlertSender::drain(std::chrono::steady_clock::time_point deadline, const std::atomic<bool>& cut) {
  auto idle = [this] {
    for (auto& w : workers_) {
      std::lock_guard lock(w->mutex);
      if (!w->jobs.empty() || w->sending) return false;
    }
    return true;
  };
  while (!idle() && !cut && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

void AlertSender::send(const Alert& alert) {
  auto now = std::chrono::steady_clock::now();
  for (auto& w : workers_) {
    {
      std::lock_guard lock(w->mutex);
      w->jobs.push_back(Job{alert, 0, now, now});
    }
    w->wake.notify_all();
  }
}

void AlertSender::run(Worker& w) {
  // Loaded as the channel's thread starts (never on an I/O thread: a reload may start the
  // sender there), so a missing library is said at once.
  if (auto curl = curl_library(); !curl)
    spdlog::error("alerts cannot be delivered to {}: {}", w.channel->name, curl.error().message);
  std::unique_lock lock(w.mutex);
  while (!stopping_) {
    if (w.jobs.empty()) {
      w.wake.wait(lock);
      continue;
    }
    auto due = std::min_element(w.jobs.begin(), w.jobs.end(),
                                [](const Job& a, const Job& b) { return a.next_try < b.next_try; });
    if (due->next_try > std::chrono::steady_clock::now()) {
      w.wake.wait_until(lock, due->next_try);
      continue;
    }
    Job job = std::move(*due);
    w.jobs.erase(due);
    w.sending = true;
    lock.unlock();
    attempt(w, std::move(job));
    lock.lock();
    w.sending = false;
  }
}

void AlertSender::attempt(Worker& w, Job job) {
  const auto& channel = *w.channel;
  ++job.attempts;
  auto sent = deliver(settings_, channel, job.alert, &stopping_);
  metrics::alert_delivery(sent.ok());
  const char* what = job.alert.recovered ? "recovery" : "alert";
  if (sent) {
    spdlog::info("{} {} delivered to {} (attempt {})", what, job.alert.id, channel.name, job.attempts);
    return;
  }
  auto now = std::chrono::steady_clock::now();
  if (now - job.first_try >= settings_.give_up_after) {
    spdlog::error("{} {} NOT delivered to {}: given up after {} attempts; last error: {}", what, job.alert.id,
                  channel.name, job.attempts, sent.error().message);
    return;
  }
  std::chrono::milliseconds delay = std::min<std::chrono::milliseconds>(
      settings_.longest_retry, settings_.first_retry * (int64_t{1} << std::min(job.attempts - 1, 20)));
  spdlog::warn("{} {} to {} failed (attempt {}): {}; trying again in {} ms", what, job.alert.id, channel.name,
               job.attempts, sent.error().message, delay.count());
  job.next_try = now + delay;
  std::lock_guard lock(w.mutex);
  w.jobs.push_back(std::move(job));
}

}  // namespace crs::alerts
