#pragma once
// A fake Anthropic API for tests and benchmarks: the Messages wire format of
// spec/anthropic-messages.md (JSON and SSE), scriptable faults, and a record of every request.
#include <memory>

#include "http/router.hpp"
#include "http/server.hpp"

namespace crs::fake {

struct FakeOptions {
  bool record = true;        // keep every request (headers and body) for GET /_fake/requests
  size_t max_records = 100000;
};

class FakeUpstream {
 public:
  explicit FakeUpstream(FakeOptions options);
  ~FakeUpstream();
  void register_routes(http_server::Router& router);
  // The server the routes are served by: /_fake/stats reports its connections.
  void served_by(const http_server::Server& server);

  struct State;  // shared by the handlers, defined in fake_upstream.cpp

 private:
  std::shared_ptr<State> state_;
};

}  // namespace crs::fake
