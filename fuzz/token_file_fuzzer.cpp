// libFuzzer target for token files (src/server/token_file.cpp): tenants' secrets, read from
// files an operator (or a mounted secret) provides. Promises: read_token_fd of a file holding the
// input returns trim_token_whitespace(input) or an error; the trimmed token is a substring of the
// input with no surrounding whitespace.
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "server/token_file.h"

namespace {

bool is_trimmed_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text = kvtier::fuzz::as_text(data, size);
  std::string_view token = kvtier::server::trim_token_whitespace(text);
  FUZZ_EXPECT(token.empty() || (!is_trimmed_space(token.front()) && !is_trimmed_space(token.back())),
              "whitespace left around the token");
  FUZZ_EXPECT(token.empty() || (token.data() >= text.data() &&
                                token.data() + token.size() <= text.data() + text.size()),
              "the token is not part of the text");

  // A memfd is a regular file, as the reader requires, without touching the disk.
  int fd = ::memfd_create("token", 0);
  FUZZ_EXPECT(fd >= 0, "memfd_create failed");
  FUZZ_EXPECT(::write(fd, data, size) == static_cast<ssize_t>(size), "memfd write failed");
  ::lseek(fd, 0, SEEK_SET);
  auto read = kvtier::server::read_token_fd(fd, "<fuzz>");
  ::close(fd);
  if (read.ok()) FUZZ_EXPECT(read.value() == token, "read_token_fd differs from the trimmed text");
  return 0;
}
