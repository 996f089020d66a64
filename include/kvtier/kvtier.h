/* kvtier C API: a C client of kvtierd (the same protocol and behaviour as the C++ Client of
 * kvtier/client.h, which it wraps), plus the block-key functions of kvtier/key.h so that a C
 * program derives the same keys as every other client (docs/KEYS.md). Link libkvtier_client.so.
 *
 * Return codes: every int-returning function returns a status code, KVTIER_OK (0) or one of the
 * kvtier_status values below (the same numbers as kvtier::StatusCode and the wire protocol).
 * KVTIER_NOT_FOUND is a cache miss, not an error. kvtier_last_error() gives the message of a
 * client's last failed call.
 *
 * Thread-safety: a kvtier_client is one connection and must not be used by two threads at once;
 * give each thread its own. The key functions are pure and safe from any thread.
 *
 * Memory: the library never frees what the caller passed and never keeps a pointer to it past the
 * call, except shared-memory regions, which the client owns (kvtier_register_shm) and unmaps in
 * kvtier_close. */
#ifndef KVTIER_KVTIER_H_
#define KVTIER_KVTIER_H_

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kvtier/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The status codes (include/kvtier/status.h says what each means). */
enum kvtier_status {
  KVTIER_OK = 0,
  KVTIER_NOT_FOUND = 1,
  KVTIER_INVALID_ARGUMENT = 2,
  KVTIER_BUFFER_TOO_SMALL = 3,
  KVTIER_NO_SPACE = 4,
  KVTIER_BUSY = 5,
  KVTIER_CORRUPTION = 6,
  KVTIER_IO_ERROR = 7,
  KVTIER_TOO_LARGE = 8,
  KVTIER_CLOSED = 9,
  KVTIER_REJECTED = 10
};

/* "ok", "not_found", ...; "unknown" for a value that is not a status code. Never NULL. */
KVTIER_API const char* kvtier_status_name(int code);

/* A 128-bit block key (docs/KEYS.md). */
typedef struct kvtier_key {
  uint8_t bytes[16];
} kvtier_key;

/* ---- Keys ---- */

/* The model layout a namespace key fingerprints (kvtier::ModelLayout). Strings are
 * NUL-terminated UTF-8; extra may be NULL (same as ""). */
typedef struct kvtier_model_layout {
  const char* model_id;
  const char* kv_dtype;
  uint32_t num_layers;
  uint32_t num_kv_heads;
  uint32_t head_dim;
  uint32_t tp_rank;
  uint32_t tp_world_size;
  uint32_t chunk_tokens;
  uint32_t layout_version; /* 1 unless the engine's block layout changed */
  const char* extra;
} kvtier_model_layout;

/* key_0 of a layout. KVTIER_INVALID_ARGUMENT (message in errbuf, if given) when a field is
 * missing or out of range. errbuf may be NULL; messages are cut to errlen - 1 bytes. */
KVTIER_API int kvtier_namespace_key(const kvtier_model_layout* layout, kvtier_key* out,
                                    char* errbuf, size_t errlen);

/* The keys of every full chunk of tokens[0..n_tokens), chained from ns_key: n_tokens /
 * chunk_tokens keys. *count receives that number; KVTIER_BUFFER_TOO_SMALL (and nothing written)
 * when out_capacity is smaller. chunk_tokens must be > 0. */
KVTIER_API int kvtier_chunk_keys(const kvtier_key* ns_key, const uint32_t* tokens, size_t n_tokens,
                                 uint32_t chunk_tokens, kvtier_key* out, size_t out_capacity,
                                 size_t* count);

/* 32 lower-case hex digits and a NUL into out[33]; with key NULL, an empty string; with out NULL,
 * nothing. */
KVTIER_API void kvtier_key_to_hex(const kvtier_key* key, char out[33]);
/* Parses 32 hex digits (either case, NUL-terminated). KVTIER_INVALID_ARGUMENT otherwise. */
KVTIER_API int kvtier_key_from_hex(const char* hex, kvtier_key* out);

/* ---- Connection ---- */

typedef struct kvtier_client kvtier_client;

/* Connects to kvtierd and performs HELLO. address: "unix:PATH", a path containing '/',
 * "tcp:HOST:PORT", "HOST:PORT" or "[::1]:PORT"; NULL means "unix:./var/kvtier/kvtierd.sock".
 * token: the tenant's token (required on TCP; NULL or "" on the Unix socket is the default
 * tenant). timeout_ms: the longest wait for any one call; 0 means 30000. On failure *client is
 * NULL and errbuf (if not NULL) receives the message. */
KVTIER_API int kvtier_connect(const char* address, const char* token, uint32_t timeout_ms,
                              kvtier_client** client, char* errbuf, size_t errlen);
/* Everything kvtier_connect takes, and what only this form takes (TLS). Extensible: struct_size
 * is sizeof(kvtier_connect_options) as the caller compiled it (kvtier_connect_options_init, an
 * inline function, sets it), so a newer library reads only the fields this caller knows and takes
 * the rest as unset, and an older library refuses a newer caller's struct whose fields it does not
 * know are set (KVTIER_INVALID_ARGUMENT) rather than ignore them. Strings are NUL-terminated;
 * NULL means unset. */
typedef struct kvtier_connect_options {
  uint32_t struct_size;
  uint32_t timeout_ms;       /* as in kvtier_connect; 0 means 30000 */
  const char* address;       /* as in kvtier_connect, and "tls:HOST:PORT" for TLS 1.3 */
  const char* token;         /* as in kvtier_connect; may be unset with a client certificate */
  const char* client_name;   /* shown in the daemon's logs; unset: "kvtier-c" */
  const char* tls_ca_file;   /* PEM the daemon's certificate must chain to; unset: system CAs */
  const char* tls_cert_file; /* this client's certificate (PEM) for mutual TLS; unset: none */
  const char* tls_key_file;  /* its private key (PEM) */
} kvtier_connect_options;
/* Zeroes *options and sets struct_size to this header's size. */
static inline void kvtier_connect_options_init(kvtier_connect_options* options) {
  if (options == NULL) return;
  memset(options, 0, sizeof *options);
  options->struct_size = (uint32_t)sizeof *options;
}
/* kvtier_connect with options: KVTIER_INVALID_ARGUMENT when options is NULL or struct_size is
 * smaller than the first version of the struct. */
KVTIER_API int kvtier_connect_with(const kvtier_connect_options* options, kvtier_client** client,
                                   char* errbuf, size_t errlen);
/* Closes the connection and unmaps its shared memory. NULL is ignored. */
KVTIER_API void kvtier_close(kvtier_client* client);
/* The message of this client's last call that did not return KVTIER_OK ("" if none). Valid
 * until the next call on this client. */
KVTIER_API const char* kvtier_last_error(const kvtier_client* client);

/* What the daemon announced in HELLO. */
typedef struct kvtier_server_info {
  uint16_t version;
  uint64_t max_value_bytes; /* largest value */
  uint32_t max_batch;       /* most items the daemon takes in one request */
  uint64_t max_data_bytes;  /* most value bytes in one frame */
} kvtier_server_info;
KVTIER_API void kvtier_server_info_get(const kvtier_client* client, kvtier_server_info* out);
/* What the daemon does on this connection beyond its protocol version's operations, as
 * KVTIER_CAPABILITY_* bits (docs/PROTOCOL.md, "Capabilities"); 0 for NULL or a version 1 daemon.
 * Unknown bits are to be ignored. */
#define KVTIER_CAPABILITY_SHARED_MEMORY 1u /* the *_shm calls are served (Unix socket) */
#define KVTIER_CAPABILITY_DURABLE_PUT 2u   /* KVTIER_PUT_DURABLE is served (an NVMe tier) */
KVTIER_API uint64_t kvtier_server_capabilities(const kvtier_client* client);

/* Round trip. */
KVTIER_API int kvtier_ping(kvtier_client* client);

/* ---- Blocks ---- */

KVTIER_API int kvtier_put(kvtier_client* client, const kvtier_key* key, const void* value,
                          size_t size);
/* Reads the value into dst (capacity bytes). *size receives the value's size on KVTIER_OK and on
 * KVTIER_BUFFER_TOO_SMALL (then nothing was written: retry with a buffer that large). */
KVTIER_API int kvtier_get(kvtier_client* client, const kvtier_key* key, void* dst, size_t capacity,
                          size_t* size);

typedef struct kvtier_prefix_match {
  uint64_t cached;  /* leading keys of the chain cached in some tier */
  uint64_t in_dram; /* of those, in DRAM */
  uint64_t in_nvme; /* of those, only on NVMe */
  uint64_t in_shared; /* of those, only in the shared tier */
} kvtier_prefix_match;
/* The longest cached prefix of chain[0..n). */
KVTIER_API int kvtier_lookup(kvtier_client* client, const kvtier_key* chain, size_t n,
                             kvtier_prefix_match* out);

typedef struct kvtier_put_item {
  kvtier_key key;
  const void* value;
  size_t size;
} kvtier_put_item;
typedef struct kvtier_get_item {
  kvtier_key key;
  void* dst;
  size_t capacity;
} kvtier_get_item;
typedef struct kvtier_get_result {
  int status;  /* KVTIER_OK, KVTIER_NOT_FOUND, KVTIER_BUFFER_TOO_SMALL, ... */
  size_t size; /* the value's size on KVTIER_OK and KVTIER_BUFFER_TOO_SMALL */
} kvtier_get_result;

/* Batches: statuses[i] / results[i] answer items[i]. The return value is the whole call's (a
 * connection error); KVTIER_OK does not mean every item succeeded. Batches above max_batch are
 * split into several requests transparently. An item with a NULL value (or dst) and a size (or
 * capacity) above 0 is answered KVTIER_INVALID_ARGUMENT and not sent. */
KVTIER_API int kvtier_put_many(kvtier_client* client, const kvtier_put_item* items, size_t n,
                               int* statuses);
KVTIER_API int kvtier_get_many(kvtier_client* client, const kvtier_get_item* items, size_t n,
                               kvtier_get_result* results);

KVTIER_API int kvtier_remove(kvtier_client* client, const kvtier_key* key);
/* Keeps the block from eviction for lease_ms milliseconds (> 0), or until unpinned. */
KVTIER_API int kvtier_pin(kvtier_client* client, const kvtier_key* key, uint32_t lease_ms);
KVTIER_API int kvtier_unpin(kvtier_client* client, const kvtier_key* key);

/* The daemon's counters in the Prometheus text format, NUL-terminated, into buf (capacity bytes).
 * *size receives the text's length without the NUL; KVTIER_BUFFER_TOO_SMALL when capacity <
 * *size + 1 (buf then holds nothing: retry with a bigger buffer; counters change between calls,
 * so leave a few KiB of room beyond *size + 1). size may be NULL. */
KVTIER_API int kvtier_stats(kvtier_client* client, char* buf, size_t capacity, size_t* size);

/* ---- Shared memory (Unix socket only) ---- */

/* A sealed memfd mapped into this process and registered with the daemon. memory is valid until
 * kvtier_close. */
typedef struct kvtier_shm_region {
  uint32_t id;
  void* memory;
  size_t size; /* the requested bytes rounded up to 4 KiB */
} kvtier_shm_region;
/* KVTIER_INVALID_ARGUMENT on a TCP connection. */
KVTIER_API int kvtier_register_shm(kvtier_client* client, size_t bytes, kvtier_shm_region* out);

typedef struct kvtier_shm_get {
  kvtier_key key;
  uint64_t offset;   /* where in the region the value goes (4 KiB-aligned is fastest) */
  uint64_t capacity; /* bytes available there */
} kvtier_shm_get;
typedef struct kvtier_shm_put {
  kvtier_key key;
  uint64_t offset; /* where in the region the value is */
  uint64_t size;
} kvtier_shm_put;
/* The daemon moves the values between the store and the region; no value byte crosses the
 * socket. results[i] / statuses[i] answer items[i]. */
KVTIER_API int kvtier_get_many_shm(kvtier_client* client, const kvtier_shm_region* region,
                                   const kvtier_shm_get* items, size_t n,
                                   kvtier_get_result* results);
KVTIER_API int kvtier_put_many_shm(kvtier_client* client, const kvtier_shm_region* region,
                                   const kvtier_shm_put* items, size_t n, int* statuses);

/* ---- Puts with flags ---- */

/* KVTIER_PUT_DURABLE: each value is answered KVTIER_OK only once it is durable on the daemon (on
 * its NVMe tier, synced), so a crash, SIGKILL or power loss after the answer does not lose it; any
 * other answer means it may or may not be stored. Needs KVTIER_CAPABILITY_DURABLE_PUT: without
 * it every item is KVTIER_REJECTED and nothing is sent. Costs the daemon a device sync per
 * request: batch. Unknown flag bits are KVTIER_INVALID_ARGUMENT. Flags 0: the calls above. */
#define KVTIER_PUT_DURABLE 1u
KVTIER_API int kvtier_put_with(kvtier_client* client, const kvtier_key* key, const void* value,
                               size_t size, uint32_t flags);
KVTIER_API int kvtier_put_many_with(kvtier_client* client, const kvtier_put_item* items, size_t n,
                                    int* statuses, uint32_t flags);
KVTIER_API int kvtier_put_many_shm_with(kvtier_client* client, const kvtier_shm_region* region,
                                        const kvtier_shm_put* items, size_t n, int* statuses,
                                        uint32_t flags);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KVTIER_KVTIER_H_ */
