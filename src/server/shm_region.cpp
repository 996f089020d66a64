// SharedMemoryRegion (see shm_region.h).
#include "server/shm_region.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cerrno>
#include <string>

namespace kvtier::server {

Result<std::unique_ptr<SharedMemoryRegion>> SharedMemoryRegion::map(UniqueFd memfd,
                                                                    std::uint64_t size) {
  if (size == 0) return Status::InvalidArgument("shared memory region of 0 bytes");
  int seals = ::fcntl(memfd.get(), F_GET_SEALS);
  if (seals < 0) {
    return Status::InvalidArgument(
        "shared memory must be a memfd (memfd_create with MFD_ALLOW_SEALING): F_GET_SEALS failed");
  }
  if ((seals & F_SEAL_SHRINK) == 0) {
    return Status::InvalidArgument(
        "shared memory memfd must be sealed with F_SEAL_SHRINK (a region that can shrink under "
        "the daemon is refused)");
  }
  struct stat st {};
  if (::fstat(memfd.get(), &st) != 0) return Status::FromErrno("fstat(memfd)", errno);
  if (static_cast<std::uint64_t>(st.st_size) < size) {
    return Status::InvalidArgument("shared memory region announces " + std::to_string(size) +
                                   " bytes but its memfd holds " + std::to_string(st.st_size));
  }
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd.get(), 0);
  if (p == MAP_FAILED) return Status::FromErrno("mmap(shared memory region)", errno);
  // The mapping keeps the memory; the memfd closes here, so a region holds no descriptor
  // (fd_limit.h).
  return std::unique_ptr<SharedMemoryRegion>(new SharedMemoryRegion(static_cast<std::byte*>(p), size));
}

SharedMemoryRegion::~SharedMemoryRegion() { ::munmap(base_, size_); }

Result<std::span<std::byte>> SharedMemoryRegion::slice(std::uint64_t offset,
                                                       std::uint64_t length) const {
  if (offset > size_ || length > size_ - offset) {
    return Status::InvalidArgument("bytes [" + std::to_string(offset) + ", +" +
                                   std::to_string(length) + ") are outside the " +
                                   std::to_string(size_) + "-byte shared memory region");
  }
  return std::span<std::byte>(base_ + offset, length);
}

}  // namespace kvtier::server
