#include "http/listener_group.hpp"

#include <linux/filter.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include <fmt/format.h>

namespace crs::http_server {
namespace {

// The kernel prints an address as 32-bit words of its network-order bytes, each in hex as a
// host-order integer ("0100007F" for 127.0.0.1 on x86), then ":" and the port in hex.
std::string proc_address(const tcp::endpoint& endpoint) {
  std::string words;
  auto append = [&words](const unsigned char* bytes, size_t size) {
    for (size_t i = 0; i < size; i += 4) {
      uint32_t word = 0;
      std::memcpy(&word, bytes + i, 4);
      words += fmt::format("{:08X}", word);
    }
  };
  if (endpoint.address().is_v4()) {
    auto bytes = endpoint.address().to_v4().to_bytes();
    append(bytes.data(), bytes.size());
  } else {
    auto bytes = endpoint.address().to_v6().to_bytes();
    append(bytes.data(), bytes.size());
  }
  return fmt::format("{}:{:04X}", words, endpoint.port());
}

}  // namespace

size_t listeners_on(const tcp::endpoint& endpoint) {
  const std::string wanted = proc_address(endpoint);
  const std::string uid = std::to_string(::geteuid());
  std::ifstream table(endpoint.address().is_v4() ? "/proc/net/tcp" : "/proc/net/tcp6");
  std::string line;
  std::getline(table, line);  // the column names
  size_t n = 0;
  while (std::getline(table, line)) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid ...
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues, timer, retransmits, owner;
    fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> owner;
    if (local == wanted && state == "0A" && owner == uid) ++n;
  }
  return n;
}

bool steer_new_connections(tcp::acceptor& acceptor, uint32_t index) {
  sock_filter pick{static_cast<uint16_t>(BPF_RET | BPF_K), 0, 0, index};
  sock_fprog program{1, &pick};
  return ::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &program, sizeof program) == 0;
}

}  // namespace crs::http_server
