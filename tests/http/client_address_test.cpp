#include <gtest/gtest.h>

#include "http/client_address.hpp"

namespace crs::http_server {
namespace {

asio::ip::address ip(const char* text) { return asio::ip::make_address(text); }

TEST(TrustedProxies, ParsesAddressesAndCidrs) {
  auto t = TrustedProxies::parse({"10.0.0.0/8", "192.168.1.7", "fd00::/8", "::1"});
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_TRUE(t->trusts(ip("10.200.3.4")));
  EXPECT_FALSE(t->trusts(ip("11.0.0.1")));
  EXPECT_TRUE(t->trusts(ip("192.168.1.7")));
  EXPECT_FALSE(t->trusts(ip("192.168.1.8")));
  EXPECT_TRUE(t->trusts(ip("fd12::5")));
  EXPECT_TRUE(t->trusts(ip("::1")));
  EXPECT_TRUE(t->trusts(ip("::ffff:10.1.1.1")));  // IPv4-mapped
  for (const char* bad : {"10.0.0.0/33", "nonsense", "10.0.0.0/", "::/129", "1.2.3.4/-1"})
    EXPECT_FALSE(TrustedProxies::parse({bad}).ok()) << bad;
  auto none = TrustedProxies::parse({});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->trusts(ip("127.0.0.1")));
}

TEST(TrustedProxies, TheClientIsTheNearestUntrustedHop) {
  auto t = TrustedProxies::parse({"10.0.0.0/8"});
  ASSERT_TRUE(t.ok());
  http::request_header<> req;
  req.set("x-forwarded-for", "198.51.100.1, 203.0.113.5, 10.0.0.2");
  EXPECT_EQ(t->client_of(ip("10.0.0.1"), req), ip("203.0.113.5"));
  EXPECT_EQ(t->client_of(ip("8.8.8.8"), req), ip("8.8.8.8")) << "an untrusted peer names no one";
  http::request_header<> forwarded;
  forwarded.set("forwarded", R"(for=198.51.100.1;proto=https, for="[2001:db8::7]:443")");
  EXPECT_EQ(t->client_of(ip("10.0.0.1"), forwarded), ip("2001:db8::7"));
  http::request_header<> garbage;
  garbage.set("x-forwarded-for", "not-an-address");
  EXPECT_EQ(t->client_of(ip("10.0.0.1"), garbage), ip("10.0.0.1"));
  http::request_header<> none;
  EXPECT_EQ(t->client_of(ip("10.0.0.1"), none), ip("10.0.0.1"));
}

}  // namespace
}  // namespace crs::http_server
