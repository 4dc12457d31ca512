#include "adapters/builtin.hpp"

#include <vector>

namespace crs::adapters {
namespace {

// Filled once with the built-in kinds; `register_adapter` adds to it before serving starts,
// after which it is only read (by every I/O thread, without a lock).
std::vector<std::unique_ptr<Adapter>>& registry() {
  static std::vector<std::unique_ptr<Adapter>> adapters = [] {
    std::vector<std::unique_ptr<Adapter>> v;
    v.push_back(make_claude_console_adapter());
    v.push_back(make_claude_oauth_adapter());
    v.push_back(make_bedrock_adapter());
    v.push_back(make_openai_compatible_adapter());
    return v;
  }();
  return adapters;
}

}  // namespace

void register_adapter(std::unique_ptr<Adapter> adapter) {
  auto& all = registry();
  for (auto& a : all) {
    if (a->kind() == adapter->kind()) {
      a = std::move(adapter);
      return;
    }
  }
  all.push_back(std::move(adapter));
}

const Adapter* find_adapter(std::string_view kind) {
  for (const auto& a : registry())
    if (a->kind() == kind) return a.get();
  return nullptr;
}

}  // namespace crs::adapters
