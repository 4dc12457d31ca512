#include "accounts/oauth.hpp"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/parse_query.hpp>
#include <boost/url/url.hpp>

#include "core/crypto.hpp"

namespace crs::accounts::oauth {
namespace json = boost::json;

std::string challenge_for(const std::string& verifier) { return crypto::base64url(crypto::sha256_raw(verifier)); }

Pkce make_pkce() {
  Pkce p;
  p.verifier = crypto::base64url(crypto::random_bytes(32));
  p.challenge = challenge_for(p.verifier);
  p.state = crypto::base64url(crypto::random_bytes(32));
  return p;
}

std::string authorization_url(const Settings& s, const Pkce& pkce) {
  boost::urls::url u(s.authorize_url);
  auto params = u.params();
  params.append({"code", "true"});
  params.append({"client_id", s.client_id});
  params.append({"response_type", "code"});
  params.append({"redirect_uri", s.redirect_uri});
  params.append({"scope", s.scopes});
  params.append({"code_challenge", pkce.challenge});
  params.append({"code_challenge_method", "S256"});
  params.append({"state", pkce.state});
  return std::string(u.buffer());
}

Result<PastedCode> parse_pasted_code(const std::string& pasted) {
  std::string text = pasted;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.erase(0, 1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  PastedCode out;
  if (text.starts_with("http://") || text.starts_with("https://")) {
    auto u = boost::urls::parse_uri(text);
    if (!u) return Error{"the pasted URL cannot be parsed"};
    // The query read on its own: Boost.URL 1.81's url_view::params() recurses without end on
    // an empty query before a fragment ("https://x?#y"), which fuzzing found.
    std::string query(u->encoded_query());
    auto params = boost::urls::parse_query(query);
    if (!params) return Error{"the pasted URL cannot be parsed"};
    for (auto p : *params) {
      if (p.key == "code") out.code = p.value.decode();
      if (p.key == "state") out.state = p.value.decode();
    }
    if (out.code.empty()) return Error{"the pasted URL has no code parameter"};
  } else {
    auto hash = text.find('#');
    out.code = text.substr(0, hash);
    if (hash != std::string::npos) out.state = text.substr(hash + 1);
    if (auto amp = out.code.find('&'); amp != std::string::npos) out.code.erase(amp);
  }
  if (out.code.size() < 10) return Error{"the authorization code is too short"};
  for (char c : out.code)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-')
      return Error{"the authorization code has unexpected characters"};
  return out;
}

std::string exchange_request_json(const Settings& s, const std::string& code, const std::string& verifier,
                                  const std::string& state) {
  return json::serialize(json::object{{"grant_type", "authorization_code"},
                                      {"client_id", s.client_id},
                                      {"code", code},
                                      {"redirect_uri", s.redirect_uri},
                                      {"code_verifier", verifier},
                                      {"state", state}});
}

std::string refresh_request_json(const Settings& s, const std::string& refresh_token) {
  return json::serialize(json::object{
      {"grant_type", "refresh_token"}, {"refresh_token", refresh_token}, {"client_id", s.client_id}});
}

Result<TokenAnswer> parse_token_answer(const std::string& body, int64_t now_ms) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) return Error{"token endpoint answered something that is not JSON"};
  const auto& o = v.get_object();
  auto str = [&](const json::object& obj, const char* name) {
    auto* f = obj.if_contains(name);
    return f && f->is_string() ? std::string(f->get_string()) : std::string();
  };
  TokenAnswer t;
  t.credentials.access_token = str(o, "access_token");
  t.credentials.refresh_token = str(o, "refresh_token");
  if (t.credentials.access_token.empty()) return Error{"token endpoint answer has no access_token"};
  int64_t expires_in = 3600;
  if (auto* e = o.if_contains("expires_in"); e && e->is_number()) expires_in = e->to_number<int64_t>();
  t.credentials.expires_at_ms = now_ms + expires_in * 1000;
  t.scope = str(o, "scope");
  if (auto* a = o.if_contains("account"); a && a->is_object()) t.email = str(a->get_object(), "email_address");
  return t;
}

std::string oauth_error_code(const std::string& body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) return {};
  auto* e = v.get_object().if_contains("error");
  return e && e->is_string() ? std::string(e->get_string()) : std::string();
}

}  // namespace crs::accounts::oauth
