// The batch calls of Store and Client answer items[i] in out[i], so both spans must be the same
// length. A mismatch is the caller's mistake, answered alike by every batch call: InvalidArgument
// naming the call and both lengths, in every result slot there is and as the call's Status.
//
// Thread-safety: pure functions of their arguments (and of `out`, which they fill).
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "kvtier/status.h"
#include "kvtier/types.h"

namespace kvtier {

// Answers every slot of `out` with `why` and returns it: a batch call that failed as a whole.
inline Status fail_batch(std::span<Status> out, const Status& why) {
  std::fill(out.begin(), out.end(), why);
  return why;
}
inline Status fail_batch(std::span<GetResult> out, const Status& why) {
  std::fill(out.begin(), out.end(), GetResult{why, 0, Tier::kNone});
  return why;
}

template <typename Result>
Status check_batch_spans(std::size_t items, std::span<Result> out, std::string_view call) {
  if (items == out.size()) return Status::Ok();
  return fail_batch(out, Status::InvalidArgument(std::string(call) + ": " + std::to_string(items) +
                                                 " items but " + std::to_string(out.size()) +
                                                 " result slots"));
}

}  // namespace kvtier
