// DataSink: spans filled in order, through iovecs (a direct recvmsg) or copies, with the cursor
// crossing span boundaries.
#include "server/data_sink.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace kvtier::server {
namespace {

TEST(DataSink, IovecsFollowTheCursorAcrossSpansAndStopAtTheLimit) {
  std::vector<std::byte> a(10), b(5), c(7);
  DataSink sink;
  sink.add(a);
  sink.add({});  // skipped
  sink.add(b);
  sink.add(c);
  EXPECT_EQ(sink.size(), 22u);
  std::array<iovec, 8> iov;
  ASSERT_EQ(sink.next_iovecs(iov, 100), 3u);
  EXPECT_EQ(iov[0].iov_base, a.data());
  EXPECT_EQ(iov[0].iov_len, 10u);
  EXPECT_EQ(iov[2].iov_len, 7u);
  sink.advance(12);  // into b, 2 bytes in
  ASSERT_EQ(sink.next_iovecs(iov, 4), 2u);
  EXPECT_EQ(iov[0].iov_base, b.data() + 2);
  EXPECT_EQ(iov[0].iov_len, 3u);
  EXPECT_EQ(iov[1].iov_base, c.data());
  EXPECT_EQ(iov[1].iov_len, 1u);
  ASSERT_EQ(sink.next_iovecs(std::span<iovec>(iov.data(), 1), 100), 1u);  // room for one
  sink.advance(10);
  EXPECT_EQ(sink.filled(), 22u);
  EXPECT_EQ(sink.next_iovecs(iov, 100), 0u);
}

TEST(DataSink, CopiesLandInOrderAcrossSpans) {
  std::vector<std::byte> a(3), b(4), c(5);
  DataSink sink;
  for (auto* v : {&a, &b, &c}) sink.add(*v);
  std::vector<std::byte> in(12);
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = std::byte(i + 1);
  sink.copy_in(std::span(in).first(2));
  sink.advance(0);
  sink.copy_in(std::span(in).subspan(2, 6));  // finishes a, all of b, one byte of c
  sink.copy_in(std::span(in).subspan(8));
  EXPECT_EQ(sink.filled(), 12u);
  std::vector<std::byte> out;
  for (auto* v : {&a, &b, &c}) out.insert(out.end(), v->begin(), v->end());
  EXPECT_EQ(out, in);
}

TEST(DataSink, AnEmptySinkOffersNothing) {
  DataSink sink;
  EXPECT_TRUE(sink.empty());
  std::array<iovec, 2> iov;
  EXPECT_EQ(sink.next_iovecs(iov, 100), 0u);
}

}  // namespace
}  // namespace kvtier::server
