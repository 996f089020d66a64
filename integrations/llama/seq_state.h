// llama.cpp's per-sequence KV state (llama_state_seq_get_data / set_data) cut into chunks of
// whole tokens, and chunks put back together into a state llama.cpp restores.
//
// The byte layout is llama.cpp's own (src/llama-kv-cache.cpp state_write / state_read, checked
// against the version in docs/INTEGRATIONS.md). It is parsed strictly: every length must add up to
// the exact size of the state, so a llama.cpp whose layout differs is refused with a reason (the
// caller then recomputes) instead of being misread.
//
// A chunk (one kvtier block) is a ChunkHeader, then one LayerLayout per layer, then the payload:
// for every layer the K rows of the chunk's tokens, then for every layer the V rows (or, when V is
// stored transposed, for each of the layer's V channels the chunk's elements). Nothing of llama.cpp
// is linked here: these are bytes only, so the parser is tested on its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kvtier/status.h"

namespace kvtier::llama {

// What one layer's K and V rows look like; a chunk fits a context only if every field matches.
struct LayerLayout {
  std::int32_t k_type = 0;      // ggml type of K
  std::int32_t v_type = 0;      // ggml type of V
  std::uint64_t k_row = 0;      // bytes of one token's K
  std::uint64_t v_row = 0;      // bytes of one token's V (not transposed)
  std::uint32_t v_element = 0;  // bytes of one V element (transposed)
  std::uint32_t v_channels = 0; // V channels (transposed)

  bool operator==(const LayerLayout&) const = default;
};

struct KvLayout {
  bool v_transposed = false;
  std::vector<LayerLayout> layers;

  bool operator==(const KvLayout&) const = default;
  // Bytes of KV one token occupies over every layer.
  std::uint64_t bytes_per_token() const;
};

// A parsed sequence state: where each layer's K and V bytes start inside the state.
struct SeqState {
  std::uint32_t streams = 0;
  std::uint32_t cells = 0;             // tokens of the sequence
  std::vector<std::int32_t> positions; // cell i's position (0..cells-1 for a prompt prefilled in order)
  KvLayout layout;
  std::vector<std::size_t> k_offset;   // per layer, into the state bytes
  std::vector<std::size_t> v_offset;
};

// Parses the bytes of llama_state_seq_get_data. InvalidArgument naming the first field that does
// not fit (a different llama.cpp layout, or an M-RoPE model whose cells carry extra fields).
Result<SeqState> parse_seq_state(std::span<const std::byte> state);

// The kvtier block of chunk `index` (tokens [index*chunk_tokens, (index+1)*chunk_tokens)).
// REQUIRES: (index+1)*chunk_tokens <= s.cells.
std::vector<std::byte> encode_chunk(std::span<const std::byte> state, const SeqState& s,
                                    std::uint32_t index, std::uint32_t chunk_tokens);
// The same block written into `out`, which holds exactly chunk_bytes(s.layout, chunk_tokens):
// straight into a shared-memory slot, without a copy in between.
void encode_chunk_into(std::span<const std::byte> state, const SeqState& s, std::uint32_t index,
                       std::uint32_t chunk_tokens, std::span<std::byte> out);

// Checks one stored block: magic, version, chunk size, layout equal to `expected`, exact length
// and payload checksum. InvalidArgument with the reason when it does not fit.
Status check_chunk(std::span<const std::byte> block, const KvLayout& expected,
                   std::uint32_t chunk_tokens);

// The size a block of this layout has (header, layer table, payload).
std::size_t chunk_bytes(const KvLayout& layout, std::uint32_t chunk_tokens);

// A state for llama_state_seq_set_data holding the given chunks (each passed check_chunk) as
// tokens 0..chunks*chunk_tokens-1 of sequence `seq`, in a context with `streams` KV streams.
std::vector<std::byte> build_seq_state(std::span<const std::span<const std::byte>> chunks,
                                       const KvLayout& layout, std::uint32_t chunk_tokens,
                                       std::int32_t seq, std::uint32_t streams);

}  // namespace kvtier::llama
