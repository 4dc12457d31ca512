// Claude Console accounts: an Anthropic API key, sent as x-api-key.
#include "adapters/anthropic_wire.hpp"
#include "adapters/builtin.hpp"

namespace crs::adapters {
namespace {

class ClaudeConsoleAdapter final : public AnthropicAdapter {
 public:
  std::string_view kind() const override { return accounts::kClaudeConsole; }

 protected:
  AnthropicAuth auth() const override { return AnthropicAuth::ApiKey; }
  const std::string& credential(const accounts::Account& account) const override {
    return account.credentials.api_key;
  }
};

}  // namespace

std::unique_ptr<Adapter> make_claude_console_adapter() { return std::make_unique<ClaudeConsoleAdapter>(); }

}  // namespace crs::adapters
