// AlignedBuffer: an owned, 4 KiB-aligned byte buffer, as O_DIRECT I/O requires.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>

namespace kvtier {

inline constexpr std::size_t kPageSize = 4096;

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
  explicit AlignedBuffer(std::size_t size)
      : size_(round_up_to_page(size)),
        data_(static_cast<std::byte*>(std::aligned_alloc(kPageSize, size_ ? size_ : kPageSize))) {
    if (!data_) size_ = 0;
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
