#include "cli/text_file.h"

#include <cerrno>
#include <cstdio>

namespace kvtier::cli {

Status write_text_file(const std::string& path, std::string_view text) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return Status::FromErrno("cannot write " + path, errno);
  const bool wrote = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const int write_err = errno;
  const bool closed = std::fclose(f) == 0;
  if (!wrote) return Status::FromErrno("cannot write " + path, write_err);
  if (!closed) return Status::FromErrno("cannot write " + path, errno);
  return Status::Ok();
}

}  // namespace kvtier::cli
