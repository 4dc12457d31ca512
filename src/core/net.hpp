#pragma once
// The one way into Asio and Beast for the whole project. Asio and Beast are compiled once
// (asio_impl.cpp, BOOST_*_SEPARATE_COMPILATION), so including this header stays cheap enough.
#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace crs {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

template <class T = void>
using Task = asio::awaitable<T>;

// `co_await op(..., use_nothrow)` yields a tuple (error_code, results...) instead of throwing.
inline constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
}  // namespace crs
