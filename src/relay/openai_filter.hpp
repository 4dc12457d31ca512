#pragma once
// What an OpenAI client reads of an exchange the relay answers in Anthropic's shape: every
// response, the relay's own refusals included, goes through this filter (http ResponseFilter).
// A 2xx message becomes a chat.completion, a stream of Anthropic events chat.completion.chunk
// lines, and an error OpenAI's error object (openai/chat_answer.hpp).
#include <optional>
#include <string>

#include "http/exchange.hpp"
#include "openai/chat_answer.hpp"

namespace crs::relay {

class ChatAnswerFilter final : public http_server::ResponseFilter {
 public:
  enum class Mode { Chat, ErrorsOnly };  // ErrorsOnly: a 2xx passes as it is (the model list)
  ChatAnswerFilter(Mode mode, std::string id, int64_t created);

  openai::ChatInfo info;  // what the request asked, set once it is translated

  void whole(http::response<http::string_body>& response) override;
  void head(http::response<http::empty_body>& header) override;
  std::string_view chunk(std::string_view anthropic_sse) override;
  std::string_view tail() override;

 private:
  Mode mode_;
  std::string id_;
  int64_t created_;
  std::optional<openai::ChatStream> stream_;
  std::string out_;  // the last chunk's translation
};

// The filter for an exchange: "chatcmpl-" and its request id, the time now.
std::unique_ptr<ChatAnswerFilter> chat_answer_filter(const http_server::Exchange& ex, ChatAnswerFilter::Mode mode);

}  // namespace crs::relay
