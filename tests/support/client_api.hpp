#pragma once
// The two APIs a client may speak to the relay, for tests that must hold for both: Anthropic
// Messages and OpenAI Chat Completions (translated to Messages on the way in). A test written
// against these helpers asserts only what both share: statuses, headers, error.type and
// error.message (both shapes have them), the relay's top-level extras, the upstream's view.
#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace crs::test {

enum class ClientApi { Messages, Chat };

inline std::string api_name(const ::testing::TestParamInfo<ClientApi>& info) {
  return info.param == ClientApi::Messages ? "Messages" : "Chat";
}

inline std::string api_path(ClientApi api) {
  return api == ClientApi::Messages ? "/v1/messages" : "/openai/claude/v1/chat/completions";
}

// A request with one user turn (and a system prompt when given), as each API writes it. The
// relay turns the Chat form into the Messages one, so the upstream sees the same request.
inline std::string api_body(ClientApi api, const std::string& model, int max_tokens, bool stream,
                            const std::string& text, const std::string& system = "") {
  std::string head = R"({"model":")" + model + R"(","max_tokens":)" + std::to_string(max_tokens) +
                     R"(,"stream":)" + (stream ? "true" : "false");
  std::string user = R"({"role":"user","content":")" + text + R"("})";
  if (api == ClientApi::Messages)
    return head + (system.empty() ? "" : R"(,"system":")" + system + "\"") + R"(,"messages":[)" + user + "]}";
  std::string system_turn = system.empty() ? "" : R"({"role":"system","content":")" + system + R"("},)";
  return head + R"(,"messages":[)" + system_turn + user + "]}";
}

// What a stream's first event looks like in each API.
inline std::string_view stream_marker(ClientApi api) {
  return api == ClientApi::Messages ? "message_start" : "chat.completion.chunk";
}

// A stream that ended with an error, as each API writes it.
inline std::string_view stream_error_marker(ClientApi api) {
  return api == ClientApi::Messages ? "event: error" : "data: {\"error\":";
}

}  // namespace crs::test
