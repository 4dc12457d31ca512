// Alert channels without a network: which format a URL gets, each platform's body, the
// signature, and an email whose headers a hostile title cannot break.
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "alerts/channels.hpp"
#include "core/crypto.hpp"

namespace crs::alerts {
namespace {
namespace json = boost::json;

Alert sample() {
  Alert a;
  a.id = "account_blocked:1";
  a.kind = "account_blocked";
  a.severity = "critical";
  a.title = "Account 'x' is blocked\r\nBcc: victim@example.com";
  a.message = "It gets no traffic.";
  a.details = json::object{{"accountId", "1"}};
  a.at = "2026-12-04T10:00:00.000Z";
  a.instance = "host:3000";
  return a;
}

TEST(AlertChannels, TheFormatComesFromThePrefixOrTheHost) {
  EXPECT_EQ(parse_webhook("https://hooks.slack.com/services/T/B/x")->format, Format::Slack);
  EXPECT_EQ(parse_webhook("https://discord.com/api/webhooks/1/x")->format, Format::Discord);
  EXPECT_EQ(parse_webhook("https://open.feishu.cn/open-apis/bot/v2/hook/x")->format, Format::Feishu);
  EXPECT_EQ(parse_webhook("https://oapi.dingtalk.com/robot/send?access_token=x")->format, Format::DingTalk);
  EXPECT_EQ(parse_webhook("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x")->format, Format::WeCom);
  EXPECT_EQ(parse_webhook("https://example.com/hook")->format, Format::Generic);
  EXPECT_EQ(parse_webhook("slack:http://127.0.0.1:9/x")->format, Format::Slack);
  EXPECT_EQ(parse_webhook("slack:http://127.0.0.1:9/x")->url, "http://127.0.0.1:9/x");
  EXPECT_EQ(parse_webhook("generic:https://hooks.slack.com/services/x")->format, Format::Generic);
  EXPECT_FALSE(parse_webhook("ftp://example.com/x"));
  EXPECT_FALSE(parse_webhook("slack:"));
  EXPECT_FALSE(parse_webhook("not a url"));
  EXPECT_FALSE(parse_webhook("https://api.telegram.org/botT/sendMessage"));  // no chat
}

TEST(AlertChannels, GenericBodiesAreSignedOverTimestampAndBody) {
  auto out = webhook_request(*parse_webhook("https://example.com/hook"), sample(), "s3cret");
  auto body = json::parse(out.body).as_object();
  EXPECT_EQ(body.at("type").as_string(), "alert");
  EXPECT_EQ(body.at("data").at("id").as_string(), "account_blocked:1");
  std::string ts = out.headers.at("X-CRS-Timestamp");
  EXPECT_EQ(out.headers.at("X-CRS-Signature"), "sha256=" + crypto::hmac_sha256_hex("s3cret", ts + "." + out.body));
  EXPECT_TRUE(webhook_request(*parse_webhook("https://example.com/hook"), sample(), "").headers.empty());
  auto recovered = sample();
  recovered.recovered = true;
  auto r = json::parse(webhook_request(*parse_webhook("https://example.com/h"), recovered, "").body).as_object();
  EXPECT_EQ(r.at("type").as_string(), "recovery");
}

TEST(AlertChannels, PlatformBodiesHaveTheirShapes) {
  auto body_of = [](const std::string& url) {
    return json::parse(webhook_request(*parse_webhook(url), sample(), "x").body).as_object();
  };
  EXPECT_TRUE(body_of("slack:https://h/x").contains("text"));
  EXPECT_EQ(body_of("wecom:https://h/x").at("msgtype").as_string(), "markdown");
  EXPECT_EQ(body_of("dingtalk:https://h/x").at("markdown").at("title").as_string().find('\n'), std::string::npos);
  EXPECT_EQ(body_of("feishu:https://h/x").at("card").at("header").at("template").as_string(), "red");
  auto t = webhook_request(*parse_webhook("telegram:https://api.telegram.org/botT/sendMessage?chat_id=-100"), sample(), "");
  EXPECT_EQ(t.url, "https://api.telegram.org/botT/sendMessage");
  EXPECT_EQ(json::parse(t.body).at("chat_id").as_string(), "-100");
  EXPECT_TRUE(t.headers.empty()) << "only generic webhooks are signed";
}

TEST(AlertChannels, AnEmailTitleCannotAddHeaders) {
  auto text = email_message(sample(), "relay@example.com", {"ops@example.com"}, "id@crs");
  auto head = text.substr(0, text.find("\r\n\r\n"));
  EXPECT_EQ(head.find("\r\nBcc:"), std::string::npos) << head;
  EXPECT_NE(head.find("Subject: [Claude Relay Service] [CRITICAL] Account 'x' is blocked  Bcc: victim"), std::string::npos)
      << head;
  for (size_t at = 0; (at = text.find('\n', at)) != std::string::npos; ++at) ASSERT_EQ(text[at - 1], '\r');
}

}  // namespace
}  // namespace crs::alerts
