// Status names and formatting.
#include "kvtier/status.h"

#include <cerrno>
#include <cstring>

namespace kvtier {

std::string_view status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kNotFound: return "not_found";
    case StatusCode::kInvalidArgument: return "invalid_argument";
    case StatusCode::kBufferTooSmall: return "buffer_too_small";
    case StatusCode::kNoSpace: return "no_space";
    case StatusCode::kBusy: return "busy";
    case StatusCode::kCorruption: return "corruption";
    case StatusCode::kIOError: return "io_error";
    case StatusCode::kTooLarge: return "too_large";
    case StatusCode::kClosed: return "closed";
    case StatusCode::kRejected: return "rejected";
  }
  return "unknown";
}

Status Status::FromErrno(std::string_view what, int err) {
  std::string m(what);
  m += ": ";
  m += std::strerror(err);
  StatusCode code = (err == ENOSPC || err == EFBIG || err == EDQUOT) ? StatusCode::kNoSpace
                                                                     : StatusCode::kIOError;
  return {code, std::move(m)};
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  std::string s(status_code_name(code_));
  if (!message_.empty()) {
    s += ": ";
    s += message_;
  }
  return s;
}

}  // namespace kvtier
