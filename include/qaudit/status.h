// Status and Result<T>: how every qaudit library function reports failure.
//
// No exceptions cross the library API. A function that can fail on user data (a bad
// model file, an unsupported op, a missing input) returns Status or Result<T>, whose
// message names the file, op, tensor and offending value. Invariants that only a bug can
// break are debug asserts instead.
#ifndef QAUDIT_STATUS_H_
#define QAUDIT_STATUS_H_

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace qaudit {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad user input: a malformed model, a wrong .npy, a bad flag value
  kUnsupported,      // well-formed input qaudit cannot handle yet (an op, a dtype)
  kNotFound,         // a named file, tensor or input does not exist
  kIOError,          // the operating system refused a read or write
  kInternal,         // a bug in qaudit
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status Unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status IOError(std::string m) { return {StatusCode::kIOError, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message is "context: message", for adding the file or op name
  // as an error travels up.
  Status WithContext(const std::string& context) const {
    if (ok()) return *this;
    return Status(code_, context + ": " + message_);
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) { assert(!status_.ok()); }  // NOLINT

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace qaudit

#define QAUDIT_CONCAT_INNER_(a, b) a##b
#define QAUDIT_CONCAT_(a, b) QAUDIT_CONCAT_INNER_(a, b)

// Returns from the calling function if `expr` (a Status) is not OK.
#define QAUDIT_RETURN_IF_ERROR(expr)                     \
  do {                                                   \
    ::qaudit::Status qaudit_status_ = (expr);            \
    if (!qaudit_status_.ok()) return qaudit_status_;     \
  } while (0)

// `QAUDIT_ASSIGN_OR_RETURN(auto x, MakeX());` binds the value or returns the Status.
#define QAUDIT_ASSIGN_OR_RETURN(lhs, expr)                                   \
  auto QAUDIT_CONCAT_(qaudit_result_, __LINE__) = (expr);                    \
  if (!QAUDIT_CONCAT_(qaudit_result_, __LINE__).ok())                        \
    return QAUDIT_CONCAT_(qaudit_result_, __LINE__).status();                \
  lhs = std::move(QAUDIT_CONCAT_(qaudit_result_, __LINE__)).value()

#endif  // QAUDIT_STATUS_H_
