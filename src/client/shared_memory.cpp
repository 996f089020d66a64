// SealedMemfd: creating, sealing and mapping the client's shared-memory memfd (see
// shared_memory.h).
#include "client/shared_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

#include "memory/aligned_buffer.h"

namespace kvtier::client {

int required_memfd_seals() { return F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL; }

Result<SealedMemfd> SealedMemfd::create(std::size_t bytes) {
  if (bytes == 0) return Status::InvalidArgument("shared memory: size is 0 bytes");
  const std::uint64_t size = round_up_to_page(bytes);
  if (size < bytes) return Status::InvalidArgument("shared memory: size overflows");
  SealedMemfd m;  // from here on, the destructor closes and unmaps whatever was made
  m.fd_ = ::memfd_create("kvtier-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (m.fd_ < 0) return Status::FromErrno("shared memory: memfd_create", errno);
  if (::ftruncate(m.fd_, static_cast<off_t>(size)) != 0) {
    return Status::FromErrno("shared memory: ftruncate to " + std::to_string(size) + " bytes",
                             errno);
  }
  if (::fcntl(m.fd_, F_ADD_SEALS, required_memfd_seals()) != 0) {
    return Status::FromErrno("shared memory: fcntl(F_ADD_SEALS)", errno);
  }
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd_, 0);
  if (p == MAP_FAILED) {
    return Status::FromErrno("shared memory: mmap of " + std::to_string(size) + " bytes", errno);
  }
  m.base_ = static_cast<std::byte*>(p);
  m.size_ = size;
  return m;
}

SealedMemfd::~SealedMemfd() { release(); }

SealedMemfd::SealedMemfd(SealedMemfd&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      base_(std::exchange(other.base_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

SealedMemfd& SealedMemfd::operator=(SealedMemfd&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = std::exchange(other.fd_, -1);
    base_ = std::exchange(other.base_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void SealedMemfd::close_fd() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void SealedMemfd::release() {
  if (base_ != nullptr) ::munmap(base_, size_);
  base_ = nullptr;
  size_ = 0;
  close_fd();
}

}  // namespace kvtier::client
