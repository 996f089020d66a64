// Writes the seed corpora that are easier to build with kvtier's own writers than to keep as
// files: fuzz/build.sh runs it into <build dir>/seeds/<target>/ before every fuzz run.
//   protocol: each sample frame of tests/protocol/protocol_test_util.h alone and all of them back
//             to back, for both directions, behind protocol_fuzzer's two control bytes.
//   outbox:   logs written by Outbox itself: appends only, appends with completions, and a log
//             rewritten by compaction.
// Usage: make_seeds <dir>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "protocol/protocol_test_util.h"
#include "shared/outbox.h"

namespace {

namespace fs = std::filesystem;
using namespace kvtier::protocol;

bool write_seed(const fs::path& path, std::span<const unsigned char> head, std::span<const std::byte> body) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  bool ok = std::fwrite(head.data(), 1, head.size(), f) == head.size() &&
            std::fwrite(body.data(), 1, body.size(), f) == body.size();
  return std::fclose(f) == 0 && ok;
}

int protocol_seeds(const fs::path& dir) {
  // Control byte: bit 0 = response stream, bits 1-2 = data cap (3: the default cap), bits 3-5 =
  // max_batch (3: 1024). The second byte seeds the chunking.
  constexpr unsigned char kRequests = (3 << 1) | (3 << 3);
  const unsigned char requests[2] = {kRequests, 0}, responses[2] = {kRequests | 1, 0};
  int n = 0;
  bool ok = true;
  auto seed = [&](std::span<const unsigned char> head, const std::vector<std::byte>& stream) {
    ok = write_seed(dir / ("seed-" + std::to_string(n++)), head, stream) && ok;
  };
  for (const auto& f : kvtier::protocol::testing::sample_requests()) seed(requests, f.frame);
  for (const auto& f : kvtier::protocol::testing::sample_responses()) seed(responses, f.frame);
  seed(requests, kvtier::protocol::testing::concat(kvtier::protocol::testing::sample_requests()));
  seed(responses, kvtier::protocol::testing::concat(kvtier::protocol::testing::sample_responses()));
  return ok ? n : -1;
}

kvtier::BlockId outbox_block(std::uint32_t i) {
  kvtier::BlockId id;
  id.ns = 1 + i % 2;
  for (std::size_t b = 0; b < id.key.bytes.size(); ++b) id.key.bytes[b] = static_cast<std::uint8_t>(i + b);
  return id;
}

// One log: `adds` blocks appended, the first `completes` of them uploaded.
bool outbox_seed(const fs::path& path, std::uint32_t adds, std::uint32_t completes) {
  fs::remove(path);
  auto box = kvtier::shared::Outbox::open(path.string(), 64);
  if (!box.ok()) return false;
  std::vector<kvtier::BlockId> ids;
  std::vector<std::uint32_t> sizes;
  for (std::uint32_t i = 0; i < adds; ++i) {
    ids.push_back(outbox_block(i));
    sizes.push_back(4096 * (i + 1));
  }
  std::vector<kvtier::Status> out(ids.size());
  box.value()->append(ids, sizes, out);
  for (const auto& s : out) {
    if (!s.ok()) return false;
  }
  for (const auto& e : box.value()->take(completes)) box.value()->complete(e);
  return true;
}

int outbox_seeds(const fs::path& dir) {
  const std::pair<std::uint32_t, std::uint32_t> shapes[] = {{1, 0}, {5, 0}, {5, 2}, {40, 39}};
  int n = 0;
  for (auto [adds, completes] : shapes) {
    if (!outbox_seed(dir / ("seed-" + std::to_string(n++)), adds, completes)) return -1;
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <seed dir>\n", argv[0]);
    return 2;
  }
  const fs::path root = argv[1];
  std::error_code ec;
  fs::create_directories(root / "protocol", ec);
  fs::create_directories(root / "outbox", ec);
  int protocol = protocol_seeds(root / "protocol");
  int outbox = outbox_seeds(root / "outbox");
  if (protocol < 0 || outbox < 0) {
    std::fprintf(stderr, "make_seeds: cannot write seeds under %s\n", root.c_str());
    return 1;
  }
  std::printf("make_seeds: %d protocol, %d outbox seeds in %s\n", protocol, outbox, root.c_str());
  return 0;
}
