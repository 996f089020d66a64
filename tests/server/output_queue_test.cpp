// OutputQueue: data goes out only behind a frame that announced it, so a response the codec
// refuses (replaced by an error frame without data) can never be followed by its value bytes and
// put the stream out of step (issue 24). What it holds is the memory its pieces keep, not the
// bytes it will send (issue 25's audit).
#include "server/output_queue.h"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "protocol/frame.h"

namespace kvtier::server {
namespace {

// Everything the queue sends, read back from the other end of a socket pair.
std::vector<std::byte> drain(OutputQueue& q) {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  EXPECT_TRUE(q.send_to(fds[0]).ok());
  ::close(fds[0]);
  std::vector<std::byte> out;
  std::array<std::byte, 65536> buf;
  for (ssize_t n; (n = ::read(fds[1], buf.data(), buf.size())) > 0;) out.insert(out.end(), buf.begin(), buf.begin() + n);
  ::close(fds[1]);
  return out;
}

AlignedBuffer bytes_of(std::uint8_t value, std::size_t len) {
  AlignedBuffer b(len);
  std::memset(b.data(), value, len);
  return b;
}

TEST(OutputQueue, DataOfAFrameTheCodecRefusesIsNeverSent) {
  BufferPool pool(1 << 20);
  OutputQueue q(pool);
  // A PING response whose payload the codec refuses (over kMaxMetaBytes), announcing 100 data
  // bytes; then the caller appends them anyway, and a well-formed response follows.
  protocol::PingResponse too_big{std::string(protocol::kMaxMetaBytes + 1, 'x')};
  q.add_frame(1, too_big, 100);
  q.append_data(bytes_of(0xAB, 100), 100);
  q.add_frame(2, protocol::GetResponse{5}, 5);
  q.append_data(bytes_of(0xCD, 5), 5);
  EXPECT_EQ(q.dropped_data(), 1u);
  const std::vector<std::byte> out = drain(q);
  // Frame 1: an error without data; frame 2: its 5 bytes; nothing else.
  ASSERT_GE(out.size(), protocol::kFrameHeaderBytes);
  auto header_at = [&](std::size_t off) {
    std::array<std::byte, protocol::kFrameHeaderBytes> h;
    std::memcpy(h.data(), out.data() + off, h.size());
    return protocol::decode_header(h);
  };
  const protocol::FrameHeader first = header_at(0);
  EXPECT_EQ(first.request_id, 1u);
  EXPECT_EQ(static_cast<StatusCode>(first.status), StatusCode::kIOError);
  EXPECT_EQ(first.data_len, 0u);
  const std::size_t second_at = protocol::kFrameHeaderBytes + first.meta_len;
  ASSERT_GE(out.size(), second_at + protocol::kFrameHeaderBytes);
  const protocol::FrameHeader second = header_at(second_at);
  EXPECT_EQ(second.request_id, 2u);
  EXPECT_EQ(second.data_len, 5u);
  const std::size_t data_at = second_at + protocol::kFrameHeaderBytes + second.meta_len;
  ASSERT_EQ(out.size(), data_at + 5);
  for (std::size_t i = data_at; i < out.size(); ++i) EXPECT_EQ(out[i], std::byte{0xCD});
}

TEST(OutputQueue, DataBeyondWhatTheFrameAnnouncedIsDropped) {
  BufferPool pool(1 << 20);
  OutputQueue q(pool);
  q.add_frame(7, protocol::GetResponse{4}, 4);
  q.append_data(bytes_of(1, 4), 4);
  q.append_data(bytes_of(2, 4), 4);  // nobody announced these
  EXPECT_EQ(q.dropped_data(), 1u);
  const std::uint64_t queued = q.queued_bytes();
  const std::vector<std::byte> out = drain(q);
  EXPECT_EQ(out.size(), queued);
  EXPECT_EQ(out.back(), std::byte{1});
}

}  // namespace
TEST(OutputQueue, HoldsTheFootprintOfEachBufferAndBlockUntilSent) {
  BufferPool pool(0);
  OutputQueue q(pool);
  q.add_frame(1, protocol::GetResponse{1}, 1);
  const std::uint64_t frame = q.held_bytes();
  EXPECT_EQ(frame, q.queued_bytes());
  // One byte of a 256 KiB buffer: the buffer is held.
  q.append_data(bytes_of(0xAB, 256 * 1024), 1);
  EXPECT_EQ(q.queued_bytes(), frame + 1);
  EXPECT_EQ(q.held_bytes(), frame + aligned_buffer_footprint(256 * 1024));
  // A block's view: what its holder keeps, as the view says.
  q.add_frame(2, protocol::GetResponse{3}, 3);
  static const std::byte kBlock[3] = {};
  q.append_view(engine::BlockView({kBlock, 3}, std::make_shared<int>(0), 12'345));
  EXPECT_EQ(q.held_bytes(), 2 * frame + aligned_buffer_footprint(256 * 1024) + 12'345);
  EXPECT_EQ(drain(q).size(), 2 * frame + 1 + 3);
  EXPECT_EQ(q.held_bytes(), 0u);
  EXPECT_EQ(q.queued_bytes(), 0u);
}

}  // namespace kvtier::server
