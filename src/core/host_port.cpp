#include "core/host_port.hpp"

namespace crs {

Result<std::pair<std::string, int>> parse_host_port(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return Error{"\"" + text + "\" is not host:port"};
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  else if (host.find(':') != std::string::npos) return Error{"\"" + text + "\": write an IPv6 address as [address]:port"};
  int port = 0;
  for (char c : text.substr(colon + 1)) {
    if (c < '0' || c > '9' || port > 65535) return Error{"\"" + text + "\" has an invalid port"};
    port = port * 10 + (c - '0');
  }
  if (port < 1 || port > 65535) return Error{"\"" + text + "\" has an invalid port"};
  return std::make_pair(host, port);
}

}  // namespace crs
