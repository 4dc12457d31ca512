#pragma once
// Names of Claude models as providers write them. Bedrock ids embed the Anthropic name
// ("us.anthropic.claude-sonnet-4-20250514-v1:0"), and Claude Code may add "[1m]" for the
// long-context window: both name the same model as the plain name for a key's model rules
// and for pricing.
#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

namespace crs {

// The Anthropic name in a provider's id, without a "[1m]" suffix; the name as it is otherwise.
inline std::string claude_model_name(std::string_view id) {
  auto digits = [](std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
  };
  if (id.ends_with("[1m]")) id.remove_suffix(4);
  size_t at = id.find("anthropic.claude-");
  if (at == std::string_view::npos) return std::string(id);
  std::string_view m = id.substr(at + 10);
  if (auto colon = m.rfind(':'); colon != std::string_view::npos && digits(m.substr(colon + 1))) m = m.substr(0, colon);
  if (auto v = m.rfind("-v"); v != std::string_view::npos && digits(m.substr(v + 2))) m = m.substr(0, v);
  return std::string(m);
}

}  // namespace crs
