#pragma once
// The kinds built into the relay. Each is defined in its own file; builtin.cpp registers them.
#include <memory>

#include "adapters/adapter.hpp"

namespace crs::adapters {

std::unique_ptr<Adapter> make_claude_console_adapter();  // claude_console.cpp
std::unique_ptr<Adapter> make_claude_oauth_adapter();    // claude_oauth.cpp
std::unique_ptr<Adapter> make_bedrock_adapter();         // bedrock.cpp
std::unique_ptr<Adapter> make_openai_compatible_adapter();  // openai_compatible.cpp

}  // namespace crs::adapters
