// DataDirLock: one kvtierd per data directory. An flock on <data_dir>/kvtierd.lock, held for the
// daemon's life and released by the kernel if it dies, so a crash never leaves a stale lock; the
// file records the holder's pid for the message a second daemon prints.
//
// Thread-safety: a value owned by the Server.
#pragma once

#include <memory>
#include <string>

#include "kvtier/status.h"
#include "posix/unique_fd.h"

namespace kvtier::server {

class DataDirLock {
 public:
  // Busy, naming the other daemon's pid, when another process holds it.
  static Result<std::unique_ptr<DataDirLock>> acquire(const std::string& data_dir);

 private:
  explicit DataDirLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace kvtier::server
