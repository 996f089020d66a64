// Shared by the protocol tests and fuzz/protocol_fuzzer.cpp: sample frames of every operation,
// a driver that feeds a FrameReader in chunks and collects what it reports, and canonical
// re-encoding of decoded meta. Depends only on src/protocol (no gtest), so the libFuzzer target
// can use it too.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "protocol/dispatch.h"
#include "protocol/frame.h"
#include "protocol/meta.h"
#include "support/test_support.h"

namespace kvtier::protocol::testing {

using kvtier::testing::splitmix64;

inline Key key_of(std::uint64_t n) {
  Key k;
  std::uint64_t s = n;
  std::uint64_t a = splitmix64(s), b = splitmix64(s);
  std::memcpy(k.bytes.data(), &a, 8);
  std::memcpy(k.bytes.data() + 8, &b, 8);
  return k;
}

inline std::vector<std::byte> bytes_of(std::string_view s) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return {p, p + s.size()};
}

// One frame as a FrameReader reported it.
struct ParsedFrame {
  FrameHeader header;
  std::vector<std::byte> meta;
  std::vector<std::byte> data;
  friend bool operator==(const ParsedFrame&, const ParsedFrame&) = default;
};

struct StreamResult {
  std::vector<ParsedFrame> frames;        // complete frames, in order
  ReadState last = ReadState::kNeedMore;  // what the reader said when the bytes ran out (or kError)
  std::optional<FrameError> error;
  std::size_t max_buffered = 0;       // the most FrameReader::buffered_bytes() ever reported
  std::uint64_t data_bytes = 0;       // data bytes moved, including a partial last frame's
  bool need_more_with_input = false;  // kNeedMore while bytes were still in the chunk (a bug)
};

// Feeds `bytes` to `reader` in chunks of next_chunk() bytes (at least 1) and collects what it
// reports. Data is moved with take_data() straight from the chunk, as a daemon would; when
// keep_data is false it is only counted.
inline StreamResult read_stream(FrameReader& reader, std::span<const std::byte> bytes,
                                const std::function<std::size_t()>& next_chunk,
                                bool keep_data = true) {
  StreamResult out;
  std::size_t pos = 0;
  std::span<const std::byte> in;
  ParsedFrame cur;
  auto refill = [&]() -> bool {
    if (pos == bytes.size()) return false;
    std::size_t n = std::min(std::max<std::size_t>(next_chunk(), 1), bytes.size() - pos);
    in = bytes.subspan(pos, n);
    pos += n;
    return true;
  };
  for (;;) {
    ReadState s = reader.feed(in);
    out.max_buffered = std::max(out.max_buffered, reader.buffered_bytes());
    out.last = s;
    switch (s) {
      case ReadState::kNeedMore:
        if (!in.empty()) out.need_more_with_input = true;
        if (!refill()) return out;
        break;
      case ReadState::kHeaderReady:
        cur = ParsedFrame{};
        cur.header = reader.header();
        break;
      case ReadState::kMetaReady:
        cur.meta.assign(reader.meta().begin(), reader.meta().end());
        break;
      case ReadState::kDataPending:
        if (in.empty() && !refill()) return out;
        {
          std::span<const std::byte> d = reader.take_data(in);
          out.data_bytes += d.size();
          if (keep_data) cur.data.insert(cur.data.end(), d.begin(), d.end());
        }
        break;
      case ReadState::kFrameDone:
        out.frames.push_back(std::move(cur));
        cur = ParsedFrame{};
        if (in.empty() && pos == bytes.size()) return out;
        break;
      case ReadState::kError:
        out.error = reader.error();
        return out;
    }
  }
}

inline StreamResult read_whole(FrameKind kind, std::span<const std::byte> bytes,
                               std::uint64_t max_data_bytes = kDefaultMaxDataBytes) {
  FrameReader reader = FrameReader::create(kind, max_data_bytes).value();
  return read_stream(reader, bytes, [&] { return bytes.size(); });
}

// The canonical encoding of a decoded message: equal to the meta it was decoded from, since every
// field has exactly one encoding.
struct Reencoder {
  std::vector<std::byte> out;
  void operator()(const ErrorMessage& m) { out = bytes_of(m.text); }
  template <typename T>
  void operator()(const T& m) {
    out = encode_meta(m);
  }
};

// A sample message of every type, with the data bytes its frame carries.
struct SampleFrame {
  std::vector<std::byte> frame;  // header + meta + data
  std::vector<std::byte> meta;
  std::vector<std::byte> data;
  Opcode opcode = Opcode::kNone;
};

template <typename T>
inline SampleFrame make_sample(std::uint64_t request_id, const T& message,
                               std::vector<std::byte> data = {},
                               StatusCode status = StatusCode::kOk) {
  SampleFrame s;
  s.opcode = T::kOpcode;
  s.meta = encode_meta(message);
  s.data = std::move(data);
  Status st = append_frame(s.frame, request_id, message, s.data.size(), status);
  if (!st.ok()) std::abort();  // samples are valid by construction
  s.frame.insert(s.frame.end(), s.data.begin(), s.data.end());
  return s;
}

inline std::vector<std::byte> filler(std::size_t n, std::uint64_t seed) {
  std::vector<std::byte> v(n);
  for (auto& b : v) b = static_cast<std::byte>(splitmix64(seed));
  return v;
}

// One request of every opcode (PUT and PUT_MANY with data), request ids 1, 2, ...
inline std::vector<SampleFrame> sample_requests() {
  std::vector<SampleFrame> s;
  std::uint64_t id = 1;
  s.push_back(make_sample(
      id++,
      HelloRequest{
          .min_version = 1, .max_version = 1, .token = "s3cret", .client_name = "vllm-worker-0"}));
  s.push_back(make_sample(id++, PingRequest{.payload = std::string("ping \0\xff payload", 15)}));
  s.push_back(make_sample(id++, PutRequest{.key = key_of(1), .value_len = 100}, filler(100, 1)));
  s.push_back(make_sample(id++, GetRequest{.key = key_of(2), .capacity = 1 << 20}));
  s.push_back(make_sample(id++, LookupRequest{.keys = {key_of(3), key_of(4), key_of(5)}}));
  s.push_back(
      make_sample(id++, PutManyRequest{.items = {{key_of(6), 7}, {key_of(7), 9}}}, filler(16, 2)));
  s.push_back(make_sample(id++, GetManyRequest{.items = {{key_of(8), 4096}, {key_of(9), 0}}}));
  s.push_back(make_sample(id++, RemoveRequest{.key = key_of(10)}));
  s.push_back(make_sample(id++, PinRequest{.key = key_of(11), .lease_ms = 30000}));
  s.push_back(make_sample(id++, UnpinRequest{.key = key_of(12)}));
  s.push_back(make_sample(id++, StatsRequest{}));
  s.push_back(make_sample(id++, ShmRegisterRequest{.size = 1ull << 30}));
  s.push_back(make_sample(
      id++, GetManyShmRequest{.region_id = 3,
                              .items = {{key_of(13), 0, 8192}, {key_of(14), 8192, 4096}}}));
  s.push_back(
      make_sample(id++, PutManyShmRequest{.region_id = 4, .items = {{key_of(15), 4096, 100}}}));
  return s;
}

// One response of every opcode (GET and GET_MANY with data), plus a GET buffer_too_small and
// error responses, request ids 1, 2, ...
inline std::vector<SampleFrame> sample_responses() {
  std::vector<SampleFrame> s;
  std::uint64_t id = 1;
  s.push_back(make_sample(id++, HelloResponse{.version = 1,
                                              .tenant = "team-a",
                                              .max_value_bytes = 256 << 20,
                                              .max_batch = 1024,
                                              .max_data_bytes = 1 << 30}));
  s.push_back(make_sample(id++, PingResponse{.payload = "pong"}));
  s.push_back(make_sample(id++, PutResponse{}));
  s.push_back(make_sample(id++, GetResponse{.value_len = 64}, filler(64, 3)));
  s.push_back(make_sample(id++, LookupResponse{.cached = 3, .in_dram = 2, .in_nvme = 1}));
  s.push_back(
      make_sample(id++, PutManyResponse{.statuses = {StatusCode::kOk, StatusCode::kNoSpace}}));
  s.push_back(make_sample(id++,
                          GetManyResponse{.results = {{StatusCode::kOk, 5},
                                                      {StatusCode::kNotFound, 0},
                                                      {StatusCode::kBufferTooSmall, 9000},
                                                      {StatusCode::kOk, 3}}},
                          filler(8, 4)));
  s.push_back(make_sample(id++, RemoveResponse{}));
  s.push_back(make_sample(id++, PinResponse{}));
  s.push_back(make_sample(id++, UnpinResponse{}));
  s.push_back(make_sample(id++, StatsResponse{.text = "# TYPE dram_hits counter\ndram_hits 7\n"}));
  s.push_back(make_sample(id++, ShmRegisterResponse{.region_id = 3}));
  s.push_back(make_sample(id++, GetManyShmResponse{.results = {{StatusCode::kOk, 8192}}}));
  s.push_back(make_sample(id++, PutManyShmResponse{.statuses = {StatusCode::kOk}}));
  s.push_back(
      make_sample(id++, GetResponse{.value_len = 1 << 20}, {}, StatusCode::kBufferTooSmall));
  SampleFrame err;
  err.opcode = Opcode::kRemove;
  err.meta = bytes_of("no such block");
  if (!append_error_frame(err.frame, Opcode::kRemove, id++, Status::NotFound("no such block")).ok())
    std::abort();
  s.push_back(err);
  return s;
}

// ---- Outcome checks shared by tests/protocol/protocol_fuzz_test.cpp and fuzz/protocol_fuzzer.cpp
// ----

struct Tally {
  int frames = 0;         // frames whose meta decoded
  int meta_errors = 0;    // frames whose meta was refused
  int stream_errors = 0;  // streams the reader refused
  int incomplete = 0;     // streams that ended mid-frame
};

inline bool is_codec_error(const Status& s) {
  return (s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kTooLarge) &&
         !s.message().empty();
}

// Decodes one frame's meta: it must be a message within max_batch that re-encodes to the same
// bytes, or a codec error. Returns what went wrong, or "" when nothing did.
inline std::string check_meta(const ParsedFrame& f, std::uint32_t max_batch, Tally& tally) {
  Reencoder reencode;
  std::size_t list_size = 0;
  Status s = visit_meta(f.header, f.meta, max_batch, [&](const auto& m) {
    reencode(m);
    if constexpr (requires { m.items; }) list_size = m.items.size();
    if constexpr (requires { m.keys; }) list_size = m.keys.size();
    if constexpr (requires { m.statuses; }) list_size = m.statuses.size();
    if constexpr (requires { m.results; }) list_size = m.results.size();
  });
  if (s.ok()) {
    ++tally.frames;
    if (reencode.out != f.meta) return "decoded meta does not re-encode to the same bytes";
    if (list_size > max_batch) return "a decoded list is longer than max_batch";
    return "";
  }
  ++tally.meta_errors;
  if (!is_codec_error(s)) return "meta error is not a codec error: " + s.to_string();
  return "";
}

// Feeds `bytes` to a fresh reader in chunks of 1..64 bytes drawn from chunk_seed, then checks
// every frame's meta. Returns what went wrong, or "" when nothing did.
inline std::string check_stream(FrameKind kind, std::span<const std::byte> bytes,
                                std::uint64_t max_data, std::uint32_t max_batch,
                                std::uint64_t chunk_seed, Tally& tally) {
  FrameReader reader = FrameReader::create(kind, max_data).value();
  StreamResult r = read_stream(
      reader, bytes, [&] { return static_cast<std::size_t>(splitmix64(chunk_seed) % 64) + 1; },
      /*keep_data=*/false);
  if (r.need_more_with_input) return "kNeedMore with input left";
  // The reader holds one header and a meta that grows with the bytes received, never more.
  if (r.max_buffered > kFrameHeaderBytes + FrameReader::kRetainedMetaBytes + 2 * bytes.size()) {
    return "reader holds " + std::to_string(r.max_buffered) + " bytes for an input of " +
           std::to_string(bytes.size());
  }
  if (r.data_bytes > bytes.size()) return "more data bytes than input";
  for (const ParsedFrame& f : r.frames) {
    if (!validate_header(f.header, kind, max_data).ok()) return "a reported header is invalid";
    if (f.meta.size() != f.header.meta_len) return "meta size differs from meta_len";
    if (std::string why = check_meta(f, max_batch, tally); !why.empty()) return why;
  }
  if (r.error) {
    ++tally.stream_errors;
    if (r.last != ReadState::kError) return "an error without kError";
    if (!is_codec_error(r.error->status)) return "reader error: " + r.error->status.to_string();
    if (r.error->status.message().rfind("frame header: ", 0) != 0) return "unnamed reader error";
    if (!r.error->close_connection) return "a reader error that keeps the connection";
    return "";
  }
  if (r.last != ReadState::kFrameDone && r.last != ReadState::kNeedMore &&
      r.last != ReadState::kDataPending) {
    return "stream ended in an unexpected state";
  }
  if (r.last != ReadState::kFrameDone) ++tally.incomplete;
  return "";
}

inline std::vector<std::byte> concat(const std::vector<SampleFrame>& frames) {
  std::vector<std::byte> out;
  for (const SampleFrame& f : frames) out.insert(out.end(), f.frame.begin(), f.frame.end());
  return out;
}

}  // namespace kvtier::protocol::testing
