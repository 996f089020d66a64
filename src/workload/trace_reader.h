// Trace reader: JSONL request traces in the Mooncake format (docs/BENCH.md), one request per line:
//   {"timestamp": 27482, "input_length": 6955, "output_length": 52, "hash_ids": [46, 47, 2, 3]}
// timestamp in ms; hash_ids are block hash ids, each standing for a block *and its prefix* (two
// requests share hash_ids[0..k] exactly when their prompts share those blocks). Blank lines are
// skipped; any other bad line fails the whole read with its 1-based line number and the reason.
//
// Thread-safety: pure functions; a TraceWorkload is used from one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kvtier/key.h"
#include "kvtier/status.h"
#include "workload/workload.h"

namespace kvtier::workload {

struct TraceRequest {
  std::uint64_t timestamp_ms = 0;
  std::uint64_t input_length = 0;
  std::uint64_t output_length = 0;
  std::vector<std::uint64_t> hash_ids;
  std::uint64_t line = 0;  // 1-based line in the file
};

// Parses JSONL text. The result is in replay order: by timestamp, ties in file order.
Result<std::vector<TraceRequest>> parse_trace(std::string_view text);
// Reads and parses a file; errors name the file.
Result<std::vector<TraceRequest>> read_trace(const std::string& path);

// Key of the block with hash id `id`: chain_key(ns_key, [id low 32 bits, id high 32 bits]). A
// hash id already names its whole prefix, so the key is derived from the id alone (not chained
// from the previous block's key): the same id gives the same key wherever it appears.
Key trace_block_key(const Key& ns_key, std::uint64_t id);

// Replays `requests` (already in replay order) as a Workload, `repeat` times over (0 counts as 1).
std::unique_ptr<Workload> make_trace_workload(std::vector<TraceRequest> requests, const Key& ns_key,
                                              std::uint32_t repeat = 1);

}  // namespace kvtier::workload
