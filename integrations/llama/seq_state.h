// llama.cpp's per-sequence KV state (llama_state_seq_get_data / set_data) cut into chunks of
// whole tokens, and chunks put back together into a state llama.cpp restores.
//
// The byte layout is llama.cpp's own (src/llama-kv-cache.cpp state_write / state_read, checked
// against the version in docs/INTEGRATIONS.md). It is parsed strictly: every length must add up to
// the exact size of the state, so a llama.cpp whose layout differs is refused with a reason (the
// caller then recomputes) instead of being misread.
//
// A chunk (one kvtier block) is a ChunkHeader (which names the block's key and the chunk's index in
// its prompt, so a valid chunk served under another key or at another place is refused), then one
// LayerLayout per layer, then the payload: for every layer the K rows of the chunk's tokens, then
// for every layer the V rows (or, when V is stored transposed, for each of the layer's V channels
// the chunk's elements). Nothing of llama.cpp is linked here: these are bytes only, so the parser
// is tested on its own (in the main build's tests too).
//
// Bounds: a layer's K or V row is at most kMaxRowBytes, a transposed V element kMaxVElementBytes
// and its channels kMaxVChannels, 4,096 layers, 1,024 streams, a rebuilt state kMaxStateTokens;
// so no size computed from a state that parsed, or for a state rebuilt, can wrap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kvtier/key.h"
#include "kvtier/status.h"

namespace kvtier::llama {

// Largest K or V row of one token in one layer (16 MiB: far above any model's).
constexpr std::uint64_t kMaxRowBytes = std::uint64_t{1} << 24;
// Largest element of a transposed V (an f32 is 4 bytes; quantized types are never transposed).
constexpr std::uint32_t kMaxVElementBytes = 64;
// Most channels of a transposed V (n_embd_v_gqa).
constexpr std::uint32_t kMaxVChannels = 1u << 20;
// Most tokens a rebuilt state holds (positions are int32; far above any context).
constexpr std::uint64_t kMaxStateTokens = std::uint64_t{1} << 30;

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

// The kvtier block of chunk `index` (tokens [index*chunk_tokens, (index+1)*chunk_tokens)),
// stored under `key`. REQUIRES: (index+1)*chunk_tokens <= s.cells.
std::vector<std::byte> encode_chunk(std::span<const std::byte> state, const SeqState& s,
                                    std::uint32_t index, std::uint32_t chunk_tokens, const Key& key);
// The same block written into `out`, which holds exactly chunk_bytes(s.layout, chunk_tokens):
// straight into a shared-memory slot, without a copy in between.
void encode_chunk_into(std::span<const std::byte> state, const SeqState& s, std::uint32_t index,
                       std::uint32_t chunk_tokens, const Key& key, std::span<std::byte> out);

// Checks one stored block: magic, version, chunk size, key and index, layout equal to `expected`,
// exact length and payload checksum. InvalidArgument with the reason when it does not fit.
Status check_chunk(std::span<const std::byte> block, const KvLayout& expected,
                   std::uint32_t chunk_tokens, const Key& key, std::uint32_t index);

// The size a block of this layout has (header, layer table, payload); 0 when it would not fit in
// a size_t (a chunk_tokens no block can hold).
std::size_t chunk_bytes(const KvLayout& layout, std::uint32_t chunk_tokens);

// A state rebuilt from stored blocks for llama_state_seq_set_data.
struct RebuiltState {
  std::vector<std::byte> state;  // empty when no block was usable
  std::size_t chunks = 0;        // blocks in it: tokens 0..chunks*chunk_tokens-1
  std::string refused;           // why block `chunks` was not used (empty when all were)
};

// A state holding the longest run of blocks[0..] that check out against `layout`, `chunk_tokens`
// and keys[i] / index i, as tokens 0.. of sequence `seq` in a context with `streams` KV streams.
// Every byte of the result is checked where it lies in the result (the payload checksum is
// computed over the copies), so blocks in memory another process can still write (a shared-memory
// region) are read once and never trusted after their check.
RebuiltState rebuild_seq_state(std::span<const std::span<const std::byte>> blocks,
                               std::span<const Key> keys, const KvLayout& layout,
                               std::uint32_t chunk_tokens, std::int32_t seq, std::uint32_t streams);

// A state of stored blocks laid out for llama.cpp to read piece by piece
// (llama_state_seq_set_data_reader), without copying the rows together first: the metadata in
// memory the plan owns, each row range where it lies in its block. Only for V not transposed
// (a transposed V would be one piece per channel and chunk).
struct StatePiece {
  const std::byte* src = nullptr;
  std::size_t bytes = 0;
  std::int32_t chunk = -1;  // the block whose payload checksum covers the piece; -1: metadata
};
struct StatePlan {
  std::vector<std::byte> meta;        // every metadata byte; the metadata pieces point into it
  std::vector<StatePiece> pieces;     // in the order llama.cpp reads the state
  std::size_t bytes = 0;              // the state's size: the sum of the pieces
  std::size_t chunks = 0;             // blocks in it: tokens 0..chunks*chunk_tokens-1
  std::vector<std::uint64_t> payload_xxh3;  // per block, from its header
  std::string refused;                // why block `chunks` was not used (empty when all were)
};

// The plan of the longest run of blocks[0..] whose headers check out against `layout`,
// `chunk_tokens` and keys[i] / index i, as tokens 0.. of sequence `seq` in a context with
// `streams` KV streams. The payloads are not checked here: whoever copies a piece out of the
// blocks (memory another process may still write) checksums the copy, per chunk, in piece order,
// and compares it with payload_xxh3. REQUIRES: !layout.v_transposed.
StatePlan plan_seq_state(std::span<const std::span<const std::byte>> blocks, std::span<const Key> keys,
                         const KvLayout& layout, std::uint32_t chunk_tokens, std::int32_t seq,
                         std::uint32_t streams);

}  // namespace kvtier::llama
