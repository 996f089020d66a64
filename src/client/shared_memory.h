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
#include <memory>
#include <span>

#include "kvtier/status.h"
#include "posix/unique_fd.h"

namespace kvtier::client {

// Seals every region carries: F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL.
int required_memfd_seals();

// Move-only: the last owner closes the fd and unmaps the pages.
class SealedMemfd {
 public:
  // memfd_create("kvtier-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING), ftruncate to `bytes` rounded up
  // to 4 KiB, the seals above, then mmap(MAP_SHARED, read-write). InvalidArgument for 0 bytes,
  // IOError naming the failed step otherwise.
  static Result<SealedMemfd> create(std::size_t bytes);

  // The memfd; -1 after close_fd(). The mapping does not need it.
  int fd() const { return fd_.get(); }
  // Closes the fd once the daemon holds its own copy; the mapping stays.
  void close_fd() { fd_.reset(); }
  // The mapped pages (size() is a multiple of 4 KiB); empty for a default-constructed value.
  std::span<std::byte> memory() const {
    return {mapping_.get(), mapping_ ? mapping_.get_deleter().size : 0};
  }

 private:
  struct Unmap {
    std::size_t size;  // of the mapping
    void operator()(std::byte* base) const;
  };

  UniqueFd fd_;
  std::unique_ptr<std::byte, Unmap> mapping_;  // declared after fd_: unmapped before it closes
};

}  // namespace kvtier::client
