#include <gtest/gtest.h>

#include "core/http_wire.hpp"
#include "http/router.hpp"

namespace crs::http_server {
namespace {

Handler named(std::string name, std::string* called) {
  return [name, called](Exchange&) -> Task<void> {
    *called = name;
    co_return;
  };
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router.add(http::verb::post, "/v1/messages", named("messages", &called));
    router.add(http::verb::get, "/admin/api-keys/:id", named("key", &called));
    router.add(http::verb::get, "/admin/api-keys/export", named("export", &called));
    router.add(http::verb::delete_, "/admin/api-keys/:id", named("delete", &called));
    router.add(http::verb::get, "/health", named("health", &called));
  }
  Router router;
  std::string called;
};

TEST_F(RouterTest, FixedPathsIgnoreCaseAndRepeatedSlashes) {
  for (std::string_view path : {"/v1/messages", "/V1/Messages", "/v1/messages/", "//v1//messages"}) {
    auto m = router.match(http::verb::post, path);
    EXPECT_TRUE(m.route) << path;
  }
  EXPECT_FALSE(router.match(http::verb::post, "/v1/messages/x").route);
  EXPECT_FALSE(router.match(http::verb::post, "/v1").route);
}

TEST_F(RouterTest, ParamsAndPrecedence) {
  auto m = router.match(http::verb::get, "/admin/api-keys/abc-123");
  ASSERT_TRUE(m.route);
  EXPECT_EQ(m.params["id"], "abc-123");
  // A fixed route wins over a param route that also matches.
  auto e = router.match(http::verb::get, "/admin/api-keys/export");
  ASSERT_TRUE(e.route);
  EXPECT_TRUE(e.params.empty());
  auto d = router.match(http::verb::delete_, "/admin/api-keys/export");
  ASSERT_TRUE(d.route);
  EXPECT_EQ(d.params["id"], "export");
}

TEST_F(RouterTest, MethodNotAllowedListsTheMethodsAndHeadFallsBackToGet) {
  auto m = router.match(http::verb::put, "/admin/api-keys/k1");
  EXPECT_FALSE(m.route);
  EXPECT_EQ(m.allowed, (std::vector<http::verb>{http::verb::get, http::verb::delete_}));
  auto h = router.match(http::verb::head, "/health");
  EXPECT_TRUE(h.route);
  EXPECT_TRUE(h.allowed.empty());
  auto none = router.match(http::verb::get, "/nothing");
  EXPECT_FALSE(none.route);
  EXPECT_TRUE(none.allowed.empty());
}

TEST(HttpWire, HeadsAndChunks) {
  http::response_header<> res;
  res.result(http::status::ok);
  res.version(11);
  res.set(http::field::content_type, "application/json");
  res.set("X-Request-ID", "abc");
  std::string out;
  append_head(out, res);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Request-ID: abc\r\n\r\n");
  http::request_header<> req;
  req.method(http::verb::post);
  req.target("/v1/messages?beta=true");
  req.version(11);
  req.set(http::field::host, "api.anthropic.com");
  std::string r;
  append_head(r, req);
  EXPECT_EQ(r, "POST /v1/messages?beta=true HTTP/1.1\r\nHost: api.anthropic.com\r\n\r\n");
  ChunkPrefix p(0x1a2b);
  EXPECT_EQ(std::string(p.text, p.size), "1a2b\r\n");
}

}  // namespace
}  // namespace crs::http_server
