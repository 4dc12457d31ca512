#pragma once
// The Bedrock runtime's wire for Anthropic models (spec/bedrock.md): model ids, the request
// body Bedrock takes, its errors in the Anthropic shape and their meaning for the account, and
// its event-stream answers turned back into Anthropic SSE. Pure functions and one reader, so
// they are tested against the spec's examples without a network.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/adapter.hpp"

namespace crs::adapters::bedrock {

// The geography prefix of cross-region inference profiles for a region: "us", "eu", "apac",
// "us-gov", or "global" for the others.
std::string_view geo_of(std::string_view region);

// The Bedrock model id for a model name (§2). An id that already names a Bedrock model (it has
// "anthropic.", or is an ARN) passes as it is; "[1m]" is dropped; a dateless alias of a dated
// model gets its date; then "<geo>.anthropic.<model>-v1:0" (dated) or "-v1" (dateless).
std::string model_id(std::string_view model, std::string_view region);

// The Anthropic name inside a Bedrock id ("us.anthropic.claude-x-20250101-v1:0" -> "claude-x-20250101");
// a name that is not a Bedrock id is returned as it is.
std::string plain_model(std::string_view id);

// POST path of an invocation: the id as one percent-encoded segment.
std::string invoke_path(std::string_view model_id, bool stream);

// The client's anthropic-beta flags Bedrock may take: Anthropic-only ones (oauth-*,
// claude-code-*) dropped, duplicates merged, order kept.
std::vector<std::string> bedrock_betas(const http_server::Request& client);

// The Messages body as Bedrock takes it (§3): anthropic_version and anthropic_beta added;
// model, stream, metadata, service_tier, container, inference_geo and body-level betas removed
// (context_management and output_config unless their beta is on); cache_control reduced to
// type and ttl wherever it is; adaptive thinking made explicit. Built from slices of the
// client's bytes (never re-serialised); an empty result if the body cannot be read.
std::string bedrock_body(std::string& body, const std::vector<std::string>& betas);

// A Bedrock error as the account's verdict (§6) and as the client's answer, in the Anthropic
// shape and status. Messages lose ARNs and 12-digit account ids.
ErrorVerdict classify_error(const UpstreamError& error, int64_t now_ms);
UpstreamError client_error(const UpstreamError& error);

// Reads an answer: a stream of event-stream frames becomes Anthropic SSE (each chunk's event
// as it is, an exception frame an error event that ends it, a corrupt or cut frame an
// api_error); usage comes from the events, else from Bedrock's invocation metrics (streams)
// or its token-count headers (whole answers).
std::unique_ptr<AnswerReader> answer_reader();

}  // namespace crs::adapters::bedrock
