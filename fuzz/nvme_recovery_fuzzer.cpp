// libFuzzer target for NVMe tier recovery (src/nvme/recovery.cpp): the superblock, entry headers,
// region summaries and the index checkpoint, read back from a device after a crash or a clean
// stop, any of which a torn write, a bad sector or a stray writer may have damaged.
//
// Set-up (once): a tier of three 1 MiB regions is filled with known blocks, two regions sealed
// and one open; its device image is saved as it is after flush() ("crash": no checkpoint, the
// open region must be scanned) and after close() ("clean": a checkpoint beside it).
// Input: byte 0 bit 0 picks the image, bit 1 asks for the damage to be re-sealed; then 5-byte
// records, each a u32 little-endian position (bit 31: in the checkpoint instead of the device, the
// rest modulo its size) and the byte to put there. Re-sealed, every checksum that guards what was
// changed (superblock, entry headers, summaries, checkpoint) is recomputed after the damage, as a
// buggy or stale writer would have left it: the fuzzer then reaches the bounds checks behind the
// checksums (sizes, counts, pages, generations) instead of stopping at a mismatch. Promises: open() is an error with a message, or a tier in which every block reads
// back byte-exact or misses (never other bytes), a key never written misses, and a new block
// can be stored and read back.
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "fuzz_check.h"
#include "memory/aligned_buffer.h"
#include "nvme/nvme_tier.h"

namespace {

namespace fs = std::filesystem;
using kvtier::BlockId;
using kvtier::Result;
using kvtier::nvme::NvmeTier;

constexpr std::uint64_t kRegion = 1 << 20;

kvtier::NvmeConfig tier_config() {
  kvtier::NvmeConfig c;
  c.region_size = kRegion;
  c.default_file_bytes = 4096 + 3 * kRegion;
  c.write_io_bytes = 256 << 10;
  c.flush_interval = std::chrono::milliseconds{0};
  c.index_shards = 4;
  return c;
}

BlockId block_id(std::uint32_t i) {
  BlockId id;
  id.ns = 1 + i % 3;
  for (std::size_t b = 0; b < id.key.bytes.size(); ++b) id.key.bytes[b] = static_cast<std::uint8_t>(i * 131 + b);
  return id;
}

std::vector<std::byte> block_value(std::uint32_t i) {
  std::vector<std::byte> v(1 + (i * 40009u) % 150000);
  for (std::size_t b = 0; b < v.size(); ++b) v[b] = static_cast<std::byte>((b * 7 + i * 13) & 0xff);
  return v;
}

std::vector<char> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& p, const std::vector<char>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  FUZZ_EXPECT(out.good(), "cannot write " + p.string());
}

struct Golden {
  fs::path dir;                  // the data dir each input is recovered from
  std::vector<std::vector<std::byte>> values;  // values[i] stored as block_id(i)
  std::vector<char> crash_image, clean_image, checkpoint;
};

fs::path device_path(const fs::path& dir) { return dir / "nvme" / "kvtier-nvme.dat"; }
fs::path checkpoint_path(const fs::path& dir) { return dir / "nvme" / "index.ckpt"; }

// The tier opened in a fresh data dir: in /dev/shm where its tmpfs takes O_DIRECT (Linux >= 6.6;
// no syncs to wait for, several times the inputs per second), else in the temp directory.
Result<std::unique_ptr<NvmeTier>> open_fresh_tier(fs::path* dir) {
  const std::string name = "kvtier-nvme-fuzz-" + std::to_string(::getpid());
  std::error_code ec;
  for (const fs::path& parent : {fs::path("/dev/shm"), fs::temp_directory_path()}) {
    *dir = parent / name;
    fs::remove_all(*dir, ec);
    if (!fs::create_directories(*dir, ec)) continue;
    auto tier = NvmeTier::open(tier_config(), dir->string());
    if (tier.ok() || parent != "/dev/shm") return tier;
    fs::remove_all(*dir, ec);
  }
  return kvtier::Status::IOError("no directory for the device file");
}

Golden make_golden() {
  Golden g;
  auto tier = open_fresh_tier(&g.dir);
  FUZZ_EXPECT(tier.ok(), "set-up: " + tier.status().message());
  // Two and a half regions: the third is left open, so the crash image needs a scan.
  std::uint64_t stored = 0;
  while (stored < 5 * kRegion / 2) {
    const std::uint32_t i = static_cast<std::uint32_t>(g.values.size());
    g.values.push_back(block_value(i));
    FUZZ_EXPECT(tier.value()->put(block_id(i), g.values.back()).ok(), "set-up put");
    stored += kvtier::nvme::entry_footprint(g.values.back().size());
  }
  FUZZ_EXPECT(tier.value()->flush().ok(), "set-up flush");
  g.crash_image = read_file(device_path(g.dir));
  FUZZ_EXPECT(tier.value()->close().ok(), "set-up close");
  g.clean_image = read_file(device_path(g.dir));
  g.checkpoint = read_file(checkpoint_path(g.dir));
  FUZZ_EXPECT(!g.checkpoint.empty(), "set-up: close() wrote no checkpoint");
  return g;
}

const Golden& golden() {
  static const Golden g = make_golden();
  // The device file lives in /dev/shm (memory): removed when libFuzzer exits normally.
  static const int cleanup = std::atexit([] {
    std::error_code ec;
    fs::remove_all(golden().dir, ec);
  });
  (void)cleanup;
  return g;
}

void check_reads(NvmeTier& tier, const std::vector<std::vector<std::byte>>& values) {
  kvtier::AlignedBuffer buf(200000);
  std::span<std::byte> dst(buf.data(), buf.size());
  const auto blocks = static_cast<std::uint32_t>(values.size());
  for (std::uint32_t i = 0; i <= blocks; ++i) {  // block `blocks` was never written
    kvtier::GetResult r = tier.get(block_id(i), dst);
    if (!r.status.ok()) continue;
    FUZZ_EXPECT(i < blocks, "a key never written was found");
    const std::vector<std::byte>& want = values[i];
    FUZZ_EXPECT(r.size == want.size() && std::memcmp(dst.data(), want.data(), want.size()) == 0,
                "block " + std::to_string(i) + " read back other bytes");
  }
}

template <typename T>
T load(const std::vector<char>& image, std::uint64_t at) {
  T v;
  std::memcpy(&v, image.data() + at, sizeof v);
  return v;
}

template <typename T>
void store(std::vector<char>& image, std::uint64_t at, const T& v) {
  std::memcpy(image.data() + at, &v, sizeof v);
}

std::uint64_t checksum_of(const std::vector<char>& image, std::uint64_t at, std::uint64_t bytes) {
  return kvtier::block_checksum({reinterpret_cast<const std::byte*>(image.data()) + at, bytes});
}

// Recomputes the checksums of every structure in the image that still carries its magic.
void reseal_device(std::vector<char>& image) {
  using namespace kvtier::nvme;
  auto sb = load<Superblock>(image, 0);
  sb.checksum = checksum_of(image, 0, offsetof(Superblock, checksum));
  store(image, 0, sb);
  for (std::uint64_t region = kvtier::kPageSize; region + kRegion <= image.size(); region += kRegion) {
    for (std::uint64_t page = region; page < region + kRegion; page += kvtier::kPageSize) {
      auto h = load<EntryHeader>(image, page);
      if (h.magic != kEntryMagic) continue;
      h.header_checksum = header_checksum(h);
      store(image, page, h);
    }
    const std::uint64_t trailer_at = region + kRegion - sizeof(SummaryTrailer);
    auto t = load<SummaryTrailer>(image, trailer_at);
    if (t.magic != kSummaryMagic) continue;
    const std::uint64_t entry_bytes = std::uint64_t{t.entry_count} * sizeof(SummaryEntry);
    const std::uint64_t summary_bytes = std::uint64_t{t.summary_pages} * kvtier::kPageSize;
    if (summary_bytes <= kRegion && entry_bytes <= summary_bytes) {
      t.entries_checksum = checksum_of(image, region + kRegion - summary_bytes, entry_bytes);
    }
    t.trailer_checksum = trailer_checksum(t);
    store(image, trailer_at, t);
  }
}

// The checkpoint (src/nvme/recovery.cpp): a 48-byte header, 32 bytes per region, a u64 count of
// 20-byte namespace usage records, a u64 size and the index image, which ends with its own
// checksum (src/nvme/index.h); the file ends with the checksum of everything before it. Both
// checksums are recomputed where the (possibly damaged) sizes still point inside the file.
void reseal_checkpoint(std::vector<char>& checkpoint) {
  if (checkpoint.size() < sizeof(std::uint64_t)) return;
  const std::uint64_t body = checkpoint.size() - sizeof(std::uint64_t);
  const std::uint64_t usage_at = 48 + 3 * 32;
  if (usage_at + 8 <= body) {
    const std::uint64_t image_size_at = usage_at + 8 + load<std::uint64_t>(checkpoint, usage_at) * 20;
    if (image_size_at >= usage_at && image_size_at + 8 <= body) {  // (>=: no wrap-around)
      const std::uint64_t image = image_size_at + 8, image_size = load<std::uint64_t>(checkpoint, image_size_at);
      if (image_size >= 8 && image_size <= body - image) {
        store(checkpoint, image + image_size - 8, checksum_of(checkpoint, image, image_size - 8));
      }
    }
  }
  store(checkpoint, body, checksum_of(checkpoint, 0, body));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Golden& g = golden();
  if (size < 1) return 0;
  const bool clean = data[0] & 1;
  std::vector<char> device = clean ? g.clean_image : g.crash_image;
  std::vector<char> checkpoint = clean ? g.checkpoint : std::vector<char>{};
  for (std::size_t at = 1; at + 5 <= size; at += 5) {
    std::uint32_t pos;
    std::memcpy(&pos, data + at, 4);
    const bool in_checkpoint = pos & 0x80000000u;
    std::vector<char>& target = in_checkpoint ? checkpoint : device;
    if (target.empty()) continue;
    target[(pos & 0x7fffffffu) % target.size()] = static_cast<char>(data[at + 4]);
  }
  if (data[0] & 2) {
    reseal_device(device);
    reseal_checkpoint(checkpoint);
  }
  fs::remove(checkpoint_path(g.dir));
  write_file(device_path(g.dir), device);
  if (!checkpoint.empty()) write_file(checkpoint_path(g.dir), checkpoint);

  auto tier = NvmeTier::open(tier_config(), g.dir.string());
  if (!tier.ok()) {
    FUZZ_EXPECT(!tier.status().message().empty(), "open failed without a message");
    return 0;
  }
  check_reads(*tier.value(), g.values);
  // Still a working tier: a new block (beyond the known ones) is stored and read back.
  const auto fresh_id = block_id(static_cast<std::uint32_t>(g.values.size() + 1));
  const std::vector<std::byte>& fresh = g.values.front();
  kvtier::Status put = tier.value()->put(fresh_id, fresh);
  FUZZ_EXPECT(put.ok(), "put after recovery: " + put.message());
  kvtier::AlignedBuffer buf(fresh.size());
  kvtier::GetResult r = tier.value()->get(fresh_id, {buf.data(), buf.size()});
  FUZZ_EXPECT(r.status.ok() && r.size == fresh.size() && std::memcmp(buf.data(), fresh.data(), fresh.size()) == 0,
              "a block stored after recovery does not read back: " + r.status.message());
  FUZZ_EXPECT(tier.value()->close().ok(), "close after recovery");
  return 0;
}
