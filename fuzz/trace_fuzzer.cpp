// libFuzzer target for Mooncake trace lines (src/workload/trace_reader.cpp, `kvtier bench
// --trace`). Promises: an error naming a line, or requests in replay order (timestamps never go
// down) each with its 1-based line number; the replay Workload walks them without crashing.
#include "fuzz_check.h"
#include "workload/trace_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto trace = kvtier::workload::parse_trace(kvtier::fuzz::as_text(data, size));
  if (!trace.ok()) {
    FUZZ_EXPECT(!trace.status().message().empty(), "an error without a message");
    return 0;
  }
  const auto& requests = trace.value();
  for (std::size_t i = 0; i < requests.size(); ++i) {
    FUZZ_EXPECT(requests[i].line >= 1, "a request without its line number");
    FUZZ_EXPECT(i == 0 || requests[i - 1].timestamp_ms <= requests[i].timestamp_ms,
                "requests out of timestamp order");
  }
  auto workload = kvtier::workload::make_trace_workload(requests, kvtier::Key{}, 1);
  kvtier::workload::WorkloadRequest next;
  for (std::size_t i = 0; i < 64 && workload->next(next); ++i) {
  }
  return 0;
}
