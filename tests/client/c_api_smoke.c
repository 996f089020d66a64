/* c_api_smoke: exercises every function of the C API (include/kvtier/kvtier.h) against a running
 * kvtierd, as a C11 program. Usage: kvtier_c_api_smoke ADDRESS [TOKEN]
 * Exits 0 when every result is as expected; otherwise prints the first wrong result and exits 1
 * (2 for bad usage). Keys come from a model id holding the process id, so runs never collide. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvtier/kvtier.h"

static int failures = 0;

#define CHECK(cond, ...)                                                      \
  do {                                                                        \
    if (!(cond)) {                                                            \
      fprintf(stderr, "c_api_smoke:%d: check failed: %s: ", __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                           \
      fputc('\n', stderr);                                                    \
      ++failures;                                                             \
      return 1;                                                               \
    }                                                                         \
  } while (0)

/* Expects a call to return `want`; prints the client's last error otherwise. */
#define EXPECT_CODE(client, call, want)                                          \
  do {                                                                           \
    int got_ = (call);                                                           \
    CHECK(got_ == (want), "%s returned %s (%d), want %s; last error: %s", #call, \
          kvtier_status_name(got_), got_, kvtier_status_name(want),              \
          (client) ? kvtier_last_error(client) : "-");                           \
  } while (0)

static void fill(unsigned char* p, size_t n, unsigned seed) {
  uint32_t x = seed * 2654435761u + 1;
  size_t i;
  for (i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    p[i] = (unsigned char)x;
  }
}

static int check_keys(kvtier_key* chain, size_t n) {
  char model[64];
  char err[256];
  kvtier_model_layout layout;
  kvtier_key ns, small[2], back;
  uint32_t tokens[64];
  size_t count = 0, i;
  char hex[33];

  CHECK(strcmp(kvtier_status_name(KVTIER_OK), "ok") == 0, "%s", kvtier_status_name(0));
  CHECK(strcmp(kvtier_status_name(KVTIER_NOT_FOUND), "not_found") == 0, "name of 1");
  CHECK(strcmp(kvtier_status_name(KVTIER_REJECTED), "rejected") == 0, "name of 10");
  CHECK(strcmp(kvtier_status_name(99), "unknown") == 0, "name of 99");

  memset(&layout, 0, sizeof layout);
  snprintf(model, sizeof model, "c-api-smoke-%ld", (long)getpid());
  layout.model_id = model;
  layout.kv_dtype = "bf16";
  layout.num_layers = 2;
  layout.num_kv_heads = 2;
  layout.head_dim = 64;
  layout.tp_world_size = 1;
  layout.chunk_tokens = 16;
  layout.layout_version = 1;
  layout.extra = NULL;
  err[0] = '\0';
  EXPECT_CODE(NULL, kvtier_namespace_key(&layout, &ns, err, sizeof err), KVTIER_OK);
  layout.num_layers = 0;
  EXPECT_CODE(NULL, kvtier_namespace_key(&layout, &back, err, sizeof err), KVTIER_INVALID_ARGUMENT);
  CHECK(err[0] != '\0', "no message for an invalid layout");

  for (i = 0; i < 64; ++i) tokens[i] = (uint32_t)(i * 7 + 1);
  EXPECT_CODE(NULL, kvtier_chunk_keys(&ns, tokens, 64, 16, small, 2, &count),
              KVTIER_BUFFER_TOO_SMALL);
  CHECK(count == 4, "count %zu, want 4", count);
  CHECK(n >= 4, "chain too short");
  EXPECT_CODE(NULL, kvtier_chunk_keys(&ns, tokens, 64 + 5, 16, chain, n, &count), KVTIER_OK);
  CHECK(count == 4, "count %zu, want 4 (a partial chunk has no key)", count);
  CHECK(memcmp(&chain[0], &chain[1], sizeof chain[0]) != 0, "chain keys repeat");
  /* The chain continues: more tokens give more keys, the first four unchanged. */
  for (i = 4; i < n; ++i) {
    uint32_t more[16];
    size_t j, one = 0;
    for (j = 0; j < 16; ++j) more[j] = (uint32_t)(i * 100 + j);
    EXPECT_CODE(NULL, kvtier_chunk_keys(&chain[i - 1], more, 16, 16, &chain[i], 1, &one),
                KVTIER_OK);
  }

  kvtier_key_to_hex(&chain[0], hex);
  CHECK(strlen(hex) == 32, "hex length %zu", strlen(hex));
  EXPECT_CODE(NULL, kvtier_key_from_hex(hex, &back), KVTIER_OK);
  CHECK(memcmp(&back, &chain[0], sizeof back) == 0, "hex round trip");
  EXPECT_CODE(NULL, kvtier_key_from_hex("xyz", &back), KVTIER_INVALID_ARGUMENT);
  return 0;
}

static int check_blocks(kvtier_client* c, const kvtier_key* k) {
  enum { kSize = 100 * 1024 + 7 };
  unsigned char* value = malloc(kSize);
  unsigned char* got = malloc(kSize);
  unsigned char* many_values[3];
  unsigned char* many_got[3];
  kvtier_put_item puts[3];
  kvtier_get_item gets[4];
  kvtier_get_result results[4];
  int statuses[3];
  kvtier_prefix_match match;
  size_t size = 0, i;
  char small[8];

  CHECK(value != NULL && got != NULL, "malloc");
  fill(value, kSize, 1);
  EXPECT_CODE(c, kvtier_put(c, &k[0], value, kSize), KVTIER_OK);
  EXPECT_CODE(c, kvtier_get(c, &k[0], got, kSize, &size), KVTIER_OK);
  CHECK(size == kSize && memcmp(value, got, kSize) == 0, "get returned %zu bytes or others", size);
  size = 0;
  EXPECT_CODE(c, kvtier_get(c, &k[0], small, sizeof small, &size), KVTIER_BUFFER_TOO_SMALL);
  CHECK(size == kSize, "buffer_too_small size %zu, want %d", size, kSize);
  EXPECT_CODE(c, kvtier_get(c, &k[5], got, kSize, &size), KVTIER_NOT_FOUND);
  EXPECT_CODE(c, kvtier_put(c, &k[5], value, 0), KVTIER_INVALID_ARGUMENT);
  CHECK(kvtier_last_error(c)[0] != '\0', "no last error after a failed put");

  for (i = 0; i < 3; ++i) {
    many_values[i] = malloc(4096 * (i + 1));
    many_got[i] = malloc(4096 * (i + 1));
    CHECK(many_values[i] != NULL && many_got[i] != NULL, "malloc");
    fill(many_values[i], 4096 * (i + 1), (unsigned)(10 + i));
    puts[i].key = k[1 + i];
    puts[i].value = many_values[i];
    puts[i].size = 4096 * (i + 1);
    gets[i].key = k[1 + i];
    gets[i].dst = many_got[i];
    gets[i].capacity = 4096 * (i + 1);
  }
  gets[3].key = k[6];
  gets[3].dst = got;
  gets[3].capacity = kSize;
  EXPECT_CODE(c, kvtier_put_many(c, puts, 3, statuses), KVTIER_OK);
  for (i = 0; i < 3; ++i) CHECK(statuses[i] == KVTIER_OK, "put_many item %zu: %d", i, statuses[i]);
  EXPECT_CODE(c, kvtier_get_many(c, gets, 4, results), KVTIER_OK);
  for (i = 0; i < 3; ++i) {
    CHECK(results[i].status == KVTIER_OK && results[i].size == 4096 * (i + 1),
          "get_many item %zu: %s size %zu", i, kvtier_status_name(results[i].status),
          results[i].size);
    CHECK(memcmp(many_got[i], many_values[i], 4096 * (i + 1)) == 0, "get_many item %zu bytes", i);
  }
  CHECK(results[3].status == KVTIER_NOT_FOUND, "get_many miss: %s",
        kvtier_status_name(results[3].status));

  /* k[0..3] are cached, k[4] is not: the cached prefix of k[0..5] is 4. */
  EXPECT_CODE(c, kvtier_lookup(c, k, 6, &match), KVTIER_OK);
  CHECK(match.cached == 4 && match.in_dram + match.in_nvme == 4,
        "lookup cached %llu (dram %llu, nvme %llu), want 4", (unsigned long long)match.cached,
        (unsigned long long)match.in_dram, (unsigned long long)match.in_nvme);

  EXPECT_CODE(c, kvtier_pin(c, &k[0], 60000), KVTIER_OK);
  EXPECT_CODE(c, kvtier_unpin(c, &k[0]), KVTIER_OK);
  EXPECT_CODE(c, kvtier_remove(c, &k[0]), KVTIER_OK);
  EXPECT_CODE(c, kvtier_get(c, &k[0], got, kSize, &size), KVTIER_NOT_FOUND);
  EXPECT_CODE(c, kvtier_lookup(c, k, 6, &match), KVTIER_OK);
  CHECK(match.cached == 0, "lookup after remove: cached %llu", (unsigned long long)match.cached);

  for (i = 0; i < 3; ++i) {
    free(many_values[i]);
    free(many_got[i]);
  }
  free(value);
  free(got);
  return 0;
}

static int check_stats(kvtier_client* c) {
  size_t size = 0;
  char* text;
  EXPECT_CODE(c, kvtier_stats(c, NULL, 0, &size), KVTIER_BUFFER_TOO_SMALL);
  CHECK(size > 0, "stats size 0");
  /* Counters change between calls, so the text may grow a little: leave room. */
  text = malloc(size + 4096);
  CHECK(text != NULL, "malloc");
  EXPECT_CODE(c, kvtier_stats(c, text, size + 4096, &size), KVTIER_OK);
  CHECK(strlen(text) == size, "stats text length %zu, size %zu", strlen(text), size);
  free(text);
  return 0;
}

static int check_shm(kvtier_client* c, const kvtier_key* k, int is_unix) {
  kvtier_shm_region region;
  kvtier_shm_put puts[2];
  kvtier_shm_get gets[3];
  kvtier_get_result results[3];
  int statuses[2];
  unsigned char* mem;
  size_t i;

  if (!is_unix) {
    EXPECT_CODE(c, kvtier_register_shm(c, 1 << 20, &region), KVTIER_INVALID_ARGUMENT);
    return 0;
  }
  EXPECT_CODE(c, kvtier_register_shm(c, (1 << 20) + 1, &region), KVTIER_OK);
  CHECK(region.size == (1 << 20) + 4096 && region.memory != NULL, "region size %zu", region.size);
  mem = region.memory;
  for (i = 0; i < 2; ++i) {
    fill(mem + i * 65536, 65536, (unsigned)(20 + i));
    puts[i].key = k[7 + i];
    puts[i].offset = i * 65536;
    puts[i].size = 65536;
    gets[i].key = k[7 + i];
    gets[i].offset = 524288 + i * 65536;
    gets[i].capacity = 65536;
  }
  gets[2].key = k[9];
  gets[2].offset = 0;
  gets[2].capacity = 4096;
  EXPECT_CODE(c, kvtier_put_many_shm(c, &region, puts, 2, statuses), KVTIER_OK);
  for (i = 0; i < 2; ++i)
    CHECK(statuses[i] == KVTIER_OK, "put_many_shm item %zu: %d", i, statuses[i]);
  EXPECT_CODE(c, kvtier_get_many_shm(c, &region, gets, 3, results), KVTIER_OK);
  for (i = 0; i < 2; ++i) {
    CHECK(results[i].status == KVTIER_OK && results[i].size == 65536, "get_many_shm item %zu: %s",
          i, kvtier_status_name(results[i].status));
    CHECK(memcmp(mem + 524288 + i * 65536, mem + i * 65536, 65536) == 0,
          "get_many_shm item %zu bytes", i);
  }
  CHECK(results[2].status == KVTIER_NOT_FOUND, "get_many_shm miss: %s",
        kvtier_status_name(results[2].status));
  /* Outside the region: refused before anything is sent. */
  gets[0].offset = region.size;
  EXPECT_CODE(c, kvtier_get_many_shm(c, &region, gets, 1, results), KVTIER_INVALID_ARGUMENT);
  CHECK(results[0].status == KVTIER_INVALID_ARGUMENT, "item status after a refused call: %d",
        results[0].status);
  return 0;
}

int main(int argc, char** argv) {
  const char* address;
  const char* token;
  kvtier_client* c = NULL;
  kvtier_server_info info;
  kvtier_connect_options options;
  kvtier_key chain[10];
  char err[512];
  int is_unix;

  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s ADDRESS [TOKEN]\n", argv[0]);
    return 2;
  }
  address = argv[1];
  token = argc == 3 ? argv[2] : NULL;
  is_unix = strncmp(address, "unix:", 5) == 0 ||
            (strncmp(address, "tcp:", 4) != 0 && strchr(address, '/') != NULL);

  if (check_keys(chain, 10) != 0) return 1;

  err[0] = '\0';
  EXPECT_CODE(NULL, kvtier_connect("tcp:127.0.0.1:notaport", NULL, 1000, &c, err, sizeof err),
              KVTIER_INVALID_ARGUMENT);
  CHECK(c == NULL && err[0] != '\0', "bad address: client %p, message \"%s\"", (void*)c, err);
  EXPECT_CODE(NULL,
              kvtier_connect("unix:/nonexistent-dir/kvtierd.sock", NULL, 1000, &c, err, sizeof err),
              KVTIER_IO_ERROR);

  EXPECT_CODE(NULL, kvtier_connect(address, token, 10000, &c, err, sizeof err), KVTIER_OK);
  CHECK(c != NULL, "no client");
  kvtier_server_info_get(c, &info);
  CHECK(info.version >= 1 && info.max_batch > 0 && info.max_value_bytes > 0,
        "server info: version %u, max_batch %u", (unsigned)info.version, (unsigned)info.max_batch);
  CHECK(kvtier_server_capabilities(NULL) == 0, "capabilities of NULL");
  CHECK(info.version == 1 ||
            ((kvtier_server_capabilities(c) & KVTIER_CAPABILITY_SHARED_MEMORY) != 0) ==
                (strncmp(address, "unix:", 5) == 0),
        "shared memory capability %llu on %s",
        (unsigned long long)kvtier_server_capabilities(c), address);
  EXPECT_CODE(c, kvtier_ping(c), KVTIER_OK);

  if (check_blocks(c, chain) != 0 || check_stats(c) != 0 || check_shm(c, chain, is_unix) != 0) {
    kvtier_close(c);
    return 1;
  }
  kvtier_close(c);
  kvtier_close(NULL);

  /* The extensible form (TLS is tested in tests/client/c_api_test.cpp). */
  kvtier_connect_options_init(&options);
  options.address = address;
  options.token = token;
  options.client_name = "c-api-smoke";
  c = NULL;
  EXPECT_CODE(NULL, kvtier_connect_with(&options, &c, err, sizeof err), KVTIER_OK);
  CHECK(c != NULL, "no client from kvtier_connect_with");
  if (c != NULL) EXPECT_CODE(c, kvtier_ping(c), KVTIER_OK);
  kvtier_close(c);
  printf("c_api_smoke: every check passed against %s\n", address);
  return failures == 0 ? 0 : 1;
}
