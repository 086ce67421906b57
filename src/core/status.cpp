// Status helpers.
#include "nnport/status.hpp"

namespace nnport {

const char* status_code_name(StatusCode code) {
    switch (code) {
        case StatusCode::kOk: return "ok";
        case StatusCode::kInvalidArgument: return "invalid argument";
        case StatusCode::kInvalidModel: return "invalid model";
        case StatusCode::kUnsupported: return "unsupported";
        case StatusCode::kOutOfRange: return "out of range";
        case StatusCode::kIoError: return "i/o error";
        case StatusCode::kInternal: return "internal error";
    }
    return "unknown";
}

std::string Status::to_string() const {
    if (is_ok()) return "ok";
    return std::string(status_code_name(code_)) + ": " + message_;
}

Status Status::with_context(const std::string& prefix) const {
    if (is_ok()) return *this;
    return Status(code_, prefix + ": " + message_);
}

}  // namespace nnport
