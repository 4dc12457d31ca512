// What an admin pastes after signing in with Claude: "code#state" or the whole callback URL
// (accounts/oauth parse_pasted_code). Never a crash; an accepted code is only the characters
// an authorization code has (it goes into the token request as it is); a well-formed
// "code#state" gives back exactly its code and state.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string>

#include "accounts/oauth.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string pasted(reinterpret_cast<const char*>(data), size);
  auto parsed = crs::accounts::oauth::parse_pasted_code(pasted);
  if (parsed) {
    FUZZ_CHECK(parsed->code.size() >= 10, "a short code accepted");
    for (char c : parsed->code)
      FUZZ_CHECK(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-', "a code with other characters");
  }
  // The input's first half as a code, the rest as a state.
  std::string code = pasted.substr(0, pasted.size() / 2), state = pasted.substr(pasted.size() / 2);
  bool code_ok = code.size() >= 10 && std::all_of(code.begin(), code.end(), [](char c) {
                   return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
                 });
  bool state_plain = state.find('#') == std::string::npos &&
                     std::none_of(state.begin(), state.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
  if (code_ok && state_plain) {
    auto both = crs::accounts::oauth::parse_pasted_code(code + "#" + state);
    FUZZ_CHECK(both && both->code == code && both->state == state, "code#state not read back as written");
  }
  return 0;
}
