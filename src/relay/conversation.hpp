#pragma once
// Which conversation a request belongs to, for sticky sessions (spec/crs-compat.md, "Sticky
// sessions"), in this order: the session part of metadata.user_id (Claude Code sends
// "user_<hex>_account_<uuid>_session_<uuid>", newer versions a JSON object with session_id);
// else, from the second turn on (two messages or more), the cache-controlled system text, else
// the whole system text, with the first message's text; else the first message's text. Per key.
// The result is a SHA-256 (hex) of what identified it, "" when nothing did.
#include <string>
#include <string_view>

namespace crs::relay {

// `user_id`: metadata.user_id as read with the other fields ("" if absent). The body is read
// again only when it is empty (Claude Code always sends one).
std::string conversation_of(std::string& body, std::string_view user_id, std::string_view key_id);

// The session part of a metadata.user_id, "" if it has none.
std::string session_part(std::string_view user_id);

}  // namespace crs::relay
