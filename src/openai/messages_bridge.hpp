#pragma once
// Direction B of spec/openai-compat.md §6: an Anthropic Messages request sent on to an
// OpenAI-compatible upstream, and its answer brought back in the Anthropic shape. Pure. The
// upstream's streamed answer (§6.3) is the next step.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "openai/sse_lines.hpp"

namespace crs::openai {

// The Chat Completions request for `upstream_model` (§6.1): system as the first message,
// tool results as tool messages ahead of the turn's remaining text, images as image_url parts,
// tools and tool_choice, stop sequences; streams ask for the usage chunk (it is what bills).
Result<std::string> messages_to_chat(std::string_view anthropic_request, std::string_view upstream_model);

// What an answer reported, for metering (cache reads are split out of the prompt), and the
// model the provider says served it (what the request is priced as).
struct BridgedUsage {
  int64_t input_tokens = 0, cache_read_input_tokens = 0, output_tokens = 0;
  bool reported = false;  // the upstream sent a usage object
  std::string served_model;
};

// A chat.completion as an Anthropic message (§6.2), named `requested_model`.
Result<std::string> completion_to_message(std::string_view openai_answer, std::string_view requested_model,
                                          BridgedUsage& usage);

// A provider's error message without what identifies the relay's account there: tokens that
// start like organisation, project, user ids or keys ("org-…", "proj_…", "user-…", "sk-…")
// keep their prefix only.
std::string without_identifiers(std::string_view message);

// OpenAI finish_reason -> Anthropic stop_reason (§6.4).
std::string_view stop_reason_of(std::string_view finish_reason);

// The upstream's chunks (split anywhere) as Anthropic SSE (§6.3): message_start at the first
// chunk, text and thinking blocks opened and closed as the deltas change kind, the finish held
// until [DONE] or the end since usage follows it, then message_delta with the final counts and
// message_stop. Tool calls are gathered and each sent as one whole tool_use block at the end
// (the spec's safe variant): upstreams may interleave the fragments of several calls, and a
// block once closed cannot take more.
class MessagesStream {
 public:
  explicit MessagesStream(std::string requested_model);
  std::string feed(std::string_view openai_sse);
  // The end of the upstream stream ([DONE] seen or not): closes the message once.
  std::string finish();
  const BridgedUsage& usage() const { return usage_; }
  bool done() const { return done_; }
  bool failed() const { return failed_; }  // it ended with an error event

 private:
  void chunk(std::string_view data, std::string& out);
  void open(const char* kind, std::string& out);
  void close_open(std::string& out);
  void emit(std::string_view event, const std::string& json, std::string& out);

  std::string model_;
  SseLines lines_;
  bool started_ = false, done_ = false, failed_ = false;
  std::string open_kind_;  // "text", "thinking", "tool" or ""
  int64_t open_index_ = -1, next_index_ = 0;
  struct ToolCall {
    int64_t index = 0;  // OpenAI's
    std::string id, name, arguments;
  };
  std::vector<ToolCall> tools_;
  std::string finish_;
  BridgedUsage usage_;
};

}  // namespace crs::openai
