// split_batch: cutting item lists at the daemon's batch and frame limits (see batch_split.h).
#include "client/batch_split.h"

#include "integrity/check.h"

namespace kvtier::client {

std::vector<BatchRange> split_batch(std::size_t count, std::uint32_t max_items,
                                    std::uint64_t max_bytes,
                                    const std::function<std::uint64_t(std::size_t)>& bytes_of) {
  KVTIER_CHECK(max_items > 0);
  std::vector<BatchRange> out;
  std::size_t begin = 0;
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < count; ++i) {
    std::uint64_t b = bytes_of ? bytes_of(i) : 0;
    bool full = i - begin == max_items || (i > begin && b > max_bytes - bytes);
    if (full) {
      out.push_back({begin, i});
      begin = i;
      bytes = 0;
    }
    // An item above max_bytes alone saturates its range; the next item starts a new one.
    bytes = b > max_bytes - bytes ? max_bytes : bytes + b;
  }
  if (begin < count) out.push_back({begin, count});
  return out;
}

}  // namespace kvtier::client
