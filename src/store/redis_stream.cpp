#include "store/redis_stream.hpp"

namespace crs::store {

Result<std::shared_ptr<asio::ssl::context>> redis_tls_context(const RedisOptions& o) {
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  context->set_options(asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  context->set_verify_mode(asio::ssl::verify_peer);
  beast::error_code ec;
  context->set_default_verify_paths(ec);
  if (!o.tls_ca_file.empty() && (context->load_verify_file(o.tls_ca_file, ec), ec))
    return Error{"redis.tlsCaFile " + o.tls_ca_file + ": " + ec.message()};
  if (!o.tls_cert_file.empty() && (context->use_certificate_chain_file(o.tls_cert_file, ec), ec))
    return Error{"redis.tlsCertFile " + o.tls_cert_file + ": " + ec.message()};
  if (!o.tls_key_file.empty() && (context->use_private_key_file(o.tls_key_file, asio::ssl::context::pem, ec), ec))
    return Error{"redis.tlsKeyFile " + o.tls_key_file + ": " + ec.message()};
  return context;
}

}  // namespace crs::store
