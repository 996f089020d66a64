// The real kvtierd under load, through the C++ client: SIGTERM while writers are busy (every put
// the daemon acknowledged is there, byte for byte, after the restart), and backpressure (a client
// that pipelines reads without reading the answers holds at most the configured response bytes,
// and the other clients are served meanwhile), and connections spread over the I/O threads.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "kvtier/client.h"
#include "kvtier/config.h"
#include "scrape/prometheus_parse.h"
#include "server/raw_wire.h"
#include "support/daemon_process.h"
#include "support/test_support.h"

namespace kvtier::testing {
namespace {

std::unique_ptr<Client> connect_to(const std::string& address, const std::string& token = "") {
  ClientOptions o;
  o.address = address;
  o.token = token;
  o.client_name = "daemon-load-test";
  auto c = Client::connect(o);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return c.ok() ? std::move(c).value() : nullptr;
}

TEST(DaemonLoad, SigtermDuringWritesKeepsEveryAcknowledgedPut) {
  TempDir dir;
  DaemonProcess daemon(dir.path(), small_daemon_config());
  ASSERT_TRUE(daemon.started()) << daemon.log();
  constexpr int kWriters = 4;
  constexpr int kPerWriter = 80;  // 4 x 80 x 64 KiB = 20 MiB: fits in the test's DRAM and NVMe
  constexpr std::size_t kValue = 64 * kKiB;
  std::mutex mu;
  std::vector<std::uint64_t> acknowledged;
  std::atomic<int> done_puts{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      auto c = connect_to(daemon.unix_address());
      if (!c) return;
      for (int i = 0; i < kPerWriter; ++i) {
        std::uint64_t n = static_cast<std::uint64_t>(w) * 1000 + static_cast<std::uint64_t>(i);
        auto v = pattern(test_key(n), kValue);
        if (!c->put(test_key(n), v).ok()) return;  // the daemon went away: stop
        {
          std::lock_guard<std::mutex> lock(mu);
          acknowledged.push_back(n);
        }
        done_puts.fetch_add(1);
      }
    });
  }
  // SIGTERM once the writers are well under way (bounded wait).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (done_puts.load() < kWriters * kPerWriter / 4 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(daemon.terminate(), 0) << daemon.log();
  for (auto& t : writers) t.join();
  ASSERT_FALSE(acknowledged.empty());
  ASSERT_TRUE(daemon.start()) << daemon.log();
  auto c = connect_to(daemon.unix_address());
  ASSERT_NE(c, nullptr);
  std::vector<std::byte> buf(kValue);
  for (std::uint64_t n : acknowledged) {
    GetResult r = c->get(test_key(n), buf);
    ASSERT_TRUE(r.status.ok()) << "acknowledged put " << n << " lost: " << r.status.to_string();
    ASSERT_EQ(r.size, kValue);
    ASSERT_TRUE(matches_pattern(buf, test_key(n))) << n;
  }
}

TEST(DaemonLoad, AClientThatDoesNotReadIsHeldAtTheResponseLimit) {
  TempDir dir;
  DaemonProcess daemon(dir.path(),
                       small_daemon_config("[server]\nmax_queued_response_bytes = \"4MiB\"\n"));
  ASSERT_TRUE(daemon.started()) << daemon.log();
  Key k = test_key(1);
  auto value = pattern(k, 1 * kMiB);
  {
    auto c = connect_to(daemon.unix_address());
    ASSERT_TRUE(c->put(k, value).ok());
  }
  // 300 GETs of 1 MiB = 300 MiB of responses asked for, none read (60 under the sanitizers, still
  // 15 times the limit: 300 took 62 s of CI's TSan run).
  RawWire greedy(daemon.unix_address());
  ASSERT_TRUE(greedy.hello());
  std::vector<std::byte> batch;
  constexpr int kGets = kUnderSanitizer ? 60 : 300;
  for (int i = 0; i < kGets; ++i) {
    ASSERT_TRUE(protocol::append_frame(batch, 100 + i, protocol::GetRequest{k, 1 * kMiB}).ok());
  }
  ASSERT_TRUE(greedy.send_bytes(batch));
  // Meanwhile another client is served.
  auto other = connect_to(daemon.unix_address());
  ASSERT_NE(other, nullptr);
  EXPECT_TRUE(other->ping("meanwhile").ok());
  // The daemon holds about the limit (plus the response that crossed it), not 300 MiB. It may
  // still be reading the batch when asked first: ask until responses are queued (bounded).
  double queued = 0;
  std::string text;
  for (int i = 0; i < 200 && queued == 0; ++i) {
    auto stats = other->stats();
    ASSERT_TRUE(stats.ok());
    text = *stats;
    auto at = text.find("\nkvtier_queued_response_bytes ");
    ASSERT_NE(at, std::string::npos);
    queued = std::atof(text.c_str() + at + 30);
    if (queued == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_GT(queued, 0);
  EXPECT_LE(queued, 6.0 * kMiB) << text;
  // Reading now gets every answer, in order and intact.
  for (int i = 0; i < kGets; ++i) {
    auto r = greedy.receive();
    ASSERT_TRUE(r.has_value()) << i;
    ASSERT_EQ(r->header.request_id, static_cast<std::uint64_t>(100 + i));
    ASSERT_EQ(r->data, value) << i;
  }
}

// kvtier_io_thread_connections of threads 0..n-1, from the daemon's STATS.
std::vector<double> connections_per_thread(Client& c, int threads) {
  std::vector<double> out;
  auto text = c.stats();
  EXPECT_TRUE(text.ok()) << text.status().to_string();
  if (!text.ok()) return out;
  auto m = parse_prometheus_text(*text);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  if (!m.ok()) return out;
  for (int t = 0; t < threads; ++t) {
    const std::string thread = std::to_string(t);
    out.push_back(m->sum("kvtier_io_thread_connections", {{"thread", thread}}).value_or(-1));
  }
  return out;
}

// Clients that connect one after another to an idle daemon (workers starting together) are
// spread over its I/O threads, not all left on the one the kernel woke for each accept; every
// connection, wherever it went, is served; a closed connection's place is taken by the next.
TEST(DaemonLoad, ConnectionsAreSpreadOverTheIoThreads) {
  TempDir dir;
  constexpr int kThreads = 3;
  DaemonProcess daemon(dir.path(), small_daemon_config("[server]\nio_threads = 3\n"));
  ASSERT_TRUE(daemon.started()) << daemon.log();
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 7; ++i) {
    clients.push_back(i % 2 ? connect_to(daemon.unix_address())
                            : connect_to(daemon.tcp_address(), daemon.default_token()));
    ASSERT_NE(clients.back(), nullptr);
  }
  // Accepting counts a connection before its HELLO is answered, so the counts are settled.
  std::vector<double> per = connections_per_thread(*clients[0], kThreads);
  ASSERT_EQ(per.size(), static_cast<std::size_t>(kThreads));
  for (double n : per) {
    EXPECT_GE(n, 2) << "7 connections over 3 threads";
    EXPECT_LE(n, 3) << "7 connections over 3 threads";
  }
  for (std::size_t i = 0; i < clients.size(); ++i) {
    Key k = test_key(900 + i);
    auto v = pattern(k, 4096 + i);
    ASSERT_TRUE(clients[i]->put(k, v).ok()) << i;
    std::vector<std::byte> back(v.size());
    auto got = clients[i]->get(k, back);
    ASSERT_TRUE(got.status.ok()) << i << ": " << got.status.to_string();
    EXPECT_EQ(back, v) << i;
  }
  // Closing three gives their threads room; the daemon closes them on its own time (bounded).
  clients.resize(4);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  double total = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    per = connections_per_thread(*clients[0], kThreads);
    total = 0;
    for (double n : per) total += n;
    if (total == 4) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(total, 4);
  for (int i = 0; i < 5; ++i) {
    clients.push_back(connect_to(daemon.unix_address()));
    ASSERT_NE(clients.back(), nullptr);
  }
  per = connections_per_thread(*clients[0], kThreads);
  for (double n : per) EXPECT_EQ(n, 3) << "9 connections over 3 threads";
  for (auto& c : clients) EXPECT_TRUE(c->ping("spread").ok());
}


// A daemon whose DRAM tier is off, so every value lives on (and is read from) the NVMe tier;
// `server` is appended to its [server] table.
std::string nvme_only_config(const std::string& server = "") {
  return "max_value_bytes = \"4MiB\"\n"
         "[dram]\ncapacity_bytes = 0\n"
         "[nvme]\ndefault_file_bytes = \"68MiB\"\nregion_size = \"4MiB\"\n"
         "[server]\n" +
         server;
}

// A counter from the daemon's STATS (0 when absent).
double daemon_counter(Client& c, std::string_view name) {
  auto text = c.stats();
  EXPECT_TRUE(text.ok()) << text.status().to_string();
  if (!text.ok()) return 0;
  auto m = parse_prometheus_text(*text);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return m.ok() ? m->sum(name).value_or(0) : 0;
}

// A GET_MANY that lists one value 200 times is read about a response frame's worth (8 MiB here),
// and the listings past it are answered too_large, instead of being read 200 times into memory
// the response could never carry.
TEST(DaemonLoad, GetManyReadsAboutAFrameOfValuesNotEveryListing) {
  TempDir dir;
  DaemonProcess daemon(dir.path(), nvme_only_config("max_frame_data_bytes = \"8MiB\"\n"));
  ASSERT_TRUE(daemon.started()) << daemon.log();
  auto c = connect_to(daemon.unix_address());
  ASSERT_NE(c, nullptr);
  const Key k = test_key(1);
  auto v = pattern(k, 1 * kMiB);
  ASSERT_TRUE(c->put(k, v).ok());
  const double hits_before = daemon_counter(*c, "kvtier_nvme_hits_total");
  constexpr std::size_t kListings = 200;
  protocol::GetManyRequest m;
  m.items.assign(kListings, {k, 1 * kMiB});
  RawWire w(daemon.unix_address());
  ASSERT_TRUE(w.hello());
  ASSERT_TRUE(w.send(2, m));
  auto r = w.receive();
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->status(), StatusCode::kOk) << r->message();
  auto got = protocol::decode_meta<protocol::GetManyResponse>(r->meta, kListings);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  ASSERT_EQ(got->results.size(), kListings);
  std::size_t sent = 0;
  for (std::size_t i = 0; i < kListings; ++i) {
    const protocol::ItemResult& res = got->results[i];
    if (res.status == StatusCode::kOk) {
      ASSERT_EQ(sent, i) << "an ok item after a too_large one";
      ASSERT_EQ(res.value_len, v.size());
      ++sent;
    } else {
      EXPECT_EQ(res.status, StatusCode::kTooLarge) << i;
    }
  }
  EXPECT_EQ(sent, 8u);  // 8 MiB of 1 MiB values
  ASSERT_EQ(r->data.size(), sent * v.size());
  for (std::size_t i = 0; i < sent; ++i) {
    EXPECT_TRUE(std::equal(v.begin(), v.end(), r->data.begin() + i * v.size())) << i;
  }
  const double reads = daemon_counter(*c, "kvtier_nvme_hits_total") - hits_before;
  EXPECT_GE(reads, 8);
  EXPECT_LE(reads, 16) << "values were read that the response could not carry";
}

// GET_MANY_SHM of values on the NVMe device reads them with O_DIRECT straight into the client's
// shared memory: the bytes are right, the tier counts direct reads, and the value bytes do not
// cross the socket.
TEST(DaemonLoad, SharedMemoryGetFromNvmeReadsStraightIntoTheRegion) {
  TempDir dir;
  DaemonProcess daemon(dir.path(), nvme_only_config());
  ASSERT_TRUE(daemon.started()) << daemon.log();
  constexpr std::size_t kValues = 4;
  constexpr std::size_t kSize = 1 * kMiB + 123;  // not a whole number of pages: a tail read too
  {
    auto c = connect_to(daemon.unix_address());
    ASSERT_NE(c, nullptr);
    for (std::size_t i = 0; i < kValues; ++i) {
      ASSERT_TRUE(c->put(test_key(10 + i), pattern(test_key(10 + i), kSize)).ok());
    }
  }
  // A restart seals what was in the open region buffer: the values are then only on the device.
  ASSERT_EQ(daemon.terminate(), 0) << daemon.log();
  ASSERT_TRUE(daemon.start()) << daemon.log();
  auto c = connect_to(daemon.unix_address());
  ASSERT_NE(c, nullptr);
  constexpr std::size_t kSlot = 2 * kMiB;
  Result<SharedRegion> region = c->register_shared_memory(kValues * kSlot);
  ASSERT_TRUE(region.ok()) << region.status().to_string();
  std::vector<ShmGet> gets;
  for (std::size_t i = 0; i < kValues; ++i) gets.push_back({test_key(10 + i), i * kSlot, kSlot});
  const double direct_before = daemon_counter(*c, "kvtier_nvme_direct_reads_total");
  const double sent_before = daemon_counter(*c, "kvtier_bytes_sent_total");
  std::vector<GetResult> out(kValues);
  ASSERT_TRUE(c->get_many_shm(*region, gets, out).ok());
  for (std::size_t i = 0; i < kValues; ++i) {
    ASSERT_TRUE(out[i].status.ok()) << i << ": " << out[i].status.to_string();
    ASSERT_EQ(out[i].size, kSize);
    EXPECT_TRUE(matches_pattern(region->memory.subspan(i * kSlot, kSize), test_key(10 + i))) << i;
  }
  EXPECT_EQ(daemon_counter(*c, "kvtier_nvme_direct_reads_total") - direct_before, kValues);
  // Between the two STATS: the GET_MANY_SHM response and the first STATS' text, not 4 MiB.
  EXPECT_LT(daemon_counter(*c, "kvtier_bytes_sent_total") - sent_before, 256.0 * kKiB);
}

}  // namespace
}  // namespace kvtier::testing
