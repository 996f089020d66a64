// The C API of include/kvtier/kvtier.h: thin wrappers over kvtier::Client and kvtier/key.h.
// Nothing may unwind into C: every entry point catches what the C++ side could throw (only
// allocation failure, in practice) and turns it into a status code.
#include <algorithm>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "kvtier/client.h"
#include "kvtier/key.h"
#include "kvtier/kvtier.h"
#include "kvtier/status.h"

// The C codes are the StatusCode values; the wire carries the same numbers.
#define KVTIER_SAME_CODE(c, k) \
  static_assert(static_cast<int>(c) == static_cast<int>(kvtier::StatusCode::k), #c)
KVTIER_SAME_CODE(KVTIER_OK, kOk);
KVTIER_SAME_CODE(KVTIER_NOT_FOUND, kNotFound);
KVTIER_SAME_CODE(KVTIER_INVALID_ARGUMENT, kInvalidArgument);
KVTIER_SAME_CODE(KVTIER_BUFFER_TOO_SMALL, kBufferTooSmall);
KVTIER_SAME_CODE(KVTIER_NO_SPACE, kNoSpace);
KVTIER_SAME_CODE(KVTIER_BUSY, kBusy);
KVTIER_SAME_CODE(KVTIER_CORRUPTION, kCorruption);
KVTIER_SAME_CODE(KVTIER_IO_ERROR, kIOError);
KVTIER_SAME_CODE(KVTIER_TOO_LARGE, kTooLarge);
KVTIER_SAME_CODE(KVTIER_CLOSED, kClosed);
KVTIER_SAME_CODE(KVTIER_REJECTED, kRejected);
#undef KVTIER_SAME_CODE
static_assert(sizeof(kvtier_key) == 16);
static_assert(KVTIER_CAPABILITY_SHARED_MEMORY == kvtier::kCapabilitySharedMemory);
static_assert(KVTIER_CAPABILITY_DURABLE_PUT == kvtier::kCapabilityDurablePut);

struct kvtier_client {
  std::unique_ptr<kvtier::Client> client;
  std::string last_error;
};

namespace {

using kvtier::Status;

// kvtier_key and Key are the same 16 bytes.
kvtier::Key to_key(const kvtier_key* k) { return std::bit_cast<kvtier::Key>(*k); }
void to_c_key(const kvtier::Key& k, kvtier_key* out) { *out = std::bit_cast<kvtier_key>(k); }

// The options of a put's KVTIER_PUT_* flags; InvalidArgument for bits this library does not know.
kvtier::Result<kvtier::PutOptions> put_options(uint32_t flags) {
  if ((flags & ~uint32_t{KVTIER_PUT_DURABLE}) != 0) {
    return Status::InvalidArgument("unknown put flags " +
                                   std::to_string(flags & ~uint32_t{KVTIER_PUT_DURABLE}));
  }
  return kvtier::PutOptions{.durable = (flags & KVTIER_PUT_DURABLE) != 0};
}

void copy_message(const std::string& message, char* buf, std::size_t len) {
  if (buf == nullptr || len == 0) return;
  std::size_t n = std::min(message.size(), len - 1);
  std::memcpy(buf, message.data(), n);
  buf[n] = '\0';
}

int code_of(const Status& s) { return static_cast<int>(s.code()); }

// A batch call's items, answered together when the call fails before any is sent.
Status fail_items(int* statuses, std::size_t n, const Status& why) {
  std::fill_n(statuses, n, code_of(why));
  return why;
}

// Records a call's Status as the client's last error and returns its code.
int finish(kvtier_client* c, const Status& s) {
  if (s.ok()) return KVTIER_OK;
  c->last_error = s.to_string();
  return code_of(s);
}

// Runs `body` (returning a Status) for a client, with the C boundary's checks: a NULL client is
// KVTIER_INVALID_ARGUMENT, an exception becomes a status code.
template <typename Body>
int guarded(kvtier_client* c, Body&& body) {
  if (c == nullptr || !c->client) return KVTIER_INVALID_ARGUMENT;
  try {
    return finish(c, body(*c->client));
  } catch (const std::bad_alloc&) {
    c->last_error = "out of memory";
    return KVTIER_NO_SPACE;
  } catch (...) {
    c->last_error = "unexpected C++ exception";
    return KVTIER_IO_ERROR;
  }
}

// The same for an entry point without a client: a failed Status's message goes to errbuf, and
// any exception (allocation failure) is KVTIER_NO_SPACE "out of memory".
template <typename Body>
int guarded_errbuf(char* errbuf, std::size_t errlen, Body&& body) {
  try {
    const Status s = body();
    if (!s.ok()) copy_message(s.message(), errbuf, errlen);
    return code_of(s);
  } catch (...) {
    copy_message("out of memory", errbuf, errlen);
    return KVTIER_NO_SPACE;
  }
}

Status null_argument(const char* what) {
  return Status::InvalidArgument(std::string(what) + " is NULL");
}

kvtier::SharedRegion to_region(const kvtier_shm_region* r) {
  return {r->id, {static_cast<std::byte*>(r->memory), r->size}};
}

}  // namespace

extern "C" {

const char* kvtier_status_name(int code) {
  if (code < 0 || code > KVTIER_REJECTED) return "unknown";
  // status_code_name returns views of string literals, so data() is NUL-terminated.
  return kvtier::status_code_name(static_cast<kvtier::StatusCode>(code)).data();
}

int kvtier_namespace_key(const kvtier_model_layout* layout, kvtier_key* out, char* errbuf,
                         size_t errlen) {
  return guarded_errbuf(errbuf, errlen, [&]() -> Status {
    if (layout == nullptr || out == nullptr) {
      return Status::InvalidArgument("kvtier_namespace_key: layout or out is NULL");
    }
    kvtier::ModelLayout l;
    l.model_id = layout->model_id != nullptr ? layout->model_id : "";
    l.kv_dtype = layout->kv_dtype != nullptr ? layout->kv_dtype : "";
    l.num_layers = layout->num_layers;
    l.num_kv_heads = layout->num_kv_heads;
    l.head_dim = layout->head_dim;
    l.tp_rank = layout->tp_rank;
    l.tp_world_size = layout->tp_world_size;
    l.chunk_tokens = layout->chunk_tokens;
    l.layout_version = layout->layout_version;
    l.extra = layout->extra != nullptr ? layout->extra : "";
    kvtier::Result<kvtier::Key> k = kvtier::namespace_key(l);
    if (!k.ok()) return k.status();
    to_c_key(*k, out);
    return Status::Ok();
  });
}

int kvtier_chunk_keys(const kvtier_key* ns_key, const uint32_t* tokens, size_t n_tokens,
                      uint32_t chunk_tokens, kvtier_key* out, size_t out_capacity, size_t* count) {
  if (ns_key == nullptr || count == nullptr || chunk_tokens == 0 ||
      (tokens == nullptr && n_tokens > 0)) {
    return KVTIER_INVALID_ARGUMENT;
  }
  const std::size_t n = n_tokens / chunk_tokens;
  *count = n;
  if (n > out_capacity) return KVTIER_BUFFER_TOO_SMALL;
  if (n > 0 && out == nullptr) return KVTIER_INVALID_ARGUMENT;
  // Chained one chunk at a time straight into `out`: no allocation, same keys as chunk_keys().
  kvtier::Key k = to_key(ns_key);
  for (std::size_t i = 0; i < n; ++i) {
    k = kvtier::chain_key(k,
                          std::span<const std::uint32_t>(tokens + i * chunk_tokens, chunk_tokens));
    to_c_key(k, &out[i]);
  }
  return KVTIER_OK;
}

void kvtier_key_to_hex(const kvtier_key* key, char out[33]) {
  if (out == nullptr) return;  // nowhere to write
  if (key == nullptr) {
    out[0] = '\0';
    return;
  }
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int i = 0; i < 16; ++i) {
    out[2 * i] = kDigits[key->bytes[i] >> 4];
    out[2 * i + 1] = kDigits[key->bytes[i] & 0xf];
  }
  out[32] = '\0';
}

int kvtier_key_from_hex(const char* hex, kvtier_key* out) {
  if (hex == nullptr || out == nullptr) return KVTIER_INVALID_ARGUMENT;
  kvtier::Result<kvtier::Key> k = kvtier::Key::from_hex(hex);
  if (!k.ok()) return code_of(k.status());
  to_c_key(*k, out);
  return KVTIER_OK;
}

namespace {

// The first published kvtier_connect_options ends at tls_key_file; a caller built against it
// passes this size, and fields added later read as unset for it.
constexpr std::size_t kConnectOptionsV1Size =
    offsetof(kvtier_connect_options, tls_key_file) + sizeof(const char*);
static_assert(kConnectOptionsV1Size == sizeof(kvtier_connect_options),
              "a field was added: keep kConnectOptionsV1Size at the first version's end");
// No version will grow past this: a larger struct_size is a caller's mistake, not read.
constexpr std::size_t kMaxConnectOptionsSize = 4096;

void set_if(std::string& field, const char* value) {
  if (value != nullptr) field = value;
}

}  // namespace

int kvtier_connect_with(const kvtier_connect_options* options, kvtier_client** client,
                        char* errbuf, size_t errlen) {
  return guarded_errbuf(errbuf, errlen, [&]() -> Status {
    if (client == nullptr) return Status::InvalidArgument("kvtier_connect_with: client is NULL");
    *client = nullptr;
    if (options == nullptr || options->struct_size < kConnectOptionsV1Size ||
        options->struct_size > kMaxConnectOptionsSize) {
      return Status::InvalidArgument(
          "kvtier_connect_with: options is NULL or its struct_size is not that of a version of "
          "kvtier_connect_options (use kvtier_connect_options_init)");
    }
    // Only the fields of the caller's version: a smaller struct (none yet) leaves the rest unset;
    // a larger one from a newer header is taken only when what this library does not know is
    // unset (zero), or an option the caller asked for (say, a security one) would be dropped
    // unseen.
    const auto* bytes = reinterpret_cast<const unsigned char*>(options);
    for (std::size_t i = sizeof(kvtier_connect_options); i < options->struct_size; ++i) {
      if (bytes[i] != 0) {
        return Status::InvalidArgument(
            "kvtier_connect_with: options set fields this library does not know (struct_size " +
            std::to_string(options->struct_size) + ", known " +
            std::to_string(sizeof(kvtier_connect_options)) + "): use a newer libkvtier_client");
      }
    }
    kvtier_connect_options o{};
    std::memcpy(&o, options, std::min<std::size_t>(options->struct_size, sizeof o));
    kvtier::ClientOptions c;
    set_if(c.address, o.address);
    set_if(c.token, o.token);
    c.client_name = "kvtier-c";
    set_if(c.client_name, o.client_name);
    set_if(c.tls_ca_file, o.tls_ca_file);
    set_if(c.tls_cert_file, o.tls_cert_file);
    set_if(c.tls_key_file, o.tls_key_file);
    if (o.timeout_ms != 0) c.timeout = std::chrono::milliseconds(o.timeout_ms);
    kvtier::Result<std::unique_ptr<kvtier::Client>> connected = kvtier::Client::connect(c);
    if (!connected.ok()) return connected.status();
    auto handle = std::make_unique<kvtier_client>();
    handle->client = std::move(connected).value();
    *client = handle.release();  // owned by the caller until kvtier_close
    return Status::Ok();
  });
}

int kvtier_connect(const char* address, const char* token, uint32_t timeout_ms,
                   kvtier_client** client, char* errbuf, size_t errlen) {
  kvtier_connect_options options;
  kvtier_connect_options_init(&options);
  options.address = address;
  options.token = token;
  options.timeout_ms = timeout_ms;
  return kvtier_connect_with(&options, client, errbuf, errlen);
}

void kvtier_close(kvtier_client* client) {
  std::unique_ptr<kvtier_client> owned(client);  // deletes it (NULL is fine)
}

const char* kvtier_last_error(const kvtier_client* client) {
  return client != nullptr ? client->last_error.c_str() : "client is NULL";
}

void kvtier_server_info_get(const kvtier_client* client, kvtier_server_info* out) {
  if (out == nullptr) return;
  *out = kvtier_server_info{};
  if (client == nullptr || !client->client) return;
  const kvtier::ServerInfo& info = client->client->server_info();
  *out = {.version = info.version, .max_value_bytes = info.max_value_bytes,
          .max_batch = info.max_batch, .max_data_bytes = info.max_data_bytes};
}

uint64_t kvtier_server_capabilities(const kvtier_client* client) {
  if (client == nullptr || !client->client) return 0;
  return client->client->server_info().capabilities;
}

int kvtier_ping(kvtier_client* client) {
  return guarded(client, [](kvtier::Client& c) { return c.ping(); });
}

int kvtier_put(kvtier_client* client, const kvtier_key* key, const void* value, size_t size) {
  return kvtier_put_with(client, key, value, size, 0);
}

int kvtier_put_with(kvtier_client* client, const kvtier_key* key, const void* value, size_t size,
                    uint32_t flags) {
  return guarded(client, [&](kvtier::Client& c) {
    if (key == nullptr) return null_argument("key");
    if (value == nullptr && size > 0) return null_argument("value");
    kvtier::Result<kvtier::PutOptions> options = put_options(flags);
    if (!options.ok()) return options.status();
    return c.put(to_key(key), {static_cast<const std::byte*>(value), size}, *options);
  });
}

int kvtier_get(kvtier_client* client, const kvtier_key* key, void* dst, size_t capacity,
               size_t* size) {
  return guarded(client, [&](kvtier::Client& c) {
    if (key == nullptr) return null_argument("key");
    if (dst == nullptr && capacity > 0) return null_argument("dst");
    kvtier::GetResult r = c.get(to_key(key), {static_cast<std::byte*>(dst), capacity});
    if (size != nullptr) *size = r.size;
    return r.status;
  });
}

int kvtier_lookup(kvtier_client* client, const kvtier_key* chain, size_t n,
                  kvtier_prefix_match* out) {
  return guarded(client, [&](kvtier::Client& c) {
    if (out == nullptr) return null_argument("out");
    if (chain == nullptr && n > 0) return null_argument("chain");
    std::vector<kvtier::Key> keys(n);
    for (std::size_t i = 0; i < n; ++i) keys[i] = to_key(&chain[i]);
    kvtier::Result<kvtier::PrefixMatch> m = c.lookup(keys);
    if (!m.ok()) return m.status();
    *out = kvtier_prefix_match{m->cached, m->in_dram, m->in_nvme, m->in_shared};
    return Status::Ok();
  });
}

int kvtier_put_many(kvtier_client* client, const kvtier_put_item* items, size_t n, int* statuses) {
  return kvtier_put_many_with(client, items, n, statuses, 0);
}

int kvtier_put_many_with(kvtier_client* client, const kvtier_put_item* items, size_t n,
                         int* statuses, uint32_t flags) {
  return guarded(client, [&](kvtier::Client& c) {
    if (n > 0 && (items == nullptr || statuses == nullptr))
      return null_argument("items or statuses");
    kvtier::Result<kvtier::PutOptions> options = put_options(flags);
    if (!options.ok()) return fail_items(statuses, n, options.status());
    // An item without bytes for its size is that item's error; the others go.
    std::vector<kvtier::PutItem> in;
    std::vector<std::size_t> at;
    for (std::size_t i = 0; i < n; ++i) {
      statuses[i] = KVTIER_INVALID_ARGUMENT;
      if (items[i].value == nullptr && items[i].size > 0) continue;
      in.push_back({to_key(&items[i].key),
                    {static_cast<const std::byte*>(items[i].value), items[i].size}});
      at.push_back(i);
    }
    std::vector<Status> out(in.size());
    Status s = c.put_many(in, out, *options);
    for (std::size_t j = 0; j < in.size(); ++j) statuses[at[j]] = code_of(out[j]);
    return s;
  });
}

int kvtier_get_many(kvtier_client* client, const kvtier_get_item* items, size_t n,
                    kvtier_get_result* results) {
  return guarded(client, [&](kvtier::Client& c) {
    if (n > 0 && (items == nullptr || results == nullptr)) return null_argument("items or results");
    // An item without a buffer for its capacity is that item's error; the others go.
    std::vector<kvtier::GetItem> in;
    std::vector<std::size_t> at;
    for (std::size_t i = 0; i < n; ++i) {
      results[i] = {KVTIER_INVALID_ARGUMENT, 0};
      if (items[i].dst == nullptr && items[i].capacity > 0) continue;
      in.push_back({to_key(&items[i].key), {static_cast<std::byte*>(items[i].dst), items[i].capacity}});
      at.push_back(i);
    }
    std::vector<kvtier::GetResult> out(in.size());
    Status s = c.get_many(in, out);
    for (std::size_t j = 0; j < in.size(); ++j) results[at[j]] = {code_of(out[j].status), out[j].size};
    return s;
  });
}

int kvtier_remove(kvtier_client* client, const kvtier_key* key) {
  return guarded(client, [&](kvtier::Client& c) {
    return key == nullptr ? null_argument("key") : c.remove(to_key(key));
  });
}

int kvtier_pin(kvtier_client* client, const kvtier_key* key, uint32_t lease_ms) {
  return guarded(client, [&](kvtier::Client& c) {
    return key == nullptr ? null_argument("key")
                          : c.pin(to_key(key), std::chrono::milliseconds(lease_ms));
  });
}

int kvtier_unpin(kvtier_client* client, const kvtier_key* key) {
  return guarded(client, [&](kvtier::Client& c) {
    return key == nullptr ? null_argument("key") : c.unpin(to_key(key));
  });
}

int kvtier_stats(kvtier_client* client, char* buf, size_t capacity, size_t* size) {
  return guarded(client, [&](kvtier::Client& c) {
    if (buf == nullptr && capacity > 0) return null_argument("buf");
    kvtier::Result<std::string> text = c.stats();
    if (!text.ok()) return text.status();
    if (size != nullptr) *size = text->size();
    if (capacity < text->size() + 1) {
      return Status::BufferTooSmall("stats text is " + std::to_string(text->size()) +
                                    " bytes (+1 for the NUL), buffer holds " +
                                    std::to_string(capacity));
    }
    std::memcpy(buf, text->data(), text->size());
    buf[text->size()] = '\0';
    return Status::Ok();
  });
}

int kvtier_register_shm(kvtier_client* client, size_t bytes, kvtier_shm_region* out) {
  return guarded(client, [&](kvtier::Client& c) {
    if (out == nullptr) return null_argument("out");
    kvtier::Result<kvtier::SharedRegion> r = c.register_shared_memory(bytes);
    if (!r.ok()) return r.status();
    *out = kvtier_shm_region{r->id, r->memory.data(), r->memory.size()};
    return Status::Ok();
  });
}

int kvtier_get_many_shm(kvtier_client* client, const kvtier_shm_region* region,
                        const kvtier_shm_get* items, size_t n, kvtier_get_result* results) {
  return guarded(client, [&](kvtier::Client& c) {
    if (region == nullptr) return null_argument("region");
    if (n > 0 && (items == nullptr || results == nullptr)) return null_argument("items or results");
    std::vector<kvtier::ShmGet> in(n);
    for (std::size_t i = 0; i < n; ++i) {
      in[i] = {to_key(&items[i].key), items[i].offset, items[i].capacity};
    }
    std::vector<kvtier::GetResult> out(n);
    Status s = c.get_many_shm(to_region(region), in, out);
    for (std::size_t i = 0; i < n; ++i) results[i] = {code_of(out[i].status), out[i].size};
    return s;
  });
}

int kvtier_put_many_shm(kvtier_client* client, const kvtier_shm_region* region,
                        const kvtier_shm_put* items, size_t n, int* statuses) {
  return kvtier_put_many_shm_with(client, region, items, n, statuses, 0);
}

int kvtier_put_many_shm_with(kvtier_client* client, const kvtier_shm_region* region,
                             const kvtier_shm_put* items, size_t n, int* statuses, uint32_t flags) {
  return guarded(client, [&](kvtier::Client& c) {
    if (region == nullptr) return null_argument("region");
    if (n > 0 && (items == nullptr || statuses == nullptr))
      return null_argument("items or statuses");
    kvtier::Result<kvtier::PutOptions> options = put_options(flags);
    if (!options.ok()) return fail_items(statuses, n, options.status());
    std::vector<kvtier::ShmPut> in(n);
    for (std::size_t i = 0; i < n; ++i)
      in[i] = {to_key(&items[i].key), items[i].offset, items[i].size};
    std::vector<Status> out(n);
    Status s = c.put_many_shm(to_region(region), in, out, *options);
    for (std::size_t i = 0; i < n; ++i) statuses[i] = code_of(out[i]);
    return s;
  });
}

}  // extern "C"
