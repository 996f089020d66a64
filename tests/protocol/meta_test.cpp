// Meta codec: every operation's request and response round-trips, through decode_meta and
// through whole frames; truncated, trailing and hostile metas give clear errors; frame builders
// refuse what a reader would refuse.
#include "protocol/meta.h"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "protocol/dispatch.h"
#include "protocol/protocol_test_util.h"

namespace kvtier::protocol {
namespace {

using testing::key_of;

constexpr std::uint32_t kBatch = 1024;

template <typename T>
Result<T> decode(std::span<const std::byte> meta, std::uint32_t max_batch = kBatch) {
  if constexpr (T::kHasList) {
    return decode_meta<T>(meta, max_batch);
  } else {
    return decode_meta<T>(meta);
  }
}

// Encodes, decodes and compares; then sends the message as a whole frame through a FrameReader
// and visit_meta, which must deliver the same message.
template <typename T>
void expect_round_trip(const T& message, std::size_t expected_meta_bytes) {
  SCOPED_TRACE(std::string(opcode_name(T::kOpcode)) +
               (T::kKind == FrameKind::kRequest ? " request" : " response"));
  std::vector<std::byte> meta = encode_meta(message);
  EXPECT_EQ(meta.size(), expected_meta_bytes);
  Result<T> back = decode<T>(meta);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_TRUE(*back == message);

  std::vector<std::byte> frame;
  ASSERT_TRUE(append_frame(frame, 42, message).ok());
  testing::StreamResult r = testing::read_whole(T::kKind, frame);
  ASSERT_EQ(r.last, ReadState::kFrameDone);
  ASSERT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.frames[0].header.opcode, T::kOpcode);
  EXPECT_EQ(r.frames[0].header.request_id, 42u);
  bool visited = false;
  Status s = visit_meta(r.frames[0].header, r.frames[0].meta, kBatch, [&](const auto& m) {
    if constexpr (std::is_same_v<std::decay_t<decltype(m)>, T>) {
      visited = true;
      EXPECT_TRUE(m == message);
    } else {
      ADD_FAILURE() << "visit_meta decoded the wrong type";
    }
  });
  EXPECT_TRUE(s.ok()) << s.to_string();
  EXPECT_TRUE(visited);
}

TEST(ProtocolMeta, EveryRequestRoundTrips) {
  expect_round_trip(
      HelloRequest{.min_version = 1, .max_version = 3, .token = "tok", .client_name = "sglang"},
      2 + 2 + 4 + 3 + 4 + 6);
  expect_round_trip(HelloRequest{}, 12);
  expect_round_trip(PingRequest{.payload = std::string(kMaxPingPayloadBytes, 'x')}, 4 + 1024);
  expect_round_trip(PutRequest{.key = key_of(1), .value_len = 1ull << 40}, 24);
  expect_round_trip(GetRequest{.key = key_of(2), .capacity = ~0ull}, 24);
  expect_round_trip(LookupRequest{.keys = {key_of(3), key_of(4)}}, 4 + 32);
  expect_round_trip(LookupRequest{}, 4);
  expect_round_trip(PutManyRequest{.items = {{key_of(5), 1}, {key_of(6), 2}, {key_of(7), 3}}},
                    4 + 3 * 24);
  expect_round_trip(GetManyRequest{.items = {{key_of(8), 4096}}}, 4 + 24);
  expect_round_trip(RemoveRequest{.key = key_of(9)}, 16);
  expect_round_trip(PinRequest{.key = key_of(10), .lease_ms = 0xfffffffe}, 20);
  expect_round_trip(UnpinRequest{.key = key_of(11)}, 16);
  expect_round_trip(StatsRequest{}, 0);
  expect_round_trip(ShmRegisterRequest{.size = 64ull << 30}, 8);
  expect_round_trip(
      GetManyShmRequest{.region_id = 7, .items = {{key_of(12), 0, 4096}, {key_of(13), 4096, 8192}}},
      4 + 4 + 2 * 32);
  expect_round_trip(PutManyShmRequest{.region_id = 8, .items = {{key_of(14), 12288, 100}}},
                    4 + 4 + 32);
}

TEST(ProtocolMeta, EveryResponseRoundTrips) {
  expect_round_trip(HelloResponse{.version = 1,
                                  .tenant = "tenant-7",
                                  .max_value_bytes = 1 << 28,
                                  .max_batch = 512,
                                  .max_data_bytes = 1 << 30},
                    2 + 4 + 8 + 8 + 4 + 8);
  // From version 2 on HELLO's response ends with the capabilities.
  expect_round_trip(HelloResponse{.version = 2,
                                  .tenant = "tenant-7",
                                  .max_value_bytes = 1 << 28,
                                  .max_batch = 512,
                                  .max_data_bytes = 1 << 30,
                                  .capabilities = kCapabilitySharedMemory},
                    2 + 4 + 8 + 8 + 4 + 8 + 8);
  expect_round_trip(PingResponse{.payload = "pong"}, 8);
  expect_round_trip(PutResponse{}, 0);
  expect_round_trip(GetResponse{.value_len = 123}, 8);
  expect_round_trip(LookupResponse{.cached = 10, .in_dram = 3, .in_nvme = 6, .in_shared = 1}, 32);
  expect_round_trip(
      PutManyResponse{.statuses = {StatusCode::kOk, StatusCode::kTooLarge, StatusCode::kRejected}},
      4 + 12);
  expect_round_trip(
      GetManyResponse{.results = {{StatusCode::kOk, 5}, {StatusCode::kBufferTooSmall, 1 << 20}}},
      4 + 24);
  expect_round_trip(RemoveResponse{}, 0);
  expect_round_trip(PinResponse{}, 0);
  expect_round_trip(UnpinResponse{}, 0);
  expect_round_trip(StatsResponse{.text = std::string(100000, 'm')}, 4 + 100000);
  expect_round_trip(ShmRegisterResponse{.region_id = 0xabcdef}, 4);
  expect_round_trip(GetManyShmResponse{.results = {{StatusCode::kNotFound, 0}}}, 4 + 12);
  expect_round_trip(PutManyShmResponse{.statuses = {}}, 4);
}

TEST(ProtocolMeta, LayoutBytesArePinned) {
  Key k;
  for (int i = 0; i < 16; ++i) k.bytes[i] = static_cast<std::uint8_t>(0xa0 + i);
  std::vector<std::byte> meta = encode_meta(PinRequest{.key = k, .lease_ms = 0x01020304});
  ASSERT_EQ(meta.size(), 20u);
  EXPECT_EQ(std::memcmp(meta.data(), k.bytes.data(), 16), 0) << "keys are raw bytes, in order";
  const unsigned char lease[4] = {0x04, 0x03, 0x02, 0x01};
  EXPECT_EQ(std::memcmp(meta.data() + 16, lease, 4), 0) << "integers are little-endian";

  meta = encode_meta(
      HelloRequest{.min_version = 1, .max_version = 2, .token = "ab", .client_name = ""});
  const unsigned char hello[] = {1, 0, 2, 0, 2, 0, 0, 0, 'a', 'b', 0, 0, 0, 0};
  ASSERT_EQ(meta.size(), sizeof hello);
  EXPECT_EQ(std::memcmp(meta.data(), hello, sizeof hello), 0);

  meta = encode_meta(GetManyResponse{.results = {{StatusCode::kBufferTooSmall, 0x0102}}});
  const unsigned char results[] = {1, 0, 0, 0, 3, 0, 0, 0, 0x02, 0x01, 0, 0, 0, 0, 0, 0};
  ASSERT_EQ(meta.size(), sizeof results);
  EXPECT_EQ(std::memcmp(meta.data(), results, sizeof results), 0);
}

// Every proper prefix of a valid meta is refused (each field and list item is needed), and so is
// the meta with a byte appended: decoders consume meta exactly.
template <typename T>
void expect_exact(const T& message) {
  std::vector<std::byte> meta = encode_meta(message);
  for (std::size_t cut = 0; cut < meta.size(); ++cut) {
    Result<T> r = decode<T>(std::span<const std::byte>(meta).first(cut));
    ASSERT_FALSE(r.ok()) << opcode_name(T::kOpcode) << " cut at " << cut;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().to_string();
    EXPECT_NE(r.status().message().find(" left"), std::string::npos) << r.status().to_string();
  }
  meta.push_back(std::byte{0});
  Result<T> r = decode<T>(meta);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("1 trailing bytes after the last field"), std::string::npos)
      << r.status().to_string();
}

TEST(ProtocolMeta, TruncatedAndTrailingMetaAreRefused) {
  for (const auto& s : testing::sample_requests()) {
    std::vector<std::byte> frame = s.frame;
    testing::StreamResult r = testing::read_whole(FrameKind::kRequest, frame);
    ASSERT_EQ(r.frames.size(), 1u);
    EXPECT_TRUE(visit_meta(r.frames[0].header, r.frames[0].meta, kBatch, [](const auto& m) {
                  if constexpr (!std::is_same_v<std::decay_t<decltype(m)>, ErrorMessage>)
                    expect_exact(m);
                }).ok());
  }
  for (const auto& s : testing::sample_responses()) {
    testing::StreamResult r = testing::read_whole(FrameKind::kResponse, s.frame);
    ASSERT_EQ(r.frames.size(), 1u);
    EXPECT_TRUE(visit_meta(r.frames[0].header, r.frames[0].meta, kBatch, [](const auto& m) {
                  if constexpr (!std::is_same_v<std::decay_t<decltype(m)>, ErrorMessage>)
                    expect_exact(m);
                }).ok());
  }
}

TEST(ProtocolMeta, UnderflowNamesTheFieldAndTheBytes) {
  std::vector<std::byte> meta = encode_meta(PutRequest{key_of(1), 5});
  meta.resize(19);
  auto r = decode_meta<PutRequest>(meta);
  EXPECT_EQ(r.status().message(), "PUT request meta: value_len needs 8 bytes, 3 left");

  meta = encode_meta(GetManyRequest{.items = std::vector<GetManyItem>(5)});
  meta.resize(4 + 96);
  auto g = decode_meta<GetManyRequest>(meta, kBatch);
  EXPECT_EQ(g.status().message(),
            "GET_MANY request meta: list of 5 items needs 120 bytes, 96 left");

  meta = encode_meta(PingRequest{.payload = "hello"});
  meta.pop_back();
  auto p = decode_meta<PingRequest>(meta);
  EXPECT_EQ(p.status().message(), "PING request meta: payload of 5 bytes, 4 left");
}

// A list count field set to `count`, followed by `tail` bytes of zeros.
std::vector<std::byte> list_meta(std::size_t prefix_bytes, std::uint32_t count, std::size_t tail) {
  std::vector<std::byte> meta(prefix_bytes);
  MetaWriter w(meta);
  w.integer(count);
  meta.resize(meta.size() + tail);
  return meta;
}

template <typename T>
void expect_hostile_counts_refused(std::size_t prefix_bytes, std::size_t item_bytes) {
  SCOPED_TRACE(opcode_name(T::kOpcode));
  // 2^32-1 items of a few dozen bytes would be ~100 GB: refused from the count alone, before
  // anything is allocated, even with no batch limit.
  for (std::uint32_t max_batch : {kBatch, std::numeric_limits<std::uint32_t>::max()}) {
    for (std::uint32_t count : {0xffffffffu, 0x80000000u, 0x10000000u, 1000u}) {
      Result<T> r = decode_meta<T>(list_meta(prefix_bytes, count, 64), max_batch);
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
      std::string want = "list of " + std::to_string(count) + " items needs " +
                         std::to_string(std::uint64_t{count} * item_bytes) + " bytes, 64 left";
      EXPECT_NE(r.status().message().find(want), std::string::npos) << r.status().to_string();
    }
  }
  // A well-formed list longer than max_batch: TooLarge, the frame itself is fine.
  Result<T> r = decode_meta<T>(list_meta(prefix_bytes, 5, 5 * item_bytes), 4);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kTooLarge);
  EXPECT_NE(r.status().message().find("list of 5 items exceeds max_batch (4)"), std::string::npos)
      << r.status().to_string();
  EXPECT_TRUE(decode_meta<T>(list_meta(prefix_bytes, 4, 4 * item_bytes), 4).ok());
}

TEST(ProtocolMeta, HostileListCountsAreRefusedBeforeAllocating) {
  expect_hostile_counts_refused<LookupRequest>(0, 16);
  expect_hostile_counts_refused<PutManyRequest>(0, 24);
  expect_hostile_counts_refused<GetManyRequest>(0, 24);
  expect_hostile_counts_refused<GetManyShmRequest>(4, 32);
  expect_hostile_counts_refused<PutManyShmRequest>(4, 32);
  expect_hostile_counts_refused<PutManyResponse>(0, 4);
  expect_hostile_counts_refused<GetManyResponse>(0, 12);
  expect_hostile_counts_refused<GetManyShmResponse>(0, 12);
  expect_hostile_counts_refused<PutManyShmResponse>(0, 4);
}

TEST(ProtocolMeta, ItemStatusesMustBeStatusCodes) {
  std::vector<std::byte> meta =
      encode_meta(PutManyResponse{.statuses = {StatusCode::kOk, StatusCode::kOk}});
  meta[8] = std::byte{99};  // item 1
  auto r = decode_meta<PutManyResponse>(meta, kBatch);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "PUT_MANY response meta: item 1 status 99 is not a status code");
}

// A version 1 HELLO response is the same bytes it always was, whatever the struct holds: the
// capabilities are neither written nor accepted there, and a version 2 response must have them.
TEST(ProtocolMeta, HelloCapabilitiesExistFromVersionTwoOn) {
  HelloResponse v1{.version = 1, .tenant = "t", .max_value_bytes = 1, .max_batch = 1,
                   .max_data_bytes = 1, .capabilities = ~std::uint64_t{0}};
  std::vector<std::byte> meta = encode_meta(v1);
  EXPECT_EQ(meta.size(), 2u + 4 + 1 + 8 + 4 + 8);
  Result<HelloResponse> back = decode_meta<HelloResponse>(meta);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->capabilities, 0u);
  meta.resize(meta.size() + 8);  // a version 1 response with capabilities after it
  EXPECT_EQ(decode_meta<HelloResponse>(meta).status().message(),
            "HELLO response meta: 8 trailing bytes after the last field");
  meta[0] = std::byte{2};  // the same bytes read as version 2: they are its capabilities
  EXPECT_TRUE(decode_meta<HelloResponse>(meta).ok());
  meta.resize(meta.size() - 8);  // version 2 without them
  EXPECT_EQ(decode_meta<HelloResponse>(meta).status().message(),
            "HELLO response meta: capabilities needs 8 bytes, 0 left");
}

TEST(ProtocolMeta, FieldLimits) {
  auto ping = decode_meta<PingRequest>(encode_meta(PingRequest{std::string(1025, 'p')}));
  EXPECT_EQ(ping.status().code(), StatusCode::kTooLarge);
  EXPECT_EQ(ping.status().message(),
            "PING request meta: payload of 1025 bytes exceeds its limit of 1024");
  auto hello =
      decode_meta<HelloRequest>(encode_meta(HelloRequest{.token = std::string(2000, 't')}));
  EXPECT_EQ(hello.status().code(), StatusCode::kTooLarge);
  auto range =
      decode_meta<HelloRequest>(encode_meta(HelloRequest{.min_version = 3, .max_version = 1}));
  EXPECT_EQ(range.status().message(), "HELLO request meta: min_version 3 > max_version 1");
  // A bytes length beyond the meta is a layout error even when it is also above the limit.
  std::vector<std::byte> meta;
  MetaWriter(meta).integer(0xffffffffu);
  auto huge = decode_meta<PingRequest>(meta);
  EXPECT_EQ(huge.status().code(), StatusCode::kInvalidArgument);
}

TEST(ProtocolMeta, DataLenOfBatchesRefusesOverflow) {
  EXPECT_EQ(data_len_of(PutManyRequest{.items = {{key_of(1), 10}, {key_of(2), 32}}}).value(), 42u);
  EXPECT_EQ(data_len_of(PutManyRequest{}).value(), 0u);
  // Two lengths that wrap to 8 in 64 bits: a daemon summing naively would accept data_len 8.
  auto wrap = data_len_of(PutManyRequest{.items = {{key_of(1), ~0ull - 1}, {key_of(2), 10}}});
  ASSERT_FALSE(wrap.ok());
  EXPECT_EQ(wrap.status().code(), StatusCode::kInvalidArgument);
  GetManyResponse resp{.results = {{StatusCode::kOk, 5},
                                   {StatusCode::kBufferTooSmall, 1 << 20},
                                   {StatusCode::kNotFound, 0},
                                   {StatusCode::kOk, 7}}};
  EXPECT_EQ(data_len_of(resp).value(), 12u) << "only kOk items send their value";
  resp.results.push_back({StatusCode::kOk, ~0ull});
  EXPECT_FALSE(data_len_of(resp).ok());
}

TEST(ProtocolMeta, ErrorResponses) {
  EXPECT_FALSE(response_meta_is_message(Opcode::kGet, StatusCode::kOk));
  EXPECT_TRUE(response_meta_is_message(Opcode::kGet, StatusCode::kNotFound));
  EXPECT_FALSE(response_meta_is_message(Opcode::kGet, StatusCode::kBufferTooSmall));
  EXPECT_TRUE(response_meta_is_message(Opcode::kGetMany, StatusCode::kBufferTooSmall));
  EXPECT_TRUE(response_meta_is_message(Opcode::kNone, StatusCode::kInvalidArgument));

  // A long message is cut at kMaxErrorMessageBytes, never inside a UTF-8 character.
  std::string message(kMaxErrorMessageBytes - 1, 'a');
  message += "\xc3\xa9 and more";  // U+00E9 straddles the limit
  std::vector<std::byte> frame;
  ASSERT_TRUE(append_error_frame(frame, Opcode::kPut, 3, Status::NoSpace(message)).ok());
  testing::StreamResult r = testing::read_whole(FrameKind::kResponse, frame);
  ASSERT_EQ(r.last, ReadState::kFrameDone);
  EXPECT_EQ(r.frames[0].header.status, static_cast<std::uint32_t>(StatusCode::kNoSpace));
  Result<std::string> text = decode_error_message(r.frames[0].meta);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, std::string(kMaxErrorMessageBytes - 1, 'a'));

  std::vector<std::byte> out = {std::byte{1}};
  EXPECT_EQ(append_error_frame(out, Opcode::kPut, 1, Status::Ok()).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(append_error_frame(out, Opcode::kGet, 1, Status::BufferTooSmall("x")).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(out.size(), 1u) << "a refused frame appends nothing";
  EXPECT_EQ(decode_error_message(std::vector<std::byte>(4097)).status().code(),
            StatusCode::kTooLarge);
}

TEST(ProtocolMeta, FrameBuildersRefuseWhatAReaderWould) {
  std::vector<std::byte> out;
  // ~1.2 MiB of GET_MANY meta.
  GetManyRequest big;
  big.items.resize(50000);
  Status s = append_frame(out, 1, big);
  EXPECT_EQ(s.code(), StatusCode::kTooLarge);
  EXPECT_NE(s.message().find("exceeds kMaxMetaBytes"), std::string::npos) << s.to_string();
  EXPECT_TRUE(out.empty());

  EXPECT_EQ(append_frame(out, 1, GetRequest{key_of(1), 8}, /*data_len=*/8).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(append_frame(out, 1, PutRequest{key_of(1), 8}, kDefaultMaxDataBytes + 1).code(),
            StatusCode::kTooLarge);
  EXPECT_EQ(append_frame(out, 1, PutRequest{key_of(1), 8}, 8, StatusCode::kBusy).code(),
            StatusCode::kInvalidArgument)
      << "requests carry no status";
  EXPECT_EQ(append_frame(out, 1, HelloResponse{}, 0, StatusCode::kNotFound).code(),
            StatusCode::kInvalidArgument)
      << "that response's meta must be a message";
  EXPECT_TRUE(out.empty());

  // GET answered buffer_too_small keeps its GetResponse meta (the size) and sends no data.
  ASSERT_TRUE(
      append_frame(out, 7, GetResponse{.value_len = 1 << 20}, 0, StatusCode::kBufferTooSmall).ok());
  testing::StreamResult r = testing::read_whole(FrameKind::kResponse, out);
  ASSERT_EQ(r.last, ReadState::kFrameDone);
  bool seen = false;
  ASSERT_TRUE(visit_meta(r.frames[0].header, r.frames[0].meta, kBatch, [&](const auto& m) {
                if constexpr (std::is_same_v<std::decay_t<decltype(m)>, GetResponse>) {
                  seen = true;
                  EXPECT_EQ(m.value_len, 1u << 20);
                }
              }).ok());
  EXPECT_TRUE(seen);

  // Frames append: several responses can share one output buffer.
  std::size_t before = out.size();
  ASSERT_TRUE(append_frame(out, 8, PutResponse{}).ok());
  EXPECT_EQ(out.size(), before + kFrameHeaderBytes);
}

}  // namespace
}  // namespace kvtier::protocol
