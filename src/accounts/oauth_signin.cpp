#include "accounts/oauth_signin.hpp"

#include "core/crypto.hpp"
#include "store/hash_record.hpp"
#include "upstream/http_call.hpp"

namespace crs::accounts::oauth {

namespace {

std::string session_key(const std::string& session) { return "oauth_session:" + session; }

bool valid_session_id(const std::string& s) {
  return s.size() == 32 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

constexpr std::chrono::milliseconds kTokenTimeout{30000};

// The verifier and state with their expiry, in one transaction: never one without the other.
std::vector<store::RedisCommand> store_session(const std::string& session, const Pkce& pkce) {
  std::vector<store::RedisCommand> commands;
  commands.push_back(store::make_command("MULTI"));
  commands.push_back(store::make_command("HSET", session_key(session), "verifier", pkce.verifier, "state", pkce.state));
  commands.push_back(store::make_command("EXPIRE", session_key(session), std::to_string(kSignInSeconds)));
  commands.push_back(store::make_command("EXEC"));
  return commands;
}

std::string exchange_failure(const upstream::CallResult& answer) {
  std::string code = oauth_error_code(answer.body);
  std::string what = answer.status ? "HTTP " + std::to_string(answer.status) : answer.error;
  return "token exchange failed: " + what + (code.empty() ? "" : " (" + code + ")");
}

}  // namespace

Task<Result<SignIn>> start_sign_in(store::RedisClient& redis, Settings settings) {
  auto pkce = make_pkce();
  SignIn out;
  out.session = crypto::random_hex(16);
  auto commands = store_session(out.session, pkce);
  auto r = co_await redis.pipeline(std::move(commands));
  if (!r || r->back().is_error() || r->back().is_nil()) co_return Error{"cannot store the OAuth session in Redis"};
  out.url = authorization_url(settings, pkce);
  co_return out;
}

Task<Result<TokenAnswer>> finish_sign_in(store::RedisClient& redis, asio::ssl::context& tls, Settings settings,
                                         std::string session, std::string pasted_text, upstream::Proxy proxy) {
  auto pasted = parse_pasted_code(pasted_text);
  if (!pasted) co_return pasted.error();
  if (!valid_session_id(session)) co_return Error{"unknown or expired OAuth session: start the sign-in again"};
  auto stored = co_await redis.command(store::make_command("HGETALL", session_key(session)));
  if (!stored) co_return stored.error();
  auto record = store::to_record(*stored);
  if (record.empty()) co_return Error{"unknown or expired OAuth session: start the sign-in again"};
  if (!pasted->state.empty() && !crypto::equal_constant_time(pasted->state, record["state"]))
    co_return Error{"the pasted state does not belong to this sign-in"};
  std::string request = exchange_request_json(settings, pasted->code, record["verifier"], record["state"]);
  auto executor = co_await asio::this_coro::executor;
  auto answer = co_await upstream::post_json(executor, tls, settings.token_url, request, proxy, kTokenTimeout);
  if (answer.status != 200) {
    std::string failure = exchange_failure(answer);
    co_return Error{failure};
  }
  auto tokens = parse_token_answer(answer.body, now_ms());
  // Codes are single-use; a session the DEL misses expires with its TTL.
  if (tokens) (void)co_await redis.command(store::make_command("DEL", session_key(session)));
  co_return tokens;
}

}  // namespace crs::accounts::oauth
