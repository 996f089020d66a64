// Mutation fuzzing of the real daemon: streams of valid requests of every opcode, with bytes
// flipped, lengths rewritten, frames cut and spliced, are sent on many connections. Whatever the
// daemon makes of them, it must stay up, keep its other clients served and keep returning the
// right bytes. Bounded in connections and time.
#include <signal.h>

#include <chrono>

#include <gtest/gtest.h>

#include "kvtier/client.h"
#include "kvtier/config.h"
#include "protocol/protocol_test_util.h"
#include "server/raw_wire.h"
#include "support/daemon_process.h"
#include "support/test_support.h"

namespace kvtier::testing {
namespace {

// One mutated request stream after a valid HELLO.
std::vector<std::byte> mutated_stream(std::uint64_t& rng) {
  std::vector<protocol::testing::SampleFrame> samples = protocol::testing::sample_requests();
  std::vector<std::byte> out;
  std::size_t frames = 1 + splitmix64(rng) % 6;
  for (std::size_t f = 0; f < frames; ++f) {
    const auto& s = samples[1 + splitmix64(rng) % (samples.size() - 1)];  // not HELLO
    out.insert(out.end(), s.frame.begin(), s.frame.end());
  }
  std::size_t mutations = splitmix64(rng) % 5;
  for (std::size_t m = 0; m < mutations && !out.empty(); ++m) {
    std::size_t at = splitmix64(rng) % out.size();
    switch (splitmix64(rng) % 4) {
      case 0:  // flip a byte
        out[at] ^= static_cast<std::byte>(1 + splitmix64(rng) % 255);
        break;
      case 1: {  // overwrite a 4-byte field with an extreme value
        std::uint32_t v = (splitmix64(rng) & 1) ? 0xffffffffu : static_cast<std::uint32_t>(splitmix64(rng));
        for (std::size_t i = 0; i < 4 && at + i < out.size(); ++i) {
          out[at + i] = static_cast<std::byte>(v >> (8 * i));
        }
        break;
      }
      case 2:  // cut the stream
        out.resize(at);
        break;
      case 3: {  // insert random bytes
        std::vector<std::byte> junk = protocol::testing::filler(1 + splitmix64(rng) % 64, splitmix64(rng));
        out.insert(out.begin() + static_cast<std::ptrdiff_t>(at), junk.begin(), junk.end());
        break;
      }
    }
  }
  return out;
}

TEST(DaemonFuzz, MutatedRequestStreamsNeverTakeTheDaemonDown) {
  TempDir dir;
  DaemonProcess daemon(dir.path(), small_daemon_config("[server]\nhello_timeout_ms = 2000\n"));
  ASSERT_TRUE(daemon.started()) << daemon.log();
  ClientOptions o;
  o.address = daemon.unix_address();
  auto witness = Client::connect(o);
  ASSERT_TRUE(witness.ok()) << witness.status().to_string();
  Key k = test_key(4242);
  auto value = pattern(k, 200 * kKiB);
  ASSERT_TRUE((*witness)->put(k, value).ok());

  std::uint64_t rng = 20261202;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int connections = 0;
  for (; connections < 400 && std::chrono::steady_clock::now() < deadline; ++connections) {
    RawWire w((connections % 2) ? daemon.unix_address() : daemon.tcp_address());
    ASSERT_TRUE(w.connected());
    std::string token = (connections % 2) ? "" : daemon.default_token();
    ASSERT_TRUE(w.hello(token)) << "connection " << connections;
    std::vector<std::byte> stream = mutated_stream(rng);
    (void)w.send_bytes(stream);
    // Take what comes back for a moment (responses, an error, EOF); then hang up.
    for (int i = 0; i < 8; ++i) {
      if (!w.receive(std::chrono::milliseconds(20))) break;
    }
    if (connections % 25 == 0) {
      ASSERT_EQ(::kill(daemon.pid(), 0), 0) << "daemon died after connection " << connections
                                            << "\n" << daemon.log();
      ASSERT_TRUE((*witness)->ping("alive").ok());
    }
  }
  EXPECT_GE(connections, 50);
  ASSERT_EQ(::kill(daemon.pid(), 0), 0) << daemon.log();
  std::vector<std::byte> got(value.size());
  GetResult r = (*witness)->get(k, got);
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  EXPECT_EQ(got, value);
  EXPECT_EQ(daemon.terminate(), 0) << daemon.log();
}

}  // namespace
}  // namespace kvtier::testing
