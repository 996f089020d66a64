// seq_state: llama.cpp's sequence state cut into chunks and put back, on synthetic states built
// to the layout of src/llama-kv-cache.cpp state_write (no model needed).
#include "seq_state.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

namespace kvtier::llama {
namespace {

template <typename T>
void put(std::vector<std::byte>& out, T v) {
  const auto* p = reinterpret_cast<const std::byte*>(&v);
  out.insert(out.end(), p, p + sizeof v);
}

// The head of a state: magic, sequence 0, `streams` streams, then `cells` cells at positions 0..
// of sequence 0 (the sequence's stream).
void put_head(std::vector<std::byte>& s, std::uint32_t cells, std::uint32_t streams) {
  put<std::uint32_t>(s, 0xaf143cd8u);
  put<std::int32_t>(s, 0);
  put<std::uint32_t>(s, streams);
  put<std::uint32_t>(s, cells);
  for (std::uint32_t i = 0; i < cells; ++i) {
    put<std::int32_t>(s, static_cast<std::int32_t>(i));
    put<std::uint32_t>(s, 1);
    put<std::int32_t>(s, 0);
  }
}

// A state of `cells` tokens, 2 layers, K rows of 12 bytes, V as rows of 8 bytes or transposed
// (4 channels of 2-byte elements); byte values depend on layer, token and offset.
std::vector<std::byte> fake_state(std::uint32_t cells, bool v_trans, std::uint32_t streams = 1) {
  std::vector<std::byte> s;
  put_head(s, cells, streams);
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

// The key chunk `c` of a test prompt is stored under.
Key chunk_key(std::uint32_t c) {
  Key k;
  k.bytes.fill(static_cast<std::uint8_t>(0xA0 + c));
  return k;
}

std::vector<Key> chunk_keys(std::uint32_t n) {
  std::vector<Key> keys;
  for (std::uint32_t c = 0; c < n; ++c) keys.push_back(chunk_key(c));
  return keys;
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
  for (std::uint32_t c = 0; c < 3; ++c) blocks.push_back(encode_chunk(state, *parsed, c, 4, chunk_key(c)));
  std::vector<std::span<const std::byte>> spans;
  for (std::uint32_t c = 0; c < 3; ++c) {
    EXPECT_EQ(blocks[c].size(), chunk_bytes(parsed->layout, 4));
    ASSERT_TRUE(check_chunk(blocks[c], parsed->layout, 4, chunk_key(c), c).ok());
    spans.push_back(blocks[c]);
  }
  const std::vector<Key> keys = chunk_keys(3);
  // All three chunks: byte for byte the state llama.cpp wrote.
  RebuiltState all = rebuild_seq_state(spans, keys, parsed->layout, 4, 0, 2);
  EXPECT_EQ(all.chunks, 3u);
  EXPECT_EQ(all.refused, "");
  EXPECT_EQ(all.state, state);
  // The first two: the state of the first 8 tokens.
  std::vector<std::byte> eight =
      rebuild_seq_state(std::span(spans).first(2), std::span(keys).first(2), parsed->layout, 4, 0, 2).state;
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

// The pieces of a plan, read in order: the bytes llama.cpp would be handed.
std::vector<std::byte> read_plan(const StatePlan& plan) {
  std::vector<std::byte> out;
  for (const StatePiece& p : plan.pieces) out.insert(out.end(), p.src, p.src + p.bytes);
  return out;
}

TEST(SeqStatePlan, ThePiecesInOrderAreTheStateAndEachChunksPiecesItsPayload) {
  std::vector<std::byte> state = fake_state(12, false, 2);
  auto parsed = parse_seq_state(state);
  ASSERT_TRUE(parsed.ok());
  std::vector<std::vector<std::byte>> blocks;
  std::vector<std::span<const std::byte>> spans;
  for (std::uint32_t c = 0; c < 3; ++c) blocks.push_back(encode_chunk(state, *parsed, c, 4, chunk_key(c)));
  for (const auto& b : blocks) spans.push_back(b);
  const std::vector<Key> keys = chunk_keys(3);
  StatePlan plan = plan_seq_state(spans, keys, parsed->layout, 4, 0, 2);
  EXPECT_EQ(plan.chunks, 3u);
  EXPECT_EQ(plan.refused, "");
  EXPECT_EQ(plan.bytes, state.size());
  EXPECT_EQ(read_plan(plan), state);
  // A chunk's pieces, in plan order, are its payload in the block's order: what the reader
  // checksums against payload_xxh3. The header says where its payload starts.
  for (std::uint32_t c = 0; c < 3; ++c) {
    std::vector<std::byte> mine;
    for (const StatePiece& p : plan.pieces) {
      if (p.chunk == static_cast<std::int32_t>(c)) mine.insert(mine.end(), p.src, p.src + p.bytes);
    }
    ASSERT_LE(mine.size(), blocks[c].size());
    EXPECT_TRUE(std::equal(mine.begin(), mine.end(), blocks[c].end() - static_cast<std::ptrdiff_t>(mine.size())))
        << "chunk " << c;
  }
  // Two of three: the state of the first 8 tokens, as rebuild_seq_state lays it out.
  StatePlan two = plan_seq_state(std::span(spans).first(2), std::span(keys).first(2), parsed->layout, 4, 0, 2);
  EXPECT_EQ(read_plan(two),
            rebuild_seq_state(std::span(spans).first(2), std::span(keys).first(2), parsed->layout, 4, 0, 2).state);
}

TEST(SeqStatePlan, ABlockWhoseHeaderFailsEndsThePlanAndTransposedVIsNotPlanned) {
  std::vector<std::byte> state = fake_state(12, false);
  auto parsed = parse_seq_state(state);
  ASSERT_TRUE(parsed.ok());
  std::vector<std::vector<std::byte>> blocks;
  std::vector<std::span<const std::byte>> spans;
  for (std::uint32_t c = 0; c < 3; ++c) blocks.push_back(encode_chunk(state, *parsed, c, 4, chunk_key(c)));
  blocks[1][0] ^= std::byte{1};  // its magic
  for (const auto& b : blocks) spans.push_back(b);
  StatePlan plan = plan_seq_state(spans, chunk_keys(3), parsed->layout, 4, 0, 1);
  EXPECT_EQ(plan.chunks, 1u);
  EXPECT_NE(plan.refused.find("chunk 1"), std::string::npos) << plan.refused;
  EXPECT_EQ(plan.payload_xxh3.size(), 1u);

  std::vector<std::byte> t_state = fake_state(12, true);
  auto t_parsed = parse_seq_state(t_state);
  ASSERT_TRUE(t_parsed.ok());
  std::vector<std::byte> t_block = encode_chunk(t_state, *t_parsed, 0, 4, chunk_key(0));
  std::vector<std::span<const std::byte>> t_spans = {t_block};
  EXPECT_EQ(plan_seq_state(t_spans, chunk_keys(1), t_parsed->layout, 4, 0, 1).chunks, 0u);
}

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
  std::vector<std::byte> block = encode_chunk(state, *parsed, 1, 4, chunk_key(1));
  ASSERT_TRUE(check_chunk(block, parsed->layout, 4, chunk_key(1), 1).ok());
  for (std::size_t at : {std::size_t{0}, std::size_t{41}, std::size_t{60}, block.size() / 2, block.size() - 1}) {
    std::vector<std::byte> bad = block;
    bad[at] ^= std::byte{0x10};
    EXPECT_FALSE(check_chunk(bad, parsed->layout, 4, chunk_key(1), 1).ok()) << "flipped byte " << at;
  }
  std::vector<std::byte> shorter(block.begin(), block.end() - 1);
  EXPECT_FALSE(check_chunk(shorter, parsed->layout, 4, chunk_key(1), 1).ok());
  EXPECT_FALSE(check_chunk(block, parsed->layout, 8, chunk_key(1), 1).ok());
  KvLayout other = parsed->layout;
  other.layers[1].k_type = 0;
  Status s = check_chunk(block, other, 4, chunk_key(1), 1);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("another KV layout"), std::string::npos) << s.to_string();
}

// Issue 24, item 11: a valid chunk served under another key, or at another place in the prompt,
// is refused (before, a chunk did not say where it belonged, and would have been restored at the
// positions of the key it was served for).
TEST(SeqState, AValidChunkUnderAnotherKeyOrPlaceIsRefused) {
  std::vector<std::byte> state = fake_state(8, true);
  auto parsed = parse_seq_state(state);
  ASSERT_TRUE(parsed.ok());
  std::vector<std::byte> first = encode_chunk(state, *parsed, 0, 4, chunk_key(0));
  std::vector<std::byte> second = encode_chunk(state, *parsed, 1, 4, chunk_key(1));
  EXPECT_FALSE(check_chunk(second, parsed->layout, 4, chunk_key(0), 1).ok()) << "another key";
  EXPECT_FALSE(check_chunk(second, parsed->layout, 4, chunk_key(1), 0).ok()) << "another place";
  // Served in the wrong order: only what checks out is used, up to the first that does not.
  std::vector<std::span<const std::byte>> swapped{second, first};
  const std::vector<Key> keys = chunk_keys(2);
  RebuiltState r = rebuild_seq_state(swapped, keys, parsed->layout, 4, 0, 1);
  EXPECT_EQ(r.chunks, 0u);
  EXPECT_TRUE(r.state.empty());
  EXPECT_NE(r.refused.find("another key"), std::string::npos) << r.refused;
}

// A payload that fails its checksum when copied into the state shortens the run to the chunks
// before it; the state is laid out for those alone.
TEST(SeqState, APayloadThatFailsWhereItLandsShortensTheRun) {
  std::vector<std::byte> state = fake_state(12, false);
  auto parsed = parse_seq_state(state);
  ASSERT_TRUE(parsed.ok());
  std::vector<std::vector<std::byte>> blocks;
  for (std::uint32_t c = 0; c < 3; ++c) blocks.push_back(encode_chunk(state, *parsed, c, 4, chunk_key(c)));
  blocks[2].back() ^= std::byte{1};
  std::vector<std::span<const std::byte>> spans(blocks.begin(), blocks.end());
  const std::vector<Key> keys = chunk_keys(3);
  RebuiltState r = rebuild_seq_state(spans, keys, parsed->layout, 4, 0, 1);
  EXPECT_EQ(r.chunks, 2u);
  EXPECT_NE(r.refused.find("chunk 2"), std::string::npos) << r.refused;
  auto reparsed = parse_seq_state(r.state);
  ASSERT_TRUE(reparsed.ok()) << reparsed.status().to_string();
  EXPECT_EQ(reparsed->cells, 8u);
}

// A state with one layer of 4-byte K rows over `cells` cells, then `v_fields` as its V header,
// then `v_bytes` bytes of V.
std::vector<std::byte> crafted_state(std::uint32_t cells, bool v_trans, const std::vector<std::byte>& v_fields,
                                     std::size_t v_bytes) {
  std::vector<std::byte> s;
  put_head(s, cells, 1);
  put<std::uint32_t>(s, v_trans ? 1 : 0);
  put<std::uint32_t>(s, 1);
  put<std::int32_t>(s, 1);
  put<std::uint64_t>(s, 4);
  s.resize(s.size() + 4 * cells);
  put<std::int32_t>(s, 1);
  s.insert(s.end(), v_fields.begin(), v_fields.end());
  s.resize(s.size() + v_bytes);
  return s;
}

// Issue 24, item 11: V sizes whose product wraps past 2^64 into a few hundred bytes parsed, and
// encoding then copied with wrapped offsets. Each factor is bounded now.
TEST(SeqState, VSizesThatWrapAreRefused) {
  // 1,076,074,802 x 66,963,369 x 256 = 2^64 + 512 (transposed: element size x channels x cells).
  std::vector<std::byte> fields;
  put<std::uint32_t>(fields, 1076074802u);
  put<std::uint32_t>(fields, 66963369u);
  Result<SeqState> r = parse_seq_state(crafted_state(256, true, fields, 512));
  ASSERT_FALSE(r.ok()) << "a transposed V of " << r->layout.bytes_per_token() << " bytes a token parsed";
  EXPECT_NE(r.status().message().find("transposed V"), std::string::npos) << r.status().to_string();
  // (2^56 + 2) x 256 = 2^64 + 512 (rows: row size x cells).
  fields.clear();
  put<std::uint64_t>(fields, (std::uint64_t{1} << 56) + 2);
  r = parse_seq_state(crafted_state(256, false, fields, 512));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("V row"), std::string::npos) << r.status().to_string();
  // The largest sizes allowed still parse when the bytes are there.
  fields.clear();
  put<std::uint32_t>(fields, 4u);
  put<std::uint32_t>(fields, 3u);
  EXPECT_TRUE(parse_seq_state(crafted_state(2, true, fields, 24)).ok());
}

// A chunk size no block can hold is 0, not a wrapped size.
TEST(SeqState, AChunkSizeThatOverflowsIsZero) {
  KvLayout huge;
  huge.layers.assign(4096, LayerLayout{1, 1, kMaxRowBytes, kMaxRowBytes, 0, 0});
  EXPECT_EQ(chunk_bytes(huge, 0xffffffffu), 0u);
  EXPECT_GT(chunk_bytes(huge, 1), 0u);
}

}  // namespace
}  // namespace kvtier::llama
