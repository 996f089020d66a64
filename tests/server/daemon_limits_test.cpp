// kvtierd's descriptor budget through the real process (issue 25, item 1): the soft RLIMIT_NOFILE
// raised at start to what the config needs, a config the hard limit cannot hold refused with a
// reason, and a daemon whose descriptor table is full (its limit lowered under it with prlimit)
// neither spins on its readable listener nor stays stuck once the connections go.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "kvtier/client.h"
#include "server/fd_limit.h"
#include "server/raw_wire.h"
#include "server/server_config.h"
#include "posix/unique_fd.h"
#include "support/daemon_process.h"
#include "support/proc_stats.h"
#include "support/silent_tcp.h"
#include "support/test_support.h"

namespace kvtier::testing::daemon_limits_test {


// The soft and hard "Max open files" of a process, from /proc/<pid>/limits.
std::pair<std::uint64_t, std::uint64_t> open_files_limit(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/limits");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("Max open files", 0) != 0) continue;
    std::istringstream in(line.substr(std::string("Max open files").size()));
    std::string soft, hard;
    in >> soft >> hard;
    auto value = [](const std::string& v) {
      return v == "unlimited" ? ~std::uint64_t{0} : std::stoull(v);
    };
    return {value(soft), value(hard)};
  }
  return {0, 0};
}

std::size_t open_fds(pid_t pid) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    ++n;
  }
  return n;
}

bool pings(const DaemonProcess& d) {
  ClientOptions o;
  o.address = d.unix_address();
  o.timeout = std::chrono::milliseconds(2000);
  auto c = Client::connect(o);
  return c.ok() && (*c)->ping().ok();
}

// Sets this process's soft RLIMIT_NOFILE for the life of the object (daemons started meanwhile
// inherit it).
class SoftFdLimit {
 public:
  explicit SoftFdLimit(rlim_t soft) {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit lowered = saved_;
    lowered.rlim_cur = soft;
    ::setrlimit(RLIMIT_NOFILE, &lowered);
  }
  ~SoftFdLimit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  SoftFdLimit(const SoftFdLimit&) = delete;
  SoftFdLimit& operator=(const SoftFdLimit&) = delete;

 private:
  rlimit saved_{};
};

TEST(DaemonLimits, StartRaisesTheSoftFdLimitToWhatTheConfigNeeds) {
  rlimit lim{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
  server::ServerConfig config;
  config.max_connections = 2000;
  const std::uint64_t needed = server::fds_needed(config);
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < needed) {
    GTEST_SKIP() << "the hard RLIMIT_NOFILE (" << lim.rlim_max << ") is below " << needed;
  }
  TempDir dir;
  std::unique_ptr<DaemonProcess> d;
  {
    SoftFdLimit low(256);  // what the daemon inherits
    d = std::make_unique<DaemonProcess>(dir.path(), small_daemon_config(),
                                        std::vector<std::string>{"--max-connections", "2000"});
  }
  ASSERT_TRUE(d->started()) << d->log();
  EXPECT_EQ(open_files_limit(d->pid()).first, needed);
  EXPECT_TRUE(pings(*d));
}

TEST(DaemonLimits, AConfigTheHardFdLimitCannotHoldIsRefusedWithTheReason) {
  rlimit lim{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
  server::ServerConfig probe;
  probe.max_connections = 0;
  const std::uint64_t fixed = server::fds_needed(probe);
  if (lim.rlim_max == RLIM_INFINITY || lim.rlim_max - fixed + 1 > 1'000'000) {
    GTEST_SKIP() << "the hard RLIMIT_NOFILE (" << lim.rlim_max << ") is above any max_connections";
  }
  const std::string too_many = std::to_string(lim.rlim_max - fixed + 1);
  TempDir dir;
  DaemonProcess d(dir.path(), small_daemon_config(),
                  std::vector<std::string>{"--max-connections", too_many});
  EXPECT_FALSE(d.started());
  EXPECT_EQ(d.exit_status_code(), 2);
  EXPECT_NE(d.log().find("RLIMIT_NOFILE"), std::string::npos) << d.log();
  EXPECT_NE(d.log().find("server.max_connections"), std::string::npos) << d.log();
}

// The daemon's limit is lowered under it to a few descriptors above what it holds, and 200 TCP
// connections come. Before, accept4 failed with EMFILE, the listener stayed readable and the I/O
// threads spun at 100% of a core each while the connections hung. Now: under half a core while
// the attacker holds its connections, the connections it cannot take are closed (not left
// hanging), and within 5 s of the attacker leaving (and the limit back) it serves as before.
TEST(DaemonLimits, AFullDescriptorTableNeitherSpinsNorStaysStuck) {
  if (kUnderSanitizer) {
    // The sanitizer runtimes need descriptors of their own: with the table full, UBSan's vptr
    // check reported a false "invalid vptr" inside fmt and aborted the daemon.
    GTEST_SKIP() << "a full descriptor table starves the sanitizer runtime";
  }
  TempDir dir;
  DaemonProcess d(dir.path(), small_daemon_config());
  ASSERT_TRUE(d.started()) << d.log();
  ASSERT_TRUE(pings(d));
  rlimit saved{};
  ASSERT_EQ(::prlimit(d.pid(), RLIMIT_NOFILE, nullptr, &saved), 0);
  const rlim_t tight = open_fds(d.pid()) + 16;
  rlimit lowered{tight, saved.rlim_max};
  ASSERT_EQ(::prlimit(d.pid(), RLIMIT_NOFILE, &lowered, nullptr), 0);

  std::vector<UniqueFd> held;
  for (int i = 0; i < 200; ++i) {
    UniqueFd fd = silent_tcp_connection(d.tcp_address());
    if (fd.valid()) held.push_back(std::move(fd));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the daemon meets EMFILE
  const double cpu_before = cpu_seconds(d.pid());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const double cpu_used = cpu_seconds(d.pid()) - cpu_before;
  EXPECT_LT(cpu_used, 1.0) << "the daemon spun on its listener (" << cpu_used
                           << " CPU seconds in 2 s)";
  // Connections it could not take were closed: a read sees EOF or a reset, not a hang.
  std::size_t closed = 0;
  for (const UniqueFd& fd : held) {
    char byte;
    if (::recv(fd.get(), &byte, 1, MSG_DONTWAIT) == 0 || errno == ECONNRESET) ++closed;
  }
  EXPECT_GT(closed, 0u) << "every connection past the table waits in the backlog";

  held.clear();
  ASSERT_EQ(::prlimit(d.pid(), RLIMIT_NOFILE, &saved, nullptr), 0);
  EXPECT_TRUE(poll_until([&] { return pings(d); }, std::chrono::seconds(5)))
      << "not serving 5 s after the attacker left\n" << d.log();
  EXPECT_NE(d.log().find("event=accept_paused reason=EMFILE"), std::string::npos) << d.log();
}

// Issue 25, item 6: `--dram-bytes 100TiB` started on a 24 GiB host without a word. A DRAM tier
// larger than the machine's memory is refused with the figures.
TEST(DaemonLimits, ADramTierLargerThanTheMachineIsRefused) {
  TempDir dir;
  DaemonProcess d(dir.path(), small_daemon_config(),
                  std::vector<std::string>{"--dram-bytes", "100TiB"});
  EXPECT_FALSE(d.started());
  EXPECT_EQ(d.exit_status_code(), 2);
  EXPECT_NE(d.log().find("MemTotal"), std::string::npos) << d.log();
  EXPECT_NE(d.log().find("dram.capacity_bytes"), std::string::npos) << d.log();
}

// Shared-memory regions keep their mapping, not their memfd: one local client registering regions
// no longer takes a descriptor each (before, 64 per connection, which alone could exhaust the
// table; SHM_REGISTER then answered "came without a memfd").
TEST(DaemonLimits, SharedMemoryRegionsHoldNoDescriptor) {
  TempDir dir;
  DaemonProcess d(dir.path(), small_daemon_config());
  ASSERT_TRUE(d.started()) << d.log();
  ClientOptions o;
  o.address = d.unix_address();
  auto c = Client::connect(o);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  ASSERT_TRUE((*c)->ping().ok());
  const std::size_t before = open_fds(d.pid());
  std::vector<SharedRegion> regions;
  for (int i = 0; i < 60; ++i) {
    Result<SharedRegion> r = (*c)->register_shared_memory(4096);
    ASSERT_TRUE(r.ok()) << i << ": " << r.status().to_string();
    regions.push_back(*r);
  }
  const std::size_t after = open_fds(d.pid());
  EXPECT_LE(after, before + 2) << "60 regions took " << after - before << " descriptors";
  std::vector<ShmPut> put = {{test_key(1), 0, 100}};
  std::vector<Status> out(1);
  EXPECT_TRUE((*c)->put_many_shm(regions.back(), put, out).ok());
  EXPECT_TRUE(out[0].ok()) << out[0].to_string();
}

// Says HELLO on `w` and registers a sealed memfd of `size` bytes (sparse: never touched), as a
// client would, without the client library: the region's id, or nullopt.
std::optional<std::uint32_t> raw_region(RawWire& w, std::uint64_t size) {
  UniqueFd memfd(::memfd_create("raw-region", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!memfd.valid() || ::ftruncate(memfd.get(), static_cast<off_t>(size)) != 0 ||
      ::fcntl(memfd.get(), F_ADD_SEALS, F_SEAL_SHRINK) != 0 || !w.hello()) {
    return std::nullopt;
  }
  return w.register_region(memfd.get(), size, 2);
}

// A daemon with one I/O thread, so that one connection's work delays every other, and a
// connection `w` that registered a region of kSlice bytes (nullopt when either failed).
struct OneIoThreadAndARegion {
  static constexpr std::uint64_t kSlice = 4 * kMiB;
  TempDir dir;
  DaemonProcess d{dir.path(), small_daemon_config("[server]\nio_threads = 1\n")};
  RawWire w{d.unix_address()};
  std::optional<std::uint32_t> region =
      d.started() ? raw_region(w, kSlice) : std::optional<std::uint32_t>();
};

// `frames` PUT_MANY_SHM frames (request ids 10, 11, ...) of `items` values each, every value the
// region's first OneIoThreadAndARegion::kSlice bytes.
std::vector<std::byte> shm_put_frames(std::uint32_t region, int frames, int items) {
  std::vector<std::byte> out;
  for (int f = 0; f < frames; ++f) {
    protocol::PutManyShmRequest m;
    m.region_id = region;
    for (int i = 0; i < items; ++i) {
      m.items.push_back({test_key(f * items + i), 0, OneIoThreadAndARegion::kSlice});
    }
    EXPECT_TRUE(protocol::append_frame(out, 10 + f, m).ok());
  }
  return out;
}

// Audit of issue 25: a PUT_MANY_SHM of 16,384 items naming the same 4 MiB slice copied 64 GiB on
// an I/O thread (30 s during which another tenant's PING waited). Now a shared-memory batch moves
// at most server.max_frame_data_bytes, as a frame of values may: it is refused too_large at once.
TEST(DaemonLimits, ASharedMemoryBatchMovesNoMoreThanAFrameOfValues) {
  TempDir dir;
  DaemonProcess d(dir.path(), "max_value_bytes = \"16MiB\"\n" +
                                  small_daemon_config("[server]\nmax_frame_data_bytes = \"64MiB\"\n"));
  ASSERT_TRUE(d.started()) << d.log();
  constexpr std::uint64_t kSlice = 4 * kMiB;
  constexpr std::uint64_t kRegion = 128 * kMiB;  // sparse: never touched
  RawWire w(d.unix_address());
  std::optional<std::uint32_t> region = raw_region(w, kRegion);
  ASSERT_TRUE(region.has_value());
  for (const bool put : {true, false}) {
    std::vector<std::byte> frame;
    if (put) {  // one slice named 16,384 times: 64 GiB of copies
      protocol::PutManyShmRequest m;
      m.region_id = *region;
      for (int i = 0; i < 16384; ++i) m.items.push_back({test_key(i), 0, kSlice});
      ASSERT_TRUE(protocol::append_frame(frame, 3, m).ok());
    } else {  // distinct slices, 128 MiB of them
      protocol::GetManyShmRequest m;
      m.region_id = *region;
      for (std::uint64_t i = 0; i < kRegion / kSlice; ++i) {
        m.items.push_back({test_key(i), i * kSlice, kSlice});
      }
      ASSERT_TRUE(protocol::append_frame(frame, 3, m).ok());
    }
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(w.send_bytes(frame));
    auto r = w.receive(std::chrono::seconds(60));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status(), StatusCode::kTooLarge) << (put ? "put: " : "get: ") << r->message();
    EXPECT_NE(r->message().find("max_frame_data_bytes"), std::string::npos) << r->message();
    if (!kUnderSanitizer) {
      EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
    }
  }
  // A batch within the limit is served (through the client, which splits by the limit).
  ClientOptions o;
  o.address = d.unix_address();
  auto c = Client::connect(o);
  ASSERT_TRUE(c.ok());
  Result<SharedRegion> mine = (*c)->register_shared_memory(kSlice);
  ASSERT_TRUE(mine.ok());
  std::vector<ShmPut> puts;
  for (int i = 0; i < 16; ++i) puts.push_back({test_key(100 + i), 0, kSlice});
  std::vector<Status> st(puts.size());
  ASSERT_TRUE((*c)->put_many_shm(*mine, puts, st).ok());
  for (const Status& s : st) EXPECT_TRUE(s.ok()) << s.to_string();
}

// Second audit of issue 25: pipelined shared-memory batches, each within the limit (256 x 4 MiB),
// ran back to back in one event: another connection's PING on the same I/O thread waited 9.4 s
// behind 30 of them. Now a connection yields after 64 MiB of work per event and goes on at the
// thread's next turn: the PING waits for about one batch.
TEST(DaemonLimits, PipelinedSharedMemoryBatchesYieldToOtherConnections) {
  OneIoThreadAndARegion s;
  ASSERT_TRUE(s.region.has_value()) << s.d.log();
  RawWire& w = s.w;
  RawWire victim(s.d.unix_address());
  ASSERT_TRUE(victim.hello());
  ASSERT_TRUE(victim.send(5, protocol::PingRequest{"before"}));
  ASSERT_TRUE(victim.receive().has_value());

  const int kFrames = kUnderSanitizer ? 2 : 16;
  const std::vector<std::byte> frames = shm_put_frames(*s.region, kFrames, 256);  // 1 GiB each
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(w.send_bytes(frames));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the batches have begun
  double worst_ms = 0;
  for (int i = 0; i < 10; ++i) {
    const auto p0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(victim.send(100 + i, protocol::PingRequest{"during"}));
    ASSERT_TRUE(victim.receive(std::chrono::seconds(60)).has_value());
    worst_ms = std::max(worst_ms, std::chrono::duration<double, std::milli>(
                                      std::chrono::steady_clock::now() - p0).count());
  }
  for (int f = 0; f < kFrames; ++f) {
    auto r = w.receive(std::chrono::seconds(120));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status(), StatusCode::kOk) << r->message();
  }
  const double all_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (!kUnderSanitizer) {
    // One batch at most between two turns of the victim, never the whole pipeline.
    EXPECT_LT(worst_ms, all_ms / 2) << "a PING waited " << worst_ms << " ms of the pipeline's "
                                     << all_ms << " ms";
  }
}

// Audit of issue 26: a client that pipelined shared-memory batches past one event's work budget
// and then shut its write side (it still reads) got the answers of the first event only: the
// connection closed at EOF with the rest deferred. Every request sent before the EOF is answered.
TEST(DaemonLimits, AHalfClosedClientGetsTheAnswersOfDeferredWork) {
  OneIoThreadAndARegion s;
  ASSERT_TRUE(s.region.has_value()) << s.d.log();
  constexpr int kFrames = 4;  // 128 MiB of copies each: each one past the 64 MiB budget
  std::vector<std::byte> frames = shm_put_frames(*s.region, kFrames, 32);
  ASSERT_TRUE(protocol::append_frame(frames, 99, protocol::PingRequest{"last"}).ok());
  ASSERT_TRUE(s.w.send_bytes(frames));
  ASSERT_EQ(::shutdown(s.w.fd(), SHUT_WR), 0);
  for (int f = 0; f <= kFrames; ++f) {
    auto r = s.w.receive(std::chrono::seconds(60));
    ASSERT_TRUE(r.has_value()) << "answer " << f << " of " << kFrames + 1 << " never came";
    EXPECT_EQ(r->status(), StatusCode::kOk) << r->message();
  }
}

}  // namespace kvtier::testing::daemon_limits_test
