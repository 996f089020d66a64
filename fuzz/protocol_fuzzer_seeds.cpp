// Writes the seed corpus of fuzz/protocol_fuzzer.cpp: each sample frame of
// tests/protocol/protocol_test_util.h alone and all of them back to back, for both directions,
// behind the fuzzer's two control bytes. Usage: protocol_fuzzer_seeds <dir>
#include <cstdio>
#include <string>
#include <vector>

#include "protocol/protocol_test_util.h"

using namespace kvtier::protocol;

static void write_seed(const std::string& dir, int n, unsigned char control,
                       const std::vector<std::byte>& stream) {
  std::string path = dir + "/seed-" + std::to_string(n);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return;
  unsigned char head[2] = {control, 0};
  std::fwrite(head, 1, 2, f);
  std::fwrite(stream.data(), 1, stream.size(), f);
  std::fclose(f);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  int n = 0;
  // Control byte: bit 0 = response stream, bits 1-2 = data cap (3: 1 GiB), bits 3-5 = max_batch (3:
  // 1024).
  const unsigned char request_control = (3 << 1) | (3 << 3), response_control = request_control | 1;
  for (const auto& f : kvtier::protocol::testing::sample_requests())
    write_seed(argv[1], n++, request_control, f.frame);
  for (const auto& f : kvtier::protocol::testing::sample_responses())
    write_seed(argv[1], n++, response_control, f.frame);
  write_seed(argv[1], n++, request_control, kvtier::protocol::testing::concat(kvtier::protocol::testing::sample_requests()));
  write_seed(argv[1], n++, response_control, kvtier::protocol::testing::concat(kvtier::protocol::testing::sample_responses()));
  std::printf("%d seeds in %s\n", n, argv[1]);
  return 0;
}
