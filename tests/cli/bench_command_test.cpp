// `kvtier bench` as a person runs it: every workload and a trace through the built binary against
// a real daemon, with the --json numbers checked for sense (requests counted, ratios in [0, 1],
// a workload that repeats itself has hits), and the usage errors.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/child_process.h"
#include "support/daemon_process.h"
#include "support/redis_process.h"
#include "support/test_support.h"

namespace kvtier {
namespace {

using nlohmann::json;
using testing::run_kvtier;

class BenchCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<testing::DaemonProcess>(dir_.path(), testing::small_daemon_config());
    ASSERT_TRUE(daemon_->started()) << daemon_->log();
  }

  json bench(std::vector<std::string> args) {
    std::vector<std::string> all = {"bench", "--address", daemon_->unix_address(), "--json",
                                    "--block-bytes", "4096", "--duration", "30"};
    all.insert(all.end(), args.begin(), args.end());
    testing::ProcessResult r = run_kvtier(all);
    EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
  }

  static void expect_sane(const json& j, std::uint64_t requests) {
    ASSERT_TRUE(j.is_object());
    EXPECT_EQ(j["requests"].get<std::uint64_t>(), requests);
    EXPECT_EQ(j["errors"].get<std::uint64_t>(), 0u);
    EXPECT_GT(j["chain_blocks"].get<std::uint64_t>(), 0u);
    for (const char* tier : {"total", "dram", "nvme", "shared", "infinite_cache"}) {
      double h = j["hit_ratio"][tier].get<double>();
      EXPECT_GE(h, 0.0) << tier;
      EXPECT_LE(h, 1.0) << tier;
    }
    EXPECT_LE(j["hit_ratio"]["dram"].get<double>() + j["hit_ratio"]["nvme"].get<double>() +
                  j["hit_ratio"]["shared"].get<double>(),
              j["hit_ratio"]["total"].get<double>() + 1e-9);
    EXPECT_EQ(j["latency"]["lookup"]["count"].get<std::uint64_t>(), requests);
    EXPECT_EQ(j["blocks"]["get_failures"].get<std::uint64_t>(), 0u);
    EXPECT_EQ(j["blocks"]["put_failures"].get<std::uint64_t>(), 0u);
    EXPECT_EQ(j["bytes_out"].get<std::uint64_t>(), j["blocks"]["written"].get<std::uint64_t>() * 4096);
    EXPECT_EQ(j["prefill_tokens_saved"].get<std::uint64_t>(), j["blocks"]["loaded"].get<std::uint64_t>() * 16);
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::DaemonProcess> daemon_;
};

TEST_F(BenchCommand, EveryWorkloadRunsAndRepeatsHit) {
  for (const char* w : {"chat", "rag", "agent"}) {
    SCOPED_TRACE(w);
    // Few sessions and many requests: sessions come back, so their prefixes are cached.
    json j = bench({"--workload", w, "--requests", "40", "--sessions", "4", "--concurrency", "2",
                    "--lru-capacity-blocks", "100000"});
    expect_sane(j, 40);
    EXPECT_GT(j["hit_ratio"]["total"].get<double>(), 0.0);
    EXPECT_GT(j["blocks"]["loaded"].get<std::uint64_t>(), 0u);
    EXPECT_GT(j["ideal_lru"]["hit_ratio"].get<double>(), 0.0);
  }
}

TEST_F(BenchCommand, TraceReplayedTwiceHitsOnTheSecondPass) {
  std::string path = dir_.path() + "/trace.jsonl";
  std::ofstream(path) << "{\"timestamp\": 0, \"input_length\": 64, \"output_length\": 4, \"hash_ids\": [1, 2, 3, 4]}\n"
                         "{\"timestamp\": 5, \"input_length\": 32, \"output_length\": 4, \"hash_ids\": [7, 8]}\n";
  json j = bench({"--trace", path, "--trace-repeat", "2"});
  expect_sane(j, 4);
  EXPECT_EQ(j["workload"], "trace");
  EXPECT_EQ(j["chain_blocks"].get<std::uint64_t>(), 12u);
  EXPECT_EQ(j["blocks"]["written"].get<std::uint64_t>(), 6u);
  EXPECT_EQ(j["blocks"]["loaded"].get<std::uint64_t>(), 6u);
  EXPECT_DOUBLE_EQ(j["hit_ratio"]["total"].get<double>(), 0.5);
}

TEST_F(BenchCommand, PacedReplayWaitsForEachRequestsTimestamp) {
  std::string path = dir_.path() + "/paced.jsonl";
  std::ofstream(path) << "{\"timestamp\": 1000, \"input_length\": 16, \"output_length\": 1, \"hash_ids\": [1]}\n"
                         "{\"timestamp\": 1300, \"input_length\": 16, \"output_length\": 1, \"hash_ids\": [2]}\n"
                         "{\"timestamp\": 1600, \"input_length\": 16, \"output_length\": 1, \"hash_ids\": [3]}\n";
  json paced = bench({"--trace", path, "--pace", "trace", "--speed", "2"});
  expect_sane(paced, 3);
  ASSERT_TRUE(paced.contains("pacing"));
  EXPECT_DOUBLE_EQ(paced["pacing"]["speed"].get<double>(), 2.0);
  // The last request is due 600 ms / 2 after the first: the run cannot end before that.
  EXPECT_GE(paced["wall_seconds"].get<double>(), 0.3);
  json fast = bench({"--trace", path});
  expect_sane(fast, 3);
  EXPECT_FALSE(fast.contains("pacing"));
}

TEST_F(BenchCommand, BadTraceAndUnknownWorkloadAreUsageErrors) {
  std::string path = dir_.path() + "/bad.jsonl";
  std::ofstream(path) << "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [1]}\n{oops\n";
  testing::ProcessResult r = run_kvtier({"bench", "--address", daemon_->unix_address(), "--trace", path});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("trace line 2"), std::string::npos) << r.err;
  r = run_kvtier({"bench", "--address", daemon_->unix_address(), "--workload", "video"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown workload"), std::string::npos) << r.err;
}

TEST_F(BenchCommand, ModelPresetGivesTheRealBlockSizeAndTheScale) {
  json j = bench({"--requests", "3", "--model", "Llama-3.1-70B", "--chunk-tokens", "32"});
  EXPECT_EQ(j["requests"].get<std::uint64_t>(), 3u);
  EXPECT_EQ(j["errors"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(j["real_model"], "Llama-3.1-70B");
  EXPECT_EQ(j["real_block_bytes"].get<std::uint64_t>(), 327680u * 32);  // kvtier plan's figure per token
  EXPECT_DOUBLE_EQ(j["scale_factor"].get<double>(), 327680.0 * 32 / 4096);
  testing::ProcessResult r = run_kvtier({"bench", "--address", daemon_->unix_address(), "--model", "GPT-9"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown model"), std::string::npos) << r.err;
}

// The values of every data-y attribute of `series` in an SVG file.
std::vector<double> svg_points(const std::string& path, const std::string& series) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<double> ys;
  const std::string tag = "data-series=\"" + series + "\"";
  for (std::size_t at = text.find(tag); at != std::string::npos; at = text.find(tag, at + 1)) {
    std::size_t y = text.find("data-y=\"", at);
    ys.push_back(std::stod(text.substr(y + 8)));
  }
  return ys;
}

TEST_F(BenchCommand, ChartsAreWrittenWithTheRunsNumbers) {
  const std::string charts = dir_.path() + "/charts";
  json j = bench({"--requests", "40", "--sessions", "4", "--charts", charts, "--lru-capacity-blocks", "100000"});
  expect_sane(j, 40);
  ASSERT_EQ(j["charts"].size(), 3u);
  for (const char* f : {"throughput.svg", "latency.svg", "hit_ratio_vs_cache_size.svg"}) {
    std::ifstream in(charts + "/" + f);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text.rfind("<?xml", 0), 0u) << f;
    EXPECT_NE(text.find("</svg>"), std::string::npos) << f;
  }
  // The LRU sweep rises to what a cache that never evicts reaches; the measured point is the run's.
  std::vector<double> lru = svg_points(charts + "/hit_ratio_vs_cache_size.svg", "ideal LRU (simulated)");
  ASSERT_GE(lru.size(), 2u);
  for (std::size_t i = 1; i < lru.size(); ++i) EXPECT_GE(lru[i] + 1e-9, lru[i - 1]);
  EXPECT_NEAR(lru.back(), j["hit_ratio"]["infinite_cache"].get<double>(), 1e-6);
  std::vector<double> measured = svg_points(charts + "/hit_ratio_vs_cache_size.svg", "measured (at the LRU capacity)");
  ASSERT_EQ(measured.size(), 1u);
  EXPECT_NEAR(measured[0], j["hit_ratio"]["total"].get<double>(), 1e-6);
  // Each latency CDF ends at 1; the throughput points add up to the bytes moved.
  for (const char* op : {"LOOKUP", "GET_MANY", "PUT_MANY"}) {
    std::vector<double> cdf = svg_points(charts + "/latency.svg", op);
    ASSERT_FALSE(cdf.empty()) << op;
    EXPECT_DOUBLE_EQ(cdf.back(), 1.0) << op;
  }
  double in_gb = 0;
  for (double y : svg_points(charts + "/throughput.svg", "GET (in)")) in_gb += y;
  EXPECT_NEAR(in_gb, j["bytes_in"].get<double>() / 1e9, 1e-5);
}

TEST_F(BenchCommand, IdealLruIsAsLargeAsTheDaemonUnlessToldOtherwise) {
  json j = bench({"--requests", "5"});
  ASSERT_TRUE(j.contains("ideal_lru"));
  EXPECT_EQ(j["ideal_lru"]["capacity_from"], "daemon");
  // small_daemon_config: 64 MiB of DRAM and a 68 MiB NVMe file (of which some holds metadata).
  const std::uint64_t blocks = j["ideal_lru"]["capacity_blocks"].get<std::uint64_t>();
  EXPECT_GE(blocks, (64u << 20) / 4096);
  EXPECT_LE(blocks, (132u << 20) / 4096);
  // The daemon's own eviction counters over the run (none at this size, but counted).
  ASSERT_TRUE(j.contains("evictions"));
  EXPECT_EQ(j["evictions"]["dram_evictions_total"].get<double>(), 0.0);
  EXPECT_TRUE(j["evictions"].contains("nvme_regions_reclaimed_total"));
  json told = bench({"--requests", "5", "--lru-capacity-blocks", "7"});
  EXPECT_EQ(told["ideal_lru"]["capacity_from"], "flag");
  EXPECT_EQ(told["ideal_lru"]["capacity_blocks"].get<std::uint64_t>(), 7u);
}

TEST_F(BenchCommand, TextReportNamesWhatWasScaled) {
  testing::ProcessResult r = run_kvtier({"bench", "--address", daemon_->unix_address(), "--requests", "5",
                                         "--block-bytes", "4096"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("blocks of 4096 bytes (scaled;"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("p99.9"), std::string::npos) << r.out;
  // Not a terminal: no progress line.
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err;
}

TEST_F(BenchCommand, RedisAndDirectoryTargetsSeeTheSameStreamAndEveryByteIsChecked) {
  testing::RedisProcess redis;
  ASSERT_TRUE(redis.started());
  std::vector<std::string> common = {"--workload", "chat", "--requests", "30", "--sessions", "3", "--seed", "5"};
  auto with = [&](const std::string& target) {
    std::vector<std::string> a = common;
    a.insert(a.end(), {"--target", target});
    return a;
  };
  json kv = bench(common);
  json rd = bench(with("redis://" + redis.address()));
  json fs = bench(with("dir:" + dir_.path() + "/blocks"));
  for (const json* j : {&kv, &rd, &fs}) {
    expect_sane(*j, 30);
    EXPECT_EQ((*j)["blocks"]["wrong_bytes"].get<std::uint64_t>(), 0u);
    EXPECT_GT((*j)["blocks"]["loaded"].get<std::uint64_t>(), 0u);
  }
  EXPECT_EQ(rd["target"], "redis://" + redis.address());
  EXPECT_FALSE(rd.contains("evictions"));  // only kvtierd says
  // Nothing is evicted at this size, so every target holds what was put: the same hits.
  EXPECT_EQ(rd["blocks"]["loaded"], kv["blocks"]["loaded"]);
  EXPECT_EQ(fs["blocks"]["loaded"], kv["blocks"]["loaded"]);
}

// memcached started daemonized (-d) on a free loopback port; killed by its pid file at the end.
class MemcachedServer {
 public:
  explicit MemcachedServer(const std::string& dir) : pid_file_(dir + "/memcached.pid") {
    std::random_device rd;
    for (int attempt = 0; attempt < 20 && pid_ <= 0; ++attempt) {
      port_ = static_cast<std::uint16_t>(20000 + rd() % 35000);
      testing::CommandOutput r = testing::run_command(
          {"memcached", "-d", "-u", "root", "-l", "127.0.0.1", "-p", std::to_string(port_), "-U", "0", "-m", "256",
           "-I", "4m", "-P", pid_file_});
      if (r.exit_code != 0) continue;
      for (int i = 0; i < 100 && pid_ <= 0; ++i) {  // the pid file appears once it listens
        std::ifstream(pid_file_) >> pid_;
        if (pid_ <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }
  ~MemcachedServer() {
    if (pid_ > 0) ::kill(pid_, SIGKILL);
  }
  bool started() const { return pid_ > 0; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  std::string pid_file_;
  std::uint16_t port_ = 0;
  pid_t pid_ = 0;
};

TEST_F(BenchCommand, MemcachedTargetHoldsWhatWasPutAndEveryByteIsChecked) {
  MemcachedServer mc(dir_.path());
  ASSERT_TRUE(mc.started()) << "memcached did not start (scripts/install-deps.sh installs it)";
  std::vector<std::string> common = {"--workload", "rag", "--requests", "20", "--sessions", "2", "--seed", "9"};
  json kv = bench(common);
  common.insert(common.end(), {"--target", "memcached://" + mc.address()});
  json j = bench(common);
  expect_sane(j, 20);
  EXPECT_EQ(j["blocks"]["wrong_bytes"].get<std::uint64_t>(), 0u);
  EXPECT_GT(j["blocks"]["loaded"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(j["blocks"]["loaded"], kv["blocks"]["loaded"]);
}

TEST_F(BenchCommand, ABlockReadBackWrongIsCountedAndFailsTheRun) {
  const std::string root = dir_.path() + "/blocks";
  std::vector<std::string> args = {"bench", "--json", "--block-bytes", "4096", "--workload", "chat", "--requests", "10",
                                   "--sessions", "1", "--target", "dir:" + root};
  testing::ProcessResult first = run_kvtier(args);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  // Flip one byte in every stored block: a store that returns what it was not given.
  std::size_t files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x5a');
    ++files;
  }
  ASSERT_GT(files, 0u);
  testing::ProcessResult second = run_kvtier(args);
  EXPECT_EQ(second.exit_code, 3) << second.out;
  json j = json::parse(second.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << second.out;
  EXPECT_GT(j["blocks"]["wrong_bytes"].get<std::uint64_t>(), 0u);
  // Blocks the second run put itself and read again are right; all the others are not.
  EXPECT_LE(j["blocks"]["wrong_bytes"].get<std::uint64_t>(), j["blocks"]["loaded"].get<std::uint64_t>());
  EXPECT_GT(j["blocks"]["wrong_bytes"].get<std::uint64_t>() * 2, j["blocks"]["loaded"].get<std::uint64_t>());
  EXPECT_NE(second.err.find("wrong bytes"), std::string::npos) << second.err;

  testing::ProcessResult bad = run_kvtier({"bench", "--target", "memcache://x"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("expected kvtier, redis://HOST:PORT, memcached://HOST:PORT or dir:PATH"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace kvtier
