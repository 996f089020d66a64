// kvtierd's memory under clients that try to make it hold more than its config allows (issue 25,
// items 2 and 3), through the real process: 200,000 tiny values into 16 MiB of DRAM, PUT bodies
// withheld on many connections, GET_MANY responses never read. In each, in the normal build, the
// daemon's peak RSS stays within the bound of docs/ARCHITECTURE.md ("Memory"), a legitimate client
// on another connection gets its PINGs and small GETs answered (p99 under 100 ms), the daemon
// uses under half a core while the attacker only holds its connections, and within 5 s of the
// attacker leaving it serves as before. Under a sanitizer RSS means nothing: the same attacks
// must run clean.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "dram/block.h"
#include "kvtier/client.h"
#include "scrape/metrics_url_fetch.h"
#include "scrape/prometheus_parse.h"
#include "server/memory_budget.h"
#include "server/raw_wire.h"
#include "support/daemon_process.h"
#include "support/proc_stats.h"
#include "support/test_support.h"

namespace kvtier::testing::daemon_memory_test {

using protocol::Opcode;

constexpr std::uint64_t kDram = 16 * kMiB;
constexpr std::uint64_t kNvmeFile = 68 * kMiB;
constexpr std::uint64_t kInflight = 64 * kMiB;
constexpr std::uint64_t kMaxValue = 32 * kMiB;

// The legitimate client's tenant: its own, so its responses never count in an attacker's share
// (in-flight memory is shared out by tenant, not by connection).
constexpr const char* kLegitToken = "legit-token-0123456789ab";

std::string memory_config() {
  return "max_value_bytes = \"32MiB\"\n"
         "[dram]\ncapacity_bytes = \"16MiB\"\n"
         "[nvme]\ndefault_file_bytes = \"68MiB\"\nregion_size = \"4MiB\"\n"
         "[server]\nmax_inflight_bytes = \"64MiB\"\n"
         "[[tenants]]\nname = \"legit\"\ntoken = \"" + std::string(kLegitToken) + "\"\n";
}

// The attacker's tenant, "mallory", with `more` (e.g. its quota) added to its table.
constexpr const char* kMallory = "mallory-token-0123456789";
std::string mallory_config(const std::string& more = "") {
  return memory_config() + "[[tenants]]\nname = \"mallory\"\ntoken = \"" + kMallory + "\"\n" +
         more;
}

// A new connection into `wires` that says HELLO (as the default tenant, or `token`'s over TCP)
// and then reads nothing: a small receive buffer, so the kernel holds little of what the daemon
// sends it and the daemon holds the rest.
void add_unread_wire(const DaemonProcess& d, std::vector<std::unique_ptr<RawWire>>& wires,
                     const std::string& token = "") {
  wires.push_back(std::make_unique<RawWire>(token.empty() ? d.unix_address() : d.tcp_address()));
  ASSERT_TRUE(wires.back()->hello(token));
  int small = 4096;
  ::setsockopt(wires.back()->fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
}

// A new connection of mallory's (into `wires`) that sends a PUT (or a PUT_MANY of one item) of
// `value` bytes, 100 bytes of its body and then nothing.
void withhold_put(const DaemonProcess& d, std::vector<std::unique_ptr<RawWire>>& wires,
                  std::uint64_t value, bool as_put_many = false) {
  wires.push_back(std::make_unique<RawWire>(d.tcp_address()));
  ASSERT_TRUE(wires.back()->hello(kMallory));
  std::vector<std::byte> frame;
  if (as_put_many) {
    protocol::PutManyRequest m;
    m.items.push_back({test_key(value + 100), value});
    ASSERT_TRUE(protocol::append_frame(frame, 1, m, value).ok());
  } else {
    ASSERT_TRUE(
        protocol::append_frame(frame, 1, protocol::PutRequest{test_key(value), value}, value).ok());
  }
  frame.resize(frame.size() + 100, std::byte{0x44});
  ASSERT_TRUE(wires.back()->send_bytes(frame));
}

// docs/ARCHITECTURE.md, "Memory": what the daemon's peak RSS may grow above its RSS once started,
// for this file's config and `connections` connections.
std::uint64_t rss_bound_above_idle(std::uint64_t connections) {
  const std::uint64_t dram_pool = std::min(kDram, std::max<std::uint64_t>(kDram / 16, 64 * kMiB));
  const std::uint64_t nvme_index = kNvmeFile / kPageSize * 75 * 5 / 2;  // 75 B/entry, 2.5x at a grow
  const std::uint64_t value_pool = kInflight / 2;
  const std::uint64_t per_connection = 512 * kKiB + protocol::kMaxMetaBytes;
  const std::uint64_t allocator = 64 * kMiB;
  return kDram + dram_pool + nvme_index + kInflight + value_pool + connections * per_connection +
         allocator;
}

// A client of the default tenant (Unix socket), or of `token`'s over TCP.
std::unique_ptr<Client> client_of(const DaemonProcess& d, const std::string& token = "") {
  ClientOptions o;
  o.address = token.empty() ? d.unix_address() : d.tcp_address();
  o.token = token;
  // A call that misses its deadline closes the connection for good, and every later call of the
  // legitimate client fails with it. The time bounds of these tests hold in the normal build (its
  // p99 check); under TSan on 2 cores one GET behind an attack once took over 5 s (CI).
  o.timeout = std::chrono::milliseconds(kUnderSanitizer ? 20000 : 5000);
  auto c = Client::connect(o);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return c.ok() ? std::move(c).value() : nullptr;
}

// A metric from /metrics (not STATS: a STATS request holds in-flight memory while it renders).
double http_metric(const DaemonProcess& d, std::string_view name) {
  auto text = fetch_metrics_url({"http://" + d.metrics_address() + "/metrics",
                                          std::chrono::seconds(10), "", ""});
  if (!text.ok()) return -1;
  auto m = parse_prometheus_text(*text);
  return m.ok() ? m->sum(name).value_or(-1) : -1;
}

// While the attacker only holds its connections: under half a core, and the peak RSS within the
// bound for `connections` connections.
void expect_holding_costs_little(const DaemonProcess& d, std::uint64_t idle, std::uint64_t connections,
                                 bool check_cpu) {
  if (kUnderSanitizer) return;  // RSS and CPU time mean nothing there
  if (check_cpu) {
    const double cpu_before = cpu_seconds(d.pid());
    std::this_thread::sleep_for(std::chrono::seconds(2));
    const double cpu_used = cpu_seconds(d.pid()) - cpu_before;
    EXPECT_LT(cpu_used, 1.0) << cpu_used << " CPU seconds in 2 s while the attacker only holds";
  }
  const std::uint64_t grown = peak_rss(d.pid()) - idle;
  EXPECT_LE(grown, rss_bound_above_idle(connections))
      << "peak RSS grew " << grown / kMiB << " MiB above idle (" << idle / kMiB << " MiB)";
}

// A legitimate client on its own connection: a PING and a GET of a 4 KiB value every 20 ms,
// timing each, until stopped. Every answer must be right (the GET's bytes, or a miss never).
class LegitimateClient {
 public:
  // pin: keep the value in DRAM (for an attack whose values are as hot as it, which the cache
  // may rightly prefer).
  explicit LegitimateClient(const DaemonProcess& d, bool pin = false)
      : client_(client_of(d, kLegitToken)) {
    if (!client_) return;
    value_ = pattern(key_, 4096);
    put_ok_ = client_->put(key_, value_).ok() &&
              (!pin || client_->pin(key_, std::chrono::minutes(10)).ok());
    thread_ = std::thread([this] { run(); });
  }
  ~LegitimateClient() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  bool ready() const { return client_ && put_ok_; }
  double p99_ms() const {
    std::vector<double> l = latencies_ms_;
    if (l.empty()) return 1e9;
    std::sort(l.begin(), l.end());
    return l[l.size() * 99 / 100];
  }
  std::size_t calls() const { return latencies_ms_.size(); }
  std::size_t failures() const { return failures_; }
  const std::string& first_failure() const { return first_failure_; }

 private:
  void run() {
    std::vector<std::byte> dst(4096);
    while (!stop_) {
      auto t0 = std::chrono::steady_clock::now();
      bool ok = client_->ping().ok();
      auto t1 = std::chrono::steady_clock::now();
      GetResult g = client_->get(key_, dst);
      auto t2 = std::chrono::steady_clock::now();
      ok = ok && g.status.ok() && g.size == value_.size() && dst == value_;
      if (!ok && failures_++ == 0) first_failure_ = g.status.to_string();
      latencies_ms_.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      latencies_ms_.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  std::unique_ptr<Client> client_;
  const Key key_ = test_key(424242);
  std::vector<std::byte> value_;
  bool put_ok_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<double> latencies_ms_;
  std::size_t failures_ = 0;
  std::string first_failure_;  // the GET's status when the first failure happened
};

// What every attack checks while it holds and after it left.
void expect_legitimate_service(LegitimateClient& legit) {
  legit.stop();
  EXPECT_EQ(legit.failures(), 0u) << "a legitimate PING or GET failed or returned wrong bytes; "
                                  << "the first time, the GET said " << legit.first_failure();
  EXPECT_GT(legit.calls(), 20u);
  // Starvation, not speed (docs/BENCHMARKS.md has the speeds): a client queued behind an attack
  // waits seconds. 500 ms leaves room for a 2-core machine busy with other work.
  if (!kUnderSanitizer) {
    EXPECT_LT(legit.p99_ms(), 500.0) << "legitimate p99 over " << legit.calls() << " calls";
  }
}

void expect_serving_within_5s(const DaemonProcess& d) {
  const Key k = test_key(777);
  const std::vector<std::byte> v = pattern(k, 8192);
  EXPECT_TRUE(poll_until(
      [&] {
        auto c = client_of(d);
        std::vector<std::byte> dst(8192);
        return c && c->put(k, v).ok() && c->get(k, dst).status.ok() && dst == v;
      },
      std::chrono::seconds(5)))
      << "not serving 5 s after the attacker left\n" << d.log();
}

// Within 5 s of the attacker's connections closing: they gave back all they held, and the
// daemon serves as before.
void expect_recovered(const DaemonProcess& d) {
  EXPECT_TRUE(poll_until([&] { return http_metric(d, "kvtier_inflight_bytes") == 0; },
                         std::chrono::seconds(5)))
      << "closed connections did not give their in-flight memory back";
  expect_serving_within_5s(d);
}

// Issue 25, item 2: each value was charged its length, so 196,608 one-byte values took 1.5 GiB
// of a 16 MiB DRAM tier and nothing was evicted. Now each is charged what it costs.
TEST(DaemonMemory, TwoHundredThousandTinyValuesStayWithinTheDramBound) {
  TempDir dir;
  DaemonProcess d(dir.path(), memory_config());
  ASSERT_TRUE(d.started()) << d.log();
  const std::uint64_t idle = current_rss(d.pid());
  LegitimateClient legit(d);
  ASSERT_TRUE(legit.ready());

  auto attacker = client_of(d);
  ASSERT_TRUE(attacker);
  // Full in the normal build; shorter under a sanitizer (TSan took 15 s for 200,000).
  const int kValues = kUnderSanitizer ? 50'000 : 200'000;
  constexpr int kBatch = 1000;
  const std::byte one{0x5A};
  std::vector<Key> keys(kBatch);
  std::vector<PutItem> items(kBatch);
  std::vector<Status> out(kBatch);
  std::size_t stored = 0;
  for (int first = 0; first < kValues; first += kBatch) {
    for (int i = 0; i < kBatch; ++i) {
      keys[i] = test_key(1'000'000 + first + i);
      items[i] = PutItem{keys[i], std::span(&one, 1)};
    }
    ASSERT_TRUE(attacker->put_many(items, out).ok());
    for (const Status& s : out) stored += s.ok();
  }
  EXPECT_EQ(stored, static_cast<std::size_t>(kValues)) << "puts are stored (DRAM evicts, NVMe takes)";
  expect_legitimate_service(legit);

  const double dram_bytes = http_metric(d, "kvtier_dram_bytes");
  const double dram_blocks = http_metric(d, "kvtier_dram_blocks");
  EXPECT_LE(dram_bytes, static_cast<double>(kDram));
  EXPECT_LE(dram_blocks, static_cast<double>(kDram / dram::block_charge(1)));
  EXPECT_GT(http_metric(d, "kvtier_dram_evictions_total"), kValues - 10'000.0);
  expect_holding_costs_little(d, idle, 3, /*check_cpu=*/false);
  attacker.reset();
  expect_serving_within_5s(d);
}

// Issue 25, item 3: six 200 MiB PUTs with their last byte withheld held 1.3 GB. Now each PUT's
// value is held against server.max_inflight_bytes from its header: twelve 30 MiB PUTs, each short
// of its last byte, leave the others waiting unread and then refused busy; the daemon holds one.
TEST(DaemonMemory, WithheldPutBodiesAreHeldWithinTheInflightBudget) {
  TempDir dir;
  DaemonProcess d(dir.path(), memory_config());
  ASSERT_TRUE(d.started()) << d.log();
  const std::uint64_t idle = current_rss(d.pid());
  LegitimateClient legit(d);
  ASSERT_TRUE(legit.ready());

  constexpr int kAttackers = 12;
  constexpr std::uint64_t kValue = 30 * kMiB;
  std::vector<std::unique_ptr<RawWire>> wires;
  std::vector<std::thread> senders;
  for (int i = 0; i < kAttackers; ++i) {
    wires.push_back(std::make_unique<RawWire>(d.unix_address()));
    ASSERT_TRUE(wires.back()->hello());
  }
  for (int i = 0; i < kAttackers; ++i) {
    senders.emplace_back([&, i] {
      const Key k = test_key(5000 + i);
      std::vector<std::byte> frame;
      EXPECT_TRUE(
          protocol::append_frame(frame, 1, protocol::PutRequest{k, kValue}, kValue).ok());
      frame.resize(frame.size() + kValue - 1, std::byte{0x33});  // all but the last byte
      (void)wires[i]->send_bytes(frame);  // blocks while the daemon does not read
    });
  }
  // Every PUT that did not get the memory waits unread, then is refused (its bytes read and
  // dropped, so its sender finishes; the answer would follow the missing last byte), while one
  // holds its value's memory. The bound is for a hang, not a speed: under TSan reading and
  // dropping the eleven refused values takes ~20 s on 2 cores.
  auto observer = client_of(d);
  ASSERT_TRUE(observer);
  EXPECT_TRUE(poll_until(
      [&] { return http_metric(d, "kvtier_memory_refusals_total") >= kAttackers - 1.0; },
      std::chrono::seconds(90)))
      << "PUTs beyond the budget were refused";
  for (auto& t : senders) t.join();
  EXPECT_GE(http_metric(d, "kvtier_memory_waits_total"), kAttackers - 1.0);
  const double held = http_metric(d, "kvtier_inflight_bytes");
  EXPECT_GE(held, static_cast<double>(kValue)) << "the one PUT admitted holds its value";
  EXPECT_LE(held, static_cast<double>(kValue + 64 * 1024)) << "and its response's frame";
  expect_holding_costs_little(d, idle, kAttackers + 2, /*check_cpu=*/true);
  expect_legitimate_service(legit);
  wires.clear();
  expect_recovered(d);
}

// Issue 25, item 3: eight connections sending GET_MANY for NVMe values and never reading held
// 2.6-3.1 GB (max_queued_response_bytes does not bound one response). Now response data is held
// against server.max_inflight_bytes until sent: items past it answer busy.
TEST(DaemonMemory, UnreadGetManyResponsesAreHeldWithinTheInflightBudget) {
  TempDir dir;
  DaemonProcess d(dir.path(), memory_config());
  ASSERT_TRUE(d.started()) << d.log();
  constexpr int kValues = 40;
  constexpr std::uint64_t kValue = 1 * kMiB;
  {
    auto writer = client_of(d);
    ASSERT_TRUE(writer);
    for (int i = 0; i < kValues; ++i) {
      const Key k = test_key(9000 + i);
      ASSERT_TRUE(writer->put(k, pattern(k, kValue)).ok());
    }
  }
  const std::uint64_t idle = current_rss(d.pid());
  LegitimateClient legit(d);
  ASSERT_TRUE(legit.ready());

  constexpr int kAttackers = 8, kRequestsEach = 4;
  std::vector<std::unique_ptr<RawWire>> wires;
  for (int a = 0; a < kAttackers; ++a) {
    add_unread_wire(d, wires);
    protocol::GetManyRequest m;
    for (int i = 0; i < kValues; ++i) m.items.push_back({test_key(9000 + i), kValue});
    std::vector<std::byte> frames;
    for (int r = 0; r < kRequestsEach; ++r) {
      ASSERT_TRUE(protocol::append_frame(frames, 10 + r, m).ok());
    }
    ASSERT_TRUE(wires.back()->send_bytes(frames));
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto observer = client_of(d);
  ASSERT_TRUE(observer);
  EXPECT_LE(http_metric(d, "kvtier_inflight_bytes"), static_cast<double>(kInflight));
  expect_holding_costs_little(d, idle, kAttackers + 2, /*check_cpu=*/true);
  expect_legitimate_service(legit);
  // A reader gets well-formed answers: values that are right, and busy for what did not fit.
  // Every connection is read: which of them got the memory depends on the order the daemon
  // ran them in.
  int ok_items = 0, busy_items = 0;
  for (int r = 0; r < kAttackers * kRequestsEach; ++r) {
    RawWire& reader = *wires[r / kRequestsEach];
    auto resp = reader.receive(std::chrono::seconds(10));
    ASSERT_TRUE(resp.has_value());
    ASSERT_EQ(resp->status(), StatusCode::kOk) << resp->message();
    auto decoded = protocol::decode_meta<protocol::GetManyResponse>(resp->meta, kValues);
    ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
    std::uint64_t offset = 0;
    for (int i = 0; i < kValues; ++i) {
      const protocol::ItemResult& res = decoded->results[i];
      if (res.status == StatusCode::kBusy) ++busy_items;
      if (res.status != StatusCode::kOk) continue;
      ++ok_items;
      const Key k = test_key(9000 + i);
      ASSERT_LE(offset + res.value_len, resp->data.size());
      EXPECT_TRUE(matches_pattern(std::span(resp->data).subspan(offset, res.value_len), k));
      offset += res.value_len;
    }
  }
  EXPECT_GT(ok_items, 0);
  EXPECT_GT(busy_items, 0) << "eight unread 160 MiB pipelines cannot all fit in 64 MiB";
  wires.clear();
  expect_recovered(d);
}

// Audit of issue 25: response frames were not counted, so eight connections pipelining 2,500
// STATS each without reading held 512 MiB of queued text (676 MiB of RSS above idle). Now a
// response's frames are held against the budget from its request's header: a STATS waits for
// room, and the daemon's queued responses stay within it.
TEST(DaemonMemory, UnreadStatsResponsesAreHeldWithinTheInflightBudget) {
  TempDir dir;
  DaemonProcess d(dir.path(), memory_config());
  ASSERT_TRUE(d.started()) << d.log();
  const std::uint64_t idle = current_rss(d.pid());
  LegitimateClient legit(d);
  ASSERT_TRUE(legit.ready());
  // Under the sanitizers STATS renders much slower: 20,000 of them owned both cores and a
  // legitimate HELLO waited over 5 s (ASan); 2,400 under TSan, beside another test on a 2-core
  // machine, kept a PING waiting over 20 s (CI-like run). Fewer there: the normal build's run is
  // the one that presses against the budget; under the sanitizers the same paths are checked for
  // memory errors and races.
  constexpr int kAttackers = 8;
  const int kStatsEach = kUnderSanitizer ? 100 : 2500;
  std::vector<std::unique_ptr<RawWire>> wires;
  for (int a = 0; a < kAttackers; ++a) {
    add_unread_wire(d, wires);
    std::vector<std::byte> frames;
    for (int r = 0; r < kStatsEach; ++r) {
      ASSERT_TRUE(protocol::append_frame(frames, 10 + r, protocol::StatsRequest{}).ok());
    }
    ASSERT_TRUE(wires.back()->send_bytes(frames));
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_LE(http_metric(d, "kvtier_queued_response_bytes"), static_cast<double>(kInflight))
      << "queued responses past the in-flight budget";
  expect_holding_costs_little(d, idle, kAttackers + 2, /*check_cpu=*/true);
  expect_legitimate_service(legit);
  wires.clear();
  expect_recovered(d);
}

// Audit of issue 25: one tenant (quota 4 KiB) held the whole budget with PUT headers whose bodies
// never came (one of 56 MiB, eight of 1 MiB, on 9 TCP connections), and a legitimate client's
// 4 KiB GET and PUT were busy. Now a tenant's arriving values hold at most half of the budget.
TEST(DaemonMemory, OneTenantCannotHoldTheWholeBudget) {
  TempDir dir;
  DaemonProcess d(dir.path(), mallory_config("quota_bytes = \"4KiB\"\n"));
  ASSERT_TRUE(d.started()) << d.log();
  std::vector<std::unique_ptr<RawWire>> wires;
  // 28 + 28 MiB fill the budget but its reserve; eight 1 MiB bodies (small) would take that too.
  withhold_put(d, wires, 28 * kMiB);
  withhold_put(d, wires, 28 * kMiB + 1);
  for (int i = 0; i < 8; ++i) withhold_put(d, wires, 1 * kMiB + static_cast<std::uint64_t>(i));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_LE(http_metric(d, "kvtier_inflight_bytes"), 32.0 * kMiB + 64 * 1024)
      << "one tenant's arriving values hold more than half of the budget";
  // The default tenant is served at once, several times.
  auto c = client_of(d);
  ASSERT_TRUE(c);
  for (int i = 0; i < 5; ++i) {
    const Key k = test_key(6000 + i);
    const std::vector<std::byte> v = pattern(k, 4096);
    Status put = c->put(k, v);
    EXPECT_TRUE(put.ok()) << put.to_string();
    std::vector<std::byte> dst(4096);
    GetResult g = c->get(k, dst);
    EXPECT_TRUE(g.status.ok() && dst == v) << g.status.to_string();
  }
  wires.clear();
  expect_recovered(d);
}

// Audit of issue 25: a response holding a DRAM block was charged the value's size, but it keeps
// the whole block alive past the block's eviction (a 1-byte value costs over 8 KiB), and a value
// read into a buffer was charged its size while the response kept the buffer. Connections that
// ask GET_MANY for 1,000 tiny values, never read, and evict them with more puts kept ~8 MiB per
// response while the budget counted ~25 KiB. Now each item is charged what it keeps.
TEST(DaemonMemory, UnreadResponsesOfTinyValuesAreChargedWhatTheyKeep) {
  TempDir dir;
  DaemonProcess d(dir.path(), mallory_config());
  ASSERT_TRUE(d.started()) << d.log();
  const std::uint64_t idle = current_rss(d.pid());
  // The attack's values are read as often as the legitimate one: pinned, it stays in DRAM.
  LegitimateClient legit(d, /*pin=*/true);
  ASSERT_TRUE(legit.ready());

  constexpr int kAttackers = 2, kBatch = 1000;
  const int kRounds = kUnderSanitizer ? 10 : 50;
  // The attacker is one tenant: its writer puts what its readers ask for and never read.
  ClientOptions wo;
  wo.address = d.tcp_address();
  wo.token = kMallory;
  wo.timeout = std::chrono::milliseconds(5000);
  auto connected = Client::connect(wo);
  ASSERT_TRUE(connected.ok()) << connected.status().to_string();
  std::unique_ptr<Client> writer = std::move(connected).value();
  std::vector<std::unique_ptr<RawWire>> wires;
  for (int a = 0; a < kAttackers; ++a) {
    add_unread_wire(d, wires, kMallory);
  }
  const std::byte one{0x5A};
  std::vector<PutItem> items(kBatch);
  std::vector<Status> out(kBatch);
  std::vector<std::vector<std::byte>> backlog(kAttackers);
  int puts_stored = 0;  // once the attacker's responses fill its share, its puts are refused busy
  for (int round = 0; round < kRounds; ++round) {
    for (int a = 0; a < kAttackers; ++a) {
      const std::uint64_t first = 2'000'000 + (round * kAttackers + a) * kBatch;
      protocol::GetManyRequest m;
      for (int i = 0; i < kBatch; ++i) {
        items[i] = PutItem{test_key(first + i), std::span(&one, 1)};
        m.items.push_back({test_key(first + i), 1});
      }
      puts_stored += writer->put_many(items, out).ok();  // evicts the earlier rounds' blocks
      ASSERT_TRUE(protocol::append_frame(backlog[a], 100 + round, m).ok());
      // The daemon stops reading a connection whose responses wait for memory, and the socket
      // fills: send what it takes now, keep the rest for the next round (or never).
      ssize_t sent = ::send(wires[a]->fd(), backlog[a].data(), backlog[a].size(),
                            MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent > 0) backlog[a].erase(backlog[a].begin(), backlog[a].begin() + sent);
    }
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_GT(puts_stored, 2) << "the attack did not get going";
  EXPECT_LE(http_metric(d, "kvtier_inflight_bytes"), static_cast<double>(kInflight / 2) + kMiB)
      << "one tenant's responses keep more than its share of the in-flight budget";
  expect_holding_costs_little(d, idle, kAttackers + 3, /*check_cpu=*/true);
  expect_legitimate_service(legit);
  writer.reset();
  wires.clear();
  expect_recovered(d);
}

// Audit of issue 25: memory was taken at a frame's header, before its size and quota were
// checked, so a tenant over its quota held the budget with PUT bodies it never sent (and that
// would have been refused). Now the checks come first and a refused body is dropped unheld.
TEST(DaemonMemory, APutRefusedForItsQuotaHoldsNoMemoryForItsBody) {
  TempDir dir;
  DaemonProcess d(dir.path(), mallory_config("quota_bytes = \"4KiB\"\n"));
  ASSERT_TRUE(d.started()) << d.log();
  std::vector<std::unique_ptr<RawWire>> wires;
  for (int i = 0; i < 6; ++i) {  // three PUTs and three PUT_MANY of one item
    withhold_put(d, wires, 28 * kMiB + static_cast<std::uint64_t>(i), /*as_put_many=*/i >= 3);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_LE(http_metric(d, "kvtier_inflight_bytes"), 6.0 * 64 * 1024)
      << "PUTs over the tenant's quota hold memory for bodies that will be dropped";
  EXPECT_EQ(http_metric(d, "kvtier_memory_waits_total"), 0.0);
  wires.clear();
  expect_recovered(d);
}

// Audit of issue 25: one tenant's unread responses (6 connections of 16 unread 4 MiB GETs, 30 of
// 1,000 unread 4 KiB GETs) took the whole budget, and then no other tenant could even say HELLO
// (its response waited for room and was refused busy). Now what a tenant holds, responses and
// withheld bodies together, is at most its share (half of the budget) and HELLO never waits:
// another tenant connects, puts and reads.
TEST(DaemonMemory, OneTenantsUnreadResponsesLeaveRoomForAnother) {
  TempDir dir;
  constexpr const char* kVictim = "victim-token-0123456789";
  DaemonProcess d(dir.path(), mallory_config("[[tenants]]\nname = \"victim\"\ntoken = \"" +
                                             std::string(kVictim) + "\"\n"));
  ASSERT_TRUE(d.started()) << d.log();
  constexpr std::uint64_t kValue = 4 * kMiB;
  const Key big = test_key(31337);
  {
    RawWire w(d.tcp_address());
    ASSERT_TRUE(w.hello(kMallory));
    const std::vector<std::byte> v = pattern(big, kValue);
    ASSERT_TRUE(w.send(2, protocol::PutRequest{big, kValue}, v));
    ASSERT_EQ(w.receive()->status(), StatusCode::kOk);
  }
  std::vector<std::unique_ptr<RawWire>> wires;
  for (int a = 0; a < 6; ++a) {
    add_unread_wire(d, wires, kMallory);
    std::vector<std::byte> frames;
    for (int r = 0; r < 16; ++r) {
      ASSERT_TRUE(protocol::append_frame(frames, 10 + r, protocol::GetRequest{big, kValue}).ok());
    }
    ASSERT_TRUE(wires.back()->send_bytes(frames));
  }
  // And withheld bodies on top: bodies and responses share one half (from the audit: each had a
  // half of its own, so one tenant held 52 of the 56 MiB outside the reserve).
  withhold_put(d, wires, 12 * kMiB);
  withhold_put(d, wires, 12 * kMiB + 1);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_LE(http_metric(d, "kvtier_inflight_bytes"), kInflight / 2 + 1.0 * kMiB)
      << "one tenant's responses and bodies hold more than its share";
  // Another tenant connects and reads a value as large, at once and again after the attacker's
  // refused GETs are answered.
  for (int round = 0; round < 2; ++round) {
    RawWire v(d.tcp_address());
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(v.hello(kVictim)) << "round " << round;
    const Key mine = test_key(4242 + round);
    const std::vector<std::byte> value = pattern(mine, kValue);
    ASSERT_TRUE(v.send(2, protocol::PutRequest{mine, kValue}, value));
    auto put = v.receive(std::chrono::seconds(10));
    ASSERT_TRUE(put.has_value());
    EXPECT_EQ(put->status(), StatusCode::kOk) << put->message();
    ASSERT_TRUE(v.send(3, protocol::GetRequest{mine, kValue}));
    auto got = v.receive(std::chrono::seconds(10));
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->status(), StatusCode::kOk) << got->message();
    EXPECT_EQ(got->data, value);
    if (!kUnderSanitizer) {
      EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1)) << "round " << round;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  }
  wires.clear();
  expect_recovered(d);
}

}  // namespace kvtier::testing::daemon_memory_test
