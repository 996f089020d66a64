// split_batch: how a client cuts a long item list into requests the daemon accepts: at most
// max_batch items (HELLO's max_batch) and at most max_data_bytes of values (HELLO's
// max_data_bytes) per request. The pieces are then sent pipelined, so a split batch still costs
// about one round trip.
//
// Thread-safety: a pure function.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace kvtier::client {

struct BatchRange {
  std::size_t begin = 0;  // first item
  std::size_t end = 0;    // one past the last
  friend bool operator==(const BatchRange&, const BatchRange&) = default;
};

// Consecutive ranges covering items 0..count-1 in order, each of at most max_items items whose
// bytes_of(i) add up to at most max_bytes. An item alone above max_bytes gets a range of its own
// (the daemon then answers for it). Empty for count 0. REQUIRES: max_items > 0.
std::vector<BatchRange> split_batch(std::size_t count, std::uint32_t max_items,
                                    std::uint64_t max_bytes,
                                    const std::function<std::uint64_t(std::size_t)>& bytes_of);

}  // namespace kvtier::client
