#include "adapters/adapter.hpp"

#include <unordered_map>

namespace crs::adapters {

std::string_view missing_feature(const Features& f, const RequestNeeds& n) {
  if (n.op == Operation::CountTokens && !f.count_tokens) return "count_tokens";
  if (n.stream && !f.streaming) return "streaming";
  if (n.images && !f.images) return "images";
  if (n.tools && !f.tools) return "tools";
  if (n.cache_control && !f.cache_control) return "cache_control";
  if (n.url_sources && !f.url_sources) return "images or documents by URL";
  return {};
}

Task<Result<accounts::Account>> Adapter::prepare(AdapterContext&, accounts::Account account, bool) const {
  co_return account;
}

Endpoint Adapter::endpoint(const accounts::Account& account) const {
  // Parsing costs more than picking the account: once per I/O thread, keyed by the text.
  thread_local std::unordered_map<std::string, Endpoint> cache;
  std::string key = account.base_url + '\n' + account.proxy;
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  if (cache.size() >= 1024) cache.clear();
  Endpoint parsed{upstream::parse_base_url(account.base_url), upstream::parse_proxy_url(account.proxy)};
  return cache.emplace(std::move(key), std::move(parsed)).first->second;
}

}  // namespace crs::adapters
