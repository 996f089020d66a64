// group_id and octal_mode (see file_mode.h).
#include "posix/file_mode.h"

#include <grp.h>

#include <charconv>
#include <cstdio>
#include <vector>

namespace kvtier {

Result<gid_t> group_id(const std::string& name, const std::string& what) {
  gid_t numeric = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), numeric);
  if (ec == std::errc() && end == name.data() + name.size() && !name.empty()) return numeric;
  std::vector<char> buf(16384);
  group g{};
  group* found = nullptr;
  int rc = ::getgrnam_r(name.c_str(), &g, buf.data(), buf.size(), &found);
  if (rc != 0 || found == nullptr) {
    return Status::InvalidArgument(what + " = \"" + name + "\": no such group");
  }
  return found->gr_gid;
}

std::string octal_mode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

}  // namespace kvtier
