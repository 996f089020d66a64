// SealedMemfd: creating, sealing and mapping the client's shared-memory memfd (see
// shared_memory.h).
#include "client/shared_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "memory/aligned_buffer.h"

namespace kvtier::client {

int required_memfd_seals() { return F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL; }

Result<SealedMemfd> SealedMemfd::create(std::size_t bytes) {
  if (bytes == 0) return Status::InvalidArgument("shared memory: size is 0 bytes");
  const std::uint64_t size = round_up_to_page(bytes);
  if (size < bytes) return Status::InvalidArgument("shared memory: size overflows");
  SealedMemfd m;  // from here on, the destructor closes and unmaps whatever was made
  m.fd_.reset(::memfd_create("kvtier-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!m.fd_.valid()) return Status::FromErrno("shared memory: memfd_create", errno);
  if (::ftruncate(m.fd(), static_cast<off_t>(size)) != 0) {
    return Status::FromErrno("shared memory: ftruncate to " + std::to_string(size) + " bytes",
                             errno);
  }
  if (::fcntl(m.fd(), F_ADD_SEALS, required_memfd_seals()) != 0) {
    return Status::FromErrno("shared memory: fcntl(F_ADD_SEALS)", errno);
  }
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd(), 0);
  if (p == MAP_FAILED) {
    return Status::FromErrno("shared memory: mmap of " + std::to_string(size) + " bytes", errno);
  }
  m.mapping_ = {static_cast<std::byte*>(p), Unmap{size}};
  return m;
}

void SealedMemfd::Unmap::operator()(std::byte* base) const { ::munmap(base, size); }

}  // namespace kvtier::client
