#pragma once
// Direction A of spec/openai-compat.md §3: an OpenAI Chat Completions request turned into the
// Anthropic Messages request the relay sends on. Pure. Roles (system and developer joined into
// `system`, tool results at the head of one user turn, adjacent turns of a role merged), images
// (data URLs as base64 blocks, http(s) as URL blocks), tools and tool_choice, stop sequences,
// max_tokens, temperature clamped to Anthropic's range, reasoning_effort as thinking where the
// API allows it. What has no equivalent (seed, logprobs, penalties) is dropped; what cannot be
// honoured (n > 1) is refused with a message naming the field.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace crs::openai {

// What the answer's translation needs to know of the request.
struct ChatInfo {
  std::string model;           // as the client named it: every chunk repeats it
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage: a final usage chunk
};

struct ChatOptions {
  int64_t default_max_tokens = 4096;  // when the client sets neither max_tokens nor max_completion_tokens
};

Result<std::string> chat_to_messages(std::string_view openai_request, ChatInfo& info, const ChatOptions& options = {});

// The thinking budget of a reasoning_effort ("low" 1024, "medium" 4096, "high" 16384; 0: none).
int64_t thinking_budget(std::string_view effort);

}  // namespace crs::openai
