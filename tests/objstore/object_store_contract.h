// The ObjectStore contract (src/objstore/object_store.h) as checks any store must pass, run
// against each real server: S3Store on Ceph RGW (s3_store_test.cpp), AzureStore on Azurite
// (azure_store_test.cpp). Each takes a store whose root is empty.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "objstore/object_store.h"

namespace kvtier::objstore::contract {

inline std::vector<std::byte> bytes_of(std::size_t n, std::uint8_t seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 131 + seed) & 0xFF);
  return v;
}

inline Deadline soon() { return Clock::now() + std::chrono::seconds(20); }

// Every name under `prefix` after `start_after`, page by page of `per_page`.
inline std::vector<ObjectInfo> list_all(ObjectStore& store, std::string_view prefix,
                                        std::string_view start_after, std::size_t per_page,
                                        int* pages = nullptr) {
  std::vector<ObjectInfo> all;
  std::string next;
  for (int i = 0; i < 1000; ++i) {
    auto page = store.list(prefix, start_after, next, per_page, soon());
    EXPECT_TRUE(page.ok()) << page.status().to_string();
    if (!page.ok()) break;
    EXPECT_LE(page->objects.size(), per_page);
    all.insert(all.end(), page->objects.begin(), page->objects.end());
    if (pages) *pages = i + 1;
    if (page->next.empty()) break;
    next = page->next;
  }
  return all;
}

// Whole objects: put, ranged and whole reads, listings (prefix, start, pages), removal.
inline void put_read_list_remove(ObjectStore& store) {
  ASSERT_TRUE(store.ping(soon()).ok());
  const auto a = bytes_of(100'000, 1);
  ASSERT_TRUE(store.put("idx/a", a, soon()).ok());
  ASSERT_TRUE(store.put("idx/b", bytes_of(10, 2), soon()).ok());
  ASSERT_TRUE(store.put("seg/c", bytes_of(10, 3), soon()).ok());

  std::vector<std::byte> part(1000);
  ASSERT_TRUE(store.read("idx/a", 5000, part, soon()).ok());
  EXPECT_TRUE(std::equal(part.begin(), part.end(), a.begin() + 5000));
  auto all = store.read_all("idx/a", 1 << 20, soon());
  ASSERT_TRUE(all.ok()) << all.status().to_string();
  EXPECT_EQ(all->size(), a.size());
  EXPECT_EQ(store.read_all("idx/a", 1000, soon()).status().code(), StatusCode::kTooLarge);
  // Replaced whole.
  ASSERT_TRUE(store.put("idx/b", bytes_of(20, 4), soon()).ok());
  auto b = store.read_all("idx/b", 100, soon());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->size(), 20u);

  // Past the end: what is there is not a whole range.
  std::vector<std::byte> tail(1000);
  EXPECT_EQ(store.read("idx/a", a.size() - 10, tail, soon()).code(), StatusCode::kCorruption);
  EXPECT_EQ(store.read("idx/none", 0, tail, soon()).code(), StatusCode::kNotFound);
  EXPECT_EQ(store.read_all("idx/none", 100, soon()).status().code(), StatusCode::kNotFound);

  auto listed = list_all(store, "idx/", "", 1000);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].name, "idx/a");
  EXPECT_EQ(listed[0].size, a.size());
  EXPECT_EQ(listed[1].name, "idx/b");
  auto after = list_all(store, "idx/", "idx/a", 1000);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].name, "idx/b");
  int pages = 0;
  auto paged = list_all(store, "", "", 2, &pages);
  ASSERT_EQ(paged.size(), 3u);
  EXPECT_EQ(pages, 2);
  EXPECT_TRUE(std::is_sorted(paged.begin(), paged.end(),
                             [](const auto& x, const auto& y) { return x.name < y.name; }));
  auto paged_after = list_all(store, "", "idx/a", 1);
  ASSERT_EQ(paged_after.size(), 2u);
  EXPECT_EQ(paged_after[0].name, "idx/b");
  EXPECT_EQ(paged_after[1].name, "seg/c");

  ASSERT_TRUE(store.remove("idx/a", soon()).ok());
  ASSERT_TRUE(store.remove("idx/a", soon()).ok()) << "removing what is gone is OK";
  EXPECT_EQ(store.read("idx/a", 0, part, soon()).code(), StatusCode::kNotFound);
}

// Uploads: invisible until completed, parts in order; an aborted one never appears.
inline void uploads_appear_only_when_completed(ObjectStore& store, std::size_t first_part_bytes) {
  const auto p1 = bytes_of(std::max(first_part_bytes, store.min_part_bytes()), 7);
  const auto p2 = bytes_of(12345, 8);
  auto up = store.begin_upload("seg/x", soon());
  ASSERT_TRUE(up.ok()) << up.status().to_string();
  ASSERT_TRUE(store.upload_part(*up, p1, soon()).ok());
  ASSERT_TRUE(store.upload_part(*up, p2, soon()).ok());
  std::vector<std::byte> probe(10);
  EXPECT_EQ(store.read("seg/x", 0, probe, soon()).code(), StatusCode::kNotFound)
      << "visible before completion";
  EXPECT_TRUE(list_all(store, "seg/", "", 100).empty()) << "listed before completion";
  ASSERT_TRUE(store.complete_upload(*up, soon()).ok());
  std::vector<std::byte> back(100);
  ASSERT_TRUE(store.read("seg/x", p1.size() - 50, back, soon()).ok());
  EXPECT_TRUE(std::equal(back.begin(), back.begin() + 50, p1.end() - 50));
  EXPECT_TRUE(std::equal(back.begin() + 50, back.end(), p2.begin()));
  auto listed = list_all(store, "seg/", "", 100);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].size, p1.size() + p2.size());
  // Aborting an upload that completed (its answer lost, say) leaves the object as it is.
  EXPECT_TRUE(store.abort_upload(*up, soon()).ok());
  ASSERT_TRUE(store.read("seg/x", p1.size() - 50, back, soon()).ok()) << "an abort removed a published object";
  EXPECT_TRUE(std::equal(back.begin() + 50, back.end(), p2.begin()));

  auto dropped = store.begin_upload("seg/y", soon());
  ASSERT_TRUE(dropped.ok());
  ASSERT_TRUE(store.upload_part(*dropped, p2, soon()).ok());
  ASSERT_TRUE(store.abort_upload(*dropped, soon()).ok());
  EXPECT_FALSE(store.complete_upload(*dropped, soon()).ok()) << "an aborted upload completed";
  EXPECT_EQ(store.read("seg/y", 0, probe, soon()).code(), StatusCode::kNotFound);
  EXPECT_EQ(list_all(store, "seg/", "", 100).size(), 1u);
}

}  // namespace kvtier::objstore::contract
