// Removal crash loop (issue 27): no GET ever returns bytes older than the last acknowledged PUT or
// REMOVE of that key, across SIGKILL and restarts.
//
// One kvtierd (1 MiB DRAM, so blocks go down to NVMe after a few puts; a 32 MiB NVMe file of
// 2 MiB regions, so the first lives write into free regions and the later ones reclaim;
// flush_interval_ms = 20) and one C++ client on a fixed set of kKeys keys. Each value's bytes
// name its key and its version (a header and a pattern derived from both, checked in full), so a
// read is classified exactly: the key's own last acknowledged version, a newer version whose PUT
// was in flight, an older version, a version of a removed key, another key's bytes, or torn bytes.
//
// Each life of the daemon runs random operations (PUT of one key, PUT_MANY of 2-4, REMOVE, GET
// classified on the spot, LOOKUP sweeps that say which keys sit only on NVMe) for a seeded random
// time (mostly 100-600 ms, sometimes 0-30 ms), then a killer thread SIGKILLs it. In the last
// kSteerWindow before the kill the mutations go to keys whose current version is on NVMe, so many
// kills land right after a REMOVE or replacing PUT of an NVMe-resident block was answered. Every
// kStopEvery-th life ends with SIGTERM instead (clean shutdown, index checkpoint), so the lives
// after it start from a checkpoint and are then killed.
//
// The model per key: the last acknowledged state (version v, or absent: removed or never put) and
// the operations in flight at the kill (sent, not answered: they may or may not have happened).
// Allowed reads, alive or after a restart: a miss (a block can always be lost or evicted), the last
// acknowledged version unless the key is absent, or the version of a PUT in flight. After each
// restart every key is read once and its in-flight operations resolve to what was read: a newer
// in-flight version read becomes the acknowledged one; a miss of a key with any operation in
// flight makes it absent (so its older bytes must never come back); a hit of the acknowledged
// version means an in-flight REMOVE did not happen. A REMOVE answered not_found is acknowledged
// too (the key is absent). A call that fails before the kill is a daemon error; so is an error
// answer to a PUT or REMOVE (item_errors). KVTIER_REMOVAL_KILLS kills (default 200, 20 under a
// sanitizer; the clean stops come on top), seed KVTIER_REMOVAL_SEED (default 1).
//
// Counted (all must be 0): wrong_key_bytes, older_version_returned (a version older than the last
// acknowledged one), removed_returned (any version of a key whose last acknowledged state is
// absent), lost_version_returned (the version of a PUT that was in flight and not seen after the
// restart, coming back later), torn_bytes. A wrong version is counted once per key and version
// until the key's next acknowledged operation (later reads of the same resurrected bytes are
// counted apart), and only the first failures are printed in full. So that the test cannot pass
// vacuously, it also requires replaces and removes acknowledged while the key's block was only on
// NVMe (LOOKUP just before, in the same pipeline), some of them in the last moments before a
// kill, and restarts that read data back.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "reliability/reliability_support.h"
#include "support/test_support.h"

namespace kvtier::testing::removal_crash_loop {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::uint64_t kKeys = 64;
constexpr std::uint64_t kMinValue = 12 * 1024;     // value sizes: 8-byte steps in [12, 44] KiB,
constexpr std::uint64_t kMaxValue = 44 * 1024;     // derived from (key, version)
constexpr std::uint64_t kBufferBytes = 48 * 1024;  // a GET buffer larger than any value
constexpr auto kFlushInterval = 20ms;
constexpr std::uint64_t kStopEvery = 10;   // every 10th life ends with SIGTERM
constexpr auto kSteerWindow = 80ms;        // mutations of NVMe-resident keys before a kill
constexpr std::uint64_t kSweepEvery = 12;  // a LOOKUP of every key every 12 operations
constexpr std::uint64_t kMaxReports = 12;  // failure messages per kind, then counts only
constexpr std::uint64_t kMagic = 0x52454d4f56414c00ull;  // "REMOVAL\0"

// ---- Values: header (magic, key, version, size) then words derived from (key, version, index).

inline std::uint64_t mix64(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

inline std::uint64_t value_size(std::uint64_t key, std::uint64_t version) {
  const std::uint64_t steps = (kMaxValue - kMinValue) / 8 + 1;
  return kMinValue + 8 * (mix64(key * 0x100000001B3ull ^ mix64(version)) % steps);
}

inline std::uint64_t body_word(std::uint64_t key, std::uint64_t version, std::uint64_t i) {
  return mix64(mix64(key ^ (version << 20)) ^ i);
}

std::vector<std::byte> make_value(std::uint64_t key, std::uint64_t version) {
  const std::uint64_t size = value_size(key, version);
  std::vector<std::byte> v(size);
  const std::uint64_t header[4] = {kMagic, key, version, size};
  std::memcpy(v.data(), header, sizeof(header));
  for (std::uint64_t i = 4; i < size / 8; ++i) {
    const std::uint64_t w = body_word(key, version, i);
    std::memcpy(v.data() + 8 * i, &w, 8);
  }
  return v;
}

struct Decoded {
  bool intact = false;  // false: torn or garbage (matches no (key, version) in full)
  std::uint64_t key = 0, version = 0;
};

Decoded decode(std::span<const std::byte> b) {
  Decoded d;
  if (b.size() < 32 || b.size() % 8 != 0) return d;
  std::uint64_t header[4];
  std::memcpy(header, b.data(), sizeof(header));
  if (header[0] != kMagic || header[1] >= kKeys || header[2] == 0 || header[3] != b.size() ||
      value_size(header[1], header[2]) != b.size()) {
    return d;
  }
  for (std::uint64_t i = 4; i < b.size() / 8; ++i) {
    std::uint64_t w;
    std::memcpy(&w, b.data() + 8 * i, 8);
    if (w != body_word(header[1], header[2], i)) return d;
  }
  d.intact = true;
  d.key = header[1];
  d.version = header[2];
  return d;
}

// ---- The model.

struct KeyState {
  std::uint64_t acked = 0;        // last acknowledged (or resolved) version; 0: never put
  bool absent = true;             // the last acknowledged state is "not there" (removed, never put)
  bool absent_by_remove = false;  // absent because a REMOVE was answered (else: in flight, missed)
  std::vector<std::uint64_t> inflight_puts;  // versions sent and not answered
  bool inflight_remove = false;
  std::uint64_t sent = 0;     // newest version ever sent
  bool on_nvme = false;       // the last LOOKUP found it only on NVMe
  bool ever_on_nvme = false;  // its current version was seen on NVMe since it was last written
  // Versions already counted as wrongly returned since the last acknowledgement: a resurrected
  // block is counted once, not at every later read of it.
  std::vector<std::uint64_t> reported;

  bool inflight() const { return inflight_remove || !inflight_puts.empty(); }
  bool is_inflight_put(std::uint64_t v) const {
    return std::find(inflight_puts.begin(), inflight_puts.end(), v) != inflight_puts.end();
  }
  void acknowledge_put(std::uint64_t v) {
    acked = v;
    absent = false;
    absent_by_remove = false;
    inflight_puts.clear();
    inflight_remove = false;
    on_nvme = ever_on_nvme = false;
    reported.clear();
  }
  void acknowledge_remove() {
    absent = true;
    absent_by_remove = true;
    inflight_puts.clear();
    inflight_remove = false;
    on_nvme = ever_on_nvme = false;
    reported.clear();
  }
};

struct Counts {
  std::uint64_t lives = 0, kills = 0, clean_stops = 0, puts_acked = 0, put_many_items_acked = 0,
                removes_acked = 0, removes_not_found = 0, replaces_on_nvme = 0, removes_on_nvme = 0,
                late_nvme_mutations = 0, reads_alive = 0, reads_alive_hits = 0,
                reads_after_restart = 0, reads_after_restart_hits = 0, unanswered_mutations = 0,
                inflight_read_as_new = 0, inflight_read_as_acked = 0, inflight_read_as_miss = 0,
                inflight_read_as_other = 0, regions_reclaimed = 0, checkpointed_lives = 0,
                ended_on_mutation = 0, ended_on_other = 0, repeated_violation_reads = 0,
                violations_after_stop = 0;
  // Must all be 0.
  std::uint64_t wrong_key_bytes = 0, older_version_returned = 0, removed_returned = 0,
                lost_version_returned = 0, torn_bytes = 0, read_errors = 0, item_errors = 0,
                violations_alive = 0;  // of the violations above, those seen by the live reads
  double max_restart_ms = 0;
};

class RemovalCrashLoop {
 public:
  RemovalCrashLoop(std::uint64_t kills, std::uint64_t seed)
      : kills_(kills), rng_(seed), keys_(kKeys), state_(kKeys) {
    for (std::uint64_t k = 0; k < kKeys; ++k) keys_[k] = bench::numbered_key(k, seed ^ 0x27);
  }

  static std::string config() {
    // 1 MiB of DRAM in 4 shards (256 KiB each, so every value fits a shard): ~35 of the ~64
    // values (12-44 KiB) fit, the rest live on NVMe. 16 regions of 2 MiB: every crash seals the
    // region being filled and the next life opens a fresh one, so the file is full after ~16
    // lives and regions are reclaimed from then on.
    return "[dram]\ncapacity_bytes = \"1MiB\"\nshards = 4\n"
           "[nvme]\ndefault_file_bytes = \"32MiB\"\nregion_size = \"2MiB\"\n"
           "flush_interval_ms = " +
           std::to_string(kFlushInterval.count()) + "\n";
  }

  void run(DaemonProcess& d) {
    std::uint64_t life = 0;
    while (counts_.kills < kills_) {
      if (life > 0) {
        const auto t0 = Clock::now();
        ASSERT_TRUE(d.start()) << "restart " << life << " failed:\n" << d.log();
        counts_.max_restart_ms =
            std::max(counts_.max_restart_ms,
                     std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      }
      auto c = connect_unix(d, "removal-crash-loop");
      ASSERT_TRUE(c) << d.log();
      ASSERT_NO_FATAL_FAILURE(verify_after_restart(*c, life));
      if (after_stop_) ++counts_.checkpointed_lives;
      const bool stop = life % kStopEvery == kStopEvery - 1;
      ASSERT_NO_FATAL_FAILURE(live_then_end(d, std::move(c), life, stop));
      after_stop_ = stop;
      ++life;
      ++counts_.lives;
    }
    ASSERT_TRUE(d.start()) << d.log();
    auto c = connect_unix(d, "removal-crash-loop-final");
    ASSERT_TRUE(c) << d.log();
    ASSERT_NO_FATAL_FAILURE(verify_after_restart(*c, life));
    counts_.regions_reclaimed += static_cast<std::uint64_t>(
        daemon_metric(*c, "kvtier_nvme_regions_reclaimed_total").value_or(0));
    c.reset();
    EXPECT_EQ(d.terminate(), 0) << d.log();
  }

  const Counts& counts() const { return counts_; }

 private:
  // ---- Classification of one read of key k (the same rule alive and after a restart).

  enum class Read { kMiss, kAllowed, kViolation, kError };

  void report(std::uint64_t& counter, const std::string& what) {
    ++counter;
    if (reports_++ < kMaxReports * 6) ADD_FAILURE() << what;
  }

  std::string describe(std::uint64_t k) const {
    const KeyState& s = state_[k];
    std::string out = "key " + std::to_string(k) + ": last acknowledged ";
    if (s.absent) {
      out += s.absent_by_remove ? "REMOVE" : "miss of an in-flight operation";
      out += " (after version " + std::to_string(s.acked) + ")";
    } else {
      out += "version " + std::to_string(s.acked);
    }
    out += ", in flight:";
    for (std::uint64_t v : s.inflight_puts) out += " put v" + std::to_string(v);
    if (s.inflight_remove) out += " remove";
    if (!s.inflight()) out += " none";
    out += s.ever_on_nvme ? ", its version was seen on NVMe" : "";
    return out;
  }

  Read classify(std::uint64_t k, const GetResult& r, std::span<const std::byte> buf,
                const char* when, std::uint64_t* version) {
    if (!r.status.ok()) {
      if (r.status.code() == StatusCode::kNotFound) return Read::kMiss;
      return Read::kError;
    }
    const Decoded got = decode(buf.first(std::min<std::size_t>(r.size, buf.size())));
    KeyState& s = state_[k];
    std::string prefix = std::string("read ") + when + ": ";
    if (!got.intact || r.size > buf.size()) {
      report(counts_.torn_bytes, prefix + "torn or unknown bytes (" + std::to_string(r.size) +
                                     " bytes); " + describe(k));
      return Read::kViolation;
    }
    if (got.key != k) {
      report(counts_.wrong_key_bytes, prefix + "bytes of key " + std::to_string(got.key) +
                                          " version " + std::to_string(got.version) + "; " +
                                          describe(k));
      return Read::kViolation;
    }
    *version = got.version;
    if ((!s.absent && got.version == s.acked) || s.is_inflight_put(got.version)) {
      return Read::kAllowed;
    }
    if (std::find(s.reported.begin(), s.reported.end(), got.version) != s.reported.end()) {
      ++counts_.repeated_violation_reads;
      return Read::kViolation;
    }
    s.reported.push_back(got.version);
    const std::string v = "version " + std::to_string(got.version) + " returned; " + describe(k);
    if (s.absent) {
      report(counts_.removed_returned, prefix + v);
    } else if (got.version < s.acked) {
      report(counts_.older_version_returned, prefix + v);
    } else {
      report(counts_.lost_version_returned, prefix + v);
    }
    return Read::kViolation;
  }

  // ---- After a (re)start: every key read once, in-flight operations resolved to what was read.

  void verify_after_restart(Client& c, std::uint64_t life) {
    std::vector<std::vector<std::byte>> bufs(kKeys, std::vector<std::byte>(kBufferBytes));
    auto p = c.pipeline();
    for (std::uint64_t k = 0; k < kKeys; ++k) p->get(keys_[k], bufs[k]);
    const Status ran = p->run();
    ASSERT_TRUE(ran.ok()) << "life " << life << ": reads after the restart: " << ran.to_string();
    const std::uint64_t before = violations();
    for (std::uint64_t k = 0; k < kKeys; ++k) {
      KeyState& s = state_[k];
      const GetResult& r = p->get_result(k);
      std::uint64_t version = 0;
      const std::string when = "after restart " + std::to_string(life);
      const Read read = classify(k, r, bufs[k], when.c_str(), &version);
      ++counts_.reads_after_restart;
      if (read == Read::kAllowed || read == Read::kViolation) ++counts_.reads_after_restart_hits;
      if (read == Read::kError) {
        report(counts_.read_errors,
               "key " + std::to_string(k) + " " + when + ": " + r.status.to_string());
      }
      if (s.inflight()) {
        if (read == Read::kAllowed && s.is_inflight_put(version)) {
          ++counts_.inflight_read_as_new;
          s.acked = version;
          s.absent = false;
          s.absent_by_remove = false;
        } else if (read == Read::kAllowed) {
          ++counts_.inflight_read_as_acked;
        } else if (read == Read::kMiss) {
          ++counts_.inflight_read_as_miss;
          if (!s.absent) s.absent_by_remove = false;
          s.absent = true;
        } else {
          ++counts_.inflight_read_as_other;  // a violation (counted above) or an error
        }
        s.inflight_puts.clear();
        s.inflight_remove = false;
      }
      s.on_nvme = false;
    }
    if (after_stop_) counts_.violations_after_stop += violations() - before;
  }

  // ---- One life.

  std::chrono::milliseconds life_time() {
    if (std::uniform_int_distribution<int>(0, 9)(rng_) == 0) {
      return std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 30)(rng_));
    }
    return std::chrono::milliseconds(std::uniform_int_distribution<int>(100, 600)(rng_));
  }

  void live_then_end(DaemonProcess& d, std::unique_ptr<Client> c, std::uint64_t life, bool stop) {
    const auto start = Clock::now();
    const auto end_at = start + life_time();
    if (stop) {
      const std::optional<Clock::time_point> failed_at = load(*c, end_at, end_at);
      EXPECT_FALSE(failed_at) << "life " << life << ": a call failed with no kill:\n" << d.log();
      counts_.regions_reclaimed += static_cast<std::uint64_t>(
          daemon_metric(*c, "kvtier_nvme_regions_reclaimed_total").value_or(0));
      c.reset();
      EXPECT_EQ(d.terminate(30s), 0) << "life " << life << ": SIGTERM\n" << d.log();
      ++counts_.clean_stops;
      return;
    }
    std::atomic<Clock::rep> killed_at{0};
    std::thread killer([&] {
      std::this_thread::sleep_until(end_at);
      killed_at = Clock::now().time_since_epoch().count();
      d.signal(SIGKILL);
    });
    const std::uint64_t inflight_before = counts_.unanswered_mutations;
    const std::optional<Clock::time_point> failed_at = load(*c, end_at, end_at + 10s);
    ++(counts_.unanswered_mutations > inflight_before ? counts_.ended_on_mutation
                                                      : counts_.ended_on_other);
    killer.join();
    c.reset();
    d.wait_exit(10s);
    ++counts_.kills;
    const Clock::time_point kill_time{Clock::duration(killed_at.load())};
    // Only the kill may end the load: a call that failed before it is a daemon error.
    EXPECT_TRUE(failed_at && *failed_at >= kill_time)
        << "life " << life << ": a call failed before the kill (or none failed after it):\n"
        << d.log();
  }

  // Random operations until a call fails (returns when) or `until`. From `kill_at - kSteerWindow`
  // on, the mutations go to keys found on NVMe.
  std::optional<Clock::time_point> load(Client& c, Clock::time_point kill_at,
                                        Clock::time_point until) {
    std::vector<std::byte> buf(kBufferBytes);
    if (!sweep(c)) return Clock::now();
    for (std::uint64_t op = 1; Clock::now() < until; ++op) {
      const bool late = Clock::now() >= kill_at - kSteerWindow;
      const int roll = std::uniform_int_distribution<int>(0, 99)(rng_);
      bool ok;
      if (op % kSweepEvery == 0) {
        ok = sweep(c);
      } else if (roll < (late ? 45 : 30)) {
        ok = put_one(c, pick_key(late, false), late);
      } else if (roll < (late ? 55 : 45)) {
        ok = put_several(c, late);
      } else if (roll < (late ? 90 : 62)) {
        ok = remove_one(c, pick_key(late, true), late);
      } else {
        ok = read_one(c, std::uniform_int_distribution<std::uint64_t>(0, kKeys - 1)(rng_), buf);
      }
      if (!ok) return Clock::now();
      // Paced, but not in the last moments: there the kill should most often hit a call.
      if (!late) std::this_thread::sleep_for(1ms);
    }
    return std::nullopt;
  }

  // A key to replace or remove: often (always late in a life) one whose version is on NVMe;
  // removes prefer keys that are there.
  std::uint64_t pick_key(bool late, bool for_remove) {
    std::vector<std::uint64_t> on_nvme, present;
    for (std::uint64_t k = 0; k < kKeys; ++k) {
      if (state_[k].on_nvme && !state_[k].absent && !state_[k].inflight()) on_nvme.push_back(k);
      if (!state_[k].absent) present.push_back(k);
    }
    auto any_of = [&](const std::vector<std::uint64_t>& v) {
      return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng_)];
    };
    const int roll = std::uniform_int_distribution<int>(0, 9)(rng_);
    if (!on_nvme.empty() && (late || roll < 5)) return any_of(on_nvme);
    if (for_remove && !present.empty() && roll < 8) return any_of(present);
    return std::uniform_int_distribution<std::uint64_t>(0, kKeys - 1)(rng_);
  }

  // LOOKUP of every key alone: which ones are only on NVMe now.
  bool sweep(Client& c) {
    auto p = c.pipeline();
    for (std::uint64_t k = 0; k < kKeys; ++k) p->lookup(std::span(&keys_[k], 1));
    if (!p->run().ok()) return false;
    for (std::uint64_t k = 0; k < kKeys; ++k) {
      if (!p->status(k).ok()) return false;
      const PrefixMatch& m = p->lookup_result(k);
      state_[k].on_nvme = m.cached == 1 && m.in_nvme == 1;
      if (state_[k].on_nvme) state_[k].ever_on_nvme = true;
    }
    return true;
  }

  void count_nvme_mutation(bool was_on_nvme, bool late, std::uint64_t& counter) {
    if (!was_on_nvme) return;
    ++counter;
    if (late) ++counts_.late_nvme_mutations;
  }

  // PUT of a new version of k, with a LOOKUP of k just before it in the same pipeline.
  bool put_one(Client& c, std::uint64_t k, bool late) {
    KeyState& s = state_[k];
    const std::uint64_t v = ++s.sent;
    const std::vector<std::byte> value = make_value(k, v);
    s.inflight_puts.push_back(v);
    ++counts_.unanswered_mutations;
    auto p = c.pipeline();
    const std::size_t look = p->lookup(std::span(&keys_[k], 1));
    const std::size_t put = p->put(keys_[k], value);
    if (!p->run().ok()) return false;
    --counts_.unanswered_mutations;
    if (!p->status(put).ok()) {
      item_error("PUT", k, p->status(put));
      return true;
    }
    const PrefixMatch& m = p->lookup_result(look);
    const bool was_on_nvme = p->status(look).ok() && m.cached == 1 && m.in_nvme == 1;
    s.acknowledge_put(v);
    ++counts_.puts_acked;
    count_nvme_mutation(was_on_nvme, late, counts_.replaces_on_nvme);
    return true;
  }

  // PUT_MANY of new versions of 2-4 keys (LOOKUPs of them first, one round trip before).
  bool put_several(Client& c, bool late) {
    const std::size_t n = std::uniform_int_distribution<std::size_t>(2, 4)(rng_);
    std::vector<std::uint64_t> ks;
    // pick_key may keep naming the same few keys: after 8 tries, any other key.
    for (int tries = 0; ks.size() < n; ++tries) {
      const std::uint64_t k =
          tries < 8 ? pick_key(late, false)
                    : std::uniform_int_distribution<std::uint64_t>(0, kKeys - 1)(rng_);
      if (std::find(ks.begin(), ks.end(), k) == ks.end()) ks.push_back(k);
    }
    auto look = c.pipeline();
    for (std::uint64_t k : ks) look->lookup(std::span(&keys_[k], 1));
    if (!look->run().ok()) return false;
    std::vector<bool> was_on_nvme(n);
    for (std::size_t i = 0; i < n; ++i) {
      was_on_nvme[i] = look->status(i).ok() && look->lookup_result(i).cached == 1 &&
                       look->lookup_result(i).in_nvme == 1;
    }
    std::vector<std::vector<std::byte>> values;
    std::vector<std::uint64_t> versions;
    std::vector<PutItem> items;
    for (std::uint64_t k : ks) {
      versions.push_back(++state_[k].sent);
      values.push_back(make_value(k, versions.back()));
      state_[k].inflight_puts.push_back(versions.back());
    }
    for (std::size_t i = 0; i < n; ++i) items.push_back({keys_[ks[i]], values[i]});
    ++counts_.unanswered_mutations;
    std::vector<Status> out(n);
    if (!c.put_many(items, out).ok()) return false;
    --counts_.unanswered_mutations;
    for (std::size_t i = 0; i < n; ++i) {
      if (!out[i].ok()) {
        item_error("PUT_MANY item", ks[i], out[i]);
        continue;
      }
      state_[ks[i]].acknowledge_put(versions[i]);
      ++counts_.put_many_items_acked;
      count_nvme_mutation(was_on_nvme[i], late, counts_.replaces_on_nvme);
    }
    return true;
  }

  // REMOVE of k (answered ok or not_found: both acknowledge that k is gone), LOOKUP just before.
  bool remove_one(Client& c, std::uint64_t k, bool late) {
    KeyState& s = state_[k];
    s.inflight_remove = true;
    ++counts_.unanswered_mutations;
    auto p = c.pipeline();
    const std::size_t look = p->lookup(std::span(&keys_[k], 1));
    const std::size_t rm = p->remove(keys_[k]);
    if (!p->run().ok()) return false;
    --counts_.unanswered_mutations;
    const Status& st = p->status(rm);
    if (!st.ok() && !st.is_not_found()) {
      item_error("REMOVE", k, st);
      return true;
    }
    const PrefixMatch& m = p->lookup_result(look);
    const bool was_on_nvme = p->status(look).ok() && m.cached == 1 && m.in_nvme == 1;
    s.acknowledge_remove();
    ++counts_.removes_acked;
    if (st.is_not_found()) ++counts_.removes_not_found;
    count_nvme_mutation(was_on_nvme, late, counts_.removes_on_nvme);
    return true;
  }

  // GET of k, classified on the spot. A connection error ends the life; any other error is one.
  bool read_one(Client& c, std::uint64_t k, std::vector<std::byte>& buf) {
    const GetResult r = c.get(keys_[k], buf);
    if (!r.status.ok() && !r.status.is_not_found() &&
        (r.status.code() == StatusCode::kClosed || r.status.code() == StatusCode::kIOError)) {
      return false;
    }
    ++counts_.reads_alive;
    std::uint64_t version = 0;
    const std::uint64_t before = violations();
    const Read read = classify(k, r, buf, "while alive", &version);
    if (read == Read::kAllowed || read == Read::kViolation) ++counts_.reads_alive_hits;
    if (read == Read::kError) {
      report(counts_.read_errors,
             "key " + std::to_string(k) + " read while alive: " + r.status.to_string());
    }
    counts_.violations_alive += violations() - before;
    return true;
  }

  // An error answer (not a broken connection) to a PUT or REMOVE: a daemon error. The operation
  // stays in flight: it may or may not have happened.
  void item_error(const char* what, std::uint64_t k, const Status& s) {
    report(counts_.item_errors,
           std::string(what) + " of key " + std::to_string(k) + " answered " + s.to_string());
  }

  std::uint64_t violations() const {
    return counts_.wrong_key_bytes + counts_.older_version_returned + counts_.removed_returned +
           counts_.lost_version_returned + counts_.torn_bytes;
  }

  std::uint64_t kills_;
  std::mt19937_64 rng_;
  std::vector<Key> keys_;
  std::vector<KeyState> state_;
  Counts counts_;
  std::uint64_t reports_ = 0;
  bool after_stop_ = false;
};

TEST(RemovalCrashLoop, NoGetReturnsBytesOlderThanTheLastAcknowledgedPutOrRemove) {
  const std::uint64_t kills = env_u64("KVTIER_REMOVAL_KILLS", kUnderSanitizer ? 20 : 200);
  const std::uint64_t seed = env_u64("KVTIER_REMOVAL_SEED", 1);
  TempDir dir;
  RemovalCrashLoop loop(kills, seed);
  const auto t0 = Clock::now();
  DaemonProcess d(dir.path(), RemovalCrashLoop::config());
  ASSERT_TRUE(d.started()) << d.log();
  loop.run(d);
  const Counts& n = loop.counts();
  auto u = [](std::uint64_t x) { return static_cast<unsigned long long>(x); };
  std::printf(
      "removal-crash-loop: seed=%llu lives=%llu kills=%llu (ending on a PUT/PUT_MANY/REMOVE "
      "%llu, on another call %llu) clean_stops=%llu checkpointed_lives=%llu puts_acked=%llu "
      "put_many_items_acked=%llu removes_acked=%llu (not_found %llu) replaces_on_nvme=%llu "
      "removes_on_nvme=%llu late_nvme_mutations=%llu reads_alive=%llu (hits %llu) "
      "reads_after_restart=%llu (hits %llu) inflight_read_as_new=%llu "
      "inflight_read_as_acked=%llu inflight_read_as_miss=%llu inflight_read_as_violation=%llu "
      "regions_reclaimed_seen=%llu "
      "max_restart_ms=%.0f total_s=%.1f\n"
      "removal-crash-loop: wrong_key_bytes=%llu older_version_returned=%llu "
      "removed_returned=%llu lost_version_returned=%llu torn_bytes=%llu (each counted once per "
      "key and version; seen by live reads %llu, right after a clean stop %llu; later reads of "
      "the same bytes %llu) read_errors=%llu item_errors=%llu\n",
      u(seed), u(n.lives), u(n.kills), u(n.ended_on_mutation), u(n.ended_on_other),
      u(n.clean_stops), u(n.checkpointed_lives), u(n.puts_acked), u(n.put_many_items_acked),
      u(n.removes_acked), u(n.removes_not_found), u(n.replaces_on_nvme), u(n.removes_on_nvme),
      u(n.late_nvme_mutations), u(n.reads_alive), u(n.reads_alive_hits), u(n.reads_after_restart),
      u(n.reads_after_restart_hits), u(n.inflight_read_as_new), u(n.inflight_read_as_acked),
      u(n.inflight_read_as_miss), u(n.inflight_read_as_other), u(n.regions_reclaimed),
      n.max_restart_ms, std::chrono::duration<double>(Clock::now() - t0).count(),
      u(n.wrong_key_bytes), u(n.older_version_returned), u(n.removed_returned),
      u(n.lost_version_returned), u(n.torn_bytes), u(n.violations_alive),
      u(n.violations_after_stop), u(n.repeated_violation_reads), u(n.read_errors),
      u(n.item_errors));
  EXPECT_EQ(n.kills, kills);
  EXPECT_EQ(n.wrong_key_bytes, 0u);
  EXPECT_EQ(n.older_version_returned, 0u);
  EXPECT_EQ(n.removed_returned, 0u);
  EXPECT_EQ(n.lost_version_returned, 0u);
  EXPECT_EQ(n.torn_bytes, 0u);
  EXPECT_EQ(n.read_errors, 0u);
  EXPECT_EQ(n.item_errors, 0u);
  // Not vacuous: blocks on NVMe were replaced and removed, kills came right after such
  // mutations, and restarts did read data back.
  EXPECT_GT(n.replaces_on_nvme, 0u);
  EXPECT_GT(n.removes_on_nvme, 0u);
  EXPECT_GT(n.late_nvme_mutations, 0u);
  EXPECT_GT(n.reads_after_restart_hits, 0u);
  if (kills >= kStopEvery) {
    EXPECT_GT(n.checkpointed_lives, 0u);
  }
}

}  // namespace kvtier::testing::removal_crash_loop
