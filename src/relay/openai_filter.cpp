#include "relay/openai_filter.hpp"

#include <ctime>

namespace crs::relay {

ChatAnswerFilter::ChatAnswerFilter(Mode mode, std::string id, int64_t created)
    : mode_(mode), id_(std::move(id)), created_(created) {}

void ChatAnswerFilter::whole(http::response<http::string_body>& res) {
  unsigned status = res.result_int();
  if (status >= 200 && status < 300) {
    if (mode_ == Mode::Chat) res.body() = openai::message_to_completion(res.body(), info, id_, created_);
    return;
  }
  res.body() = openai::openai_error_body(status, res.body());
  res.result(status);
  res.set(http::field::content_type, "application/json");
}

void ChatAnswerFilter::head(http::response<http::empty_body>&) { stream_.emplace(info, id_, created_); }

std::string_view ChatAnswerFilter::chunk(std::string_view anthropic_sse) {
  if (!stream_) return anthropic_sse;
  out_ = stream_->feed(anthropic_sse);
  return out_;
}

std::string_view ChatAnswerFilter::tail() {
  if (!stream_) return {};
  out_ = stream_->finish();
  return out_;
}

std::unique_ptr<ChatAnswerFilter> chat_answer_filter(const http_server::Exchange& ex, ChatAnswerFilter::Mode mode) {
  return std::make_unique<ChatAnswerFilter>(mode, "chatcmpl-" + ex.request_id(), static_cast<int64_t>(std::time(nullptr)));
}

}  // namespace crs::relay
