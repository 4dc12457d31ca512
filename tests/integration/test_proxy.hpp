#pragma once
// tools/test_proxy for a test: a SOCKS5 and HTTP CONNECT proxy that wants a user and password
// and logs each tunnel it opens ("tunnel socks5 127.0.0.1:PORT").
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "support/support.hpp"

namespace crs::test {

class TestProxy {
 public:
  TestProxy(const TempDir& dir, const std::string& user, const std::string& pass) {
    options_.argv = {CRS_TEST_PROXY_BINARY, "--port", "0", "--user", user, "--pass", pass};
    options_.stdout_path = dir.file("proxy.log");
    auto spawned = Subprocess::spawn(options_);
    if (spawned) process_.emplace(std::move(*spawned));
  }

  // Whether it started and says which port it listens on.
  bool ready() {
    return process_ && wait_until([&] { return log().find("listening on") != std::string::npos; });
  }
  std::string port() {
    std::string text = log();
    return text.substr(13, text.find('\n') - 13);  // "listening on PORT"
  }
  std::string log() const { return read_file(options_.stdout_path); }
  bool tunneled(const std::string& scheme, int to_port) const {
    return log().find("tunnel " + scheme + " 127.0.0.1:" + std::to_string(to_port)) != std::string::npos;
  }

 private:
  SpawnOptions options_;
  std::optional<Subprocess> process_;
};

}  // namespace crs::test
