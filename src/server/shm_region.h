// SharedMemoryRegion: a client's memfd mapped into kvtierd, the target of GET_MANY_SHM and the
// source of PUT_MANY_SHM. Block bytes move between the store and this memory directly (NVMe reads
// land in it with O_DIRECT when the offset is 4 KiB-aligned); nothing crosses the socket.
//
// Safety: the daemon touches this memory while the client may do anything with its fd. A memfd
// that the client could shrink would make the daemon's access fault (SIGBUS) and crash it, so
// only memfds sealed against shrinking (F_SEAL_SHRINK) are accepted. The client can still change
// the bytes at any time; that only corrupts its own values, which carry no authority here: the
// daemon checksums what it stores.
//
// Thread-safety: immutable after map(); used by the connection's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "kvtier/status.h"
#include "posix/unique_fd.h"

namespace kvtier::server {

class SharedMemoryRegion {
 public:
  // Maps `size` bytes of `memfd` shared and read-write. InvalidArgument when the fd is not a
  // memfd sealed with F_SEAL_SHRINK, is smaller than `size`, or size is 0.
  static Result<std::unique_ptr<SharedMemoryRegion>> map(UniqueFd memfd, std::uint64_t size);
  ~SharedMemoryRegion();
  SharedMemoryRegion(const SharedMemoryRegion&) = delete;
  SharedMemoryRegion& operator=(const SharedMemoryRegion&) = delete;

  std::uint64_t size() const { return size_; }
  // The bytes [offset, offset + length), or InvalidArgument naming the bounds when they are not
  // inside the region (overflow-safe).
  Result<std::span<std::byte>> slice(std::uint64_t offset, std::uint64_t length) const;

 private:
  SharedMemoryRegion(std::byte* base, std::uint64_t size) : base_(base), size_(size) {}
  std::byte* base_;
  std::uint64_t size_;
};

}  // namespace kvtier::server
