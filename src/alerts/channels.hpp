#pragma once
// Where alerts go and the body each kind of receiver expects: a generic JSON webhook (with an
// HMAC-SHA256 signature when a secret is set), Slack, Discord, Feishu, DingTalk, WeCom and
// Telegram bot webhooks (the payloads the Node.js service sends), and email.
#include <map>
#include <string>
#include <vector>

#include "alerts/alert.hpp"
#include "config/config.hpp"
#include "core/result.hpp"

namespace crs::alerts {

enum class Format { Generic, Slack, Discord, Feishu, DingTalk, WeCom, Telegram };
const char* format_name(Format f);

struct Webhook {
  Format format = Format::Generic;
  std::string url;
};

// "slack:https://hooks.slack.com/..." or a bare URL, whose format is told by its host
// (hooks.slack.com, discord.com/api/webhooks, open.feishu.cn, oapi.dingtalk.com,
// qyapi.weixin.qq.com, api.telegram.org); anything else is Generic. Only http(s) URLs.
Result<Webhook> parse_webhook(const std::string& text);

// A request ready to send.
struct Outgoing {
  std::string url;
  std::string body;                            // JSON
  std::map<std::string, std::string> headers;  // besides Content-Type: application/json
};

// The webhook request of `alert`. Generic: {"type": "alert"|"recovery"|"test",
// "service": "claude-relay-service", "timestamp", "data": {...}}, signed with `secret` when
// set: X-CRS-Timestamp (unix seconds) and X-CRS-Signature: sha256=<hex HMAC of "timestamp.body">.
Outgoing webhook_request(const Webhook& hook, const Alert& alert, const std::string& secret);

// The email: headers and body in RFC 5322 form, lines ending CRLF.
std::string email_message(const Alert& alert, const std::string& from, const std::vector<std::string>& to,
                          const std::string& message_id);

// A channel as `crs alerts test` names it: "webhook 1 (slack, hooks.slack.com)", "email".
struct Channel {
  std::string name;
  bool email = false;
  Webhook hook;
};
// Every channel the configuration sets up (monitoring.alerts.webhook, .webhooks, .email), or
// the first configuration error.
Result<std::vector<Channel>> configured_channels(const config::Config& cfg);

}  // namespace crs::alerts
