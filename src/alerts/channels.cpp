#include "alerts/channels.hpp"

#include <ctime>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <fmt/format.h>

#include "core/crypto.hpp"

namespace crs::alerts {
namespace json = boost::json;

const char* format_name(Format f) {
  switch (f) {
    case Format::Generic: return "generic";
    case Format::Slack: return "slack";
    case Format::Discord: return "discord";
    case Format::Feishu: return "feishu";
    case Format::DingTalk: return "dingtalk";
    case Format::WeCom: return "wecom";
    case Format::Telegram: return "telegram";
  }
  return "generic";
}

namespace {

constexpr Format kFormats[] = {Format::Generic, Format::Slack,  Format::Discord, Format::Feishu,
                               Format::DingTalk, Format::WeCom, Format::Telegram};

Format format_of_host(std::string_view host, std::string_view path) {
  if (host == "hooks.slack.com") return Format::Slack;
  if ((host == "discord.com" || host == "discordapp.com") && path.starts_with("/api/webhooks")) return Format::Discord;
  if (host == "open.feishu.cn" || host == "open.larksuite.com") return Format::Feishu;
  if (host == "oapi.dingtalk.com") return Format::DingTalk;
  if (host == "qyapi.weixin.qq.com") return Format::WeCom;
  if (host == "api.telegram.org") return Format::Telegram;
  return Format::Generic;
}

// One line: a title must not break a header or a Markdown heading.
std::string one_line(std::string s) {
  for (auto& c : s)
    if (c == '\r' || c == '\n') c = ' ';
  return s;
}

std::string headline(const Alert& a) {
  std::string tag = a.recovered ? "RECOVERED" : a.kind == "test" ? "TEST" : a.severity;
  for (auto& c : tag) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return one_line("[" + tag + "] " + a.title);
}

std::string text_body(const Alert& a) {
  std::string out = a.message;
  if (!a.details.empty()) {
    out += "\n";
    for (const auto& [k, v] : a.details)
      out += fmt::format("\n{}: {}", std::string(k), v.is_string() ? std::string(v.as_string()) : json::serialize(v));
  }
  out += fmt::format("\n\ninstance: {}\nat: {}", a.instance, a.at);
  return out;
}

json::object generic_body(const Alert& a) {
  json::object data{{"id", a.id},           {"kind", a.kind},         {"severity", a.severity},
                    {"title", a.title},     {"message", a.message},   {"details", a.details},
                    {"recovered", a.recovered}, {"instance", a.instance}};
  std::string type = a.kind == "test" ? "test" : a.recovered ? "recovery" : "alert";
  return json::object{{"type", type}, {"service", "claude-relay-service"}, {"timestamp", a.at}, {"data", std::move(data)}};
}

// Discord embed colours: red, orange, green, blue.
int64_t colour(const Alert& a) {
  if (a.recovered) return 3066993;
  if (a.kind == "test") return 3447003;
  return a.severity == "critical" ? 15158332 : 15105570;
}

std::string feishu_template(const Alert& a) {
  if (a.recovered) return "green";
  if (a.kind == "test") return "blue";
  return a.severity == "critical" ? "red" : "orange";
}

json::object platform_body(Format f, const Alert& a, const std::string& chat_id) {
  std::string title = headline(a), text = text_body(a);
  switch (f) {
    case Format::Slack:
      return json::object{{"text", "*" + title + "*\n" + text}, {"username", "Claude Relay Service"}};
    case Format::Discord:
      return json::object{
          {"username", "Claude Relay Service"},
          {"embeds", json::array{json::object{{"title", title}, {"description", text}, {"color", colour(a)},
                                              {"timestamp", a.at},
                                              {"footer", json::object{{"text", "claude-relay-service"}}}}}}};
    case Format::Feishu:
      return json::object{
          {"msg_type", "interactive"},
          {"card", json::object{{"header", json::object{{"title", json::object{{"tag", "plain_text"}, {"content", title}}},
                                                       {"template", feishu_template(a)}}},
                                {"elements", json::array{json::object{{"tag", "markdown"}, {"content", text}}}}}}};
    case Format::DingTalk:
      return json::object{{"msgtype", "markdown"},
                          {"markdown", json::object{{"title", title}, {"text", "### " + title + "\n\n" + text}}}};
    case Format::WeCom:
      return json::object{{"msgtype", "markdown"}, {"markdown", json::object{{"content", "**" + title + "**\n" + text}}}};
    case Format::Telegram:
      return json::object{{"chat_id", chat_id}, {"text", title + "\n\n" + text}, {"disable_web_page_preview", true}};
    case Format::Generic: break;
  }
  return generic_body(a);
}

std::string rfc5322_date() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

}  // namespace

Result<Webhook> parse_webhook(const std::string& text) {
  Webhook w;
  std::string url = text;
  for (Format f : kFormats) {
    std::string prefix = std::string(format_name(f)) + ":";
    if (text.starts_with(prefix) && !text.starts_with(prefix + "//")) {
      w.format = f;
      url = text.substr(prefix.size());
      break;
    }
  }
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed || (parsed->scheme() != "http" && parsed->scheme() != "https") || parsed->host().empty())
    return Error{"not an http(s) URL (optionally led by slack:, discord:, feishu:, dingtalk:, wecom:, telegram: or generic:)"};
  if (w.format == Format::Generic && !text.starts_with("generic:"))
    w.format = format_of_host(parsed->host(), parsed->path());
  w.url = url;
  if (w.format == Format::Telegram && !parsed->has_query())
    return Error{"a Telegram webhook needs its chat: https://api.telegram.org/bot<TOKEN>/sendMessage?chat_id=<ID>"};
  return w;
}

Outgoing webhook_request(const Webhook& hook, const Alert& alert, const std::string& secret) {
  Outgoing out;
  out.url = hook.url;
  std::string chat_id;
  if (hook.format == Format::Telegram) {
    auto parsed = boost::urls::parse_absolute_uri(hook.url);
    if (parsed) {
      for (auto p : parsed->params())
        if (p.key == "chat_id") chat_id = p.value;
      boost::urls::url without(*parsed);
      without.remove_query();
      out.url = std::string(without.buffer());
    }
  }
  out.body = json::serialize(platform_body(hook.format, alert, chat_id));
  if (hook.format == Format::Generic && !secret.empty()) {
    std::string ts = std::to_string(std::time(nullptr));
    out.headers["X-CRS-Timestamp"] = ts;
    out.headers["X-CRS-Signature"] = "sha256=" + crypto::hmac_sha256_hex(secret, ts + "." + out.body);
  }
  return out;
}

std::string email_message(const Alert& alert, const std::string& from, const std::vector<std::string>& to,
                          const std::string& message_id) {
  std::string to_line;
  for (const auto& t : to) to_line += (to_line.empty() ? "" : ", ") + one_line(t);
  std::string body = text_body(alert);
  std::string crlf_body;
  for (char c : body) {
    if (c == '\n') crlf_body += "\r\n";
    else if (c != '\r') crlf_body += c;
  }
  return fmt::format(
      "From: {}\r\nTo: {}\r\nSubject: [Claude Relay Service] {}\r\nDate: {}\r\nMessage-ID: <{}>\r\n"
      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}\r\n",
      one_line(from), to_line, headline(alert), rfc5322_date(), one_line(message_id), crlf_body);
}

namespace {
std::string host_of(const std::string& url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  return parsed ? std::string(parsed->host()) : std::string("?");
}
}  // namespace

Result<std::vector<Channel>> configured_channels(const config::Config& cfg) {
  const auto& a = cfg.monitoring.alerts;
  std::vector<std::string> urls;
  if (!a.webhook.empty()) urls.push_back(a.webhook);
  urls.insert(urls.end(), a.webhooks.begin(), a.webhooks.end());
  std::vector<Channel> out;
  for (size_t i = 0; i < urls.size(); ++i) {
    auto hook = parse_webhook(urls[i]);
    if (!hook) return Error{fmt::format("monitoring.alerts webhook {}: {}", i + 1, hook.error().message)};
    Channel c;
    c.name = fmt::format("webhook {} ({}, {})", i + 1, format_name(hook->format), host_of(hook->url));
    c.hook = *hook;
    out.push_back(std::move(c));
  }
  if (a.email.enabled) {
    if (a.email.smtp.host.empty() || a.email.from.empty() || a.email.to.empty())
      return Error{"monitoring.alerts.email: enabled, so smtp.host, from and to are needed"};
    Channel c;
    c.name = "email";
    c.email = true;
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace crs::alerts
