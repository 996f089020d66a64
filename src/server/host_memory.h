// What the config asks of this host's memory, checked when kvtierd starts: a DRAM tier larger than
// the machine's memory can never be filled without the OOM killer and is refused; one larger
// than the memory available now is started with a warning (other processes may give memory
// back, or hold it).
#pragma once

#include <cstdint>
#include <string>

#include "kvtier/status.h"

namespace kvtier::server {

struct HostMemory {
  std::uint64_t total_bytes = 0;      // MemTotal
  std::uint64_t available_bytes = 0;  // MemAvailable
};

// The figures of /proc/meminfo; IOError when it cannot be read.
Result<HostMemory> read_host_memory();

// InvalidArgument naming dram.capacity_bytes and MemTotal when `dram_bytes` exceeds the machine's
// memory; otherwise OK, with *warning set (non-empty) when it exceeds what is available now.
Status check_dram_against_host(std::uint64_t dram_bytes, const HostMemory& host,
                               std::string* warning);

}  // namespace kvtier::server
