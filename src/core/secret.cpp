#include "core/secret.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace crs {
namespace {

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
         c == '~' || c == '+' || c == '/' || c == '=';
}

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

bool starts_with_icase(std::string_view text, size_t pos, std::string_view prefix) {
  if (text.size() - pos < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[pos + i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  }
  return true;
}

// Replaces text[begin, end) with its mask; returns the index just after the replacement.
size_t mask_range(std::string& text, size_t begin, size_t end) {
  std::string masked = mask_secret(std::string_view(text).substr(begin, end - begin));
  text.replace(begin, end - begin, masked);
  return begin + masked.size();
}

size_t token_end(const std::string& text, size_t pos) {
  while (pos < text.size() && is_token_char(text[pos])) ++pos;
  return pos;
}

}  // namespace

std::string mask_secret(std::string_view secret) {
  if (secret.empty()) return {};
  if (secret.size() < 12) return "***";
  size_t head = secret.size() >= 24 ? 6 : 3;
  return std::string(secret.substr(0, head)) + "..." + std::string(secret.substr(secret.size() - 4));
}

bool is_secret_name(std::string_view name) {
  std::string n(name);
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  n.erase(std::remove_if(n.begin(), n.end(), [](char c) { return c == '_' || c == '-' || c == '.'; }),
          n.end());
  static constexpr std::array<std::string_view, 10> kParts = {
      "password", "passwd", "secret", "apikey", "authorization", "encryptionkey",
      "credential", "cookie", "privatekey", "webhook"};
  for (auto part : kParts)
    if (n.find(part) != std::string::npos) return true;
  if (n == "pass" || n.ends_with("pass") || n == "auth") return true;
  // "accessToken", "refresh_token", "token" are secrets; "output_tokens" counts are not.
  auto t = n.rfind("token");
  return t != std::string::npos && t + 5 == n.size();
}

void redact_secrets(std::string& text) {
  size_t i = 0;
  while (i < text.size()) {
    // Relay keys and Anthropic credentials, wherever they appear.
    if ((starts_with_icase(text, i, "cr_") || starts_with_icase(text, i, "sk-ant-")) &&
        (i == 0 || !is_name_char(text[i - 1]))) {
      size_t end = token_end(text, i);
      if (end - i >= 16) {
        i = mask_range(text, i, end);
        continue;
      }
    }
    bool bearer = starts_with_icase(text, i, "bearer ");
    if ((bearer || starts_with_icase(text, i, "basic ")) && (i == 0 || !is_name_char(text[i - 1]))) {
      size_t begin = i + (bearer ? 7 : 6);
      size_t end = token_end(text, begin);
      if (end - begin >= 8) {
        i = mask_range(text, begin, end);
        continue;
      }
    }
    // scheme://user:password@host
    if (starts_with_icase(text, i, "://")) {
      size_t at = text.find('@', i + 3);
      size_t stop = text.find_first_of(" /\"'\n", i + 3);
      if (at != std::string::npos && (stop == std::string::npos || at < stop)) {
        size_t colon = text.find(':', i + 3);
        if (colon != std::string::npos && colon < at && at > colon + 1) {
          text.replace(colon + 1, at - colon - 1, "***");
          i = colon + 4;
          continue;
        }
      }
    }
    // name=value, name: value, "name":"value" where the name is a secret's name.
    if (is_name_char(text[i]) && (i == 0 || !is_name_char(text[i - 1]))) {
      size_t name_end = i;
      while (name_end < text.size() && is_name_char(text[name_end])) ++name_end;
      std::string_view name(text.data() + i, name_end - i);
      if (is_secret_name(name)) {
        size_t p = name_end;
        if (p < text.size() && (text[p] == '"' || text[p] == '\'')) ++p;
        while (p < text.size() && text[p] == ' ') ++p;
        if (p < text.size() && (text[p] == '=' || text[p] == ':')) {
          ++p;
          while (p < text.size() && text[p] == ' ') ++p;
          char quote = 0;
          if (p < text.size() && (text[p] == '"' || text[p] == '\'')) quote = text[p++];
          if (starts_with_icase(text, p, "bearer ") || starts_with_icase(text, p, "basic ")) {
            i = p;  // the scheme branch masks the credential after the scheme word
            continue;
          }
          size_t end = p;
          if (quote) {
            while (end < text.size() && text[end] != quote) {
              if (text[end] == '\\' && end + 1 < text.size()) ++end;
              ++end;
            }
          } else {
            while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end])) &&
                   text[end] != ',' && text[end] != '&' && text[end] != ';' && text[end] != '}')
              ++end;
          }
          // Numbers, booleans and null are not secrets ("tokenLimit": 0 stays readable).
          std::string_view value(text.data() + p, end - p);
          bool plain = value.empty() || value == "null" || value == "true" || value == "false" ||
                       std::all_of(value.begin(), value.end(), [](char c) {
                         return std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-';
                       });
          if (!plain && value != "***" && value.find("...") == std::string_view::npos) {
            text.replace(p, end - p, "***");
            end = p + 3;
          }
          i = end;
          continue;
        }
      }
      i = name_end;
      continue;
    }
    ++i;
  }
}

}  // namespace crs
