// Names of the shared-filesystem tree (fs_layout.h).
#include "shared/fs/fs_layout.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace kvtier::shared::fs {

std::string tree_root(const std::string& path) {
  std::string root = path;
  if (root.empty() || root.back() != '/') root += '/';
  root += kFsTreeName;
  return root;
}

std::string ns_dir_name(NamespaceId ns) {
  char buf[9];
  std::snprintf(buf, sizeof(buf), "%08x", static_cast<unsigned>(ns));
  return buf;
}

std::string block_dir(const std::string& root, const BlockId& id) {
  const std::string hex = id.key.hex();
  return root + '/' + ns_dir_name(id.ns) + '/' + hex.substr(0, 2) + '/' + hex.substr(2, 2);
}

std::string block_file_name(const Key& key) { return key.hex() + std::string(kBlockSuffix); }

std::string temp_file_name(const Key& key, std::string_view host, std::int64_t pid,
                           std::uint64_t n) {
  return "." + key.hex() + std::string(kTempMarker) + std::string(host) + '.' +
         std::to_string(pid) + '.' + std::to_string(n);
}

std::string safe_hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "host";
  std::string out;
  for (const char* p = buf; *p != '\0' && out.size() < 64; ++p) {
    const char c = *p;
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-';
    out += ok ? c : '_';
  }
  return out;
}

bool is_hex(std::string_view s, std::size_t digits) {
  return s.size() == digits && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

EntryKind classify_leaf_entry(std::string_view name, std::string_view aa, std::string_view bb) {
  if (name.size() > 33 && name[0] == '.' && is_hex(name.substr(1, 32), 32) &&
      name.substr(33).starts_with(kTempMarker)) {
    return EntryKind::kTemp;
  }
  if (name.size() == 32 + kBlockSuffix.size() && name.ends_with(kBlockSuffix) &&
      is_hex(name.substr(0, 32), 32) && name.substr(0, 2) == aa && name.substr(2, 2) == bb) {
    return EntryKind::kBlock;
  }
  return EntryKind::kOther;
}

}  // namespace kvtier::shared::fs
