// PageSet: finds the pages of some values in a file (an NVMe tier's data file), to show that
// removed bytes are gone from it (nvme.erase_removed) or, without erasure, that they are not.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace kvtier::testing {

class PageSet {
 public:
  static constexpr std::size_t kPage = 4096;
  static constexpr std::size_t kCompared = 64;  // bytes of each page compared: no two pages of
                                                // distinct pattern values share them

  // Every 4 KiB page of `value` (a value starts on a page of the file, after its entry header).
  void add(const std::vector<std::byte>& value) {
    for (std::size_t off = 0; off + kCompared <= value.size(); off += kPage) {
      pages_.insert(std::string(reinterpret_cast<const char*>(value.data() + off), kCompared));
    }
  }
  // Pages of the file that begin as a page of an added value.
  std::size_t count_in(const std::string& path) const {
    std::vector<char> page(kPage);
    int fd = ::open(path.c_str(), O_RDONLY);
    EXPECT_GE(fd, 0) << path;
    std::size_t found = 0;
    for (off_t off = 0; fd >= 0 && ::pread(fd, page.data(), page.size(), off) == static_cast<ssize_t>(page.size());
         off += static_cast<off_t>(kPage)) {
      found += pages_.count(std::string(page.data(), kCompared));
    }
    if (fd >= 0) ::close(fd);
    return found;
  }

 private:
  std::set<std::string> pages_;
};

}  // namespace kvtier::testing
