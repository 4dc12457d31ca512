#pragma once
// The body of a request as a std::string, like Beast's string_body, except that reading
// appends: string_body grows the string with resize(), which zero-fills every byte just
// before it is overwritten (7% of the relay's CPU with Claude-Code-sized bodies).
#include <string>

#include "core/net.hpp"

namespace crs::http_server {

struct RequestBody {
  using value_type = std::string;
  using writer = http::string_body::writer;

  static std::uint64_t size(const value_type& body) { return body.size(); }

  class reader {
   public:
    template <bool isRequest, class Fields>
    explicit reader(http::header<isRequest, Fields>&, value_type& body) : body_(body) {}

    void init(const boost::optional<std::uint64_t>& length, beast::error_code& ec) {
      ec = {};
      if (!length) return;
      if (*length > body_.max_size()) {
        ec = http::error::buffer_overflow;
        return;
      }
      if (body_.capacity() < *length) body_.reserve(static_cast<size_t>(*length));
    }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
      ec = {};
      size_t added = 0;
      for (auto b : beast::buffers_range_ref(buffers)) {
        if (b.size() > body_.max_size() - body_.size()) {
          ec = http::error::buffer_overflow;
          return added;
        }
        body_.append(static_cast<const char*>(b.data()), b.size());
        added += b.size();
      }
      return added;
    }

    void finish(beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

}  // namespace crs::http_server
