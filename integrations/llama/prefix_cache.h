// PrefixCache: llama.cpp's prompt KV stored in and restored from kvtierd, one block per chunk of
// `chunk_tokens` tokens (docs/INTEGRATIONS.md).
//
// restore() asks kvtierd for the longest cached prefix of a prompt (one LOOKUP), loads those
// blocks into shared memory (GET_MANY_SHM: no value byte crosses the socket), checks each one and
// hands them to llama.cpp as the sequence's state; the caller prefills only the rest. store()
// takes the sequence's state after a prefill, cuts out the new full chunks and PUTs them from a
// background thread, off the critical path. Every failure is a miss: the caller recomputes.
//
// Threading: restore() and store() are called from the thread that owns the llama_context.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "kvtier/client.h"
#include "kvtier/key.h"
#include "llama.h"
#include "seq_state.h"

namespace kvtier::llama {

struct PrefixCacheOptions {
  std::string address;             // kvtierd's Unix socket ("unix:PATH"): shared memory needs it
  std::string token;               // tenant token (may be empty on the Unix socket)
  std::uint32_t chunk_tokens = 256;
  std::string model_id;            // names the weights; empty: derived from the GGUF (see .cpp)
  std::uint32_t max_chunks = 64;   // most chunks one restore loads (sizes the shared memory)
};

struct RestoreResult {
  std::size_t tokens = 0;        // tokens now in the sequence (a multiple of chunk_tokens)
  std::size_t chunks_cached = 0; // LOOKUP's answer
  std::size_t bytes = 0;         // block bytes loaded
  double seconds = 0;            // LOOKUP + GET + checks + llama_state_seq_set_data
  std::string fallback;          // why fewer chunks than cached were used (empty if none)
};

struct StoreStats {
  std::size_t chunks = 0;  // blocks PUT and acknowledged
  std::size_t bytes = 0;
  std::size_t failed = 0;  // blocks refused or not sent
};

class PrefixCache {
 public:
  // Learns the context's KV layout by decoding one token in sequence `probe_seq` (which must be
  // empty; it is emptied again), then connects to kvtierd twice (restores, background stores).
  static Result<std::unique_ptr<PrefixCache>> open(llama_context* ctx, const PrefixCacheOptions& options,
                                                   llama_seq_id probe_seq = 0);
  ~PrefixCache();
  PrefixCache(const PrefixCache&) = delete;
  PrefixCache& operator=(const PrefixCache&) = delete;

  // REQUIRES: sequence `seq` is empty. Leaves at least one prompt token to be computed.
  RestoreResult restore(llama_context* ctx, llama_seq_id seq, std::span<const llama_token> prompt);
  // Queues the full chunks of `prompt` from chunk `from_chunk` on, out of the state of `seq`
  // (which holds at least those tokens at positions 0..). Returns after copying the state out of
  // llama.cpp; cutting the chunks and the PUTs happen on the store thread.
  Status store(llama_context* ctx, llama_seq_id seq, std::span<const llama_token> prompt,
               std::size_t from_chunk);
  // Waits until every queued store was answered.
  StoreStats wait_stored();

  const KvLayout& layout() const { return layout_; }
  const ModelLayout& model_layout() const { return model_layout_; }
  std::size_t chunk_bytes() const { return chunk_bytes_; }

 private:
  // One store() call: the sequence's state as llama.cpp wrote it and the chunks to cut from it,
  // encoded by the store thread straight into its shared-memory slots.
  struct StoreJob {
    std::vector<std::byte> state;
    SeqState parsed;
    std::size_t first_chunk = 0;
    std::vector<Key> keys;  // of chunks first_chunk, first_chunk + 1, ...
  };
  PrefixCache() = default;
  std::vector<Key> keys_of(std::span<const llama_token> prompt) const;
  void store_loop();
  void put_blocks(StoreJob& job);

  PrefixCacheOptions options_;
  KvLayout layout_;
  ModelLayout model_layout_;
  Key ns_key_{};
  std::uint32_t streams_ = 1;
  std::size_t chunk_bytes_ = 0;
  std::size_t slot_bytes_ = 0;  // chunk_bytes_ rounded up to 4 KiB: offsets in shared memory
  std::unique_ptr<Client> client_;
  SharedRegion region_;
  std::unique_ptr<Client> store_client_;
  SharedRegion store_region_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<StoreJob> jobs_;
  bool busy_ = false;
  bool stopping_ = false;
  StoreStats stored_;
  std::thread store_thread_;
};

}  // namespace kvtier::llama
