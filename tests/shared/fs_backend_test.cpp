// The shared-filesystem backend against real files in a temp directory: round trips, misses,
// namespaces, two instances and a forked process on one directory, concurrent writers of one key,
// damaged files, the sweep (age, capacity, stale temp files), write errors (read-only directory,
// RLIMIT_FSIZE) and config validation.
#include "shared/fs/fs_backend.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "shared/fs/fs_block_format.h"
#include "shared/fs/fs_layout.h"
#include "support/child_process.h"
#include "support/test_support.h"

namespace kvtier::shared::fs {
namespace {

namespace stdfs = std::filesystem;
using kvtier::testing::counter_value;
using kvtier::testing::matches_pattern;
using kvtier::testing::pattern;
using kvtier::testing::TempDir;
using kvtier::testing::test_key;

Deadline far_deadline() { return Clock::now() + std::chrono::hours(1); }

SharedFsConfig config_for(const std::string& dir) {
  SharedFsConfig c;
  c.path = dir;
  return c;
}

std::unique_ptr<SharedBackend> open_backend(const SharedFsConfig& c) {
  Result<std::unique_ptr<SharedBackend>> b = open_fs_backend(c);
  EXPECT_TRUE(b.ok()) << b.status().to_string();
  return b.ok() ? std::move(b).value() : nullptr;
}

std::unique_ptr<SharedBackend> open_backend(const std::string& dir) {
  return open_backend(config_for(dir));
}

BlockId block(std::uint64_t n, NamespaceId ns = 7) { return BlockId{ns, test_key(n)}; }

Status put(SharedBackend& b, const BlockId& id, std::span<const std::byte> value) {
  SharedPut item{id, value};
  Status out;
  b.put_many({&item, 1}, {&out, 1}, far_deadline());
  return out;
}

Status put_pattern(SharedBackend& b, const BlockId& id, std::size_t size) {
  return put(b, id, pattern(id.key, size));
}

GetResult get(SharedBackend& b, const BlockId& id, std::span<std::byte> dst) {
  SharedGet item{id, dst};
  GetResult out;
  b.get_many({&item, 1}, {&out, 1}, far_deadline());
  return out;
}

Status contains(SharedBackend& b, const BlockId& id) {
  Status out;
  b.contains_many({&id, 1}, {&out, 1}, far_deadline());
  return out;
}

// Reads `id` and checks it is exactly the pattern of `size` bytes, found in the shared tier.
::testing::AssertionResult reads_back(SharedBackend& b, const BlockId& id, std::size_t size) {
  std::vector<std::byte> dst(size + 100);
  GetResult r = get(b, id, dst);
  if (!r.status.ok()) return ::testing::AssertionFailure() << r.status.to_string();
  if (r.size != size) return ::testing::AssertionFailure() << "size " << r.size;
  if (r.tier != Tier::kShared) return ::testing::AssertionFailure() << "tier not shared";
  if (!matches_pattern({dst.data(), size}, id.key)) {
    return ::testing::AssertionFailure() << "wrong bytes";
  }
  return ::testing::AssertionSuccess();
}

std::string path_of(const std::string& dir, const BlockId& id) {
  return block_dir(tree_root(dir), id) + "/" + block_file_name(id.key);
}

double counter(SharedBackend& b, std::string_view name) { return counter_value(b, name); }

// Regular files anywhere under `dir` whose name contains `part`.
std::size_t files_containing(const std::string& dir, std::string_view part) {
  std::size_t n = 0;
  for (const auto& e : stdfs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().filename().string().find(part) != std::string::npos) ++n;
  }
  return n;
}

void set_mtime_ago(const std::string& path, std::chrono::seconds ago) {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  timespec times[2] = {now, now};
  times[1].tv_sec -= ago.count();
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path << ": " << std::strerror(errno);
}

using kvtier::testing::in_child;

// Root bypasses permission bits; drop the capabilities that let it, so a read-only directory is
// read-only to this (child) process too.
void drop_dac_capabilities() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &hdr, data) != 0) return;
  const std::uint32_t mask = (1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH) |
                             (1u << CAP_FOWNER);
  data[0].effective &= ~mask;
  (void)::syscall(SYS_capset, &hdr, data);
}

// ---- basic operations --------------------------------------------------------------------------

TEST(SharedFsBackend, RoundTripOfSeveralSizes) {
  TempDir dir;
  auto b = open_backend(dir.path());
  const std::size_t sizes[] = {1, 4096, 1 * 1024 * 1024 + 3};
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < std::size(sizes); ++i) {
    ASSERT_TRUE(put_pattern(*b, block(i), sizes[i]).ok());
    total += sizes[i];
  }
  for (std::size_t i = 0; i < std::size(sizes); ++i) {
    EXPECT_TRUE(reads_back(*b, block(i), sizes[i])) << sizes[i];
    EXPECT_EQ(stdfs::file_size(path_of(dir.path(), block(i))), kFsHeaderBytes + sizes[i]);
    EXPECT_TRUE(contains(*b, block(i)).ok());
  }
  EXPECT_EQ(counter(*b, "shared_fs_puts"), 3);
  EXPECT_EQ(counter(*b, "shared_fs_put_bytes"), static_cast<double>(total));
  EXPECT_EQ(counter(*b, "shared_fs_hits"), 3);
  EXPECT_EQ(counter(*b, "shared_fs_gets"), 3);
  EXPECT_EQ(files_containing(dir.path(), ".tmp."), 0u);
}

TEST(SharedFsBackend, FileStartsWithThePinnedHeader) {
  TempDir dir;
  auto b = open_backend(dir.path());
  const BlockId id = block(1, 0x0a0b0c0d);
  ASSERT_TRUE(put_pattern(*b, id, 5000).ok());
  const std::string path = path_of(dir.path(), id);
  EXPECT_NE(path.find("/kvtier-v1/0a0b0c0d/" + id.key.hex().substr(0, 2) + "/" +
                      id.key.hex().substr(2, 2) + "/" + id.key.hex() + ".blk"),
            std::string::npos);
  std::ifstream in(path, std::ios::binary);
  std::vector<char> head(kFsHeaderBytes);
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  EXPECT_EQ(std::string(head.data(), 8), "KVTSHFS1");
  FsBlockHeader h{};
  std::memcpy(&h, head.data(), sizeof(h));
  EXPECT_EQ(h.format_version, kFsFormatVersion);
  EXPECT_EQ(h.ns, id.ns);
  EXPECT_EQ(h.value_size, 5000u);
  for (std::size_t i = sizeof(h); i < head.size(); ++i) ASSERT_EQ(head[i], 0) << i;
}

TEST(SharedFsBackend, MissIsNotFound) {
  TempDir dir;
  auto b = open_backend(dir.path());
  std::vector<std::byte> dst(100);
  GetResult r = get(*b, block(1), dst);
  EXPECT_TRUE(r.status.is_not_found()) << r.status.to_string();
  EXPECT_TRUE(contains(*b, block(1)).is_not_found());
  EXPECT_TRUE(b->remove(block(1), far_deadline()).is_not_found());
  EXPECT_EQ(counter(*b, "shared_fs_misses"), 1);
  EXPECT_EQ(counter(*b, "shared_fs_corrupt_blocks"), 0);
  EXPECT_EQ(counter(*b, "shared_fs_get_errors"), 0);
}

TEST(SharedFsBackend, BufferTooSmallNamesTheSize) {
  TempDir dir;
  auto b = open_backend(dir.path());
  ASSERT_TRUE(put_pattern(*b, block(1), 10000).ok());
  std::vector<std::byte> dst(9999);
  GetResult r = get(*b, block(1), dst);
  EXPECT_EQ(r.status.code(), StatusCode::kBufferTooSmall) << r.status.to_string();
  EXPECT_EQ(r.size, 10000u);
  EXPECT_NE(r.status.message().find("10000"), std::string::npos);
  EXPECT_EQ(counter(*b, "shared_fs_corrupt_blocks"), 0);
  EXPECT_TRUE(reads_back(*b, block(1), 10000));  // the block is untouched
}

TEST(SharedFsBackend, NamespacesNeverAlias) {
  TempDir dir;
  auto b = open_backend(dir.path());
  const Key key = test_key(5);
  const std::vector<std::byte> one = pattern(key, 3000, 1), two = pattern(key, 2000, 2);
  ASSERT_TRUE(put(*b, {1, key}, one).ok());
  ASSERT_TRUE(put(*b, {2, key}, two).ok());
  std::vector<std::byte> dst(4000);
  GetResult r = get(*b, {1, key}, dst);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.size, 3000u);
  EXPECT_TRUE(matches_pattern({dst.data(), 3000}, key, 1));
  r = get(*b, {2, key}, dst);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.size, 2000u);
  EXPECT_TRUE(matches_pattern({dst.data(), 2000}, key, 2));
  EXPECT_TRUE(get(*b, {3, key}, dst).status.is_not_found());
  ASSERT_TRUE(b->remove({1, key}, far_deadline()).ok());
  EXPECT_TRUE(get(*b, {1, key}, dst).status.is_not_found());
  EXPECT_TRUE(get(*b, {2, key}, dst).status.ok());
  EXPECT_EQ(counter(*b, "shared_fs_corrupt_blocks"), 0);
}

TEST(SharedFsBackend, TwoInstancesShareOneDirectory) {
  TempDir dir;
  auto a = open_backend(dir.path());
  auto b = open_backend(dir.path() + "/");  // a trailing slash names the same tree
  ASSERT_TRUE(put_pattern(*a, block(1), 70000).ok());
  EXPECT_TRUE(reads_back(*b, block(1), 70000));
  ASSERT_TRUE(b->remove(block(1), far_deadline()).ok());
  EXPECT_TRUE(contains(*a, block(1)).is_not_found());
  EXPECT_EQ(a->describe(), "fs:" + dir.path());
  EXPECT_EQ(b->describe(), "fs:" + dir.path());
}

TEST(SharedFsBackend, BatchesAnswerEachItem) {
  TempDir dir;
  auto b = open_backend(dir.path());
  std::vector<std::vector<std::byte>> values;
  std::vector<SharedPut> puts;
  for (std::uint64_t i = 0; i < 4; ++i) values.push_back(pattern(test_key(i), 100 + i));
  for (std::uint64_t i = 0; i < 4; ++i) puts.push_back({block(i), values[i]});
  std::vector<Status> put_out(4);
  b->put_many(puts, put_out, far_deadline());
  for (const Status& s : put_out) EXPECT_TRUE(s.ok()) << s.to_string();
  std::vector<std::vector<std::byte>> bufs(5, std::vector<std::byte>(200));
  std::vector<SharedGet> gets;
  for (std::uint64_t i = 0; i < 5; ++i) gets.push_back({block(i), bufs[i]});
  std::vector<GetResult> get_out(5);
  b->get_many(gets, get_out, far_deadline());
  for (std::uint64_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(get_out[i].status.ok()) << i;
    EXPECT_EQ(get_out[i].size, 100 + i);
    EXPECT_TRUE(matches_pattern({bufs[i].data(), 100 + i}, test_key(i)));
  }
  EXPECT_TRUE(get_out[4].status.is_not_found());
}

TEST(SharedFsBackend, PassedDeadlineSkipsItems) {
  TempDir dir;
  auto b = open_backend(dir.path());
  const std::vector<std::byte> v = pattern(test_key(1), 10);
  SharedPut item{block(1), v};
  Status out;
  b->put_many({&item, 1}, {&out, 1}, Clock::now() - std::chrono::seconds(1));
  EXPECT_EQ(out.code(), StatusCode::kIOError);
  EXPECT_EQ(counter(*b, "shared_fs_deadline_skips"), 1);
  EXPECT_TRUE(contains(*b, block(1)).is_not_found());
}

TEST(SharedFsBackend, PingCreatesTheTreeButNotTheMountPoint) {
  TempDir dir;
  auto b = open_backend(dir.path());
  EXPECT_TRUE(b->ping(far_deadline()).ok());
  EXPECT_TRUE(stdfs::is_directory(dir.path() + "/kvtier-v1"));
  auto missing = open_backend(dir.path() + "/not-mounted");  // opening never touches the medium
  ASSERT_NE(missing, nullptr);
  Status s = missing->ping(far_deadline());
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  EXPECT_NE(s.message().find("not-mounted"), std::string::npos) << s.message();
  EXPECT_FALSE(put_pattern(*missing, block(1), 10).ok());
  EXPECT_FALSE(stdfs::exists(dir.path() + "/not-mounted"));
}

// A mount point whose filesystem went away (unmounted, or a FUSE server that died and was
// unmounted) shows the bare directory beneath. The tree root, seen before, must not be created
// again there: blocks would land on the local disk, unseen by other nodes, counted as uploaded.
// (Found by bench/shared_outage.sh: bindfs killed, `fusermount -u -z`, kvtierd's next probe.)
TEST(SharedFsBackend, TreeRootIsNotRecreatedOnABareMountPoint) {
  TempDir dir;
  const std::string mnt = dir.path() + "/mnt", away = dir.path() + "/away";
  ASSERT_TRUE(stdfs::create_directory(mnt));
  auto b = open_backend(mnt);
  ASSERT_TRUE(b->ping(far_deadline()).ok());
  ASSERT_TRUE(put_pattern(*b, block(1), 10).ok());

  stdfs::rename(mnt, away);  // "unmounted": an empty mount-point directory is left
  ASSERT_TRUE(stdfs::create_directory(mnt));
  Status s = b->ping(far_deadline());
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  EXPECT_NE(s.message().find("mounted"), std::string::npos) << s.message();
  EXPECT_FALSE(put_pattern(*b, block(2), 10).ok());
  EXPECT_TRUE(stdfs::is_empty(mnt));

  ASSERT_TRUE(stdfs::remove(mnt));  // "mounted again"
  stdfs::rename(away, mnt);
  EXPECT_TRUE(b->ping(far_deadline()).ok());
  EXPECT_TRUE(reads_back(*b, block(1), 10));
  EXPECT_TRUE(put_pattern(*b, block(2), 10).ok());
}

// A node joining an existing tier (create_root = false) that starts before the mount writes
// nothing under the mount point, and works once the tree is there.
TEST(SharedFsBackend, CreateRootFalseNeverCreatesTheTree) {
  TempDir dir;
  SharedFsConfig c = config_for(dir.path());
  c.create_root = false;
  auto b = open_backend(c);
  ASSERT_NE(b, nullptr);
  Status s = b->ping(far_deadline());
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  EXPECT_NE(s.message().find("create_root"), std::string::npos) << s.message();
  EXPECT_FALSE(put_pattern(*b, block(1), 10).ok());
  EXPECT_TRUE(stdfs::is_empty(dir.path()));

  ASSERT_TRUE(stdfs::create_directory(dir.path() + "/kvtier-v1"));  // "mounted"
  EXPECT_TRUE(b->ping(far_deadline()).ok());
  EXPECT_TRUE(put_pattern(*b, block(1), 10).ok());
  EXPECT_TRUE(reads_back(*b, block(1), 10));
}

// ---- concurrency ------------------------------------------------------------------------------

// Writers of one key in four threads and in a forked process, readers in two threads meanwhile:
// every read is a miss or the exact bytes, and nothing is ever counted corrupt.
TEST(SharedFsConcurrency, WritersOfOneKeyAndReaders) {
  TempDir dir;
  const BlockId id = block(42);
  const std::size_t size = 256 * 1024 + 5;
  const std::vector<std::byte> value = pattern(id.key, size);
  constexpr int kPutsPerWriter = 40;

  // Forked before any thread starts, so the child is single-threaded.
  const pid_t child = ::fork();
  if (child == 0) {
    auto cb = open_backend(dir.path());
    int failures = 0;
    for (int i = 0; i < kPutsPerWriter; ++i) failures += put(*cb, id, value).ok() ? 0 : 1;
    ::_exit(failures == 0 ? 0 : 1);
  }
  auto b = open_backend(dir.path());
  std::atomic<int> writers_left{4};
  std::atomic<int> put_failures{0}, bad_reads{0}, hits{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPutsPerWriter; ++i) put_failures += put(*b, id, value).ok() ? 0 : 1;
      --writers_left;
    });
  }
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&] {
      std::vector<std::byte> dst(size);
      for (int i = 0; i < 100000 && writers_left.load() > 0; ++i) {
        GetResult g = get(*b, id, dst);
        if (g.status.ok() && g.size == size && std::memcmp(dst.data(), value.data(), size) == 0) {
          ++hits;
        } else if (!g.status.is_not_found()) {
          ++bad_reads;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(put_failures.load(), 0);
  EXPECT_EQ(bad_reads.load(), 0);
  EXPECT_EQ(counter(*b, "shared_fs_corrupt_blocks"), 0);
  EXPECT_TRUE(reads_back(*b, id, size));
  EXPECT_EQ(files_containing(dir.path(), ".tmp."), 0u);
  EXPECT_EQ(files_containing(dir.path(), ".blk"), 1u);
}

// ---- damaged files -----------------------------------------------------------------------------

class SharedFsCorruption : public ::testing::Test {
 protected:
  static constexpr std::size_t kSize = 20000;
  void SetUp() override {
    b_ = open_backend(dir_.path());
    ASSERT_TRUE(put_pattern(*b_, id_, kSize).ok());
    path_ = path_of(dir_.path(), id_);
  }
  void flip_byte(std::uint64_t offset) {
    std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    f.read(&c, 1);
    c ^= 0x01;
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(&c, 1);
  }
  // The damaged block reads as a miss, counted once, and the file is gone (a plain miss after).
  void expect_corrupt_miss(const BlockId& id) {
    std::vector<std::byte> dst(kSize);
    GetResult r = get(*b_, id, dst);
    EXPECT_TRUE(r.status.is_not_found()) << r.status.to_string();
    EXPECT_EQ(counter(*b_, "shared_fs_corrupt_blocks"), 1);
    EXPECT_EQ(counter(*b_, "shared_fs_hits"), 0);
    EXPECT_TRUE(get(*b_, id, dst).status.is_not_found());
    EXPECT_EQ(counter(*b_, "shared_fs_corrupt_blocks"), 1);
    EXPECT_EQ(counter(*b_, "shared_fs_misses"), 1);
  }

  TempDir dir_;
  std::unique_ptr<SharedBackend> b_;
  BlockId id_ = block(9);
  std::string path_;
};

TEST_F(SharedFsCorruption, FlippedPayloadByte) {
  flip_byte(kFsHeaderBytes + kSize / 2);
  expect_corrupt_miss(id_);
}

TEST_F(SharedFsCorruption, FlippedHeaderByte) {
  flip_byte(offsetof(FsBlockHeader, value_size));
  expect_corrupt_miss(id_);
}

TEST_F(SharedFsCorruption, FlippedMagic) {
  flip_byte(0);
  expect_corrupt_miss(id_);
}

TEST_F(SharedFsCorruption, TruncatedValue) {
  stdfs::resize_file(path_, kFsHeaderBytes + kSize - 1);
  expect_corrupt_miss(id_);
}

TEST_F(SharedFsCorruption, TruncatedHeader) {
  stdfs::resize_file(path_, 10);
  expect_corrupt_miss(id_);
}

TEST_F(SharedFsCorruption, EmptyFile) {
  stdfs::resize_file(path_, 0);
  EXPECT_TRUE(contains(*b_, id_).is_not_found());
  expect_corrupt_miss(id_);
}

TEST_F(SharedFsCorruption, ValidFileUnderAnotherKeysName) {
  const BlockId other = block(10);
  const std::string other_path = path_of(dir_.path(), other);
  stdfs::create_directories(stdfs::path(other_path).parent_path());
  stdfs::copy_file(path_, other_path);
  expect_corrupt_miss(other);
  EXPECT_TRUE(reads_back(*b_, id_, kSize));  // the original is untouched
}

TEST_F(SharedFsCorruption, ValidFileUnderAnotherNamespace) {
  const BlockId other{id_.ns + 1, id_.key};
  const std::string other_path = path_of(dir_.path(), other);
  stdfs::create_directories(stdfs::path(other_path).parent_path());
  stdfs::copy_file(path_, other_path);
  expect_corrupt_miss(other);
}

// ---- sweep -------------------------------------------------------------------------------------

TEST(SharedFsSweep, RemovesStaleTempFilesOnly) {
  TempDir dir;
  auto b = open_backend(dir.path());
  ASSERT_TRUE(put_pattern(*b, block(1), 100).ok());
  const std::string leaf = block_dir(tree_root(dir.path()), block(1));
  const std::string stale = leaf + "/" + temp_file_name(block(1).key, "crashed-node", 123, 0);
  const std::string fresh = leaf + "/" + temp_file_name(block(1).key, "live-node", 456, 0);
  const std::string foreign = leaf + "/notes.txt";
  for (const std::string& p : {stale, fresh, foreign}) std::ofstream(p) << "x";
  set_mtime_ago(stale, std::chrono::hours(2));
  set_mtime_ago(foreign, std::chrono::hours(2));
  ASSERT_TRUE(b->maintain().ok());
  EXPECT_FALSE(stdfs::exists(stale));
  EXPECT_TRUE(stdfs::exists(fresh));
  EXPECT_TRUE(stdfs::exists(foreign));
  EXPECT_TRUE(reads_back(*b, block(1), 100));
  EXPECT_EQ(counter(*b, "shared_fs_sweep_removed_temp_files"), 1);
  EXPECT_EQ(counter(*b, "shared_fs_sweep_removed_blocks"), 0);
  EXPECT_EQ(counter(*b, "shared_fs_stored_blocks"), 1);
  EXPECT_EQ(counter(*b, "shared_fs_stored_bytes"), kFsHeaderBytes + 100.0);
  EXPECT_EQ(counter(*b, "shared_fs_sweep_runs"), 1);
}

TEST(SharedFsSweep, RemovesBlocksOlderThanMaxAge) {
  TempDir dir;
  SharedFsConfig c = config_for(dir.path());
  c.max_age = std::chrono::hours(1);
  auto b = open_backend(c);
  for (std::uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(put_pattern(*b, block(i), 1000).ok());
  set_mtime_ago(path_of(dir.path(), block(0)), std::chrono::hours(2));
  set_mtime_ago(path_of(dir.path(), block(1)), std::chrono::hours(3));
  ASSERT_TRUE(b->maintain().ok());
  EXPECT_TRUE(contains(*b, block(0)).is_not_found());
  EXPECT_TRUE(contains(*b, block(1)).is_not_found());
  EXPECT_TRUE(reads_back(*b, block(2), 1000));
  EXPECT_EQ(counter(*b, "shared_fs_sweep_removed_blocks"), 2);
  EXPECT_EQ(counter(*b, "shared_fs_sweep_removed_bytes"), 2 * (kFsHeaderBytes + 1000.0));
  EXPECT_EQ(counter(*b, "shared_fs_stored_blocks"), 1);
  EXPECT_EQ(counter(*b, "shared_fs_stored_bytes"), kFsHeaderBytes + 1000.0);
}

TEST(SharedFsSweep, CapacityRemovesOldestFirst) {
  TempDir dir;
  const std::size_t size = 64 * 1024;
  const double file = static_cast<double>(kFsHeaderBytes + size);
  SharedFsConfig c = config_for(dir.path());
  c.capacity_bytes = 3 * (kFsHeaderBytes + size);
  auto b = open_backend(c);
  // Block i is 10 - i hours old: 0 is the oldest, 5 the newest.
  for (std::uint64_t i = 0; i < 6; ++i) {
    ASSERT_TRUE(put_pattern(*b, block(i, static_cast<NamespaceId>(i % 2)), size).ok());
    set_mtime_ago(path_of(dir.path(), block(i, static_cast<NamespaceId>(i % 2))),
                  std::chrono::hours(10 - i));
  }
  ASSERT_TRUE(b->maintain().ok());
  for (std::uint64_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(contains(*b, block(i, static_cast<NamespaceId>(i % 2))).is_not_found()) << i;
  }
  for (std::uint64_t i = 3; i < 6; ++i) {
    EXPECT_TRUE(reads_back(*b, block(i, static_cast<NamespaceId>(i % 2)), size)) << i;
  }
  EXPECT_EQ(counter(*b, "shared_fs_sweep_removed_blocks"), 3);
  EXPECT_EQ(counter(*b, "shared_fs_sweep_removed_bytes"), 3 * file);
  EXPECT_EQ(counter(*b, "shared_fs_stored_blocks"), 3);
  EXPECT_EQ(counter(*b, "shared_fs_stored_bytes"), 3 * file);
  ASSERT_TRUE(b->maintain().ok());  // under capacity now: nothing more goes
  EXPECT_EQ(counter(*b, "shared_fs_sweep_removed_blocks"), 3);
}

// Two nodes sweeping one directory at once remove each block at most once between them and
// both end with the same tree.
TEST(SharedFsSweep, ConcurrentSweepersAgree) {
  TempDir dir;
  const std::size_t size = 8192;
  SharedFsConfig c = config_for(dir.path());
  c.capacity_bytes = 10 * (kFsHeaderBytes + size);
  auto a = open_backend(c);
  auto b = open_backend(c);
  for (std::uint64_t i = 0; i < 40; ++i) {
    ASSERT_TRUE(put_pattern(*a, block(i), size).ok());
    set_mtime_ago(path_of(dir.path(), block(i)), std::chrono::seconds(1000 - i));
  }
  Status sa, sb;
  std::thread ta([&] { sa = a->maintain(); });
  std::thread tb([&] { sb = b->maintain(); });
  ta.join();
  tb.join();
  EXPECT_TRUE(sa.ok()) << sa.to_string();
  EXPECT_TRUE(sb.ok()) << sb.to_string();
  EXPECT_EQ(counter(*a, "shared_fs_sweep_removed_blocks") +
                counter(*b, "shared_fs_sweep_removed_blocks"),
            30);
  for (std::uint64_t i = 30; i < 40; ++i) EXPECT_TRUE(contains(*a, block(i)).ok()) << i;
  EXPECT_EQ(files_containing(dir.path(), ".blk"), 10u);
}

TEST(SharedFsSweep, EmptyDirectoriesGoAndMissingTreeIsEmpty) {
  TempDir dir;
  SharedFsConfig c = config_for(dir.path());
  c.max_age = std::chrono::seconds(60);
  auto b = open_backend(c);
  ASSERT_TRUE(b->maintain().ok());  // no tree yet
  EXPECT_EQ(counter(*b, "shared_fs_stored_blocks"), 0);
  ASSERT_TRUE(put_pattern(*b, block(1), 10).ok());
  set_mtime_ago(path_of(dir.path(), block(1)), std::chrono::hours(1));
  ASSERT_TRUE(b->maintain().ok());  // removes the block
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(b->maintain().ok());  // then one level per sweep
  EXPECT_TRUE(stdfs::is_empty(tree_root(dir.path())));
  ASSERT_TRUE(put_pattern(*b, block(1), 10).ok());  // directories come back on demand
  EXPECT_TRUE(reads_back(*b, block(1), 10));
}

// ---- write errors ------------------------------------------------------------------------------

TEST(SharedFsErrors, ReadOnlyDirectoryIsAClearError) {
  TempDir dir;
  const std::string ro_base = dir.file("ro");
  const std::string ro_leaf = dir.file("leaf");
  stdfs::create_directories(ro_base);
  stdfs::create_directories(ro_leaf);
  {
    auto b = open_backend(ro_leaf);
    ASSERT_TRUE(put_pattern(*b, block(1), 10).ok());  // creates block(1)'s leaf directory
  }
  const std::string leaf_dir = block_dir(tree_root(ro_leaf), block(1));
  ASSERT_EQ(::chmod(ro_base.c_str(), 0555), 0);
  ASSERT_EQ(::chmod(leaf_dir.c_str(), 0555), 0);
  const std::string verdict = in_child([&] {
    drop_dac_capabilities();
    std::string text;
    auto base = open_backend(ro_base);
    text += put_pattern(*base, block(1), 10).to_string() + "\n";
    auto leaf = open_backend(ro_leaf);
    // block(1) again: its leaf directory exists and is read-only.
    text += put_pattern(*leaf, block(1), 10).to_string() + "\n";
    text += "errors=" + std::to_string(counter(*leaf, "shared_fs_put_errors"));
    return text;
  });
  ::chmod(ro_base.c_str(), 0755);
  ::chmod(leaf_dir.c_str(), 0755);
  EXPECT_NE(verdict.find("io_error: shared fs: mkdir " + ro_base + "/kvtier-v1: Permission denied"),
            std::string::npos)
      << verdict;
  EXPECT_NE(verdict.find("io_error: shared fs: create " + leaf_dir + "/."), std::string::npos)
      << verdict;
  EXPECT_NE(verdict.find("errors=1"), std::string::npos) << verdict;
  EXPECT_EQ(files_containing(dir.path(), ".tmp."), 0u);
}

TEST(SharedFsErrors, FileSizeLimitIsAnErrorNotASignal) {
  TempDir dir;
  const std::string verdict = in_child([&] {
    ::signal(SIGXFSZ, SIG_IGN);  // as kvtierd does
    rlimit lim{64 * 1024, 64 * 1024};
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) return std::string("setrlimit failed");
    auto b = open_backend(dir.path());
    std::string text = put_pattern(*b, block(1), 1024 * 1024).to_string() + "\n";
    text += "small=" + put_pattern(*b, block(2), 1000).to_string() + "\n";
    text += "errors=" + std::to_string(counter(*b, "shared_fs_put_errors"));
    return text;
  });
  EXPECT_NE(verdict.find("no_space: shared fs: write "), std::string::npos) << verdict;
  EXPECT_NE(verdict.find("File too large"), std::string::npos) << verdict;
  EXPECT_NE(verdict.find("small=ok"), std::string::npos) << verdict;
  EXPECT_NE(verdict.find("errors=1"), std::string::npos) << verdict;
  EXPECT_EQ(files_containing(dir.path(), ".tmp."), 0u);
  EXPECT_FALSE(stdfs::exists(path_of(dir.path(), block(1))));
  auto b = open_backend(dir.path());
  EXPECT_TRUE(reads_back(*b, block(2), 1000));
}

TEST(SharedFsErrors, PathThatIsAFile) {
  TempDir dir;
  std::ofstream(dir.file("plain")) << "x";
  auto b = open_backend(dir.file("plain"));
  Status s = put_pattern(*b, block(1), 10);
  EXPECT_EQ(s.code(), StatusCode::kIOError) << s.to_string();
  EXPECT_NE(s.message().find(dir.file("plain")), std::string::npos) << s.message();
  EXPECT_EQ(b->ping(far_deadline()).code(), StatusCode::kIOError);
  std::vector<std::byte> dst(10);
  EXPECT_TRUE(get(*b, block(1), dst).status.is_not_found());  // ENOTDIR: nothing there
}

// ---- config ------------------------------------------------------------------------------------

TEST(SharedFsConfig, Validation) {
  SharedFsConfig c;
  EXPECT_EQ(c.validate().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.validate().message().find("shared.fs.path"), std::string::npos);
  c.path = "/mnt/kv";
  EXPECT_TRUE(c.validate().ok());
  SharedFsConfig bad = c;
  bad.max_age = std::chrono::seconds(-1);
  EXPECT_NE(bad.validate().message().find("shared.fs.max_age_s = -1"), std::string::npos);
  bad = c;
  bad.sweep_interval = std::chrono::seconds(0);
  EXPECT_NE(bad.validate().message().find("shared.fs.sweep_interval_s = 0"), std::string::npos);
  bad = c;
  bad.path = std::string(5000, 'a');
  EXPECT_EQ(bad.validate().code(), StatusCode::kInvalidArgument);
  bad = c;
  bad.path = std::string("/mnt\0kv", 7);
  EXPECT_EQ(bad.validate().code(), StatusCode::kInvalidArgument);
  Result<std::unique_ptr<SharedBackend>> b = open_fs_backend(SharedFsConfig{});
  EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
}

// What a node creates in the shared tree gives other users nothing, whatever the daemon's umask
// (issue 27: block files were 0644 under 0755 directories, readable by every local user who sees
// the mount), and takes the configured group, through which nodes running as different users
// share the tree.
TEST(SharedFsAccess, FilesAndDirectoriesGetExactlyTheConfiguredModeAndGroup) {
  TempDir dir;
  const mode_t old_umask = ::umask(0);  // the widest: nothing narrows what kvtier asks for
  SharedFsConfig c = config_for(dir.path());
  c.group = "65534";  // nogroup
  auto b = open_backend(c);
  const bool stored = b && put_pattern(*b, block(1), 5000).ok();
  ::umask(old_umask);
  ASSERT_TRUE(stored);
  const std::string file = static_cast<FsBackend&>(*b).TEST_block_path(block(1));
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0) << file;
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_gid, 65534u);
  // Every directory from the tree's root down to the block's.
  for (stdfs::path d = stdfs::path(file).parent_path(); d.string().size() > dir.path().size();
       d = d.parent_path()) {
    ASSERT_EQ(::stat(d.c_str(), &st), 0) << d;
    EXPECT_EQ(st.st_mode & 07777, 0750u) << d;
    EXPECT_EQ(st.st_gid, 65534u) << d;
  }
}

TEST(SharedFsAccess, ModesThatOpenTheTreeToOtherUsersAreRefused) {
  TempDir dir;
  SharedFsConfig c = config_for(dir.path());
  c.file_mode = 0644;
  EXPECT_NE(c.validate().message().find("shared.fs.file_mode = 0644"), std::string::npos)
      << c.validate().to_string();
  c.file_mode = 0440;  // the node must write its own files
  EXPECT_EQ(c.validate().code(), StatusCode::kInvalidArgument);
  c = config_for(dir.path());
  c.dir_mode = 0751;
  EXPECT_NE(c.validate().message().find("shared.fs.dir_mode = 0751"), std::string::npos);
  c = config_for(dir.path());
  c.file_mode = 0600;
  c.dir_mode = 0700;
  EXPECT_TRUE(c.validate().ok());
  c.group = "no-such-group-kvtier";
  Result<std::unique_ptr<SharedBackend>> b = open_fs_backend(c);
  EXPECT_NE(b.status().message().find("shared.fs.group"), std::string::npos) << b.status().to_string();
}

TEST(SharedFsLayout, NamesAndClassification) {
  const Key k = test_key(3);
  const std::string hex = k.hex();
  EXPECT_EQ(ns_dir_name(0x1f), "0000001f");
  EXPECT_EQ(tree_root("/a"), "/a/kvtier-v1");
  const std::string aa = hex.substr(0, 2), bb = hex.substr(2, 2);
  EXPECT_EQ(classify_leaf_entry(block_file_name(k), aa, bb), EntryKind::kBlock);
  EXPECT_EQ(classify_leaf_entry(block_file_name(k), "zz", bb), EntryKind::kOther);
  EXPECT_EQ(classify_leaf_entry(temp_file_name(k, "h", 1, 2), aa, bb), EntryKind::kTemp);
  EXPECT_EQ(classify_leaf_entry("README", aa, bb), EntryKind::kOther);
  EXPECT_EQ(classify_leaf_entry(hex + ".blk.bak", aa, bb), EntryKind::kOther);
  const std::string host = safe_hostname();
  EXPECT_FALSE(host.empty());
  EXPECT_LE(host.size(), 64u);
  EXPECT_EQ(host.find('/'), std::string::npos);
  EXPECT_EQ(host.find('.'), std::string::npos);
}

}  // namespace
}  // namespace kvtier::shared::fs
