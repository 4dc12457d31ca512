// Separate compilation units for Asio and Beast (see BOOST_*_SEPARATE_COMPILATION in CMake).
#include <utility>

#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
