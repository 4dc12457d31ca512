#pragma once
// The API a client speaks to the relay. Messages is the relay's own; another (OpenAI Chat
// Completions, openai_routes.cpp) is a front door onto the same steps: its request is turned
// into a Messages body as soon as it is read, and an ResponseFilter on the exchange turns every
// answer back. Limits, scheduling, sticky sessions, health and metering then judge exactly the
// Messages request that goes upstream.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/adapter.hpp"
#include "http/exchange.hpp"
#include "keys/api_key.hpp"
#include "relay/relay.hpp"

namespace crs::relay {

struct Front {
  std::string_view family = "claude";          // the key permission the route needs
  std::string_view endpoint = "/v1/messages";  // the usage events' endpoint
  // Rewrites the body just read into a Messages body; the answer to send if it cannot.
  std::function<std::optional<http_server::Response>(std::string& body)> to_messages;
};

// Messages clients' own front: nothing to translate.
inline const Front kMessagesFront{};

// One relayed request (relay.cpp): authenticate, read and translate the body, check the key's
// rules and limits, then forward with failover. `front` outlives the call (by reference: GCC 12
// destroys a by-value parameter holding a std::function twice in a coroutine).
Task<void> relay_call(std::shared_ptr<RelayDeps> deps, http_server::Exchange& ex, adapters::Operation op,
                      const Front& front);

// GET {prefix}/v1/models and {prefix}/v1/models/:id: the models the key may use through its
// usable accounts (model_routes.cpp). Anthropic: each model carries OpenAI's fields too, as
// CRS's list does, for OpenAI-style clients pointed at an Anthropic prefix.
enum class ModelShape { Anthropic, OpenAi };
void register_model_routes(http_server::Router& router, std::shared_ptr<RelayDeps> deps, const std::string& prefix,
                           ModelShape shape);

// POST /openai/claude/v1/chat/completions and its aliases, GET .../models (openai_routes.cpp).
void register_openai_routes(http_server::Router& router, std::shared_ptr<RelayDeps> deps);

}  // namespace crs::relay
