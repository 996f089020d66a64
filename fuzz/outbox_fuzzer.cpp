// libFuzzer target for the shared-tier outbox log (src/shared/outbox.cpp): replayed at every
// start from <data_dir>/shared-outbox.log, which a crash may have left torn. Input: the log file.
// When the input's length is odd, every whole 48-byte record that starts with the record magic
// gets its checksum recomputed first (and the odd byte is dropped), so the fuzzer also reaches
// what replay does with well-formed records of any content: unknown kinds, DONE before ADD,
// duplicates, zero sizes.
// Promises: open() is an error or an outbox with at most one pending block per 48-byte record
// (replay keeps every promised block, even beyond capacity); replay is deterministic — opening again (after open() may have rewritten the
// log) gives the same pending blocks; every block taken is one pending block.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>

#include "fuzz_check.h"
#include "integrity/checksum.h"
#include "shared/outbox.h"

namespace {

constexpr std::uint64_t kRecordBytes = 48;
constexpr std::uint64_t kCapacity = 64;

const std::string& log_path() {
  static const std::string path = [] {
    auto dir = std::filesystem::temp_directory_path() / ("kvtier-outbox-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    static const std::filesystem::path removed_at_exit = dir;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(removed_at_exit, ec);
    });
    return (dir / "shared-outbox.log").string();
  }();
  return path;
}

std::set<std::pair<std::uint32_t, std::string>> pending_set(kvtier::shared::Outbox& box) {
  std::set<std::pair<std::uint32_t, std::string>> out;
  for (const auto& e : box.take(box.pending() + 1)) {
    out.insert({e.id.ns, std::string(reinterpret_cast<const char*>(e.id.key.bytes.data()), e.id.key.bytes.size())});
  }
  return out;
}

// The record layout of src/shared/outbox.cpp: u32 magic first, the u64 checksum of the 40 bytes
// before it last.
constexpr std::uint32_t kRecordMagic = 0x4f54564bu;

std::vector<std::uint8_t> resealed(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint8_t> log(data, data + size);
  for (std::size_t at = 0; at + kRecordBytes <= log.size(); at += kRecordBytes) {
    std::uint32_t magic;
    std::memcpy(&magic, log.data() + at, sizeof magic);
    if (magic != kRecordMagic) continue;
    const std::uint64_t sum = kvtier::block_checksum({reinterpret_cast<const std::byte*>(log.data() + at), 40});
    std::memcpy(log.data() + at + 40, &sum, sizeof sum);
  }
  return log;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint8_t> log;
  if (size % 2 == 1) {
    log = resealed(data, size - 1);
    data = log.data();
    size = log.size();
  }
  std::FILE* f = std::fopen(log_path().c_str(), "wb");
  FUZZ_EXPECT(f != nullptr, "cannot write " + log_path());
  FUZZ_EXPECT(size == 0 || std::fwrite(data, 1, size, f) == size, "short write");
  std::fclose(f);

  std::uint64_t pending = 0, pending_bytes = 0;
  std::set<std::pair<std::uint32_t, std::string>> first;
  {
    auto box = kvtier::shared::Outbox::open(log_path(), kCapacity);
    if (!box.ok()) return 0;
    pending = box.value()->pending();
    pending_bytes = box.value()->pending_bytes();
    FUZZ_EXPECT(pending <= size / kRecordBytes, "more pending blocks than records");
    first = pending_set(*box.value());
    FUZZ_EXPECT(first.size() == pending, "take() does not give each pending block once");
  }
  auto again = kvtier::shared::Outbox::open(log_path(), kCapacity);
  FUZZ_EXPECT(again.ok(), "the log open() left does not open: " + again.status().message());
  FUZZ_EXPECT(again.value()->pending() == pending && again.value()->pending_bytes() == pending_bytes,
              "a second replay differs: " + std::to_string(again.value()->pending()) + " pending, was " +
                  std::to_string(pending));
  FUZZ_EXPECT(pending_set(*again.value()) == first, "a second replay has other blocks");
  return 0;
}
