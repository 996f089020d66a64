// libFuzzer target for the frame codec (src/protocol): the checks of
// tests/protocol/protocol_fuzz_test.cpp, coverage-guided and unbounded. Not part of the default
// build; fuzz/run_protocol_fuzzer.sh builds it with clang -fsanitize=fuzzer,address,undefined,
// seeds it with one valid stream of every operation and runs it.
//
// Input: byte 0 picks the direction, the reader's data cap and the batch limit; byte 1 seeds the
// chunking; the rest is the byte stream. The rest is also decoded as the meta of every opcode.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>

#include "protocol/protocol_test_util.h"

namespace {

using namespace kvtier;
using namespace kvtier::protocol;

void fail(const std::string& why) {
  std::fprintf(stderr, "protocol_fuzzer: %s\n", why.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint64_t caps[] = {0, 64, 1 << 20, kDefaultMaxDataBytes};
  const std::uint32_t batches[] = {0, 1, 4, 1024, 0xffffffffu, 2, 3, 16};
  FrameKind kind = (data[0] & 1) ? FrameKind::kResponse : FrameKind::kRequest;
  std::uint64_t max_data = caps[(data[0] >> 1) & 3];
  std::uint32_t max_batch = batches[(data[0] >> 3) & 7];
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data + 2), size - 2);

  kvtier::protocol::testing::Tally tally;
  if (std::string why = kvtier::protocol::testing::check_stream(kind, bytes, max_data, max_batch, data[1], tally);
      !why.empty()) {
    fail(why);
  }
  if (bytes.size() <= kMaxMetaBytes) {
    for (std::uint8_t op = 1; op <= kMaxOpcode; ++op) {
      kvtier::protocol::testing::ParsedFrame f;
      f.header.opcode = static_cast<Opcode>(op);
      f.header.flags = kind == FrameKind::kResponse ? kFlagResponse : 0;
      f.header.meta_len = static_cast<std::uint32_t>(bytes.size());
      f.meta.assign(bytes.begin(), bytes.end());
      if (std::string why = kvtier::protocol::testing::check_meta(f, max_batch, tally); !why.empty()) fail(why);
    }
  }
  return 0;
}
