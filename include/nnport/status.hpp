// Status and Result<T>: the library's error model (no exceptions cross the core).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace nnport {

/// Error categories. Keep short; the message carries the detail.
enum class StatusCode {
    kOk = 0,
    kInvalidArgument,  ///< caller passed something wrong (input tensor, option)
    kInvalidModel,     ///< the model file or graph is malformed
    kUnsupported,      ///< valid, but nnport cannot do it (unknown op, dtype)
    kOutOfRange,       ///< index/size beyond a limit
    kIoError,          ///< file system failure
    kInternal,         ///< a bug in nnport
};

/// Human-readable name of a status code.
const char* status_code_name(StatusCode code);

/// Outcome of an operation: ok, or a code with a message naming file/node/reason.
class [[nodiscard]] Status {
public:
    Status() = default;
    Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

    static Status ok() { return Status(); }
    bool is_ok() const { return code_ == StatusCode::kOk; }
    StatusCode code() const { return code_; }
    const std::string& message() const { return message_; }
    /// "code: message" for logs.
    std::string to_string() const;
    /// Returns a copy with `prefix + ": "` put before the message (adds context going up the stack).
    Status with_context(const std::string& prefix) const;

private:
    StatusCode code_ = StatusCode::kOk;
    std::string message_;
};

inline Status invalid_argument(std::string m) { return Status(StatusCode::kInvalidArgument, std::move(m)); }
inline Status invalid_model(std::string m) { return Status(StatusCode::kInvalidModel, std::move(m)); }
inline Status unsupported(std::string m) { return Status(StatusCode::kUnsupported, std::move(m)); }
inline Status out_of_range(std::string m) { return Status(StatusCode::kOutOfRange, std::move(m)); }
inline Status io_error(std::string m) { return Status(StatusCode::kIoError, std::move(m)); }
inline Status internal_error(std::string m) { return Status(StatusCode::kInternal, std::move(m)); }

/// A value or an error Status.
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : data_(std::move(value)) {}  // NOLINT: implicit by design
    Result(Status status) : data_(std::move(status)) {}  // NOLINT

    bool is_ok() const { return std::holds_alternative<T>(data_); }
    const Status& status() const {
        static const Status kOk;
        return is_ok() ? kOk : std::get<Status>(data_);
    }
    T& value() & { return std::get<T>(data_); }
    const T& value() const& { return std::get<T>(data_); }
    T&& value() && { return std::get<T>(std::move(data_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }

private:
    std::variant<T, Status> data_;
};

}  // namespace nnport

#define NNPORT_CONCAT_INNER(a, b) a##b
#define NNPORT_CONCAT(a, b) NNPORT_CONCAT_INNER(a, b)

/// Returns the Status from the enclosing function if `expr` is not ok.
#define NNPORT_RETURN_IF_ERROR(expr)                      \
    do {                                                  \
        ::nnport::Status _nnport_st = (expr);             \
        if (!_nnport_st.is_ok()) return _nnport_st;       \
    } while (0)

#define NNPORT_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
    auto tmp = (expr);                               \
    if (!tmp.is_ok()) return tmp.status();           \
    lhs = std::move(tmp).value()

/// `NNPORT_ASSIGN_OR_RETURN(auto x, f());` binds x to f()'s value or returns its error.
#define NNPORT_ASSIGN_OR_RETURN(lhs, expr) \
    NNPORT_ASSIGN_OR_RETURN_IMPL(NNPORT_CONCAT(_nnport_res_, __LINE__), lhs, expr)
