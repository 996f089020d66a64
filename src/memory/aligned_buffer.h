// AlignedBuffer: an owned, 4 KiB-aligned byte buffer, as O_DIRECT I/O requires. Buffers of 2 MiB
// or more are 2 MiB-aligned and asked to be backed by transparent huge pages, so first touching
// them costs one page fault per 2 MiB rather than per 4 KiB (a large share of the time of a copy
// into fresh memory on a virtual machine).
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>

namespace kvtier {

inline constexpr std::size_t kPageSize = 4096;
inline constexpr std::size_t kHugePageSize = 2 * 1024 * 1024;

constexpr std::uint64_t round_up_to_page(std::uint64_t n) {
  return (n + kPageSize - 1) / kPageSize * kPageSize;
}
inline bool is_page_aligned(const void* p) {
  return (reinterpret_cast<std::uintptr_t>(p) % kPageSize) == 0;
}

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  // Allocates round_up_to_page(size) bytes; empty() on allocation failure.
  explicit AlignedBuffer(std::size_t size) : size_(round_up_to_page(size)) {
    if (size_ == 0) size_ = kPageSize;
    bool huge = size_ >= kHugePageSize;
    std::size_t alloc = huge ? (size_ + kHugePageSize - 1) / kHugePageSize * kHugePageSize : size_;
    data_.reset(static_cast<std::byte*>(std::aligned_alloc(huge ? kHugePageSize : kPageSize, alloc)));
    if (!data_) {
      size_ = 0;
      return;
    }
    // Advice only: without THP the buffer works the same, with 4 KiB pages.
    if (huge) (void)::madvise(data_.get(), alloc, MADV_HUGEPAGE);
  }
  std::byte* data() const { return data_.get(); }
  std::size_t size() const { return size_; }
  bool empty() const { return data_ == nullptr; }
  std::span<std::byte> span() const { return {data_.get(), size_}; }

 private:
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::size_t size_ = 0;
  std::unique_ptr<std::byte, Free> data_;
};

}  // namespace kvtier
