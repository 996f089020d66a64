// Sequence state <-> chunks (see seq_state.h).
#include "seq_state.h"

#include <xxhash.h>

#include <cstring>

namespace kvtier::llama {
namespace {

// llama_context's magic in front of a sequence state (io_magic in src/llama-context.cpp).
constexpr std::uint32_t kStateMagic = 0xaf143cd8u;
// "KVTLLAMA": a kvtier block holding one chunk of llama.cpp KV.
constexpr std::uint64_t kChunkMagic = 0x414d414c4c54564bull;
constexpr std::uint32_t kChunkVersion = 1;

// The fixed part of a block, little-endian; LayerLayout entries (kLayerBytes each) follow.
struct ChunkHeader {
  std::uint64_t magic;
  std::uint32_t version;
  std::uint32_t chunk_tokens;
  std::uint32_t layers;
  std::uint32_t v_transposed;
  std::uint64_t payload_bytes;
  std::uint64_t payload_xxh3;
};
static_assert(sizeof(ChunkHeader) == 40);
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
    if (l.k_row == 0 || l.k_row > (1u << 24)) return Status::InvalidArgument("llama.cpp sequence state: K row of " + std::to_string(l.k_row) + " bytes");
    KVTIER_RETURN_IF_ERROR(r.skip("K rows", l.k_row * s->cells));
  }
  for (LayerLayout& l : s->layout.layers) {
    KVTIER_RETURN_IF_ERROR(r.read("V type", &l.v_type));
    std::uint64_t bytes = 0;
    if (!s->layout.v_transposed) {
      KVTIER_RETURN_IF_ERROR(r.read("V row size", &l.v_row));
      bytes = l.v_row * s->cells;
    } else {
      KVTIER_RETURN_IF_ERROR(r.read("V element size", &l.v_element));
      KVTIER_RETURN_IF_ERROR(r.read("V channels", &l.v_channels));
      bytes = std::uint64_t{l.v_element} * l.v_channels * s->cells;
    }
    if (bytes == 0 && s->cells > 0) return Status::InvalidArgument("llama.cpp sequence state: a layer without V bytes");
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
  return sizeof(ChunkHeader) + kLayerBytes * layout.layers.size() + payload_bytes(layout, chunk_tokens);
}

void encode_chunk_into(std::span<const std::byte> state, const SeqState& s, std::uint32_t index,
                       std::uint32_t chunk_tokens, std::span<std::byte> out) {
  const KvLayout& lay = s.layout;
  std::size_t at = 0;
  auto append = [&](const void* p, std::size_t n) {
    std::memcpy(out.data() + at, p, n);
    at += n;
  };
  ChunkHeader h{kChunkMagic, kChunkVersion, chunk_tokens, static_cast<std::uint32_t>(lay.layers.size()),
                lay.v_transposed ? 1u : 0u, payload_bytes(lay, chunk_tokens), 0};
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
                                    std::uint32_t index, std::uint32_t chunk_tokens) {
  std::vector<std::byte> out(chunk_bytes(s.layout, chunk_tokens));
  encode_chunk_into(state, s, index, chunk_tokens, out);
  return out;
}

Status check_chunk(std::span<const std::byte> block, const KvLayout& expected,
                   std::uint32_t chunk_tokens) {
  if (block.size() != chunk_bytes(expected, chunk_tokens)) {
    return Status::InvalidArgument("chunk of " + std::to_string(block.size()) + " bytes, this layout's are " +
                                   std::to_string(chunk_bytes(expected, chunk_tokens)));
  }
  ChunkHeader h{};
  std::memcpy(&h, block.data(), sizeof h);
  if (h.magic != kChunkMagic || h.version != kChunkVersion) return Status::InvalidArgument("not a kvtier llama.cpp chunk (magic or version)");
  if (h.chunk_tokens != chunk_tokens) return Status::InvalidArgument("chunk of " + std::to_string(h.chunk_tokens) + " tokens");
  KvLayout stored;
  stored.v_transposed = h.v_transposed == 1;
  ByteReader r(block.subspan(sizeof h));
  for (std::uint32_t i = 0; i < h.layers && i < 4096; ++i) {
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
  const std::size_t payload_at = sizeof h + kLayerBytes * h.layers;
  if (h.payload_bytes != block.size() - payload_at ||
      XXH3_64bits(block.data() + payload_at, block.size() - payload_at) != h.payload_xxh3) {
    return Status::InvalidArgument("chunk payload does not match its checksum");
  }
  return Status::Ok();
}

std::vector<std::byte> build_seq_state(std::span<const std::span<const std::byte>> chunks,
                                       const KvLayout& layout, std::uint32_t chunk_tokens,
                                       std::int32_t seq, std::uint32_t streams) {
  const std::uint32_t cells = static_cast<std::uint32_t>(chunks.size()) * chunk_tokens;
  std::vector<std::byte> out;
  out.reserve(64 + cells * 12 + payload_bytes(layout, cells));
  ByteWriter w(out);
  w.put(kStateMagic);
  w.put(seq);
  w.put(streams);
  w.put(cells);  // the sequence's stream; llama.cpp puts the cells where seq belongs
  for (std::uint32_t i = 0; i < cells; ++i) {
    w.put(static_cast<std::int32_t>(i));
    w.put(std::uint32_t{1});
    w.put(seq);
  }
  w.put(std::uint32_t{layout.v_transposed ? 1u : 0u});
  w.put(static_cast<std::uint32_t>(layout.layers.size()));
  const std::size_t payload_at = sizeof(ChunkHeader) + kLayerBytes * layout.layers.size();
  // Offsets of each layer's K and V inside a chunk's payload.
  std::uint64_t at = 0;
  std::vector<std::uint64_t> k_at, v_at;
  for (const LayerLayout& l : layout.layers) {
    k_at.push_back(at);
    at += l.k_row * chunk_tokens;
  }
  for (const LayerLayout& l : layout.layers) {
    v_at.push_back(at);
    at += (layout.v_transposed ? std::uint64_t{l.v_element} * l.v_channels : l.v_row) * chunk_tokens;
  }
  for (std::size_t i = 0; i < layout.layers.size(); ++i) {
    const LayerLayout& l = layout.layers[i];
    w.put(l.k_type);
    w.put(l.k_row);
    for (const auto& c : chunks) w.append(c.data() + payload_at + k_at[i], l.k_row * chunk_tokens);
  }
  for (std::size_t i = 0; i < layout.layers.size(); ++i) {
    const LayerLayout& l = layout.layers[i];
    w.put(l.v_type);
    if (!layout.v_transposed) {
      w.put(l.v_row);
      for (const auto& c : chunks) w.append(c.data() + payload_at + v_at[i], l.v_row * chunk_tokens);
      continue;
    }
    w.put(l.v_element);
    w.put(l.v_channels);
    const std::uint64_t run = std::uint64_t{l.v_element} * chunk_tokens;
    for (std::uint32_t ch = 0; ch < l.v_channels; ++ch) {
      for (const auto& c : chunks) w.append(c.data() + payload_at + v_at[i] + ch * run, run);
    }
  }
  for (std::uint32_t s = 1; s < streams; ++s) w.put(std::uint32_t{0});
  return out;
}

}  // namespace kvtier::llama
