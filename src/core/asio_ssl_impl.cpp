// Separate compilation unit for Asio's TLS support (BOOST_ASIO_SEPARATE_COMPILATION).
#include <utility>

#include <boost/asio/ssl/impl/src.hpp>
