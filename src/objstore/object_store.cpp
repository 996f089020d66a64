// is_portable_name (see object_store.h).
#include "objstore/object_store.h"

namespace kvtier::objstore {

bool is_portable_name(std::string_view name) {
  if (name.empty() || name.size() > 512 || name.front() == '/') return false;
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '/' || c == '-';
    if (!ok) return false;
  }
  std::size_t begin = 0;
  while (begin <= name.size()) {
    const std::size_t end = std::min(name.find('/', begin), name.size());
    const std::string_view part = name.substr(begin, end - begin);
    // An empty part is "//" (or a trailing '/', which a directory store could not hold either).
    if (part.empty() || part == "." || part == "..") return false;
    begin = end + 1;
  }
  return true;
}

}  // namespace kvtier::objstore
