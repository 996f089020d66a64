// Host memory checks at start (see host_memory.h).
#include "server/host_memory.h"

#include <fstream>
#include <sstream>

namespace kvtier::server {

Result<HostMemory> read_host_memory() {
  std::ifstream in("/proc/meminfo");
  if (!in) return Status::IOError("cannot read /proc/meminfo");
  HostMemory m;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string name;
    std::uint64_t kib = 0;
    fields >> name >> kib;
    if (name == "MemTotal:") m.total_bytes = kib * 1024;
    if (name == "MemAvailable:") m.available_bytes = kib * 1024;
  }
  if (m.total_bytes == 0) return Status::IOError("/proc/meminfo has no MemTotal");
  return m;
}

Status check_dram_against_host(std::uint64_t dram_bytes, const HostMemory& host,
                               std::string* warning) {
  warning->clear();
  if (dram_bytes > host.total_bytes) {
    return Status::InvalidArgument(
        "dram.capacity_bytes = " + std::to_string(dram_bytes) + " is more than this machine's " +
        "memory (MemTotal " + std::to_string(host.total_bytes) +
        " bytes): the DRAM tier could never be filled without the OOM killer; lower it");
  }
  if (host.available_bytes != 0 && dram_bytes > host.available_bytes) {
    *warning = "dram.capacity_bytes = " + std::to_string(dram_bytes) +
               " is more than the memory available now (MemAvailable " +
               std::to_string(host.available_bytes) + " bytes)";
  }
  return Status::Ok();
}

}  // namespace kvtier::server
