// Status and Result<T>: how every kvtier API reports errors. No exceptions cross a module boundary.
//
// Thread-safety: Status and Result are plain values; distinct objects may be used from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "kvtier/export.h"

namespace kvtier {

// Each code has one meaning; callers branch on the code, people read the message.
enum class StatusCode : std::uint8_t {
  kOk = 0,
  kNotFound = 1,         // The key is not cached (a miss). Never an error for a cache user.
  kInvalidArgument = 2,  // The caller passed something malformed (bad config, bad size, ...).
  kBufferTooSmall = 3,   // The caller's buffer cannot hold the value; the message names the size.
  kNoSpace = 4,          // A tier or disk is full and nothing could be evicted to make room.
  kBusy = 5,             // Resource is temporarily busy (backpressure, write budget): retry later.
  kCorruption = 6,       // Stored bytes failed verification (checksum, header, format).
  kIOError = 7,          // The operating system reported an I/O error.
  kTooLarge = 8,         // A value exceeds a configured hard limit.
  kClosed = 9,           // The object was closed or is shutting down.
  kRejected = 10,        // A policy declined the request (admission, quota).
};

// Returns a stable lower-case name for a code ("not_found"), used in logs and metrics labels.
KVTIER_API std::string_view status_code_name(StatusCode code);

class [[nodiscard]] KVTIER_API Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status BufferTooSmall(std::string m) { return {StatusCode::kBufferTooSmall, std::move(m)}; }
  static Status NoSpace(std::string m) { return {StatusCode::kNoSpace, std::move(m)}; }
  static Status Busy(std::string m) { return {StatusCode::kBusy, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status IOError(std::string m) { return {StatusCode::kIOError, std::move(m)}; }
  // IOError from an errno value: "<what>: <strerror(err)>".
  static Status FromErrno(std::string_view what, int err);
  static Status TooLarge(std::string m) { return {StatusCode::kTooLarge, std::move(m)}; }
  static Status Closed(std::string m) { return {StatusCode::kClosed, std::move(m)}; }
  static Status Rejected(std::string m) { return {StatusCode::kRejected, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  bool is_not_found() const { return code_ == StatusCode::kNotFound; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "ok" or "<code name>: <message>".
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none.
// Invariant: has_value() == status().ok().
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design, like std::expected
  Result(Status status) : status_(std::move(status)) {}  // NOLINT
  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;  // OK when value_ is set
};

}  // namespace kvtier

// Returns early from the enclosing function when `expr` yields a non-OK Status.
#define KVTIER_RETURN_IF_ERROR(expr)          \
  do {                                        \
    ::kvtier::Status kvtier_status_ = (expr); \
    if (!kvtier_status_.ok()) return kvtier_status_; \
  } while (0)
