// What `kvtier bench` drives: kvtierd, or one of the stores users would put KV cache in instead,
// behind the three calls an inference engine makes per request (docs/BENCH.md "Targets").
//
//   kvtier          the daemon at --address, through the C++ client (LOOKUP, GET_MANY, PUT_MANY)
//   redis://H:P     a redis-server: pipelined EXISTS for the lookup, pipelined GET / SET
//   memcached://H:P a memcached server: its meta protocol (mg / mg v / ms), pipelined
//   dir:PATH        one file per block under PATH (the layout file-based KV-cache connectors use):
//                   lookup stats each chunk's file in order, get reads it, put writes a temporary
//                   file and renames it into place (no fsync, as those connectors)
//
// One target per client thread: targets are not shared between threads.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "kvtier/client.h"
#include "kvtier/status.h"
#include "kvtier/store.h"

namespace kvtier::cli {

class BenchTarget {
 public:
  virtual ~BenchTarget() = default;
  // Leading chunks of `chain` the target holds (tier counts only where the target has tiers).
  virtual Result<PrefixMatch> lookup(std::span<const Key> chain) = 0;
  virtual Status get_many(std::span<const GetItem> items, std::span<GetResult> out) = 0;
  virtual Status put_many(std::span<const PutItem> items, std::span<Status> out) = 0;
};

// kvtierd through a connected client ("kvtier"; other specs are opened by open_store_target).
std::unique_ptr<BenchTarget> kvtier_target(std::unique_ptr<Client> client);

// Opens one connection to "redis://HOST:PORT" / "memcached://HOST:PORT", or the directory of "dir:PATH" (created if
// missing). InvalidArgument for a spec of another form, IOError when it cannot be reached.
Result<std::unique_ptr<BenchTarget>> open_store_target(const std::string& spec);

}  // namespace kvtier::cli
