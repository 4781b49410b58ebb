// A value or the reason there is none, for expected failures (a refused token, a database that is
// down): instead of `optional` plus a `std::string& error` out-parameter. Exceptions stay for the
// truly exceptional. The error carries an HTTP-like code so an edge can turn it into a Status.
#pragma once
#include <string>
#include <utility>
#include <variant>

namespace sluice::common {

struct Error {
  int code = 500;       // as in a Kubernetes Status: 503 unavailable, 400 bad input, ...
  std::string message;  // a sentence a person can act on; never a secret
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit, so `return value;` works
  Result(Error error) : v_(std::move(error)) {}
  static Result fail(int code, std::string message) { return Result(Error{code, std::move(message)}); }

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const T& value() const& { return std::get<0>(v_); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// For an operation that has no value, only success or an error: Result<Done>.
struct Done {};

}  // namespace sluice::common
