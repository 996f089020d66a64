// libFuzzer target for the shared-tier outbox log (src/shared/outbox.cpp): replayed at every
// start from <data_dir>/shared-outbox.log, which a crash may have left torn. Input: the log file.
// Promises: open() is an error or an outbox with at most one pending block per 48-byte record
// (replay keeps every promised block, even beyond capacity); replay is deterministic — opening again (after open() may have rewritten the
// log) gives the same pending blocks; every block taken is one pending block.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <set>

#include "fuzz_check.h"
#include "shared/outbox.h"

namespace {

constexpr std::uint64_t kRecordBytes = 48;
constexpr std::uint64_t kCapacity = 64;

const std::string& log_path() {
  static const std::string path = [] {
    auto dir = std::filesystem::temp_directory_path() / ("kvtier-outbox-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::FILE* f = std::fopen(log_path().c_str(), "wb");
  FUZZ_EXPECT(f != nullptr, "cannot write " + log_path());
  FUZZ_EXPECT(std::fwrite(data, 1, size, f) == size, "short write");
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
