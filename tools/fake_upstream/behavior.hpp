#pragma once
// What the fake upstream does with one request. Chosen per request (header x-fake-behavior)
// or scripted per credential through POST /_fake/behaviors; see tools/fake_upstream/README.md.
#include <cstdint>
#include <optional>
#include <string>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace crs::fake {

struct Behavior {
  int status = 200;                 // non-2xx: an error response instead of a message
  std::string error_type;           // default from the status (rate_limit_error, ...)
  std::string error_message;
  bool html_error = false;          // error body as an HTML page (an edge proxy's 502)
  std::string content_type;         // a 200 answer's Content-Type instead of JSON's (a hostile upstream)
  int retry_after = -1;             // seconds, on errors; -1 = none
  int unified_reset_in = -1;        // 429: the subscription window is exhausted and resets this many s ahead
  std::optional<bool> should_retry; // x-should-retry on errors (default: only 429s say true)
  int latency_ms = 0;               // before the response headers
  int first_event_delay_ms = 0;     // stream: after the headers, before the first event
  int drip_ms = 0;                  // stream: between events
  int deltas = 3;                   // text deltas in the answer
  std::string text = "word";        // each delta is "<text><n> "
  int text_repeat = 1;              // <text> that many times over (one huge event: a large N)
  bool reset_before_response = false;  // reset the TCP connection instead of answering
  int stall_after_events = -1;      // stream: stop after N events, keep the connection open
  int reset_after_events = -1;      // stream: reset the TCP connection after N events
  int reset_in_event = -1;          // stream: half of event N written, then a reset
  int error_after_events = -1;      // stream: an overloaded error event after N events, then end
  int stall_ms = 600000;            // how long a stall lasts (ends early if the client leaves)
  int chunk_bytes = 0;              // stream: split writes into pieces of N bytes (0 = per event)
  bool crlf = false;                // stream: \r\n line endings
  std::optional<int64_t> input_tokens;       // default: body bytes / 4
  std::optional<int64_t> output_tokens;      // default: 3 per delta
  int64_t cache_creation_input_tokens = 0;
  int64_t cache_read_input_tokens = 0;
  int64_t cache_creation_1h_tokens = 0;  // the one-hour part of the cache writes (the rest: 5-minute)
  int64_t web_search_requests = 0;       // server_tool_use, in the final usage
  bool restate_input_in_delta = false;   // message_delta restates the input fields (no TTL breakdown)
  std::string served_model;              // the answer's "model" (default: the one asked for)
  std::string utilization_5h;            // anthropic-ratelimit-unified-5h-utilization on success ("" = none)
  std::string utilization_7d;            // ...-7d-utilization
  // After the text, a tool call: {"name":..., "input":{...}}; the stream sends its input as
  // two input_json_delta fragments cut inside the JSON, and the answer stops with tool_use.
  std::optional<boost::json::object> tool_use;
  bool omit_usage = false;           // OpenAI-compatible routes: no usage in the answer or the stream
  // Bedrock routes only (bedrock_routes.cpp):
  std::string bedrock_error;        // the x-amzn-ErrorType of an error status (default: from the status)
  int exception_after_events = -1;  // stream: an exception frame after N events, then end
  std::string exception_type = "throttlingException";
  int corrupt_crc_at_event = -1;    // stream: the frame of event N has a bad CRC
  int truncate_after_events = -1;   // stream: half of the frame of event N, then a clean end
};

// Reads the fields present in `json` over the defaults; returns an error text on bad input.
std::string parse_behavior(const boost::json::value& json, Behavior& out);

}  // namespace crs::fake
