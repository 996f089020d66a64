// SealedMemfd: size rounded up to whole pages, sealed against shrinking, growing and unsealing
// (the daemon refuses a memfd that could shrink under its mapping), mapped shared and writable.
#include "client/shared_memory.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

namespace kvtier::client {
namespace {

TEST(SealedMemfd, RoundsUpToPagesAndCarriesTheSeals) {
  auto m = SealedMemfd::create(10'000);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->memory().size(), 12'288u);
  ASSERT_GE(m->fd(), 0);
  int seals = ::fcntl(m->fd(), F_GET_SEALS);
  ASSERT_GE(seals, 0);
  EXPECT_EQ(seals & required_memfd_seals(), required_memfd_seals());
  EXPECT_NE(seals & F_SEAL_SHRINK, 0);
  EXPECT_NE(seals & F_SEAL_GROW, 0);
  EXPECT_NE(seals & F_SEAL_SEAL, 0);
  // Writable mappings stay allowed: values are written into this memory.
  EXPECT_EQ(seals & F_SEAL_WRITE, 0);
  EXPECT_EQ(::fcntl(m->fd(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}

TEST(SealedMemfd, SizeCannotChangeAndSealsCannotBeRemoved) {
  auto m = SealedMemfd::create(4096);
  ASSERT_TRUE(m.ok());
  EXPECT_NE(::ftruncate(m->fd(), 0), 0);
  EXPECT_EQ(errno, EPERM);
  EXPECT_NE(::ftruncate(m->fd(), 8192), 0);
  EXPECT_EQ(errno, EPERM);
  EXPECT_NE(::fcntl(m->fd(), F_ADD_SEALS, F_SEAL_WRITE), 0);  // F_SEAL_SEAL: no more seals
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(::lseek(m->fd(), 0, SEEK_END), 4096);
}

TEST(SealedMemfd, MappingIsSharedWithTheFd) {
  auto m = SealedMemfd::create(8192);
  ASSERT_TRUE(m.ok());
  std::memcpy(m->memory().data() + 4096, "through the mapping", 19);
  char buf[19];
  ASSERT_EQ(::pread(m->fd(), buf, sizeof buf, 4096), 19);
  EXPECT_EQ(std::memcmp(buf, "through the mapping", 19), 0);
  // A second mapping of the same fd (as the daemon makes) sees the same bytes.
  void* other = ::mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd(), 0);
  ASSERT_NE(other, MAP_FAILED);
  std::memcpy(other, "from the other side", 19);
  EXPECT_EQ(std::memcmp(m->memory().data(), "from the other side", 19), 0);
  ::munmap(other, 8192);
}

TEST(SealedMemfd, MappingOutlivesTheFdAndMovesWithTheValue) {
  auto m = SealedMemfd::create(4096);
  ASSERT_TRUE(m.ok());
  m->close_fd();
  EXPECT_EQ(m->fd(), -1);
  m->memory()[0] = std::byte{42};
  SealedMemfd moved = std::move(m).value();
  EXPECT_EQ(moved.memory()[0], std::byte{42});
  EXPECT_EQ(moved.memory().size(), 4096u);
}

TEST(SealedMemfd, ZeroBytesIsInvalid) {
  auto m = SealedMemfd::create(0);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kvtier::client
