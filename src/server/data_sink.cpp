// DataSink (see data_sink.h).
#include "server/data_sink.h"

#include <algorithm>
#include <cstring>

#include "integrity/check.h"

namespace kvtier::server {

void DataSink::add(std::span<std::byte> bytes) {
  if (bytes.empty()) return;
  spans_.push_back(bytes);
  size_ += bytes.size();
}

std::size_t DataSink::next_iovecs(std::span<iovec> out, std::uint64_t limit) const {
  std::size_t n = 0;
  std::size_t offset = span_offset_;
  for (std::size_t i = span_; i < spans_.size() && n < out.size() && limit > 0; ++i) {
    std::size_t len = std::min<std::uint64_t>(spans_[i].size() - offset, limit);
    out[n++] = iovec{spans_[i].data() + offset, len};
    limit -= len;
    offset = 0;
  }
  return n;
}

void DataSink::advance(std::uint64_t n) {
  KVTIER_CHECK(n <= size_ - filled_);
  filled_ += n;
  while (n > 0) {
    std::size_t step = std::min<std::uint64_t>(n, spans_[span_].size() - span_offset_);
    span_offset_ += step;
    n -= step;
    if (span_offset_ == spans_[span_].size()) {
      ++span_;
      span_offset_ = 0;
    }
  }
}

void DataSink::copy_in(std::span<const std::byte> bytes) {
  KVTIER_CHECK(bytes.size() <= size_ - filled_);
  while (!bytes.empty()) {
    std::span<std::byte> to = spans_[span_].subspan(span_offset_);
    std::size_t step = std::min(to.size(), bytes.size());
    std::memcpy(to.data(), bytes.data(), step);
    bytes = bytes.subspan(step);
    advance(step);
  }
}

}  // namespace kvtier::server
