#pragma once
#include <string>
#include <utility>
#include <variant>

namespace crs {

// An error that carries a human-readable message for logs and clients (never a secret).
struct Error {
  std::string message;
};

// A value or an Error. `std::expected` is not available with GCC 12 in C++20 mode.
template <class T>
class [[nodiscard]] Result {
 public:
  Result() : v_(Error{"no result"}) {}                  // for APIs that need default construction
  Result(T value) : v_(std::move(value)) {}            // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}        // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;

}  // namespace crs
