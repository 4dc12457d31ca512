#pragma once
// Direction B of spec/openai-compat.md §6: an Anthropic Messages request sent on to an
// OpenAI-compatible upstream, and its answer brought back in the Anthropic shape. Pure. The
// upstream's streamed answer (§6.3) is the next step.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace crs::openai {

// The Chat Completions request for `upstream_model` (§6.1): system as the first message,
// tool results as tool messages ahead of the turn's remaining text, images as image_url parts,
// tools and tool_choice, stop sequences; streams ask for the usage chunk (it is what bills).
Result<std::string> messages_to_chat(std::string_view anthropic_request, std::string_view upstream_model);

// What a whole answer reported, for metering (cache reads are split out of the prompt).
struct BridgedUsage {
  int64_t input_tokens = 0, cache_read_input_tokens = 0, output_tokens = 0;
  bool reported = false;  // the upstream sent a usage object
};

// A chat.completion as an Anthropic message (§6.2), named `requested_model`.
Result<std::string> completion_to_message(std::string_view openai_answer, std::string_view requested_model,
                                          BridgedUsage& usage);

// OpenAI finish_reason -> Anthropic stop_reason (§6.4).
std::string_view stop_reason_of(std::string_view finish_reason);

}  // namespace crs::openai
