// PrefixCache (see prefix_cache.h).
#include "prefix_cache.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include <xxhash.h>

#include "ggml-backend.h"
#include "ggml.h"

namespace kvtier::llama {
namespace {

constexpr std::size_t kPage = 4096;
// Most block bytes one restore's GET_MANY_SHM asks for: a first restore into a new region costs
// kvtierd a page mapping per 4 KiB, and a call must stay within the deadline (what that costs:
// docs/INTEGRATIONS.md, "How long a request can wait").
constexpr std::size_t kGetBatchBytes = std::size_t{8} << 20;
// Most of the restore region written when the cache opens: restores of up to this many bytes
// find their pages mapped; beyond it a first restore maps the rest (a region sized for a long
// context of a large model can be tens of GiB, which no restore of a short prompt touches).
constexpr std::size_t kPopulateAtMost = std::size_t{512} << 20;

std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

// Writes a byte of each page of `memory` (this process's own mapping), so the pages exist and are
// mapped before a restore reads them: on some virtual machines a first touch costs more than the
// copy of a page, even for a page madvise(MADV_POPULATE_WRITE) made present (docs/BENCHMARKS.md).
void populate(std::span<std::byte> memory) {
  for (std::size_t at = 0; at < memory.size(); at += kPage) {
    static_cast<volatile std::byte*>(memory.data())[at] = std::byte{0};
  }
}

// The sequence's state; `size` is llama_state_seq_get_size's answer for it.
Result<std::vector<std::byte>> seq_state_bytes(llama_context* ctx, llama_seq_id seq, std::size_t size) {
  std::vector<std::byte> state(size);
  std::size_t n = llama_state_seq_get_data(ctx, reinterpret_cast<std::uint8_t*>(state.data()), state.size(), seq);
  if (n != state.size()) return Status::IOError("llama_state_seq_get_data wrote " + std::to_string(n) + " of " + std::to_string(state.size()) + " bytes");
  return state;
}

// Default model id: what the GGUF says of itself. Two different weight files with the same name,
// size and parameter count would share blocks: pass model_id (a checksum, a revision) for those.
std::string default_model_id(const llama_model* model) {
  char name[256] = {};
  if (llama_model_meta_val_str(model, "general.name", name, sizeof name) < 0) std::strcpy(name, "unnamed");
  return std::string("gguf:") + name + ":" + std::to_string(llama_model_size(model)) + "B:" +
         std::to_string(llama_model_n_params(model)) + "p";
}

Status decode_one(llama_context* ctx, llama_token token, llama_seq_id seq) {
  llama_batch b = llama_batch_init(1, 0, 1);
  b.token[0] = token;
  b.pos[0] = 0;
  b.n_seq_id[0] = 1;
  b.seq_id[0][0] = seq;
  b.logits[0] = true;
  b.n_tokens = 1;
  int rc = llama_decode(ctx, b);
  llama_batch_free(b);
  return rc == 0 ? Status::Ok() : Status::IOError("llama_decode of the layout probe returned " + std::to_string(rc));
}

}  // namespace

Result<std::unique_ptr<PrefixCache>> PrefixCache::open(llama_context* ctx, const PrefixCacheOptions& options,
                                                       llama_seq_id probe_seq) {
  if (options.chunk_tokens == 0 || options.max_chunks == 0) return Status::InvalidArgument("chunk_tokens and max_chunks must be > 0");
  if (std::uint64_t{options.chunk_tokens} * options.max_chunks > kMaxStateTokens) {
    return Status::InvalidArgument("chunk_tokens x max_chunks is over " + std::to_string(kMaxStateTokens) + " tokens");
  }
  std::unique_ptr<PrefixCache> c(new PrefixCache());
  c->options_ = options;
  const llama_model* model = llama_get_model(ctx);
  // Any token shows the layout; a model without a BOS token uses token 0.
  const llama_token bos = llama_vocab_bos(llama_model_get_vocab(model));
  KVTIER_RETURN_IF_ERROR(decode_one(ctx, bos >= 0 ? bos : 0, probe_seq));
  Result<std::vector<std::byte>> state = seq_state_bytes(ctx, probe_seq, llama_state_seq_get_size(ctx, probe_seq));
  llama_memory_seq_rm(llama_get_memory(ctx), probe_seq, -1, -1);
  if (!state.ok()) return state.status();
  Result<SeqState> parsed = parse_seq_state(*state);
  if (!parsed.ok()) return parsed.status();
  if (parsed->cells != 1) return Status::InvalidArgument("the layout probe left " + std::to_string(parsed->cells) + " cells, expected 1");
  c->layout_ = parsed->layout;
  c->streams_ = parsed->streams;
  c->chunk_bytes_ = kvtier::llama::chunk_bytes(c->layout_, options.chunk_tokens);
  if (c->chunk_bytes_ == 0) return Status::InvalidArgument("chunk_tokens " + std::to_string(options.chunk_tokens) + ": a chunk would not fit in a block");
  c->slot_bytes_ = round_up(c->chunk_bytes_, kPage);

  ModelLayout& m = c->model_layout_;
  m.model_id = options.model_id.empty() ? default_model_id(model) : options.model_id;
  m.kv_dtype = ggml_type_name(static_cast<ggml_type>(c->layout_.layers[0].k_type));
  m.num_layers = static_cast<std::uint32_t>(c->layout_.layers.size());
  m.num_kv_heads = static_cast<std::uint32_t>(llama_model_n_head_kv(model));
  m.head_dim = static_cast<std::uint32_t>(llama_model_n_embd(model) / llama_model_n_head(model));
  m.chunk_tokens = options.chunk_tokens;
  m.layout_version = 2;  // 2: blocks name their key and index (seq_state.h); 1's are not looked up
  // The bytes of a block are llama.cpp's rows: their types and V's orientation are part of it.
  m.extra = std::string("llama.cpp-seq-state;v=") + ggml_type_name(static_cast<ggml_type>(c->layout_.layers[0].v_type)) +
            (c->layout_.v_transposed ? ";v_trans" : "") +
            (options.settings.empty() ? "" : ";settings=" + options.settings);
  Result<Key> ns = namespace_key(m);
  if (!ns.ok()) return ns.status();
  c->ns_key_ = *ns;

  Status connected = c->connect(c->restores_, /*populate=*/true);
  if (connected.ok()) connected = c->connect(c->stores_, /*populate=*/false);
  if (!connected.ok() && !options.reconnect) return connected;
  c->store_thread_ = std::thread([p = c.get()] { p->store_loop(); });
  return c;
}

PrefixCache::~PrefixCache() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (store_thread_.joinable()) store_thread_.join();
}

Status PrefixCache::connect(Connection& c, bool populate_region) {
  ClientOptions co;
  co.address = options_.address;
  co.token = options_.token;
  co.client_name = c.name;
  co.timeout = &c == &stores_ ? std::max(options_.timeout, options_.store_timeout) : options_.timeout;
  Result<std::unique_ptr<Client>> client = Client::connect(co);
  if (!client.ok()) return client.status();
  Result<SharedRegion> region = (*client)->register_shared_memory(slot_bytes_ * options_.max_chunks);
  if (!region.ok()) return region.status();
  c.client = std::move(*client);
  c.region = *region;
  // The restore region's pages are made when the cache opens, rather than faulted in by the first
  // restores' reads on a request's path; its whole size stays resident (max_chunks blocks). Not
  // on a reconnect: that runs on a request's path, where the deadline is.
  if (populate_region) populate(c.region.memory.first(std::min(c.region.memory.size(), kPopulateAtMost)));
  counters_.connects.fetch_add(1, std::memory_order_relaxed);
  if (c.announced_down) {
    std::fprintf(stderr, "kvtier: %s connected to %s again\n", c.name, options_.address.c_str());
    c.announced_down = false;
  }
  return Status::Ok();
}

bool PrefixCache::ensure_connected(Connection& c) {
  if (c.client) return true;
  if (!options_.reconnect) return false;
  const auto now = std::chrono::steady_clock::now();
  if (now < c.next_attempt) return false;
  c.next_attempt = now + options_.reconnect_interval;
  Status s = connect(c, /*populate=*/false);
  if (!s.ok() && !c.announced_down) {
    std::fprintf(stderr, "kvtier: %s cannot reach %s (%s): prompts are computed without it until it is back\n",
                 c.name, options_.address.c_str(), s.to_string().c_str());
    c.announced_down = true;
  }
  return s.ok();
}

void PrefixCache::drop(Connection& c, const Status& why) {
  // The connection may be mid-response (a call that timed out): nothing more is read from it.
  c.client.reset();
  c.region = {};
  counters_.disconnects.fetch_add(1, std::memory_order_relaxed);
  c.next_attempt = std::chrono::steady_clock::now() + options_.reconnect_interval;
  if (!c.announced_down) {
    std::fprintf(stderr, "kvtier: %s lost %s (%s): prompts are computed without it until it is back\n",
                 c.name, options_.address.c_str(), why.to_string().c_str());
    c.announced_down = true;
  }
}

bool PrefixCache::reopen_if_closed(Connection& c, const Status& why) {
  if (why.code() != StatusCode::kClosed || !options_.reconnect) return false;
  // kvtierd closed the connection (an idle timeout, a restart): connect again now, once, rather
  // than wait for the reconnect interval; the call is then made again.
  c.client.reset();
  c.region = {};
  if (!connect(c, /*populate=*/false).ok()) return false;  // the caller drops it, counted once
  counters_.disconnects.fetch_add(1, std::memory_order_relaxed);
  return true;
}

std::vector<Key> PrefixCache::keys_of(std::span<const llama_token> prompt) const {
  static_assert(sizeof(llama_token) == sizeof(std::uint32_t));
  std::span<const std::uint32_t> tokens(reinterpret_cast<const std::uint32_t*>(prompt.data()), prompt.size());
  return chunk_keys(ns_key_, tokens, options_.chunk_tokens);
}

RestoreResult PrefixCache::restore(llama_context* ctx, llama_seq_id seq, std::span<const llama_token> prompt,
                                   std::size_t held) {
  RestoreResult r;
  const auto start = std::chrono::steady_clock::now();
  // At least one token is left to compute: its logits are what the caller samples from.
  std::vector<Key> keys = keys_of(prompt.first(prompt.empty() ? 0 : prompt.size() - 1));
  if (keys.size() > options_.max_chunks) keys.resize(options_.max_chunks);
  // Worth asking only when the whole chunks could give more than the sequence holds.
  if (keys.size() * options_.chunk_tokens <= held) return r;
  // Every way out below counts the time it took (a frozen kvtierd costs at most the deadline).
  struct Timed {
    std::atomic<std::uint64_t>& total;
    std::chrono::steady_clock::time_point start;
    ~Timed() {
      total.fetch_add(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - start).count()),
                      std::memory_order_relaxed);
    }
  } timed{counters_.restore_microseconds, start};
  if (!ensure_connected(restores_)) {
    r.fallback = "kvtierd is not connected";
    return r;
  }
  counters_.restores.fetch_add(1, std::memory_order_relaxed);
  auto failed = [&](const char* what, const Status& s) {
    r.fallback = std::string(what) + " failed: " + s.to_string();
    counters_.restore_fallbacks.fetch_add(1, std::memory_order_relaxed);
    drop(restores_, s);
    return r;
  };
  auto since = [](std::chrono::steady_clock::time_point& t) {
    const auto now = std::chrono::steady_clock::now();
    const double s = std::chrono::duration<double>(now - t).count();
    t = now;
    return s;
  };
  auto phase = std::chrono::steady_clock::now();
  Result<PrefixMatch> match = restores_.client->lookup(keys);
  if (!match.ok() && reopen_if_closed(restores_, match.status())) match = restores_.client->lookup(keys);
  r.lookup_seconds = since(phase);
  if (!match.ok()) return failed("LOOKUP", match.status());
  r.looked_up = true;
  r.chunks_cached = match->cached;
  if (r.chunks_cached * options_.chunk_tokens <= held) return r;
  std::vector<ShmGet> gets;
  for (std::size_t i = 0; i < r.chunks_cached; ++i) gets.push_back({keys[i], i * slot_bytes_, slot_bytes_});
  // In calls of at most kGetBatchBytes, each bounded by the deadline: a large prefix read into a
  // region kvtierd has not written before (its pages mapped as it copies) may take longer than one
  // deadline in all. The chunks of the calls that answered are used.
  std::vector<GetResult> got(gets.size());
  const std::size_t per_call = std::max<std::size_t>(1, kGetBatchBytes / slot_bytes_);
  std::size_t answered = 0;
  Status got_status;
  while (answered < gets.size()) {
    const std::size_t n = std::min(per_call, gets.size() - answered);
    got_status = restores_.client->get_many_shm(restores_.region, std::span(gets).subspan(answered, n),
                                                std::span(got).subspan(answered, n));
    if (!got_status.ok()) break;
    answered += n;
    if (std::any_of(got.begin() + static_cast<std::ptrdiff_t>(answered - n), got.begin() + static_cast<std::ptrdiff_t>(answered),
                    [](const GetResult& g) { return !g.status.ok(); })) {
      break;  // a chunk missing: none after it is of use
    }
  }
  r.get_seconds = since(phase);
  if (answered == 0 && !got_status.ok()) return failed("GET_MANY_SHM", got_status);
  if (!got_status.ok()) r.fallback = "GET_MANY_SHM of chunk " + std::to_string(answered) + " on failed: " + got_status.to_string();
  // Use the chunks up to the first that is missing or does not check out. Each is read once from
  // the region, into the state, and checked there (the daemon can still write the region). After a
  // failed call the connection is dropped only once they are loaded: the region is its.
  std::vector<std::span<const std::byte>> blocks;
  for (std::size_t i = 0; i < answered; ++i) {
    if (!got[i].status.ok()) {
      r.fallback = "chunk " + std::to_string(i) + ": " + got[i].status.to_string();
      break;
    }
    blocks.push_back(restores_.region.memory.subspan(i * slot_bytes_, std::min<std::size_t>(got[i].size, slot_bytes_)));
  }
  std::size_t chunks = 0;
#ifdef LLAMA_STATE_SEQ_READER
  if (!layout_.v_transposed) {
    chunks = load_planned(ctx, seq, blocks, keys, held, r);
  } else
#endif
  {
    chunks = load_rebuilt(ctx, seq, blocks, keys, held, r);
  }
  r.load_seconds = since(phase);
  if (!r.fallback.empty()) counters_.restore_fallbacks.fetch_add(1, std::memory_order_relaxed);
  if (!got_status.ok()) drop(restores_, got_status);
  r.tokens = chunks * options_.chunk_tokens;
  r.bytes = chunks * chunk_bytes_;
  counters_.restored_tokens.fetch_add(r.tokens, std::memory_order_relaxed);
  counters_.restored_bytes.fetch_add(r.bytes, std::memory_order_relaxed);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

std::size_t PrefixCache::load_rebuilt(llama_context* ctx, llama_seq_id seq,
                                      std::span<const std::span<const std::byte>> blocks,
                                      std::span<const Key> keys, std::size_t held, RestoreResult& r) {
  RebuiltState rebuilt = rebuild_seq_state(blocks, keys.first(blocks.size()), layout_,
                                           options_.chunk_tokens, seq, streams_);
  if (!rebuilt.refused.empty() && r.fallback.empty()) r.fallback = rebuilt.refused;
  if (rebuilt.chunks * options_.chunk_tokens <= held) return 0;  // the sequence's own prefix is as long
  const std::vector<std::byte>& state = rebuilt.state;
  r.replaced = true;
  llama_memory_seq_rm(llama_get_memory(ctx), seq, -1, -1);
  std::size_t n = llama_state_seq_set_data(ctx, reinterpret_cast<const std::uint8_t*>(state.data()), state.size(), seq);
  if (n != state.size()) {
    llama_memory_seq_rm(llama_get_memory(ctx), seq, -1, -1);
    r.fallback = "llama_state_seq_set_data refused the state (" + std::to_string(n) + " of " + std::to_string(state.size()) + " bytes read)";
    return 0;
  }
  return rebuilt.chunks;
}

#ifdef LLAMA_STATE_SEQ_READER
namespace {

// Hands a StatePlan to llama_state_seq_set_data_reader. Each row piece is copied out of the
// blocks (the shared-memory region kvtierd may still write) into the KV tensor, straight when the
// tensor is in host memory, else through a staging buffer, and checksummed where it was copied
// to: what is checked is what llama.cpp computes with.
class PlanReader {
 public:
  explicit PlanReader(const StatePlan& plan) : plan_(plan) {
    for (std::size_t c = 0; c < plan.chunks; ++c) {
      hashes_.emplace_back(XXH3_createState(), XXH3_freeState);
      if (hashes_.back() == nullptr) return;  // no memory: nothing will check out
      XXH3_64bits_reset(hashes_.back().get());
    }
  }

  llama_state_seq_reader reader() { return {this, &PlanReader::read, &PlanReader::read_tensor}; }

  // The chunks, from the first, whose copies match their checksums; 0 unless the whole state
  // was read.
  std::size_t good_chunks() const {
    std::size_t n = 0;
    if (piece_ != plan_.pieces.size() || hashes_.size() != plan_.chunks) return 0;
    while (n < plan_.chunks && XXH3_64bits_digest(hashes_[n].get()) == plan_.payload_xxh3[n]) ++n;
    return n;
  }

  // Zeros what was written for chunks from `first` on (their bytes did not check out): cells
  // llama.cpp frees still hold their bytes, and a masked NaN still poisons a sum.
  void scrub(std::size_t first) {
    for (const Written& w : written_) {
      if (w.chunk < first) continue;
      staging_.assign(w.bytes, std::byte{0});
      ggml_backend_tensor_set(w.tensor, staging_.data(), w.offset, w.bytes);
    }
  }

 private:
  static bool read(void* self, void* dst, std::size_t size) {
    auto* r = static_cast<PlanReader*>(self);
    return r->take(size, [&](const StatePiece& p, const std::byte* src, std::size_t n, std::size_t done) {
      std::byte* to = static_cast<std::byte*>(dst) + done;
      std::memcpy(to, src, n);
      r->hash(p, to, n);
    });
  }

  static bool read_tensor(void* self, ggml_tensor* t, std::size_t offset, std::size_t size) {
    auto* r = static_cast<PlanReader*>(self);
    if (offset > ggml_nbytes(t) || size > ggml_nbytes(t) - offset) return false;
    const bool host = t->buffer != nullptr && ggml_backend_buffer_is_host(t->buffer) && t->data != nullptr;
    return r->take(size, [&](const StatePiece& p, const std::byte* src, std::size_t n, std::size_t done) {
      if (p.chunk >= 0) r->written_.push_back({t, offset + done, n, static_cast<std::size_t>(p.chunk)});
      if (host) {
        std::byte* to = static_cast<std::byte*>(t->data) + offset + done;
        std::memcpy(to, src, n);
        r->hash(p, to, n);
        return;
      }
      r->staging_.resize(n);
      std::memcpy(r->staging_.data(), src, n);
      r->hash(p, r->staging_.data(), n);
      ggml_backend_tensor_set(t, r->staging_.data(), offset + done, n);
    });
  }

  // Passes the next `size` bytes of the state to fn(piece, source, bytes, bytes done so far), piece
  // by piece. False when the plan has fewer bytes left (llama.cpp reads another layout).
  template <typename Fn>
  bool take(std::size_t size, Fn&& fn) {
    std::size_t done = 0;
    while (done < size) {
      if (piece_ == plan_.pieces.size()) return false;
      const StatePiece& p = plan_.pieces[piece_];
      const std::size_t n = std::min(size - done, p.bytes - in_piece_);
      fn(p, p.src + in_piece_, n, done);
      done += n;
      in_piece_ += n;
      if (in_piece_ == p.bytes) ++piece_, in_piece_ = 0;
    }
    return true;
  }

  void hash(const StatePiece& p, const std::byte* bytes, std::size_t n) {
    if (p.chunk >= 0 && static_cast<std::size_t>(p.chunk) < hashes_.size()) {
      XXH3_64bits_update(hashes_[static_cast<std::size_t>(p.chunk)].get(), bytes, n);
    }
  }

  struct Written {  // a range of a tensor a chunk's bytes went to
    ggml_tensor* tensor;
    std::size_t offset, bytes, chunk;
  };
  const StatePlan& plan_;
  std::vector<Written> written_;
  std::vector<std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)>> hashes_;
  std::vector<std::byte> staging_;
  std::size_t piece_ = 0;
  std::size_t in_piece_ = 0;
};

}  // namespace

std::size_t PrefixCache::load_planned(llama_context* ctx, llama_seq_id seq,
                                      std::span<const std::span<const std::byte>> blocks,
                                      std::span<const Key> keys, std::size_t held, RestoreResult& r) {
  const StatePlan plan = plan_seq_state(blocks, keys.first(blocks.size()), layout_, options_.chunk_tokens, seq, streams_);
  if (!plan.refused.empty() && r.fallback.empty()) r.fallback = plan.refused;
  if (plan.chunks * options_.chunk_tokens <= held) return 0;  // the sequence's own prefix is as long
  r.replaced = true;
  r.piecewise = true;
  llama_memory_t mem = llama_get_memory(ctx);
  llama_memory_seq_rm(mem, seq, -1, -1);
  PlanReader reader(plan);
  const llama_state_seq_reader callbacks = reader.reader();
  const std::size_t n = llama_state_seq_set_data_reader(ctx, &callbacks, seq, 0);
  if (n != plan.bytes) {
    llama_memory_seq_rm(mem, seq, -1, -1);
    r.fallback = "llama_state_seq_set_data_reader refused the state (" + std::to_string(n) + " of " +
                 std::to_string(plan.bytes) + " bytes read)";
    return 0;
  }
  const std::size_t good = reader.good_chunks();
  if (good == plan.chunks) return good;
  reader.scrub(good);
  r.fallback = "chunk " + std::to_string(good) + ": payload does not match its checksum";
  // The tokens of the chunks before the damaged one were checked where they now lie: keep them.
  if (llama_memory_seq_rm(mem, seq, static_cast<llama_pos>(good * options_.chunk_tokens), -1)) return good;
  llama_memory_seq_rm(mem, seq, -1, -1);
  return 0;
}
#endif

Status PrefixCache::store(llama_context* ctx, llama_seq_id seq, std::span<const llama_token> prompt,
                          std::size_t from_chunk) {
  std::vector<Key> keys = keys_of(prompt);
  if (from_chunk >= keys.size()) return Status::Ok();
  const std::size_t state_size = llama_state_seq_get_size(ctx, seq);
  {
    std::lock_guard lock(mu_);
    if (jobs_.size() >= options_.max_queued_stores ||
        (!jobs_.empty() && queued_bytes_ + state_size > options_.max_queued_store_bytes)) {
      counters_.stores_dropped.fetch_add(1, std::memory_order_relaxed);
      return Status::Ok();  // the state is not even copied; a later prompt stores these chunks
    }
  }
  Result<std::vector<std::byte>> state = seq_state_bytes(ctx, seq, state_size);
  if (!state.ok()) return state.status();
  Result<SeqState> parsed = parse_seq_state(*state);
  if (!parsed.ok()) return parsed.status();
  if (!(parsed->layout == layout_)) return Status::InvalidArgument("the sequence's KV layout changed since open()");
  for (std::size_t i = 0; i < keys.size() * options_.chunk_tokens && i < parsed->cells; ++i) {
    if (parsed->positions[i] != static_cast<std::int32_t>(i)) {
      return Status::InvalidArgument("sequence cell " + std::to_string(i) + " holds position " +
                                     std::to_string(parsed->positions[i]) + ": not a prompt prefilled in order");
    }
  }
  if (parsed->cells < keys.size() * options_.chunk_tokens) return Status::InvalidArgument("the sequence holds fewer tokens than the prompt's full chunks");
  StoreJob job{std::move(*state), std::move(*parsed), from_chunk,
               std::vector<Key>(keys.begin() + static_cast<std::ptrdiff_t>(from_chunk), keys.end())};
  {
    std::lock_guard lock(mu_);
    queued_bytes_ += job.state.size();
    jobs_.push_back(std::move(job));
  }
  cv_.notify_all();
  return Status::Ok();
}

StoreStats PrefixCache::wait_stored() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return jobs_.empty() && !busy_; });
  return stored_;
}

void PrefixCache::store_loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
    if (stopping_) {
      // Closing (the server is stopping): what is queued is dropped, so an exit never waits for
      // a slow kvtierd to take a backlog.
      counters_.stores_dropped.fetch_add(jobs_.size(), std::memory_order_relaxed);
      jobs_.clear();
      queued_bytes_ = 0;
      cv_.notify_all();
      return;
    }
    StoreJob job = std::move(jobs_.front());
    queued_bytes_ -= job.state.size();
    jobs_.pop_front();
    busy_ = true;
    lock.unlock();
    put_blocks(job);
    lock.lock();
    busy_ = false;
    cv_.notify_all();
  }
}

// Cuts the job's chunks into the store connection's region and PUT_MANY_SHMs them, max_chunks
// blocks at a time.
void PrefixCache::put_blocks(StoreJob& job) {
  StoreStats done;
  for (std::size_t at = 0; at < job.keys.size(); at += options_.max_chunks) {
    std::size_t n = std::min<std::size_t>(options_.max_chunks, job.keys.size() - at);
    if (!ensure_connected(stores_)) {
      done.failed += job.keys.size() - at;  // dropped: the next prompt that needs them stores them
      break;
    }
    std::vector<ShmPut> puts;
    for (std::size_t i = 0; i < n; ++i) puts.push_back({job.keys[at + i], i * slot_bytes_, chunk_bytes_});
    // The blocks are cut into the region of the connection that sends them: again after a reopen
    // (a new connection has a new, empty region).
    auto send = [&](std::span<Status> out) {
      for (std::size_t i = 0; i < n; ++i) {
        encode_chunk_into(job.state, job.parsed, static_cast<std::uint32_t>(job.first_chunk + at + i),
                          options_.chunk_tokens, job.keys[at + i],
                          stores_.region.memory.subspan(i * slot_bytes_, chunk_bytes_));
      }
      return stores_.client->put_many_shm(stores_.region, puts, out);
    };
    std::vector<Status> out(n);
    Status s = send(out);
    if (!s.ok() && reopen_if_closed(stores_, s)) s = send(out);
    for (std::size_t i = 0; i < n; ++i) {
      if (s.ok() && out[i].ok()) {
        ++done.chunks;
        done.bytes += chunk_bytes_;
      } else {
        ++done.failed;
      }
    }
    if (!s.ok()) drop(stores_, s);
  }
  counters_.stored_chunks.fetch_add(done.chunks, std::memory_order_relaxed);
  counters_.store_failures.fetch_add(done.failed, std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  stored_.chunks += done.chunks;
  stored_.bytes += done.bytes;
  stored_.failed += done.failed;
}

}  // namespace kvtier::llama
