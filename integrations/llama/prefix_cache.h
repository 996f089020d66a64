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

#include <atomic>
#include <chrono>
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
  // Whatever else decides the KV a model computes (RoPE and YaRN overrides, metadata overrides),
  // folded into the namespace so a context configured otherwise never reads these blocks.
  std::string settings;
  std::uint32_t max_chunks = 64;   // most chunks one restore loads (sizes the shared memory)
  // store() calls waiting for the store thread (each holds a copy of its sequence's state). Past
  // it a store is dropped before the copy and counted: a slow kvtierd never grows the queue.
  std::size_t max_queued_stores = 4;
  // And the bytes of those copies: past it (unless the queue is empty) a store is dropped too.
  std::size_t max_queued_store_bytes = std::size_t{1} << 30;
  // The longest wait for kvtierd: connecting, and each call. Past it the call is a miss (the
  // caller recomputes) and the connection is dropped.
  std::chrono::milliseconds timeout{30'000};
  // The same for the store thread's calls, which no request waits for: a PUT of many chunks that
  // kvtierd also logs for its shared tier (a synced outbox) takes longer than a restore may.
  std::chrono::milliseconds store_timeout{5'000};
  // Whether the cache lives on without kvtierd: open() succeeds when the daemon is absent, a
  // failed call drops the connection, and each side (restores, stores) connects again at most
  // every reconnect_interval, with a new shared-memory region. Meanwhile every restore is a miss
  // and every store is dropped (counted). Off: open() fails when the daemon is absent.
  bool reconnect = false;
  std::chrono::milliseconds reconnect_interval{1000};
};

// What the cache did since open(), for a server's metrics. Updated by restore() and the store
// thread; read from any thread.
struct PrefixCacheCounters {
  std::atomic<std::uint64_t> restores{0};          // restore() calls that asked kvtierd
  std::atomic<std::uint64_t> restore_microseconds{0};  // time restore() spent, connecting included
  std::atomic<std::uint64_t> restored_tokens{0};   // tokens loaded into a sequence
  std::atomic<std::uint64_t> restored_bytes{0};
  std::atomic<std::uint64_t> restore_fallbacks{0}; // restores that used fewer chunks than cached, or none, because of an error
  std::atomic<std::uint64_t> stored_chunks{0};     // chunks PUT and acknowledged
  std::atomic<std::uint64_t> store_failures{0};    // chunks refused or not sent
  std::atomic<std::uint64_t> stores_dropped{0};    // store() calls dropped: the queue was full, or it was closing
  std::atomic<std::uint64_t> disconnects{0};       // connections dropped after a failure
  std::atomic<std::uint64_t> connects{0};          // connections made (both sides, first included)
};

struct RestoreResult {
  std::size_t tokens = 0;        // tokens now in the sequence (a multiple of chunk_tokens)
  bool looked_up = false;        // kvtierd answered the LOOKUP
  std::size_t chunks_cached = 0; // LOOKUP's answer
  std::size_t bytes = 0;         // block bytes loaded
  double seconds = 0;            // LOOKUP + GET + checks + llama_state_seq_set_data
  // Where the time went (0 for a phase not reached).
  double lookup_seconds = 0;
  double get_seconds = 0;        // GET_MANY_SHM: kvtierd copies the blocks into shared memory
  double load_seconds = 0;       // the blocks checked and loaded into llama.cpp's KV tensors
  std::string fallback;          // why fewer chunks than cached were used (empty if none)
  // The sequence was replaced and holds exactly `tokens` tokens now: more than it held, or fewer
  // (0 included) when llama.cpp refused the state or a block was found damaged while it loaded.
  bool replaced = false;
  // Loaded piece by piece through llama_state_seq_set_data_reader (the rows straight from shared
  // memory into the KV tensors), not from a state put together first.
  bool piecewise = false;
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

  // Loads the longest cached prefix of `prompt` into sequence `seq`, when it is longer than the
  // `held` tokens the sequence already holds (prompt[0, held) at positions 0..: the caller's own
  // reuse); the sequence is then replaced by it (result.replaced). Otherwise the sequence is left
  // as it was and the result says 0 tokens. Leaves at least one prompt token to be computed.
  //
  // With llama_state_seq_set_data_reader (llama.cpp carrying the patch) and V not transposed, the
  // rows go from the shared-memory region straight into the KV tensors and are checked there, so
  // a block found damaged then leaves the sequence with the chunks before it, even fewer tokens
  // than it held. Otherwise the state is put together and checked first (one more copy).
  RestoreResult restore(llama_context* ctx, llama_seq_id seq, std::span<const llama_token> prompt,
                        std::size_t held = 0);
  // Queues the full chunks of `prompt` from chunk `from_chunk` on, out of the state of `seq`
  // (which holds at least those tokens at positions 0..). Returns after copying the state out of
  // llama.cpp; cutting the chunks and the PUTs happen on the store thread.
  Status store(llama_context* ctx, llama_seq_id seq, std::span<const llama_token> prompt,
               std::size_t from_chunk);
  // The destructor finishes the store in progress and drops the queued ones (counted).
  // Waits until every queued store was answered.
  StoreStats wait_stored();

  const PrefixCacheCounters& counters() const { return counters_; }
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
  // One side's connection to kvtierd (restores, or the store thread's stores) with its region.
  struct Connection {
    explicit Connection(const char* client_name) : name(client_name) {}
    const char* name;  // client name, and in logs
    std::unique_ptr<Client> client;
    SharedRegion region;
    std::chrono::steady_clock::time_point next_attempt{};
    bool announced_down = false;  // the outage was logged (once per outage)
  };
  PrefixCache() = default;
  // Connects `c` unless it is connected; with options_.reconnect, at most every
  // reconnect_interval. False when it is not connected.
  bool ensure_connected(Connection& c);
  // populate_region: write the region's pages now (when the cache opens, off any request).
  Status connect(Connection& c, bool populate_region);
  // A call on `c` failed with `why`: when kvtierd had closed the connection (Closed), connects
  // again at once and returns true (the caller repeats the call); else false (the caller drops
  // the connection).
  bool reopen_if_closed(Connection& c, const Status& why);
  // A call on `c` failed: drops the connection (with reconnect) and logs the outage once.
  void drop(Connection& c, const Status& why);
  std::vector<Key> keys_of(std::span<const llama_token> prompt) const;
  // Load blocks[0..] (checked against keys) into `seq` unless they give no more than `held`
  // tokens; return the chunks the sequence holds then (r.replaced, r.fallback set). rebuilt: the
  // state put together and checked first; planned: piece by piece through
  // llama_state_seq_set_data_reader, checked where the rows land.
  std::size_t load_rebuilt(llama_context* ctx, llama_seq_id seq, std::span<const std::span<const std::byte>> blocks,
                           std::span<const Key> keys, std::size_t held, RestoreResult& r);
#ifdef LLAMA_STATE_SEQ_READER
  std::size_t load_planned(llama_context* ctx, llama_seq_id seq, std::span<const std::span<const std::byte>> blocks,
                           std::span<const Key> keys, std::size_t held, RestoreResult& r);
#endif
  void store_loop();
  void put_blocks(StoreJob& job);

  PrefixCacheOptions options_;
  KvLayout layout_;
  ModelLayout model_layout_;
  Key ns_key_{};
  std::uint32_t streams_ = 1;
  std::size_t chunk_bytes_ = 0;
  std::size_t slot_bytes_ = 0;  // chunk_bytes_ rounded up to 4 KiB: offsets in shared memory
  Connection restores_{"kvtier-llama"};
  Connection stores_{"kvtier-llama-store"};  // the store thread's
  PrefixCacheCounters counters_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<StoreJob> jobs_;
  std::size_t queued_bytes_ = 0;  // of jobs_' states
  bool busy_ = false;
  bool stopping_ = false;
  StoreStats stored_;
  std::thread store_thread_;
};

}  // namespace kvtier::llama
