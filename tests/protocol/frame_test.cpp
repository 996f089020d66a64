// Frame header layout and validation, and FrameReader: event order, chunking, pipelining, data
// streaming without buffering, limits checked on the header alone.
#include "protocol/frame.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "protocol/meta.h"
#include "protocol/protocol_test_util.h"

namespace kvtier::protocol {
namespace {

using testing::ParsedFrame;
using testing::read_stream;
using testing::read_whole;
using testing::StreamResult;

std::vector<std::byte> header_bytes(const FrameHeader& h) {
  std::vector<std::byte> out(kFrameHeaderBytes);
  encode_header(h, std::span<std::byte, kFrameHeaderBytes>(out.data(), kFrameHeaderBytes));
  return out;
}

FrameHeader request(Opcode op, std::uint32_t meta_len = 0, std::uint64_t data_len = 0) {
  FrameHeader h;
  h.opcode = op;
  h.request_id = 77;
  h.meta_len = meta_len;
  h.data_len = data_len;
  return h;
}

FrameHeader response(Opcode op, StatusCode status = StatusCode::kOk, std::uint32_t meta_len = 0,
                     std::uint64_t data_len = 0) {
  FrameHeader h = request(op, meta_len, data_len);
  h.flags = kFlagResponse;
  h.status = static_cast<std::uint32_t>(status);
  return h;
}

TEST(ProtocolFrame, HeaderBytesArePinned) {
  FrameHeader h;
  h.opcode = Opcode::kGetMany;
  h.flags = kFlagResponse;
  h.request_id = 0x0807060504030201ull;
  h.status = 3;
  h.meta_len = 0x00020001;
  h.data_len = 0x1122334455667788ull;
  const unsigned char want[32] = {
      'K',  'V',  'T',  'P',  1,    7,    0x01, 0x00,   // magic, version, opcode, flags
      0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,   // request_id
      3,    0,    0,    0,    0x01, 0x00, 0x02, 0x00,   // status, meta_len
      0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11};  // data_len
  std::vector<std::byte> got = header_bytes(h);
  EXPECT_EQ(std::memcmp(got.data(), want, 32), 0);
  EXPECT_EQ(decode_header(std::span<const std::byte, kFrameHeaderBytes>(got.data(), 32)), h);
}

TEST(ProtocolFrame, OpcodeTable) {
  EXPECT_EQ(opcode_name(Opcode::kHello), "HELLO");
  EXPECT_EQ(opcode_name(Opcode::kPutManyShm), "PUT_MANY_SHM");
  EXPECT_EQ(opcode_name(Opcode::kNone), "NONE");
  EXPECT_EQ(opcode_name(static_cast<Opcode>(200)), "UNKNOWN");
  EXPECT_FALSE(is_known_opcode(0));
  EXPECT_FALSE(is_known_opcode(kMaxOpcode + 1));
  for (std::uint8_t op = 1; op <= kMaxOpcode; ++op) EXPECT_TRUE(is_known_opcode(op));
  EXPECT_TRUE(opcode_carries_data(Opcode::kPut, FrameKind::kRequest));
  EXPECT_TRUE(opcode_carries_data(Opcode::kPutMany, FrameKind::kRequest));
  EXPECT_TRUE(opcode_carries_data(Opcode::kGet, FrameKind::kResponse));
  EXPECT_TRUE(opcode_carries_data(Opcode::kGetMany, FrameKind::kResponse));
  EXPECT_FALSE(opcode_carries_data(Opcode::kPut, FrameKind::kResponse));
  EXPECT_FALSE(opcode_carries_data(Opcode::kGet, FrameKind::kRequest));
  EXPECT_FALSE(opcode_carries_data(Opcode::kGetManyShm, FrameKind::kResponse));
  EXPECT_FALSE(opcode_carries_data(Opcode::kNone, FrameKind::kResponse));
  EXPECT_EQ(status_code_from_wire(10), StatusCode::kRejected);
  EXPECT_EQ(status_code_from_wire(11), std::nullopt);
  EXPECT_EQ(status_code_from_wire(0x100), std::nullopt);
}

struct BadHeader {
  const char* name;
  FrameHeader header;
  FrameKind accepts;
  StatusCode code;
  const char* message_part;
};

TEST(ProtocolFrame, HeaderValidationNamesEachField) {
  auto with = [](FrameHeader h, auto edit) {
    edit(h);
    return h;
  };
  const FrameKind req = FrameKind::kRequest, resp = FrameKind::kResponse;
  const StatusCode inval = StatusCode::kInvalidArgument, big = StatusCode::kTooLarge;
  const BadHeader cases[] = {
      {"magic", with(request(Opcode::kPing), [](auto& h) { h.magic = 0x54544820; }), req, inval,
       "magic 0x54544820 is not 0x5054564b"},
      {"version", with(request(Opcode::kPing), [](auto& h) { h.version = 2; }), req, inval,
       "version 2 is not supported"},
      {"reserved flags", with(request(Opcode::kPing), [](auto& h) { h.flags = 0x8000; }), req,
       inval, "reserved flag bits 0x8000"},
      {"durable flag on a GET", with(request(Opcode::kGet), [](auto& h) { h.flags = kFlagDurable; }),
       req, inval, "GET request has the durable flag, which only a put request may carry"},
      {"durable flag on a PUT response",
       with(response(Opcode::kPut), [](auto& h) { h.flags |= kFlagDurable; }), resp, inval,
       "PUT response has the durable flag"},
      {"response bit on requests", response(Opcode::kPing), req, inval,
       "flags mark a response, but this stream carries requests"},
      {"request on responses", request(Opcode::kPing), resp, inval,
       "flags mark a request, but this stream carries responses"},
      {"opcode 0", request(Opcode::kNone), req, inval, "unknown opcode 0"},
      {"opcode 15", request(static_cast<Opcode>(15)), req, inval, "unknown opcode 15"},
      {"opcode 255", response(static_cast<Opcode>(255)), resp, inval, "unknown opcode 255"},
      {"opcode 0 on an OK response", response(Opcode::kNone), resp, inval, "unknown opcode 0"},
      {"request status", with(request(Opcode::kGet), [](auto& h) { h.status = 5; }), req, inval,
       "GET request has status 5; requests carry 0"},
      {"response status", with(response(Opcode::kGet), [](auto& h) { h.status = 11; }), resp, inval,
       "GET response status 11 is not a status code"},
      {"response status high", with(response(Opcode::kGet), [](auto& h) { h.status = 0x101; }),
       resp, inval, "status 257 is not a status code"},
      {"meta_len", request(Opcode::kGetMany, kMaxMetaBytes + 1), req, big,
       "GET_MANY request meta_len 1048577 exceeds kMaxMetaBytes (1048576)"},
      {"meta_len max u32", request(Opcode::kGetMany, 0xffffffffu), req, big, "kMaxMetaBytes"},
      {"data_len", request(Opcode::kPut, 24, kDefaultMaxDataBytes + 1), req, big,
       "PUT request data_len 1073741825 exceeds max_data_bytes (1073741824)"},
      {"data_len max u64", request(Opcode::kPut, 24, ~0ull), req, big, "max_data_bytes"},
      {"data on PING", request(Opcode::kPing, 4, 5), req, inval,
       "PING request carries no data, but data_len is 5"},
      {"data on a GET request", request(Opcode::kGet, 24, 1), req, inval, "carries no data"},
      {"data on a PUT response", response(Opcode::kPut, StatusCode::kOk, 0, 1), resp, inval,
       "PUT response carries no data"},
      {"data on an error", response(Opcode::kGet, StatusCode::kNotFound, 0, 10), resp, inval,
       "errors carry no data"},
      {"long error message", response(Opcode::kGet, StatusCode::kIOError, 4097), resp, big,
       "above kMaxErrorMessageBytes (4096)"},
  };
  for (const BadHeader& c : cases) {
    Status s = validate_header(c.header, c.accepts, kDefaultMaxDataBytes);
    EXPECT_EQ(s.code(), c.code) << c.name << ": " << s.to_string();
    EXPECT_NE(s.message().find(c.message_part), std::string::npos)
        << c.name << ": " << s.to_string();
    EXPECT_EQ(s.message().rfind("frame header: ", 0), 0u) << c.name;

    // The reader refuses the same header from its 32 bytes alone, with no meta sent.
    std::vector<std::byte> bytes = header_bytes(c.header);
    StreamResult r = read_whole(c.accepts, bytes);
    ASSERT_EQ(r.last, ReadState::kError) << c.name;
    EXPECT_EQ(r.error->status.code(), c.code) << c.name;
    EXPECT_TRUE(r.error->close_connection);
  }
}

TEST(ProtocolFrame, ValidHeadersPass) {
  const std::uint64_t max = kDefaultMaxDataBytes;
  EXPECT_TRUE(
      validate_header(request(Opcode::kPut, kMaxMetaBytes, max), FrameKind::kRequest, max).ok());
  EXPECT_TRUE(
      validate_header(response(Opcode::kGet, StatusCode::kOk, 8, max), FrameKind::kResponse, max)
          .ok());
  EXPECT_TRUE(validate_header(response(Opcode::kGet, StatusCode::kNotFound, 4096),
                              FrameKind::kResponse, max)
                  .ok());
  // The durable flag on each put request.
  for (Opcode op : {Opcode::kPut, Opcode::kPutMany, Opcode::kPutManyShm}) {
    FrameHeader h = request(op, 24, op == Opcode::kPutManyShm ? 0 : 8);
    h.flags = kFlagDurable;
    EXPECT_TRUE(validate_header(h, FrameKind::kRequest, max).ok()) << opcode_name(op);
  }
  // kNone answers a frame whose opcode could not be read.
  EXPECT_TRUE(validate_header(response(Opcode::kNone, StatusCode::kInvalidArgument, 10),
                              FrameKind::kResponse, max)
                  .ok());
  // A reader's own, lower data cap.
  Status s = validate_header(request(Opcode::kPut, 24, 4097), FrameKind::kRequest, 4096);
  EXPECT_EQ(s.code(), StatusCode::kTooLarge);
  EXPECT_NE(s.message().find("exceeds max_data_bytes (4096)"), std::string::npos) << s.to_string();
}

TEST(ProtocolFrameReader, CreateRefusesADataCapAboveTheDefault) {
  EXPECT_TRUE(FrameReader::create(FrameKind::kRequest, kDefaultMaxDataBytes).ok());
  EXPECT_TRUE(FrameReader::create(FrameKind::kRequest, 0).ok());
  auto r = FrameReader::create(FrameKind::kRequest, kDefaultMaxDataBytes + 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

TEST(ProtocolFrameReader, ReportsEachPartInOrder) {
  std::vector<std::byte> stream;
  ASSERT_TRUE(
      append_frame(stream, 5, PutRequest{.key = testing::key_of(1), .value_len = 3}, 3).ok());
  stream.insert(stream.end(), {std::byte{1}, std::byte{2}, std::byte{3}});
  ASSERT_TRUE(append_frame(stream, 6, StatsRequest{}).ok());

  FrameReader reader = FrameReader::create(FrameKind::kRequest).value();
  std::span<const std::byte> in = stream;
  EXPECT_EQ(reader.feed(in), ReadState::kHeaderReady);
  EXPECT_EQ(reader.header().request_id, 5u);
  EXPECT_EQ(reader.header().opcode, Opcode::kPut);
  EXPECT_EQ(reader.data_remaining(), 3u);
  EXPECT_EQ(reader.feed(in), ReadState::kMetaReady);
  EXPECT_EQ(reader.meta().size(), 24u);
  EXPECT_EQ(reader.feed(in), ReadState::kDataPending);
  EXPECT_EQ(reader.feed(in), ReadState::kDataPending) << "feed() never consumes data itself";
  const std::byte* before = in.data();
  std::span<const std::byte> d = reader.take_data(in);
  EXPECT_EQ(d.data(), before) << "data is handed out in place, not copied";
  EXPECT_EQ(d.size(), 3u);
  EXPECT_EQ(reader.data_remaining(), 0u);
  EXPECT_EQ(reader.feed(in), ReadState::kFrameDone);
  // Empty meta and no data: kMetaReady comes at once, then kFrameDone.
  EXPECT_EQ(reader.feed(in), ReadState::kHeaderReady);
  EXPECT_EQ(reader.header().request_id, 6u);
  EXPECT_EQ(reader.feed(in), ReadState::kMetaReady);
  EXPECT_TRUE(reader.meta().empty());
  EXPECT_EQ(reader.feed(in), ReadState::kFrameDone);
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(reader.feed(in), ReadState::kNeedMore);
}

TEST(ProtocolFrameReader, AnyChunkingGivesTheSameFrames) {
  for (FrameKind kind : {FrameKind::kRequest, FrameKind::kResponse}) {
    auto samples =
        kind == FrameKind::kRequest ? testing::sample_requests() : testing::sample_responses();
    std::vector<std::byte> stream = testing::concat(samples);
    StreamResult whole = read_whole(kind, stream);
    ASSERT_EQ(whole.last, ReadState::kFrameDone);
    ASSERT_EQ(whole.frames.size(), samples.size());
    for (std::size_t i = 0; i < samples.size(); ++i) {
      EXPECT_EQ(whole.frames[i].header.request_id, i + 1);
      EXPECT_EQ(whole.frames[i].header.opcode, samples[i].opcode);
      EXPECT_EQ(whole.frames[i].meta, samples[i].meta) << i;
      EXPECT_EQ(whole.frames[i].data, samples[i].data) << i;
    }

    FrameReader bytewise = FrameReader::create(kind).value();
    StreamResult one = read_stream(bytewise, stream, [] { return 1; });
    EXPECT_EQ(one.frames, whole.frames);
    EXPECT_EQ(one.last, ReadState::kFrameDone);
    EXPECT_FALSE(one.need_more_with_input);

    for (std::uint64_t seed = 1; seed <= 200; ++seed) {
      std::uint64_t rng = seed;
      FrameReader reader = FrameReader::create(kind).value();
      StreamResult r = read_stream(reader, stream, [&] {
        std::uint64_t v = testing::splitmix64(rng);
        return static_cast<std::size_t>(v % 4 == 0 ? v % 200 : v % 40) + 1;
      });
      ASSERT_EQ(r.frames, whole.frames) << "seed " << seed;
      EXPECT_EQ(r.last, ReadState::kFrameDone);
      EXPECT_FALSE(r.need_more_with_input);
    }
  }
}

TEST(ProtocolFrameReader, PipelinedFramesBackToBack) {
  // 1,000 requests in one buffer, as a client that does not wait for answers sends them.
  std::vector<std::byte> stream;
  for (std::uint64_t id = 1; id <= 1000; ++id) {
    if (id % 3 == 0) {
      std::vector<std::byte> value = testing::filler(id % 50 + 1, id);
      ASSERT_TRUE(
          append_frame(stream, id, PutRequest{testing::key_of(id), value.size()}, value.size())
              .ok());
      stream.insert(stream.end(), value.begin(), value.end());
    } else {
      ASSERT_TRUE(append_frame(stream, id, GetRequest{testing::key_of(id), 4096}).ok());
    }
  }
  StreamResult r = read_whole(FrameKind::kRequest, stream);
  ASSERT_EQ(r.last, ReadState::kFrameDone);
  ASSERT_EQ(r.frames.size(), 1000u);
  for (std::uint64_t id = 1; id <= 1000; ++id) {
    const ParsedFrame& f = r.frames[id - 1];
    EXPECT_EQ(f.header.request_id, id);
    if (id % 3 == 0) {
      EXPECT_EQ(f.data, testing::filler(id % 50 + 1, id));
      auto put = decode_meta<PutRequest>(f.meta);
      ASSERT_TRUE(put.ok());
      EXPECT_EQ(put->key, testing::key_of(id));
    } else {
      EXPECT_TRUE(f.data.empty());
    }
  }
}

TEST(ProtocolFrameReader, StreamsDataUpToTheCapWithoutBuffering) {
  // A PUT of exactly kDefaultMaxDataBytes (1 GiB), moved through a reused 1 MiB chunk: the
  // reader must hold no data, hand it out in place, and accept the full cap.
  std::vector<std::byte> stream;
  ASSERT_TRUE(append_frame(stream, 9, PutRequest{testing::key_of(9), kDefaultMaxDataBytes},
                           kDefaultMaxDataBytes)
                  .ok());
  FrameReader reader = FrameReader::create(FrameKind::kRequest).value();
  std::span<const std::byte> in = stream;
  ASSERT_EQ(reader.feed(in), ReadState::kHeaderReady);
  ASSERT_EQ(reader.feed(in), ReadState::kMetaReady);
  ASSERT_TRUE(in.empty());

  std::vector<std::byte> chunk(1 << 20);
  std::uint64_t rng = 3, moved = 0, round = 0;
  std::size_t max_buffered = 0;
  ReadState state;
  while ((state = reader.feed(in)) == ReadState::kDataPending) {
    ++round;
    if (round % 2 == 0) {
      // As with recv() straight into the destination: consume_data only counts.
      std::uint64_t n = std::min<std::uint64_t>(reader.data_remaining(),
                                                testing::splitmix64(rng) % chunk.size() + 1);
      reader.consume_data(n);
      moved += n;
    } else {
      // As with bytes already in the connection's input buffer: take_data hands them out.
      std::size_t n = testing::splitmix64(rng) % chunk.size() + 1;
      in = std::span<const std::byte>(chunk.data(), n);
      while (!in.empty() && reader.data_remaining() > 0) {
        std::span<const std::byte> d = reader.take_data(in);
        ASSERT_GE(d.data(), chunk.data());
        ASSERT_LE(d.data() + d.size(), chunk.data() + chunk.size());
        moved += d.size();
      }
    }
    max_buffered = std::max(max_buffered, reader.buffered_bytes());
  }
  EXPECT_EQ(moved, kDefaultMaxDataBytes);
  EXPECT_EQ(reader.data_remaining(), 0u);
  EXPECT_LE(max_buffered, kFrameHeaderBytes + 64) << "the reader must not buffer data";
  EXPECT_EQ(state, ReadState::kFrameDone);
}

TEST(ProtocolFrameReader, OversizedMetaOrDataIsRefusedBeforeAnyMetaArrives) {
  // Only the 32 header bytes are fed: the refusal cannot depend on meta or data.
  FrameReader server = FrameReader::create(FrameKind::kRequest, 1 << 20).value();
  std::vector<std::byte> h = header_bytes(request(Opcode::kGetMany, kMaxMetaBytes + 1));
  std::span<const std::byte> in = h;
  EXPECT_EQ(server.feed(in), ReadState::kError);
  EXPECT_EQ(server.error().status.code(), StatusCode::kTooLarge);
  EXPECT_EQ(server.error().request_id, 77u);
  EXPECT_EQ(server.error().opcode, Opcode::kGetMany);
  EXPECT_LT(server.buffered_bytes(), 1024u);

  FrameReader capped = FrameReader::create(FrameKind::kRequest, 1 << 20).value();
  h = header_bytes(request(Opcode::kPut, 24, (1 << 20) + 1));
  in = h;
  EXPECT_EQ(capped.feed(in), ReadState::kError);
  EXPECT_NE(capped.error().status.message().find("exceeds max_data_bytes (1048576)"),
            std::string::npos)
      << capped.error().status.to_string();
  // The error is sticky and consumes nothing more.
  std::vector<std::byte> more(10);
  std::span<const std::byte> more_in = more;
  EXPECT_EQ(capped.feed(more_in), ReadState::kError);
  EXPECT_EQ(more_in.size(), 10u);
}

TEST(ProtocolFrameReader, RefusesANonKvtierPeerAtItsFirstBytes) {
  for (std::string_view junk : {"GET / HTTP/1.1\r\n", "\x16\x03\x01", "K", "KVTP\x02"}) {
    FrameReader reader = FrameReader::create(FrameKind::kRequest).value();
    std::vector<std::byte> bytes = testing::bytes_of(junk);
    std::span<const std::byte> in = bytes;
    ReadState s = reader.feed(in);
    if (junk == "K") {
      EXPECT_EQ(s, ReadState::kNeedMore) << "a correct prefix waits for more";
      continue;
    }
    ASSERT_EQ(s, ReadState::kError) << junk;
    EXPECT_EQ(reader.error().request_id, 0u) << "no header was read, so no request id";
    EXPECT_EQ(reader.error().opcode, Opcode::kNone);
    EXPECT_TRUE(reader.error().close_connection);
  }
}

TEST(ProtocolFrameReader, ErrorEchoesTheRequestIdOnceTheHeaderIsReadable) {
  FrameHeader h = request(static_cast<Opcode>(99));
  h.request_id = 1234;
  std::vector<std::byte> bytes = header_bytes(h);
  StreamResult r = read_whole(FrameKind::kRequest, bytes);
  ASSERT_EQ(r.last, ReadState::kError);
  EXPECT_EQ(r.error->request_id, 1234u);
  EXPECT_EQ(r.error->opcode, Opcode::kNone) << "an unknown opcode is answered with kNone";
  // And the daemon's answer is a frame a client reader accepts.
  std::vector<std::byte> reply;
  ASSERT_TRUE(
      append_error_frame(reply, r.error->opcode, r.error->request_id, r.error->status).ok());
  StreamResult c = read_whole(FrameKind::kResponse, reply);
  ASSERT_EQ(c.last, ReadState::kFrameDone);
  EXPECT_EQ(c.frames[0].header.request_id, 1234u);
  EXPECT_EQ(c.frames[0].header.status, static_cast<std::uint32_t>(StatusCode::kInvalidArgument));
}

TEST(ProtocolFrameReader, MetaMemoryFollowsTheBytesReceived) {
  std::vector<std::byte> stream;
  GetManyRequest big;
  big.items.resize((kMaxMetaBytes - 4) / kWireBytes<PutManyItem>);
  ASSERT_TRUE(append_frame(stream, 1, big).ok());
  ASSERT_TRUE(append_frame(stream, 2, StatsRequest{}).ok());
  FrameReader reader = FrameReader::create(FrameKind::kRequest).value();
  // A header announcing ~1 MiB of meta, then a stall: memory stays small.
  std::span<const std::byte> in(stream.data(), kFrameHeaderBytes + 10);
  ASSERT_EQ(reader.feed(in), ReadState::kHeaderReady);
  ASSERT_EQ(reader.feed(in), ReadState::kNeedMore);
  EXPECT_LT(reader.buffered_bytes(), 1024u);
  // The rest: never more than one header and kMaxMetaBytes.
  in = std::span<const std::byte>(stream).subspan(kFrameHeaderBytes + 10);
  ASSERT_EQ(reader.feed(in), ReadState::kMetaReady);
  EXPECT_LE(reader.buffered_bytes(), kFrameHeaderBytes + kMaxMetaBytes);
  ASSERT_EQ(reader.feed(in), ReadState::kFrameDone);
  // The next frame releases the big buffer.
  ASSERT_EQ(reader.feed(in), ReadState::kHeaderReady);
  EXPECT_LE(reader.buffered_bytes(), kFrameHeaderBytes + FrameReader::kRetainedMetaBytes);
}

TEST(ProtocolFrameReader, TruncatedStreamsWaitAndNeverInventAFrame) {
  std::vector<std::byte> frame;
  ASSERT_TRUE(append_frame(frame, 1, PutRequest{testing::key_of(1), 10}, 10).ok());
  frame.resize(frame.size() + 10, std::byte{0x5a});
  for (std::size_t cut = 0; cut < frame.size(); ++cut) {
    StreamResult r = read_whole(FrameKind::kRequest, std::span<const std::byte>(frame).first(cut));
    EXPECT_TRUE(r.frames.empty()) << cut;
    EXPECT_FALSE(r.error.has_value()) << cut << ": " << r.error->status.to_string();
    EXPECT_EQ(r.last, cut < kFrameHeaderBytes + 24 ? ReadState::kNeedMore : ReadState::kDataPending)
        << cut;
  }
}

}  // namespace
}  // namespace kvtier::protocol
