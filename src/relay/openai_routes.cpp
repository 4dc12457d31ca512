// OpenAI Chat Completions clients (the openai SDKs, tools that speak only OpenAI) served by
// the relay's Messages path: the request is translated once it is read, the answer as it goes
// out (openai_filter.hpp). The key needs the "openai" permission.
#include "http/responses.hpp"
#include "openai/chat_request.hpp"
#include "relay/answers.hpp"
#include "relay/front.hpp"
#include "relay/openai_filter.hpp"

namespace crs::relay {
using http_server::Exchange;

namespace {

Front chat_front(ChatAnswerFilter* filter) {
  Front front;
  front.family = "openai";
  front.endpoint = "/v1/chat/completions";
  front.to_messages = [filter](std::string& body) -> std::optional<http_server::Response> {
    auto messages = openai::chat_to_messages(body, filter->info);
    if (!messages) return error(http::status::bad_request, messages.error().message);
    body = std::move(*messages);
    return std::nullopt;
  };
  return front;
}

Task<void> chat_completions(std::shared_ptr<RelayDeps> deps, Exchange& ex) {
  // Before anything answers: a refused key too reads as an OpenAI error.
  auto* filter = ex.set_filter(chat_answer_filter(ex, ChatAnswerFilter::Mode::Chat));
  auto front = chat_front(filter);  // lives in this frame for the whole call
  co_await relay_call(std::move(deps), ex, adapters::Operation::Messages, front);
}

}  // namespace

void register_openai_routes(http_server::Router& router, std::shared_ptr<RelayDeps> deps) {
  http_server::BodyRule after_the_key{0, true};  // as for Messages: no body read before the key
  for (std::string prefix : {"/openai/claude", "/openai", "/api", ""})
    router.add(http::verb::post, prefix + "/v1/chat/completions",
               [deps](Exchange& ex) { return chat_completions(deps, ex); }, after_the_key);
  for (std::string prefix : {"/openai/claude", "/openai"})
    register_model_routes(router, deps, prefix, ModelShape::OpenAi);
}

}  // namespace crs::relay
