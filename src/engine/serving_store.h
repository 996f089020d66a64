// ServingStore: the Store as kvtierd uses it. Besides the public operations (include/kvtier/store.h)
// it moves bytes between DRAM and somewhere else without a copy in between: a GET's value goes
// from a DRAM block straight to a socket (view), a PUT's value is received from the socket
// straight into DRAM (begin_put / commit_put). These hand out the engine's own memory, so they
// are the engine's and the daemon's only, not the public API's.
//
// Thread-safety: as Store's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "engine/block_view.h"
#include "kvtier/key.h"
#include "kvtier/status.h"
#include "kvtier/store.h"

namespace kvtier::engine {

// Space in DRAM for one value that the caller fills (from a socket, say) and then publishes with
// ServingStore::commit_put; dropping it uncommitted leaves no trace. Move-only in effect (the holder is
// shared only with the Store).
class PutBuffer {
 public:
  PutBuffer() = default;
  PutBuffer(NamespaceId ns, const Key& key, std::span<std::byte> bytes,
            std::shared_ptr<void> holder)
      : ns_(ns), key_(key), bytes_(bytes), holder_(std::move(holder)) {}
  // Exactly the value's size; 4 KiB-aligned.
  std::span<std::byte> bytes() const { return bytes_; }
  NamespaceId ns() const { return ns_; }
  const Key& key() const { return key_; }
  void* holder() const { return holder_.get(); }
  explicit operator bool() const { return holder_ != nullptr; }

 private:
  NamespaceId ns_ = 0;
  Key key_;
  std::span<std::byte> bytes_;
  std::shared_ptr<void> holder_;
};

class ServingStore : public Store {
 public:
  // As Store::open.
  static Result<std::unique_ptr<ServingStore>> open(const StoreConfig& config);

  // Zero-copy forms for callers that move bytes to or from somewhere else (a socket):
  // view() returns the block when it is in DRAM (counting a hit), else NotFound without counting
  // a miss, so the caller can go on with get() (which reads NVMe and counts the outcome once).
  virtual Result<BlockView> view(NamespaceId ns, const Key& key) = 0;
  // begin_put() reserves DRAM for `size` bytes; commit_put() publishes them exactly as put()
  // would (replacing an existing key, demoting what it evicts). Errors of begin_put: those of
  // put(), and TooLarge when the value does not fit in DRAM (use put(), which can go straight to
  // NVMe). commit_put: NoSpace when pinned blocks leave no room (the bytes are dropped).
  virtual Result<PutBuffer> begin_put(NamespaceId ns, const Key& key, std::size_t size) = 0;
  virtual Status commit_put(PutBuffer buffer) = 0;
  // commit_put of each buffer, out[i] answering buffers[i], in one wait for the tombstones of the
  // versions they replace on NVMe (one sync, where commit_put of each would take one each).
  virtual void commit_puts(std::span<PutBuffer> buffers, std::span<Status> out) = 0;
};

// The durable half of a durable put, for puts already made: persist() of each keys[i] whose out[i]
// is OK (stored), in one call (one sync), with out[i] replaced by its answer; other slots are left
// as they are. Status as Store::persist's.
Status persist_stored(Store& store, NamespaceId ns, std::span<const Key> keys,
                      std::span<Status> out);

}  // namespace kvtier::engine
