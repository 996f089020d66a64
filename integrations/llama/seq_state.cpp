// Sequence state <-> chunks (see seq_state.h).
#include "seq_state.h"

#include <xxhash.h>

#include <cstring>
#include <memory>

namespace kvtier::llama {
namespace {

// llama_context's magic in front of a sequence state (io_magic in src/llama-context.cpp).
constexpr std::uint32_t kStateMagic = 0xaf143cd8u;
// "KVTLLAMA": a kvtier block holding one chunk of llama.cpp KV.
constexpr std::uint64_t kChunkMagic = 0x414d414c4c54564bull;
// 2: the header names the block's key and the chunk's index (a version-1 block is refused: a miss).
constexpr std::uint32_t kChunkVersion = 2;

// The fixed part of a block, little-endian; LayerLayout entries (kLayerBytes each) follow.
struct ChunkHeader {
  std::uint64_t magic;
  std::uint32_t version;
  std::uint32_t chunk_tokens;
  std::uint32_t layers;
  std::uint32_t v_transposed;
  std::uint64_t payload_bytes;
  std::uint64_t payload_xxh3;
  std::uint32_t index;     // the chunk's place in its prompt: tokens index*chunk_tokens..
  std::uint32_t reserved;  // 0
  std::uint8_t key[16];    // the kvtier key the block is stored under
};
static_assert(sizeof(ChunkHeader) == 64);
constexpr std::size_t kLayerBytes = 32;

// Reads little-endian fields of a byte string, refusing to run past its end.
class ByteReader {
 public:
  explicit ByteReader(std::span<const std::byte> in) : in_(in) {}

  template <typename T>
  Status read(const char* field, T* out) {
    KVTIER_RETURN_IF_ERROR(skip(field, sizeof(T)));
    std::memcpy(out, in_.data() + pos_ - sizeof(T), sizeof(T));
    return Status::Ok();
  }
  Status skip(const char* field, std::uint64_t n) {
    if (n > in_.size() - pos_) {
      return Status::InvalidArgument(std::string("llama.cpp sequence state: ") + field + " needs " +
                                     std::to_string(n) + " bytes at offset " + std::to_string(pos_) +
                                     ", " + std::to_string(in_.size() - pos_) + " left");
    }
    pos_ += n;
    return Status::Ok();
  }
  std::size_t pos() const { return pos_; }
  std::size_t left() const { return in_.size() - pos_; }

 private:
  std::span<const std::byte> in_;
  std::size_t pos_ = 0;
};

class ByteWriter {
 public:
  explicit ByteWriter(std::vector<std::byte>& out) : out_(out) {}
  template <typename T>
  void put(T v) {
    append(&v, sizeof v);
  }
  // resize + memcpy rather than insert: GCC 12 warns (wrongly) about insert of byte ranges.
  void append(const void* p, std::size_t n) {
    if (n == 0) return;
    std::size_t at = out_.size();
    out_.resize(at + n);
    std::memcpy(out_.data() + at, p, n);
  }

 private:
  std::vector<std::byte>& out_;
};

Status parse_cells(ByteReader& r, SeqState* s) {
  s->positions.resize(s->cells);
  for (std::uint32_t i = 0; i < s->cells; ++i) {
    std::uint32_t n_seq = 0;
    KVTIER_RETURN_IF_ERROR(r.read("cell position", &s->positions[i]));
    KVTIER_RETURN_IF_ERROR(r.read("cell sequence count", &n_seq));
    if (n_seq != 1) {
      return Status::InvalidArgument("llama.cpp sequence state: cell " + std::to_string(i) + " belongs to " +
                                     std::to_string(n_seq) + " sequences, expected 1");
    }
    KVTIER_RETURN_IF_ERROR(r.skip("cell sequence id", sizeof(std::int32_t)));
  }
  return Status::Ok();
}

Status parse_layers(ByteReader& r, SeqState* s) {
  std::uint32_t v_trans = 0, n_layer = 0;
  KVTIER_RETURN_IF_ERROR(r.read("v_trans", &v_trans));
  KVTIER_RETURN_IF_ERROR(r.read("layer count", &n_layer));
  if (v_trans > 1 || n_layer == 0 || n_layer > 4096) {
    return Status::InvalidArgument("llama.cpp sequence state: v_trans " + std::to_string(v_trans) +
                                   ", " + std::to_string(n_layer) + " layers: not a layout this build reads");
  }
  s->layout.v_transposed = v_trans == 1;
  s->layout.layers.assign(n_layer, LayerLayout{});
  for (LayerLayout& l : s->layout.layers) {
    KVTIER_RETURN_IF_ERROR(r.read("K type", &l.k_type));
    KVTIER_RETURN_IF_ERROR(r.read("K row size", &l.k_row));
    s->k_offset.push_back(r.pos());
    if (l.k_row == 0 || l.k_row > kMaxRowBytes) return Status::InvalidArgument("llama.cpp sequence state: K row of " + std::to_string(l.k_row) + " bytes");
    KVTIER_RETURN_IF_ERROR(r.skip("K rows", l.k_row * s->cells));
  }
  for (LayerLayout& l : s->layout.layers) {
    KVTIER_RETURN_IF_ERROR(r.read("V type", &l.v_type));
    std::uint64_t bytes = 0;
    // Each factor is bounded before it is multiplied (at most 2^26 bytes a token, 2^32 cells), so
    // the product cannot wrap into a small size that parses.
    if (!s->layout.v_transposed) {
      KVTIER_RETURN_IF_ERROR(r.read("V row size", &l.v_row));
      if (l.v_row == 0 || l.v_row > kMaxRowBytes) {
        return Status::InvalidArgument("llama.cpp sequence state: V row of " + std::to_string(l.v_row) + " bytes");
      }
      bytes = l.v_row * s->cells;
    } else {
      KVTIER_RETURN_IF_ERROR(r.read("V element size", &l.v_element));
      KVTIER_RETURN_IF_ERROR(r.read("V channels", &l.v_channels));
      if (l.v_element == 0 || l.v_element > kMaxVElementBytes || l.v_channels == 0 ||
          l.v_channels > kMaxVChannels) {
        return Status::InvalidArgument("llama.cpp sequence state: transposed V of " +
                                       std::to_string(l.v_channels) + " channels of " +
                                       std::to_string(l.v_element) + " bytes");
      }
      bytes = std::uint64_t{l.v_element} * l.v_channels * s->cells;
    }
    s->v_offset.push_back(r.pos());
    KVTIER_RETURN_IF_ERROR(r.skip("V rows", bytes));
  }
  return Status::Ok();
}

std::uint64_t payload_bytes(const KvLayout& layout, std::uint32_t tokens) {
  return layout.bytes_per_token() * tokens;
}

}  // namespace

std::uint64_t KvLayout::bytes_per_token() const {
  std::uint64_t n = 0;
  for (const LayerLayout& l : layers) {
    n += l.k_row + (v_transposed ? std::uint64_t{l.v_element} * l.v_channels : l.v_row);
  }
  return n;
}

Result<SeqState> parse_seq_state(std::span<const std::byte> state) {
  ByteReader r(state);
  std::uint32_t magic = 0;
  std::int32_t seq = 0;
  SeqState s;
  KVTIER_RETURN_IF_ERROR(r.read("magic", &magic));
  if (magic != kStateMagic) return Status::InvalidArgument("llama.cpp sequence state: unknown magic");
  KVTIER_RETURN_IF_ERROR(r.read("sequence id", &seq));
  KVTIER_RETURN_IF_ERROR(r.read("stream count", &s.streams));
  if (s.streams == 0 || s.streams > 1024) return Status::InvalidArgument("llama.cpp sequence state: " + std::to_string(s.streams) + " streams");
  for (std::uint32_t i = 0; i < s.streams; ++i) {
    std::uint32_t cells = 0;
    KVTIER_RETURN_IF_ERROR(r.read("cell count", &cells));
    if (cells == 0) continue;
    if (s.cells != 0) return Status::InvalidArgument("llama.cpp sequence state: the sequence spans two streams");
    s.cells = cells;
    KVTIER_RETURN_IF_ERROR(parse_cells(r, &s));
    KVTIER_RETURN_IF_ERROR(parse_layers(r, &s));
  }
  if (r.left() != 0) {
    return Status::InvalidArgument("llama.cpp sequence state: " + std::to_string(r.left()) +
                                   " bytes left over after the last layer (a layout this build does not know)");
  }
  return s;
}

std::size_t chunk_bytes(const KvLayout& layout, std::uint32_t chunk_tokens) {
  std::uint64_t payload = 0;
  if (__builtin_mul_overflow(layout.bytes_per_token(), std::uint64_t{chunk_tokens}, &payload) ||
      payload > (std::uint64_t{1} << 40)) {
    return 0;
  }
  return sizeof(ChunkHeader) + kLayerBytes * layout.layers.size() + payload;
}

void encode_chunk_into(std::span<const std::byte> state, const SeqState& s, std::uint32_t index,
                       std::uint32_t chunk_tokens, const Key& key, std::span<std::byte> out) {
  const KvLayout& lay = s.layout;
  std::size_t at = 0;
  auto append = [&](const void* p, std::size_t n) {
    std::memcpy(out.data() + at, p, n);
    at += n;
  };
  ChunkHeader h{kChunkMagic, kChunkVersion, chunk_tokens, static_cast<std::uint32_t>(lay.layers.size()),
                lay.v_transposed ? 1u : 0u, payload_bytes(lay, chunk_tokens), 0, index, 0, {}};
  std::memcpy(h.key, key.bytes.data(), sizeof h.key);
  append(&h, sizeof h);
  for (const LayerLayout& l : lay.layers) {
    append(&l.k_type, 4), append(&l.v_type, 4), append(&l.k_row, 8), append(&l.v_row, 8);
    append(&l.v_element, 4), append(&l.v_channels, 4);
  }
  const std::size_t payload_at = at;
  const std::uint64_t first = std::uint64_t{index} * chunk_tokens;
  for (std::size_t i = 0; i < lay.layers.size(); ++i) {
    const std::uint64_t row = lay.layers[i].k_row;
    append(state.data() + s.k_offset[i] + first * row, row * chunk_tokens);
  }
  for (std::size_t i = 0; i < lay.layers.size(); ++i) {
    const LayerLayout& l = lay.layers[i];
    if (!lay.v_transposed) {
      append(state.data() + s.v_offset[i] + first * l.v_row, l.v_row * chunk_tokens);
      continue;
    }
    for (std::uint32_t c = 0; c < l.v_channels; ++c) {
      append(state.data() + s.v_offset[i] + (std::uint64_t{c} * s.cells + first) * l.v_element,
             std::uint64_t{l.v_element} * chunk_tokens);
    }
  }
  h.payload_xxh3 = XXH3_64bits(out.data() + payload_at, at - payload_at);
  std::memcpy(out.data(), &h, sizeof h);
}

std::vector<std::byte> encode_chunk(std::span<const std::byte> state, const SeqState& s,
                                    std::uint32_t index, std::uint32_t chunk_tokens, const Key& key) {
  std::vector<std::byte> out(chunk_bytes(s.layout, chunk_tokens));
  encode_chunk_into(state, s, index, chunk_tokens, key, out);
  return out;
}

namespace {

// Checks a block's header and layer table, from a private copy of them (what it reads cannot
// change under it). On success *header is that copy.
Status check_chunk_header(std::span<const std::byte> block, const KvLayout& expected,
                          std::uint32_t chunk_tokens, const Key& key, std::uint32_t index,
                          ChunkHeader* header) {
  const std::size_t want = chunk_bytes(expected, chunk_tokens);
  if (want == 0 || block.size() != want) {
    return Status::InvalidArgument("chunk of " + std::to_string(block.size()) + " bytes, this layout's are " +
                                   std::to_string(want));
  }
  ChunkHeader& h = *header;
  std::memcpy(&h, block.data(), sizeof h);
  if (h.magic != kChunkMagic || h.version != kChunkVersion) return Status::InvalidArgument("not a kvtier llama.cpp chunk (magic or version)");
  if (h.chunk_tokens != chunk_tokens) return Status::InvalidArgument("chunk of " + std::to_string(h.chunk_tokens) + " tokens");
  if (std::memcmp(h.key, key.bytes.data(), sizeof h.key) != 0 || h.index != index) {
    return Status::InvalidArgument("chunk stored for another key or position (index " +
                                   std::to_string(h.index) + ", expected " + std::to_string(index) + ")");
  }
  if (h.layers != expected.layers.size() || h.v_transposed != (expected.v_transposed ? 1u : 0u)) {
    return Status::InvalidArgument("chunk of another KV layout");
  }
  std::vector<std::byte> table(kLayerBytes * h.layers);
  std::memcpy(table.data(), block.data() + sizeof h, table.size());
  KvLayout stored;
  stored.v_transposed = h.v_transposed == 1;
  ByteReader r(table);
  for (std::uint32_t i = 0; i < h.layers; ++i) {
    LayerLayout l;
    KVTIER_RETURN_IF_ERROR(r.read("k_type", &l.k_type));
    KVTIER_RETURN_IF_ERROR(r.read("v_type", &l.v_type));
    KVTIER_RETURN_IF_ERROR(r.read("k_row", &l.k_row));
    KVTIER_RETURN_IF_ERROR(r.read("v_row", &l.v_row));
    KVTIER_RETURN_IF_ERROR(r.read("v_element", &l.v_element));
    KVTIER_RETURN_IF_ERROR(r.read("v_channels", &l.v_channels));
    stored.layers.push_back(l);
  }
  if (!(stored == expected)) return Status::InvalidArgument("chunk of another KV layout");
  if (h.payload_bytes != payload_bytes(expected, chunk_tokens)) {
    return Status::InvalidArgument("chunk payload of " + std::to_string(h.payload_bytes) + " bytes");
  }
  return Status::Ok();
}

// Where each layer's K and V start in a state of `cells` tokens, and its size.
struct StateLayout {
  std::vector<std::size_t> k_at, v_at;
  std::size_t bytes = 0;
};

// The state of `cells` tokens of sequence `seq` (positions 0..cells-1) in llama.cpp's order:
// metadata through sink.put(value), each layer's K rows through sink.k_rows(layer, bytes), then
// its V through sink.v_rows(layer, bytes). One description of the layout for every way of
// building a state.
template <typename Sink>
void lay_out_state(Sink& sink, const KvLayout& layout, std::uint32_t cells, std::int32_t seq,
                   std::uint32_t streams) {
  sink.put(kStateMagic);
  sink.put(seq);
  sink.put(streams);
  sink.put(cells);  // the sequence's stream; llama.cpp puts the cells where seq belongs
  for (std::uint32_t i = 0; i < cells; ++i) {
    sink.put(static_cast<std::int32_t>(i));
    sink.put(std::uint32_t{1});
    sink.put(seq);
  }
  sink.put(std::uint32_t{layout.v_transposed ? 1u : 0u});
  sink.put(static_cast<std::uint32_t>(layout.layers.size()));
  for (std::size_t i = 0; i < layout.layers.size(); ++i) {
    const LayerLayout& l = layout.layers[i];
    sink.put(l.k_type);
    sink.put(l.k_row);
    sink.k_rows(i, l.k_row * cells);
  }
  for (std::size_t i = 0; i < layout.layers.size(); ++i) {
    const LayerLayout& l = layout.layers[i];
    sink.put(l.v_type);
    if (!layout.v_transposed) {
      sink.put(l.v_row);
      sink.v_rows(i, l.v_row * cells);
      continue;
    }
    sink.put(l.v_element);
    sink.put(l.v_channels);
    sink.v_rows(i, std::uint64_t{l.v_element} * l.v_channels * cells);
  }
  for (std::uint32_t s = 1; s < streams; ++s) sink.put(std::uint32_t{0});
}

// Writes the metadata of a state into `out` with room for every layer's rows left to fill, and
// returns where those rows go.
// lay_out_state's sink for write_state_skeleton: metadata written, rows left as room.
class SkeletonSink {
 public:
  explicit SkeletonSink(std::vector<std::byte>& out) : out_(out) {}
  template <typename T>
  void put(T v) { ByteWriter(out_).put(v); }
  void k_rows(std::size_t, std::uint64_t bytes) { at_.k_at.push_back(room(bytes)); }
  void v_rows(std::size_t, std::uint64_t bytes) { at_.v_at.push_back(room(bytes)); }
  StateLayout finish() {
    at_.bytes = out_.size();
    return at_;
  }

 private:
  std::size_t room(std::uint64_t bytes) {
    const std::size_t begin = out_.size();
    out_.resize(begin + bytes);
    return begin;
  }
  std::vector<std::byte>& out_;
  StateLayout at_;
};

StateLayout write_state_skeleton(std::vector<std::byte>& out, const KvLayout& layout,
                                 std::uint32_t cells, std::int32_t seq, std::uint32_t streams) {
  SkeletonSink sink(out);
  lay_out_state(sink, layout, cells, seq, streams);
  return sink.finish();
}

// lay_out_state's sink for plan_seq_state: metadata accumulates into one piece until rows follow,
// and each layer's rows are one piece per block, where they lie in it. The metadata pieces point
// into plan.meta once it stops growing (finish()).
class PlanSink {
 public:
  // k_in[i] / v_in[i]: where layer i's K / V rows start in a block.
  PlanSink(StatePlan& plan, std::span<const std::span<const std::byte>> blocks,
           std::vector<std::size_t> k_in, std::vector<std::size_t> v_in)
      : plan_(plan), blocks_(blocks), k_in_(std::move(k_in)), v_in_(std::move(v_in)) {}
  template <typename T>
  void put(T v) {
    ByteWriter(plan_.meta).put(v);
    pending_ += sizeof v;
  }
  void k_rows(std::size_t layer, std::uint64_t bytes) { rows(k_in_[layer], bytes); }
  void v_rows(std::size_t layer, std::uint64_t bytes) { rows(v_in_[layer], bytes); }
  void finish() {
    flush();
    for (std::size_t i = 0; i < plan_.pieces.size(); ++i) {
      if (plan_.pieces[i].chunk < 0) plan_.pieces[i].src = plan_.meta.data() + meta_at_[i];
    }
  }

 private:
  void flush() {
    if (pending_ == 0) return;
    plan_.pieces.push_back({nullptr, pending_, -1});
    meta_at_.push_back(plan_.meta.size() - pending_);
    plan_.bytes += pending_;
    pending_ = 0;
  }
  void rows(std::size_t in_block, std::uint64_t bytes) {
    flush();
    const std::uint64_t each = bytes / blocks_.size();
    for (std::size_t c = 0; c < blocks_.size(); ++c) {
      plan_.pieces.push_back({blocks_[c].data() + in_block, each, static_cast<std::int32_t>(c)});
      meta_at_.push_back(0);
      plan_.bytes += each;
    }
  }
  StatePlan& plan_;
  std::span<const std::span<const std::byte>> blocks_;
  std::vector<std::size_t> k_in_, v_in_;
  std::vector<std::size_t> meta_at_;  // per piece: its offset into plan_.meta (metadata pieces)
  std::size_t pending_ = 0;           // metadata bytes not yet in a piece
};

// The headers of the longest run of blocks[0..] that check out (each a private copy); *refused
// says why the next one did not.
std::vector<ChunkHeader> checked_headers(std::span<const std::span<const std::byte>> blocks,
                                         std::span<const Key> keys, const KvLayout& layout,
                                         std::uint32_t chunk_tokens, std::string* refused) {
  std::vector<ChunkHeader> headers;
  const std::size_t most = chunk_tokens == 0 ? 0 : kMaxStateTokens / chunk_tokens;
  for (std::size_t i = 0; i < blocks.size() && i < keys.size(); ++i) {
    if (i >= most) {
      *refused = "chunk " + std::to_string(i) + ": past " + std::to_string(kMaxStateTokens) + " tokens";
      break;
    }
    ChunkHeader h{};
    Status s = check_chunk_header(blocks[i], layout, chunk_tokens, keys[i], static_cast<std::uint32_t>(i), &h);
    if (!s.ok()) {
      *refused = "chunk " + std::to_string(i) + ": " + s.message();
      break;
    }
    headers.push_back(h);
  }
  return headers;
}

// Copies chunk `c`'s payload (in `block`) to its places in the state and returns the checksum of
// the copies, in the payload's order.
std::uint64_t place_chunk(std::span<const std::byte> block, std::size_t c, const KvLayout& layout,
                          std::uint32_t chunk_tokens, std::uint32_t cells, const StateLayout& at,
                          std::byte* state, XXH3_state_t* hash) {
  XXH3_64bits_reset(hash);
  const std::byte* src = block.data() + sizeof(ChunkHeader) + kLayerBytes * layout.layers.size();
  auto copy = [&](std::size_t dst_at, std::uint64_t n) {
    std::memcpy(state + dst_at, src, n);
    XXH3_64bits_update(hash, state + dst_at, n);
    src += n;
  };
  const std::uint64_t first = std::uint64_t{c} * chunk_tokens;
  for (std::size_t i = 0; i < layout.layers.size(); ++i) {
    const std::uint64_t row = layout.layers[i].k_row;
    copy(at.k_at[i] + first * row, row * chunk_tokens);
  }
  for (std::size_t i = 0; i < layout.layers.size(); ++i) {
    const LayerLayout& l = layout.layers[i];
    if (!layout.v_transposed) {
      copy(at.v_at[i] + first * l.v_row, l.v_row * chunk_tokens);
      continue;
    }
    for (std::uint32_t ch = 0; ch < l.v_channels; ++ch) {
      copy(at.v_at[i] + (std::uint64_t{ch} * cells + first) * l.v_element,
           std::uint64_t{l.v_element} * chunk_tokens);
    }
  }
  return XXH3_64bits_digest(hash);
}

}  // namespace

Status check_chunk(std::span<const std::byte> block, const KvLayout& expected,
                   std::uint32_t chunk_tokens, const Key& key, std::uint32_t index) {
  ChunkHeader h{};
  KVTIER_RETURN_IF_ERROR(check_chunk_header(block, expected, chunk_tokens, key, index, &h));
  const std::size_t payload_at = sizeof h + kLayerBytes * h.layers;
  if (XXH3_64bits(block.data() + payload_at, block.size() - payload_at) != h.payload_xxh3) {
    return Status::InvalidArgument("chunk payload does not match its checksum");
  }
  return Status::Ok();
}

RebuiltState rebuild_seq_state(std::span<const std::span<const std::byte>> blocks,
                               std::span<const Key> keys, const KvLayout& layout,
                               std::uint32_t chunk_tokens, std::int32_t seq, std::uint32_t streams) {
  RebuiltState out;
  const std::vector<ChunkHeader> headers = checked_headers(blocks, keys, layout, chunk_tokens, &out.refused);
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> hash(XXH3_createState(), XXH3_freeState);
  // A payload that fails its checksum (or changed since its header was read) shortens the run;
  // the state is then laid out again for fewer cells. Each pass ends or drops a chunk.
  for (std::size_t n = headers.size(); n > 0 && hash;) {
    const auto cells = static_cast<std::uint32_t>(n * chunk_tokens);
    std::vector<std::byte> state;
    const StateLayout at = write_state_skeleton(state, layout, cells, seq, streams);
    std::size_t good = 0;
    while (good < n && place_chunk(blocks[good], good, layout, chunk_tokens, cells, at,
                                   state.data(), hash.get()) == headers[good].payload_xxh3) {
      ++good;
    }
    if (good == n) {
      out.state = std::move(state);
      out.chunks = n;
      return out;
    }
    out.refused = "chunk " + std::to_string(good) + ": payload does not match its checksum";
    n = good;
  }
  return out;
}

StatePlan plan_seq_state(std::span<const std::span<const std::byte>> blocks, std::span<const Key> keys,
                         const KvLayout& layout, std::uint32_t chunk_tokens, std::int32_t seq,
                         std::uint32_t streams) {
  StatePlan plan;
  const std::vector<ChunkHeader> headers = checked_headers(blocks, keys, layout, chunk_tokens, &plan.refused);
  if (headers.empty() || layout.v_transposed) return plan;
  // Where each layer's K and V rows start in a block's payload.
  const std::size_t payload_at = sizeof(ChunkHeader) + kLayerBytes * layout.layers.size();
  std::vector<std::size_t> k_in(layout.layers.size()), v_in(layout.layers.size());
  std::size_t at = payload_at;
  for (std::size_t i = 0; i < layout.layers.size(); ++i) k_in[i] = at, at += layout.layers[i].k_row * chunk_tokens;
  for (std::size_t i = 0; i < layout.layers.size(); ++i) v_in[i] = at, at += layout.layers[i].v_row * chunk_tokens;

  PlanSink sink(plan, blocks.first(headers.size()), std::move(k_in), std::move(v_in));
  lay_out_state(sink, layout, static_cast<std::uint32_t>(headers.size() * chunk_tokens), seq, streams);
  sink.finish();
  plan.chunks = headers.size();
  for (const ChunkHeader& h : headers) plan.payload_xxh3.push_back(h.payload_xxh3);
  return plan;
}

}  // namespace kvtier::llama
