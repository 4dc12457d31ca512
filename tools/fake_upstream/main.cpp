// fake-upstream: a stand-in for api.anthropic.com in tests and benchmarks.
// Prints "listening on <port>" once it accepts connections (use --port 0 for a free port).
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>

#include "core/logging.hpp"
#include "core/net.hpp"
#include "fake_upstream.hpp"
#include "http/server.hpp"

int main(int argc, char** argv) {
  CLI::App app{"fake-upstream: a fake Anthropic Messages API with scriptable faults", "fake-upstream"};
  std::string host = "127.0.0.1";
  int port = 0;
  int threads = 1;
  bool no_record = false;
  app.add_option("--host", host, "Listen address");
  app.add_option("--port", port, "Listen port (0: any free port)");
  app.add_option("--threads", threads, "I/O threads")->check(CLI::Range(1, 64));
  app.add_flag("--no-record", no_record, "Do not keep requests (for benchmarks)");
  CLI11_PARSE(app, argc, argv);
  crs::init_cli_logging();

  using namespace crs;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<asio::any_io_executor> executors;
  for (int i = 0; i < threads; ++i) {
    contexts.push_back(std::make_unique<asio::io_context>(1));
    executors.push_back(contexts.back()->get_executor());
  }
  fake::FakeOptions options;
  options.record = !no_record;
  fake::FakeUpstream fake(options);
  http_server::Router router;
  fake.register_routes(router);
  http_server::ServerOptions so;
  so.host = host;
  so.port = port;
  so.max_body_bytes = 64 * 1024 * 1024;
  http_server::Server server(executors, router, so);
  if (auto s = server.listen(); !s) {
    std::cerr << s.error().message << "\n";
    return 1;
  }
  fake.served_by(server);
  server.start();
  std::cout << "listening on " << server.port() << std::endl;

  asio::signal_set signals(*contexts[0], SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code, int) {
    for (auto& c : contexts) c->stop();
  });
  std::vector<std::thread> pool;
  for (size_t i = 1; i < contexts.size(); ++i) pool.emplace_back([&ctx = *contexts[i]] {
    auto guard = asio::make_work_guard(ctx);
    ctx.run();
  });
  contexts[0]->run();
  for (auto& c : contexts) c->stop();
  for (auto& t : pool) t.join();
  return 0;
}
