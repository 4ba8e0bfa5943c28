#pragma once
// result<T>: a value or an error, for the message path where exceptions are not used (STYLE.md).
// A small stand-in for C++23 std::expected, which g++ 12's library does not ship.

#include <string>
#include <utility>
#include <variant>

namespace omni::core {

// What went wrong, in words an operator can act on. `field` names the input field at fault (a JSON
// path such as "customer.identities[1].value") when there is one.
struct error {
  std::string message;
  std::string field;

  std::string to_string() const { return field.empty() ? message : field + ": " + message; }
};

template <typename T>
class [[nodiscard]] result {
 public:
  result(T value)
      : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  result(error err)
      : state_(std::in_place_index<1>, std::move(err)) {}  // NOLINT: implicit by design

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const error& err() const { return std::get<1>(state_); }

 private:
  std::variant<T, error> state_;
};

}  // namespace omni::core
