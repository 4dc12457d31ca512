#include "adapters/error_class.hpp"

namespace crs::adapters {

std::string_view error_class_name(ErrorClass c) {
  switch (c) {
    case ErrorClass::ClientError: return "client_error";
    case ErrorClass::Unauthorized: return "unauthorized";
    case ErrorClass::Blocked: return "blocked";
    case ErrorClass::RateLimited: return "rate_limited";
    case ErrorClass::BurstRateLimited: return "burst_rate_limited";
    case ErrorClass::Overloaded: return "overloaded";
    case ErrorClass::Refused: return "refused";
    case ErrorClass::ServerError: return "server_error";
    case ErrorClass::Network: return "network";
    case ErrorClass::Timeout: return "timeout";
  }
  return "unknown";
}

ErrorVerdict transport_failure(bool timed_out, std::string reason) {
  return ErrorVerdict{timed_out ? ErrorClass::Timeout : ErrorClass::Network, 0, std::move(reason)};
}

}  // namespace crs::adapters
