#pragma once
// Direction A of spec/openai-compat.md §4–5: the Anthropic answer turned into what an OpenAI
// client reads. A whole message becomes a chat.completion; a stream of Anthropic events
// becomes chat.completion.chunk lines ending in `data: [DONE]`, tool calls numbered among
// tool calls (not among content blocks), usage in a last chunk only when the client asked
// (stream_options.include_usage). Errors keep their status (529 becomes 503, which OpenAI
// clients know) in OpenAI's error shape. Pure: id and time are given.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "openai/chat_request.hpp"
#include "openai/sse_lines.hpp"

namespace crs::openai {

// Anthropic stop_reason -> OpenAI finish_reason (§4.1).
std::string_view finish_reason_of(std::string_view stop_reason);

// Anthropic usage -> OpenAI usage (§4.2): cache reads and writes count as prompt tokens.
boost::json::object openai_usage(const boost::json::object& anthropic_usage);

// A whole Anthropic message as a chat.completion (the model the client named).
std::string message_to_completion(std::string_view anthropic_message, const ChatInfo& info, std::string_view id,
                                  int64_t created);

// An Anthropic error answer as OpenAI's {"error":{message,type,param,code}}; `status` becomes
// the one to send.
std::string openai_error_body(unsigned& status, std::string_view anthropic_error);

class ChatStream {
 public:
  ChatStream(ChatInfo info, std::string id, int64_t created);
  // Anthropic SSE bytes, split anywhere; returns the OpenAI lines they complete.
  std::string feed(std::string_view anthropic_sse);
  // The stream's end: an error line if it ended without message_stop, then [DONE] (once).
  std::string finish();
  bool done() const { return done_; }

 private:
  void event(std::string_view data, std::string& out);
  void chunk(boost::json::object delta, std::string& out, const char* finish = nullptr);
  void error_line(std::string_view type, std::string_view message, std::string& out);

  ChatInfo info_;
  std::string id_;
  int64_t created_;
  SseLines lines_;
  std::string data_;                    // the data lines of the event being read
  std::map<int64_t, int64_t> tool_of_;  // Anthropic block index -> OpenAI tool-call index
  int64_t next_tool_ = 0;
  boost::json::object usage_;           // Anthropic usage as it grows
  bool done_ = false;
};

}  // namespace crs::openai
