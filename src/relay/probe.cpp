#include "relay/probe.hpp"

#include "relay/account_health.hpp"
#include "upstream/http_call.hpp"

namespace crs::relay {
namespace {

ProbeResult failed(adapters::ErrorVerdict v, unsigned status, double ms) {
  ProbeResult r;
  r.outcome = outcome_of(v.what);
  r.status = status;
  r.ms = ms;
  r.verdict = std::move(v);
  return r;
}

ProbeResult cannot_probe() {
  return failed(adapters::ErrorVerdict{adapters::ErrorClass::ClientError, 0, "this kind cannot be probed"}, 0, 0);
}

std::string endpoint_problem(const adapters::Endpoint& endpoint) {
  if (!endpoint.base) return "invalid configuration: " + endpoint.base.error().message;
  return "invalid configuration: " + endpoint.proxy.error().message;
}

}  // namespace

Task<ProbeResult> probe_account(adapters::AdapterContext& context, accounts::Account account,
                                std::chrono::milliseconds timeout) {
  const adapters::Adapter* adapter = adapters::find_adapter(account.type);
  if (!adapter || !adapter->features().models_list) co_return cannot_probe();
  if (adapter->needs_prepare(context.config, account, false)) {
    auto ready = co_await adapter->prepare(context, std::move(account), false);
    if (!ready) {
      auto verdict = adapters::transport_failure(false, ready.error().message);
      co_return failed(std::move(verdict), 0, 0);
    }
    account = std::move(*ready);
  }
  auto shared_endpoint = adapter->endpoint(account);
  const auto& endpoint = *shared_endpoint;
  if (!endpoint.base || !endpoint.proxy) {
    auto verdict = adapters::transport_failure(false, endpoint_problem(endpoint));
    co_return failed(std::move(verdict), 0, 0);
  }
  auto request = adapter->models_request(account, *endpoint.base);
  if (!request) co_return cannot_probe();
  auto started = std::chrono::steady_clock::now();
  auto executor = co_await asio::this_coro::executor;
  auto answer = co_await upstream::send_request(executor, context.tls, *endpoint.base, *endpoint.proxy,
                                                std::move(*request), "", timeout);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  if (answer.status == 0) {
    bool timed_out = ms >= static_cast<double>(timeout.count());
    auto verdict = adapters::transport_failure(timed_out, "probe: " + answer.error);
    co_return failed(std::move(verdict), 0, ms);
  }
  if (answer.status >= 200 && answer.status < 300) {
    ProbeResult ok;
    ok.ok = true;
    ok.outcome = health::Outcome::Ok;
    ok.status = answer.status;
    ok.ms = ms;
    co_return ok;
  }
  adapters::UpstreamError e{answer.status, std::move(answer.headers), std::move(answer.body)};
  auto verdict = adapter->classify(e, accounts::now_ms());
  co_return failed(std::move(verdict), e.status, ms);
}

}  // namespace crs::relay
