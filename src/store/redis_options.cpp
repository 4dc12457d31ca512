#include "store/redis_options.hpp"

#include <boost/url/parse.hpp>

namespace crs::store {

std::string RedisOptions::address() const {
  if (sentinels.empty()) return host + ":" + std::to_string(port);
  return "primary '" + sentinel_name + "' (sentinel)";
}


Result<RedisOptions> parse_redis_url(const std::string& url, RedisOptions base) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return Error{"invalid redis URL"};
  const auto& u = *parsed;
  if (u.scheme() != "redis" && u.scheme() != "rediss") return Error{"redis URL must start with redis:// or rediss://"};
  if (u.scheme() == "rediss") base.tls = true;
  if (u.host().empty()) return Error{"redis URL has no host"};
  base.host = u.host();
  if (base.host.size() > 2 && base.host.front() == '[') base.host = base.host.substr(1, base.host.size() - 2);
  if (u.has_port()) {
    if (u.port_number() == 0) return Error{"redis URL has an invalid port"};
    base.port = u.port_number();
  }
  if (u.has_userinfo()) {
    base.username = u.user();
    if (u.has_password()) base.password = u.password();
    if (!u.has_password() && !base.username.empty()) {
      // redis://password@host is a common shorthand for the default user's password.
      base.password = base.username;
      base.username.clear();
    }
  }
  std::string path = u.path();
  if (!path.empty() && path != "/") {
    try {
      size_t used = 0;
      int db = std::stoi(path.substr(1), &used);
      if (used != path.size() - 1 || db < 0) return Error{"redis URL has an invalid database number"};
      base.db = db;
    } catch (...) {
      return Error{"redis URL has an invalid database number"};
    }
  }
  return base;
}

}  // namespace crs::store
