// Bounded mutation fuzzing of the frame codec: valid streams of every operation with random bit
// flips, overwrites, truncations, insertions, deletions, splices and hostile length fields, plus
// pure random bytes, fed to FrameReader in random chunks and decoded with visit_meta. Whatever the
// bytes: no crash, every frame is a decoded message (that re-encodes to the same bytes) or a clear
// InvalidArgument/TooLarge, and memory stays proportional to the input.
// fuzz/protocol_fuzzer.cpp runs the same checks under libFuzzer (coverage-guided, unbounded).
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "protocol/dispatch.h"
#include "protocol/protocol_test_util.h"

namespace kvtier::protocol {
namespace {

using testing::splitmix64;

using testing::Tally;

// The reader's data cap and the batch limit vary per stream, so every limit path is exercised.
std::string check_stream(FrameKind kind, std::span<const std::byte> bytes, std::uint64_t& rng,
                         Tally& tally) {
  const std::uint64_t caps[] = {0, 64, 1 << 20, kDefaultMaxDataBytes};
  const std::uint32_t batches[] = {0, 1, 4, 1024, 0xffffffffu};
  return testing::check_stream(kind, bytes, caps[splitmix64(rng) % 4],
                               batches[splitmix64(rng) % 5], splitmix64(rng), tally);
}

// Values that sit on the limits, written over header and meta fields.
void write_interesting(std::vector<std::byte>& b, std::size_t at, std::uint64_t& rng) {
  const std::uint64_t values[] = {0,
                                  1,
                                  2,
                                  0xff,
                                  0x100,
                                  0xffff,
                                  0xffffffffull,
                                  0x7fffffffull,
                                  kMaxMetaBytes,
                                  kMaxMetaBytes + 1,
                                  kMaxErrorMessageBytes + 1,
                                  kDefaultMaxDataBytes,
                                  kDefaultMaxDataBytes + 1,
                                  ~0ull,
                                  5,
                                  24};
  std::uint64_t v = values[splitmix64(rng) % std::size(values)];
  std::size_t width = std::size_t{1} << (splitmix64(rng) % 4);  // 1, 2, 4 or 8 bytes
  for (std::size_t i = 0; i < width && at + i < b.size(); ++i)
    b[at + i] = static_cast<std::byte>(v >> (8 * i));
}

std::vector<std::byte> mutate(std::vector<std::byte> b,
                              const std::vector<std::size_t>& frame_starts, std::uint64_t& rng) {
  int edits = 1 + static_cast<int>(splitmix64(rng) % 4);
  for (int e = 0; e < edits; ++e) {
    if (b.empty()) break;
    std::size_t at = splitmix64(rng) % b.size();
    switch (splitmix64(rng) % 7) {
      case 0:
        b[at] ^= static_cast<std::byte>(1u << (splitmix64(rng) % 8));
        break;
      case 1:
        b[at] = static_cast<std::byte>(splitmix64(rng));
        break;
      case 2:
        b.resize(at);
        break;
      case 3: {
        std::vector<std::byte> ins = testing::filler(1 + splitmix64(rng) % 8, splitmix64(rng));
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), ins.begin(), ins.end());
        break;
      }
      case 4:
        b.erase(b.begin() + static_cast<std::ptrdiff_t>(at),
                b.begin() +
                    static_cast<std::ptrdiff_t>(std::min(b.size(), at + 1 + splitmix64(rng) % 8)));
        break;
      case 5: {  // splice: copy a range of the stream to another place
        std::size_t from = splitmix64(rng) % b.size();
        std::size_t len = std::min<std::size_t>(b.size() - from, 1 + splitmix64(rng) % 64);
        std::vector<std::byte> piece(b.begin() + static_cast<std::ptrdiff_t>(from),
                                     b.begin() + static_cast<std::ptrdiff_t>(from + len));
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), piece.begin(), piece.end());
        break;
      }
      case 6: {  // a header field or the first meta field of some frame
        const std::size_t offsets[] = {4, 5, 6, 16, 20, 24, 28, 32, 34, 36, 40, 48};
        std::size_t start = frame_starts[splitmix64(rng) % frame_starts.size()];
        write_interesting(b, start + offsets[splitmix64(rng) % std::size(offsets)], rng);
        break;
      }
    }
  }
  return b;
}

std::size_t heap_in_use() { return mallinfo2().uordblks; }

TEST(ProtocolFuzz, MutatedStreamsGiveFramesOrClearErrors) {
  const std::vector<testing::SampleFrame> requests = testing::sample_requests();
  const std::vector<testing::SampleFrame> responses = testing::sample_responses();
  std::uint64_t rng = 20260101;
  Tally tally;
  const std::size_t heap_before = heap_in_use();
  std::size_t heap_peak = heap_before;
  for (int iter = 0; iter < 20000; ++iter) {
    FrameKind kind = splitmix64(rng) % 2 ? FrameKind::kRequest : FrameKind::kResponse;
    const auto& pool = kind == FrameKind::kRequest ? requests : responses;
    std::vector<std::byte> stream;
    std::vector<std::size_t> starts;
    int n = 1 + static_cast<int>(splitmix64(rng) % 4);
    for (int i = 0; i < n; ++i) {
      const auto& f = pool[splitmix64(rng) % pool.size()];
      starts.push_back(stream.size());
      stream.insert(stream.end(), f.frame.begin(), f.frame.end());
    }
    std::vector<std::byte> mutated = mutate(std::move(stream), starts, rng);
    std::string why = check_stream(kind, mutated, rng, tally);
    ASSERT_TRUE(why.empty()) << why << " at iteration " << iter;
    if (iter % 500 == 0) heap_peak = std::max(heap_peak, heap_in_use());
  }
  // Every kind of outcome was reached, so the checks above ran on each.
  EXPECT_GT(tally.frames, 10000);
  EXPECT_GT(tally.meta_errors, 500);
  EXPECT_GT(tally.stream_errors, 2000);
  EXPECT_GT(tally.incomplete, 500);
  EXPECT_LT(heap_peak - heap_before, std::size_t{8} << 20) << "heap grew while fuzzing";
  RecordProperty("frames", tally.frames);
  RecordProperty("meta_errors", tally.meta_errors);
  RecordProperty("stream_errors", tally.stream_errors);
}

TEST(ProtocolFuzz, RandomBytesGiveClearErrors) {
  std::uint64_t rng = 77;
  Tally tally;
  for (int iter = 0; iter < 5000; ++iter) {
    std::vector<std::byte> bytes = testing::filler(splitmix64(rng) % 400, splitmix64(rng));
    if (iter % 2 == 0 && bytes.size() >= kFrameHeaderBytes) {
      // Half get a plausible header start, so the random rest reaches the length and meta checks.
      const unsigned char start[] = {'K', 'V', 'T', 'P', 1};
      std::memcpy(bytes.data(), start, sizeof start);
      bytes[5] = static_cast<std::byte>(splitmix64(rng) % (kMaxOpcode + 2));
      bytes[6] = static_cast<std::byte>(splitmix64(rng) % 2);
      bytes[7] = std::byte{0};
    }
    FrameKind kind = splitmix64(rng) % 2 ? FrameKind::kRequest : FrameKind::kResponse;
    std::string why = check_stream(kind, bytes, rng, tally);
    ASSERT_TRUE(why.empty()) << why << " at iteration " << iter;

    // The same bytes as the meta of every opcode, in both directions, straight to the decoders.
    for (std::uint8_t op = 1; op <= kMaxOpcode; ++op) {
      for (FrameKind k : {FrameKind::kRequest, FrameKind::kResponse}) {
        testing::ParsedFrame f;
        f.header.opcode = static_cast<Opcode>(op);
        f.header.flags = k == FrameKind::kResponse ? kFlagResponse : 0;
        f.header.meta_len = static_cast<std::uint32_t>(bytes.size());
        f.meta = bytes;
        why = testing::check_meta(f, static_cast<std::uint32_t>(splitmix64(rng) % 8), tally);
        ASSERT_TRUE(why.empty()) << why << " at iteration " << iter;
      }
    }
  }
  EXPECT_GT(tally.stream_errors, 2000);
  EXPECT_GT(tally.meta_errors, 100000);
}

}  // namespace
}  // namespace kvtier::protocol
