// seq_state: llama.cpp's sequence state cut into chunks and put back, on synthetic states built
// to the layout of src/llama-kv-cache.cpp state_write (no model needed).
#include "seq_state.h"

#include <gtest/gtest.h>

#include <cstring>

namespace kvtier::llama {
namespace {

template <typename T>
void put(std::vector<std::byte>& out, T v) {
  const auto* p = reinterpret_cast<const std::byte*>(&v);
  out.insert(out.end(), p, p + sizeof v);
}

// A state of `cells` tokens, 2 layers, K rows of 12 bytes, V as rows of 8 bytes or transposed
// (4 channels of 2-byte elements); byte values depend on layer, token and offset.
std::vector<std::byte> fake_state(std::uint32_t cells, bool v_trans, std::uint32_t streams = 1) {
  std::vector<std::byte> s;
  put<std::uint32_t>(s, 0xaf143cd8u);
  put<std::int32_t>(s, 0);
  put<std::uint32_t>(s, streams);
  put<std::uint32_t>(s, cells);
  for (std::uint32_t i = 0; i < cells; ++i) {
    put<std::int32_t>(s, static_cast<std::int32_t>(i));
    put<std::uint32_t>(s, 1);
    put<std::int32_t>(s, 0);
  }
  put<std::uint32_t>(s, v_trans ? 1 : 0);
  put<std::uint32_t>(s, 2);
  for (int l = 0; l < 2; ++l) {
    put<std::int32_t>(s, 1);
    put<std::uint64_t>(s, 12);
    for (std::uint32_t t = 0; t < cells * 12; ++t) s.push_back(std::byte(l * 50 + t * 7));
  }
  for (int l = 0; l < 2; ++l) {
    put<std::int32_t>(s, 1);
    if (!v_trans) {
      put<std::uint64_t>(s, 8);
      for (std::uint32_t t = 0; t < cells * 8; ++t) s.push_back(std::byte(l * 90 + t * 3 + 1));
    } else {
      put<std::uint32_t>(s, 2);
      put<std::uint32_t>(s, 4);
      for (std::uint32_t t = 0; t < cells * 8; ++t) s.push_back(std::byte(l * 90 + t * 5 + 2));
    }
  }
  for (std::uint32_t i = 1; i < streams; ++i) put<std::uint32_t>(s, 0);
  return s;
}

class SeqStateRoundTrip : public ::testing::TestWithParam<bool> {};

TEST_P(SeqStateRoundTrip, ChunksRebuildTheExactState) {
  const bool v_trans = GetParam();
  std::vector<std::byte> state = fake_state(12, v_trans, 2);
  auto parsed = parse_seq_state(state);
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->cells, 12u);
  EXPECT_EQ(parsed->streams, 2u);
  EXPECT_EQ(parsed->layout.v_transposed, v_trans);
  EXPECT_EQ(parsed->layout.bytes_per_token(), 2u * (12 + 8));
  std::vector<std::vector<std::byte>> blocks;
  for (std::uint32_t c = 0; c < 3; ++c) blocks.push_back(encode_chunk(state, *parsed, c, 4));
  std::vector<std::span<const std::byte>> spans;
  for (const auto& b : blocks) {
    EXPECT_EQ(b.size(), chunk_bytes(parsed->layout, 4));
    ASSERT_TRUE(check_chunk(b, parsed->layout, 4).ok());
    spans.push_back(b);
  }
  // All three chunks: byte for byte the state llama.cpp wrote.
  EXPECT_EQ(build_seq_state(spans, parsed->layout, 4, 0, 2), state);
  // The first two: the state of the first 8 tokens.
  std::vector<std::byte> eight = build_seq_state(std::span(spans).first(2), parsed->layout, 4, 0, 2);
  auto reparsed = parse_seq_state(eight);
  ASSERT_TRUE(reparsed.ok()) << reparsed.status().to_string();
  EXPECT_EQ(reparsed->cells, 8u);
  EXPECT_EQ(reparsed->layout, parsed->layout);
  std::vector<std::byte> expect = fake_state(12, v_trans, 2);
  // Token t's K row of layer 0 is at the same place in both.
  for (std::uint32_t t = 0; t < 8; ++t) {
    EXPECT_EQ(0, std::memcmp(eight.data() + reparsed->k_offset[0] + t * 12,
                             state.data() + parsed->k_offset[0] + t * 12, 12));
  }
}

INSTANTIATE_TEST_SUITE_P(VRowsAndTransposed, SeqStateRoundTrip, ::testing::Bool());

TEST(SeqState, EveryTruncationAndTrailingByteIsRefused) {
  std::vector<std::byte> state = fake_state(4, true);
  for (std::size_t n = 0; n < state.size(); ++n) {
    auto r = parse_seq_state(std::span(state).first(n));
    EXPECT_FALSE(r.ok()) << "accepted a state cut at " << n << " of " << state.size();
  }
  state.push_back(std::byte{0});
  auto r = parse_seq_state(state);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("left over"), std::string::npos) << r.status().to_string();
}

TEST(SeqState, ACellSharedBySequencesIsRefused) {
  std::vector<std::byte> state = fake_state(4, false);
  std::uint32_t two = 2;
  std::memcpy(state.data() + 16 + 4, &two, 4);  // cell 0's sequence count
  EXPECT_FALSE(parse_seq_state(state).ok());
}

TEST(SeqState, AFlippedResizedOrForeignChunkIsRefused) {
  std::vector<std::byte> state = fake_state(8, false);
  auto parsed = parse_seq_state(state);
  ASSERT_TRUE(parsed.ok());
  std::vector<std::byte> block = encode_chunk(state, *parsed, 1, 4);
  ASSERT_TRUE(check_chunk(block, parsed->layout, 4).ok());
  for (std::size_t at : {std::size_t{0}, std::size_t{41}, block.size() / 2, block.size() - 1}) {
    std::vector<std::byte> bad = block;
    bad[at] ^= std::byte{0x10};
    EXPECT_FALSE(check_chunk(bad, parsed->layout, 4).ok()) << "flipped byte " << at;
  }
  std::vector<std::byte> shorter(block.begin(), block.end() - 1);
  EXPECT_FALSE(check_chunk(shorter, parsed->layout, 4).ok());
  EXPECT_FALSE(check_chunk(block, parsed->layout, 8).ok());
  KvLayout other = parsed->layout;
  other.layers[1].k_type = 0;
  Status s = check_chunk(block, other, 4);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("another KV layout"), std::string::npos) << s.to_string();
}

}  // namespace
}  // namespace kvtier::llama
