// Errors as values at module boundaries: Status (ok or a message) and Expected<T>.
// Core code never throws; a failure is a sentence that names the thing and the value.
#pragma once
#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace cnnlens {

// Broad kind of failure; the message carries the detail a user needs.
enum class ErrorCode {
    kOk = 0,
    kInvalidArgument,
    kNotFound,
    kUnsupported,
    kCorrupt,
    kOutOfRange,
    kCancelled,
    kInternal
};

class [[nodiscard]] Status {
public:
    Status() = default;
    Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
    static Status ok() { return Status(); }

    bool is_ok() const { return code_ == ErrorCode::kOk; }
    explicit operator bool() const { return is_ok(); }
    ErrorCode code() const { return code_; }
    const std::string& message() const { return message_; }

private:
    ErrorCode code_ = ErrorCode::kOk;
    std::string message_;
};

inline Status invalid_argument(std::string m) {
    return Status(ErrorCode::kInvalidArgument, std::move(m));
}
inline Status not_found(std::string m) { return Status(ErrorCode::kNotFound, std::move(m)); }
inline Status unsupported(std::string m) { return Status(ErrorCode::kUnsupported, std::move(m)); }
inline Status corrupt(std::string m) { return Status(ErrorCode::kCorrupt, std::move(m)); }
inline Status out_of_range(std::string m) { return Status(ErrorCode::kOutOfRange, std::move(m)); }
inline Status cancelled(std::string m) { return Status(ErrorCode::kCancelled, std::move(m)); }

// A value or the Status saying why there is none.
template <typename T>
class [[nodiscard]] Expected {
public:
    Expected(T value) : v_(std::move(value)) {}
    Expected(Status error) : v_(std::move(error)) { assert(!std::get<Status>(v_).is_ok()); }

    bool has_value() const { return v_.index() == 0; }
    explicit operator bool() const { return has_value(); }
    T& value() & {
        assert(has_value());
        return std::get<0>(v_);
    }
    const T& value() const& {
        assert(has_value());
        return std::get<0>(v_);
    }
    T&& value() && {
        assert(has_value());
        return std::get<0>(std::move(v_));
    }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const Status& status() const {
        static const Status ok_status;
        return has_value() ? ok_status : std::get<1>(v_);
    }

private:
    std::variant<T, Status> v_;
};

}  // namespace cnnlens

// Early return of a failed Status from a function returning Status or Expected<T>.
#define CNNLENS_RETURN_IF_ERROR(expr)   \
    do {                                \
        ::cnnlens::Status _st = (expr); \
        if (!_st.is_ok()) return _st;   \
    } while (0)
