#include "relay/upstream_errors.hpp"

#include <boost/json.hpp>

namespace crs::relay {
namespace json = boost::json;
namespace {

// A known message, whole, with or without its closing full stop. A message that quotes the
// client's input is always longer than the phrase, so it never matches.
bool is_message(std::string_view message, std::string_view known) {
  if (message.ends_with('.')) message.remove_suffix(1);
  return message == known;
}

}  // namespace

ErrorFacts parse_error_body(std::string_view body) {
  ErrorFacts facts;
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) return facts;
  auto* err = v.get_object().if_contains("error");
  if (!err || !err->is_object()) return facts;
  if (auto* t = err->get_object().if_contains("type"); t && t->is_string()) facts.type = t->get_string();
  if (auto* m = err->get_object().if_contains("message"); m && m->is_string()) facts.message = m->get_string();
  return facts;
}

UpstreamVerdict classify_upstream_error(unsigned status, const ErrorFacts& facts, bool oauth, bool oauth_refreshed) {
  switch (status) {
    case 400:
      // The one 400 that is about the account: a banned organisation, by its exact message.
      if (is_message(facts.message, "This organization has been disabled")) return UpstreamVerdict::Unauthorized;
      return UpstreamVerdict::ClientFault;
    case 401:
      return oauth && !oauth_refreshed ? UpstreamVerdict::RefreshOauth : UpstreamVerdict::Unauthorized;
    case 402:
      return facts.type == "billing_error" ? UpstreamVerdict::Failing : UpstreamVerdict::ClientFault;
    case 403:
      if (is_message(facts.message, "OAuth authentication is currently not allowed for this organization"))
        return UpstreamVerdict::Unauthorized;
      return UpstreamVerdict::Failing;
    case 429:
      // "Extra usage" is not a rate limit: the plan lacks extra usage for this request
      // (long context, spec/claude-oauth.md §6.4). A 429 message never quotes the request.
      if (facts.message.starts_with("Extra usage")) return UpstreamVerdict::ClientFault;
      return UpstreamVerdict::RateLimited;
    case 529:
      return UpstreamVerdict::Overloaded;
    default:
      return status >= 500 ? UpstreamVerdict::Failing : UpstreamVerdict::ClientFault;
  }
}

}  // namespace crs::relay
