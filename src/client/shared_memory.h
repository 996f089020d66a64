// SealedMemfd: the client's half of shared memory with kvtierd. A memfd of whole pages, sealed so
// that its size can never change, and mapped shared into this process. The daemon maps the same
// pages (its fd arrives with SCM_RIGHTS in SHM_REGISTER) and reads and writes block values there.
//
// Why the seals: the daemon refuses a memfd without F_SEAL_SHRINK, since a client that shrank the
// file under the daemon's mapping would make the daemon's next access fault (SIGBUS).
// F_SEAL_GROW keeps the size the daemon was told true, and F_SEAL_SEAL stops anyone holding the
// fd from removing the seals again.
//
// Thread-safety: a move-only value; the mapping may be read and written from any thread.
#pragma once

#include <cstddef>
#include <span>

#include "kvtier/status.h"

namespace kvtier::client {

// Seals every region carries: F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL.
int required_memfd_seals();

class SealedMemfd {
 public:
  // memfd_create("kvtier-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING), ftruncate to `bytes` rounded up
  // to 4 KiB, the seals above, then mmap(MAP_SHARED, read-write). InvalidArgument for 0 bytes,
  // IOError naming the failed step otherwise.
  static Result<SealedMemfd> create(std::size_t bytes);

  SealedMemfd() = default;
  ~SealedMemfd();
  SealedMemfd(SealedMemfd&& other) noexcept;
  SealedMemfd& operator=(SealedMemfd&& other) noexcept;
  SealedMemfd(const SealedMemfd&) = delete;
  SealedMemfd& operator=(const SealedMemfd&) = delete;

  // The memfd; -1 after close_fd(). The mapping does not need it.
  int fd() const { return fd_; }
  // Closes the fd once the daemon holds its own copy; the mapping stays.
  void close_fd();
  // The mapped pages (size() is a multiple of 4 KiB); empty for a default-constructed value.
  std::span<std::byte> memory() const { return {base_, size_}; }

 private:
  void release();

  int fd_ = -1;
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace kvtier::client
