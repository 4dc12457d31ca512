#include "relay/model_catalog.hpp"

#include <spdlog/spdlog.h>

#include "adapters/adapter.hpp"
#include "upstream/http_call.hpp"

namespace crs::relay {
namespace {

constexpr auto kFetchTimeout = std::chrono::seconds(15);

// A plain function: GCC 12 miscompiles conditional temporaries in coroutines.
void log_unread(const std::string& account_id, const upstream::CallResult& answer) {
  spdlog::debug("model list of account {} not read: {}", account_id,
                answer.status ? "HTTP " + std::to_string(answer.status) : answer.error);
}

Task<void> fetch(ModelCatalog& catalog, const accounts::Account& account, asio::ssl::context& tls) {
  int64_t now = accounts::now_ms();
  const adapters::Adapter* adapter = adapters::find_adapter(account.type);
  auto shared_endpoint = adapter ? adapter->endpoint(account) : nullptr;
  if (!adapter || !adapter->features().models_list || !shared_endpoint->base || !shared_endpoint->proxy) {
    catalog.failed(account.id, now);
    co_return;
  }
  const auto& endpoint = *shared_endpoint;
  auto request = adapter->models_request(account, *endpoint.base);
  if (!request) {
    catalog.failed(account.id, now);
    co_return;
  }
  auto executor = co_await asio::this_coro::executor;
  auto answer = co_await upstream::send_request(executor, tls, *endpoint.base, *endpoint.proxy, std::move(*request),
                                                "", kFetchTimeout);
  if (answer.status != 200) {
    log_unread(account.id, answer);
    catalog.failed(account.id, now);
    co_return;
  }
  catalog.set(account.id, adapter->models_of_answer(answer.body), now);
}

}  // namespace

void ModelCatalog::set(const std::string& id, std::vector<std::string> models, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  entries_[id] = Entry{std::move(models), now_ms, true};
}

bool ModelCatalog::told(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(id);
  return it != entries_.end() && it->second.told;
}

void ModelCatalog::failed(const std::string& id, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  entries_[id].tried_at = now_ms;  // what it told before is kept
}

int64_t ModelCatalog::tried_at(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(id);
  return it == entries_.end() ? 0 : it->second.tried_at;
}

std::set<std::string> ModelCatalog::models_of(const accounts::Account& account) const {
  std::set<std::string> out;
  const auto& s = account.scheduling;
  {
    std::lock_guard lock(mutex_);
    if (auto it = entries_.find(account.id); it != entries_.end())
      for (const auto& m : it->second.models)
        if (s.serves(m)) out.insert(m);
  }
  for (const auto& m : s.models)
    if (!m.ends_with('*')) out.insert(m);
  for (const auto& [requested, upstream] : s.model_map) out.insert(requested);
  return out;
}

Task<void> keep_model_lists(ModelCatalog& catalog, const accounts::AccountRegistry& accounts, asio::ssl::context& tls,
                            std::shared_ptr<bool> stopped, std::chrono::milliseconds max_age) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (!*stopped) {
    auto snapshot = accounts.snapshot();
    int64_t now = accounts::now_ms();
    for (const auto& account : *snapshot) {
      if (*stopped) co_return;
      if (!account.enabled || account.needs_admin()) continue;
      int64_t tried = catalog.tried_at(account.id);
      if (tried && now - tried < max_age.count()) continue;
      co_await fetch(catalog, account, tls);
    }
    // A new account is read within a second; the others when their list is max_age old.
    timer.expires_after(std::chrono::seconds(1));
    co_await timer.async_wait(use_nothrow);
  }
}

}  // namespace crs::relay
