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
// What an AlignedBuffer of `size` bytes takes from the process: its allocation (a page multiple,
// or a 2 MiB multiple when huge) and one page of aligned_alloc slack (glibc carves an aligned
// block out of a larger chunk whose leading part small objects rarely reuse). What the in-flight
// budget and the DRAM tier's block charge count (docs/ARCHITECTURE.md, "Memory").
constexpr std::uint64_t aligned_buffer_footprint(std::uint64_t size) {
  const std::uint64_t page_rounded = round_up_to_page(size == 0 ? 1 : size);
  const std::uint64_t allocation =
      page_rounded >= kHugePageSize
          ? (page_rounded + kHugePageSize - 1) / kHugePageSize * kHugePageSize
          : page_rounded;
  return allocation + kPageSize;
}
// The largest size whose footprint is at most `limit` (0 if none).
constexpr std::uint64_t largest_size_within_footprint(std::uint64_t limit) {
  if (limit < 2 * kPageSize) return 0;
  const std::uint64_t pages = (limit - kPageSize) / kPageSize * kPageSize;
  return pages >= kHugePageSize ? pages / kHugePageSize * kHugePageSize : pages;
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
  // aligned_buffer_footprint(size()); 0 when empty.
  std::uint64_t footprint() const { return empty() ? 0 : aligned_buffer_footprint(size_); }
  std::span<std::byte> span() const { return {data_.get(), size_}; }

 private:
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::size_t size_ = 0;
  std::unique_ptr<std::byte, Free> data_;
};

}  // namespace kvtier
