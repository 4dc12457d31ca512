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

namespace {

// The cache's key is the account's two texts, looked up without joining them into a new string.
using EndpointText = std::pair<std::string, std::string>;
using EndpointTextView = std::pair<std::string_view, std::string_view>;

struct EndpointTextHash {
  using is_transparent = void;
  size_t operator()(EndpointTextView t) const {
    size_t h = std::hash<std::string_view>{}(t.first);
    return h ^ (std::hash<std::string_view>{}(t.second) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
  }
};

struct EndpointTextEqual {
  using is_transparent = void;
  bool operator()(EndpointTextView a, EndpointTextView b) const { return a == b; }
};

}  // namespace

std::shared_ptr<const Endpoint> Adapter::endpoint(const accounts::Account& account) const {
  // Parsing costs more than picking the account: once per I/O thread, keyed by the text.
  thread_local std::unordered_map<EndpointText, std::shared_ptr<const Endpoint>, EndpointTextHash, EndpointTextEqual>
      cache;
  EndpointTextView text{account.base_url, account.proxy};
  if (auto it = cache.find(text); it != cache.end()) return it->second;
  if (cache.size() >= 1024) cache.clear();
  auto parsed = std::make_shared<Endpoint>(
      Endpoint{upstream::parse_base_url(account.base_url), upstream::parse_proxy_url(account.proxy), {}});
  if (parsed->base && parsed->proxy) parsed->pool_key = upstream::pool_key(*parsed->base, *parsed->proxy);
  return cache.emplace(EndpointText{account.base_url, account.proxy}, std::move(parsed)).first->second;
}

}  // namespace crs::adapters
