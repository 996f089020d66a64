// Block keys against the vectors of tests/keys/vectors.json. The vectors were computed by the
// independent Python implementation (reference_keys.py --write), never by the code under test.
#include "kvtier/key.h"

#include <fstream>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#ifndef KVTIER_SOURCE_DIR
#error "KVTIER_SOURCE_DIR must name the source tree (set in CMakeLists.txt)"
#endif

namespace kvtier {
namespace {

using nlohmann::json;

const json& vectors() {
  static const json v = [] {
    const std::string path = std::string(KVTIER_SOURCE_DIR) + "/tests/keys/vectors.json";
    std::ifstream in(path);
    if (!in) {
      ADD_FAILURE() << "cannot open " << path;
      return json::object();
    }
    return json::parse(in);
  }();
  return v;
}

ModelLayout layout_from_json(const json& j) {
  ModelLayout l;
  l.model_id = j.at("model_id").get<std::string>();
  l.kv_dtype = j.at("kv_dtype").get<std::string>();
  l.num_layers = j.at("num_layers").get<std::uint32_t>();
  l.num_kv_heads = j.at("num_kv_heads").get<std::uint32_t>();
  l.head_dim = j.at("head_dim").get<std::uint32_t>();
  l.tp_rank = j.at("tp_rank").get<std::uint32_t>();
  l.tp_world_size = j.at("tp_world_size").get<std::uint32_t>();
  l.chunk_tokens = j.at("chunk_tokens").get<std::uint32_t>();
  l.layout_version = j.at("layout_version").get<std::uint32_t>();
  l.extra = j.at("extra").get<std::string>();
  return l;
}

std::vector<std::uint32_t> tokens_from_json(const json& spec) {
  std::vector<std::uint32_t> tokens;
  if (spec.contains("range")) {
    const auto first = spec["range"][0].get<std::uint32_t>();
    const auto last = spec["range"][1].get<std::uint32_t>();
    for (std::uint64_t t = first; t <= last; ++t) tokens.push_back(static_cast<std::uint32_t>(t));
  } else {
    tokens = spec.at("list").get<std::vector<std::uint32_t>>();
  }
  return tokens;
}

Key key_from_hex(const std::string& hex) {
  Result<Key> k = Key::from_hex(hex);
  EXPECT_TRUE(k.ok()) << k.status().to_string();
  return k.ok() ? *k : Key{};
}

ModelLayout llama() { return layout_from_json(vectors().at("namespace_keys").at(0).at("layout")); }

TEST(KeyVectors, FileHasEveryKind) {
  const json& v = vectors();
  EXPECT_GE(v.at("namespace_keys").size(), 12u);
  EXPECT_GE(v.at("chain_key").size(), 4u);
  EXPECT_GE(v.at("chunk_keys").size(), 5u);
  EXPECT_EQ(v.at("namespace_keys").at(0).at("name"), "llama-3.1-8b");
}

TEST(KeyVectors, NamespaceKeysMatchReference) {
  std::set<std::string> seen;
  for (const json& v : vectors().at("namespace_keys")) {
    SCOPED_TRACE(v.at("name").get<std::string>());
    Result<Key> k = namespace_key(layout_from_json(v.at("layout")));
    ASSERT_TRUE(k.ok()) << k.status().to_string();
    EXPECT_EQ(k->hex(), v.at("key").get<std::string>());
    seen.insert(k->hex());
  }
  // Every layout differing in one field (and the model_id/kv_dtype boundary pair) is distinct.
  EXPECT_EQ(seen.size(), vectors().at("namespace_keys").size());
}

TEST(KeyVectors, ChainKeysMatchReference) {
  for (const json& v : vectors().at("chain_key")) {
    SCOPED_TRACE(v.at("name").get<std::string>());
    const Key prev = key_from_hex(v.at("previous"));
    const auto tokens = v.at("tokens").get<std::vector<std::uint32_t>>();
    EXPECT_EQ(chain_key(prev, tokens).hex(), v.at("key").get<std::string>());
  }
}

TEST(KeyVectors, ChunkKeysMatchReference) {
  for (const json& v : vectors().at("chunk_keys")) {
    SCOPED_TRACE(v.at("name").get<std::string>());
    const Key ns = key_from_hex(v.at("namespace_key"));
    const auto tokens = tokens_from_json(v.at("tokens"));
    const auto chunk = v.at("chunk_tokens").get<std::uint32_t>();
    std::vector<std::string> got;
    for (const Key& k : chunk_keys(ns, tokens, chunk)) got.push_back(k.hex());
    EXPECT_EQ(got, v.at("keys").get<std::vector<std::string>>());
    EXPECT_EQ(got.size(), tokens.size() / chunk);  // the trailing partial chunk has no key
  }
}

TEST(KeyVectors, NamespaceOfChunkVectorsIsTheNamedLayout) {
  for (const json& v : vectors().at("chunk_keys")) {
    for (const json& ns : vectors().at("namespace_keys")) {
      if (ns.at("name") == v.at("namespace")) {
        EXPECT_EQ(ns.at("key"), v.at("namespace_key"));
      }
    }
  }
}

TEST(Key, HexRoundTripAndWords) {
  Key k;
  for (std::size_t i = 0; i < 15; ++i) k.bytes[i] = static_cast<std::uint8_t>(i * 17 + 1);
  k.bytes[15] = 0xf0;
  EXPECT_EQ(k.hex(), "0112233445566778899aabbccddeeff0");
  EXPECT_EQ(k.word0(), 0x7867564534231201ull);
  EXPECT_EQ(k.word1(), 0xf0efdecdbcab9a89ull);
  Result<Key> back = Key::from_hex(k.hex());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, k);
  Result<Key> upper = Key::from_hex("0112233445566778899AABBCCDDEEFF0");
  ASSERT_TRUE(upper.ok());
  EXPECT_EQ(*upper, k);
}

TEST(Key, FromHexRejectsBadInput) {
  for (std::string_view bad :
       {"", "00", "0112233445566778899aabbccddeeff", "0112233445566778899aabbccddeeff00"}) {
    Result<Key> k = Key::from_hex(bad);
    ASSERT_FALSE(k.ok()) << bad;
    EXPECT_EQ(k.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(k.status().message().find("32 hex digits"), std::string::npos)
        << k.status().message();
  }
  Result<Key> k = Key::from_hex("0112233445566778899aabbccddeefg0");
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(k.status().message().find("position 30"), std::string::npos) << k.status().message();
  EXPECT_FALSE(Key::from_hex("0x12233445566778899aabbccddeeff00").ok());
  EXPECT_FALSE(Key::from_hex(" 112233445566778899aabbccddeeff00").ok());
}

TEST(ModelLayout, ValidateNamesTheField) {
  EXPECT_TRUE(llama().validate().ok());
  struct Case {
    const char* field;
    void (*breaks)(ModelLayout&);
  };
  const Case cases[] = {
      {"model_id", [](ModelLayout& l) { l.model_id.clear(); }},
      {"kv_dtype", [](ModelLayout& l) { l.kv_dtype.clear(); }},
      {"num_layers", [](ModelLayout& l) { l.num_layers = 0; }},
      {"num_kv_heads", [](ModelLayout& l) { l.num_kv_heads = 0; }},
      {"head_dim", [](ModelLayout& l) { l.head_dim = 0; }},
      {"tp_world_size", [](ModelLayout& l) { l.tp_world_size = 0; }},
      {"chunk_tokens", [](ModelLayout& l) { l.chunk_tokens = 0; }},
      {"tp_rank", [](ModelLayout& l) { l.tp_rank = 1; }},
      {"tp_rank", [](ModelLayout& l) { l.tp_world_size = 4, l.tp_rank = 7; }},
      {"model_id", [](ModelLayout& l) { l.model_id.assign(1025, 'm'); }},
      {"kv_dtype", [](ModelLayout& l) { l.kv_dtype.assign(1025, 'd'); }},
      {"extra", [](ModelLayout& l) { l.extra.assign(1025, 'e'); }},
  };
  for (const Case& c : cases) {
    ModelLayout l = llama();
    c.breaks(l);
    Status s = l.validate();
    ASSERT_FALSE(s.ok()) << c.field;
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find(c.field), std::string::npos) << s.message();
    Result<Key> k = namespace_key(l);
    EXPECT_FALSE(k.ok());
    EXPECT_EQ(k.status().code(), StatusCode::kInvalidArgument);
  }
  ModelLayout longest = llama();
  longest.model_id.assign(1024, 'm');
  longest.extra.assign(1024, 'e');
  EXPECT_TRUE(longest.validate().ok());
  ModelLayout last_rank = llama();
  last_rank.tp_world_size = 8;
  last_rank.tp_rank = 7;
  EXPECT_TRUE(last_rank.validate().ok());
}

TEST(ChunkKeys, AreTheChainOfChainKeys) {
  const Key ns = *namespace_key(llama());
  std::vector<std::uint32_t> tokens(1000);
  std::iota(tokens.begin(), tokens.end(), 0xFFFFFF00u);  // wraps through 2^32
  const std::vector<Key> keys = chunk_keys(ns, tokens, 64);
  ASSERT_EQ(keys.size(), 15u);
  Key prev = ns;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    prev = chain_key(prev, std::span(tokens).subspan(i * 64, 64));
    EXPECT_EQ(keys[i], prev) << i;
  }
}

TEST(ChunkKeys, PrefixOfAPromptHasThePrefixOfItsKeys) {
  const Key ns = *namespace_key(llama());
  std::vector<std::uint32_t> tokens(4096);
  std::iota(tokens.begin(), tokens.end(), 1u);
  const std::vector<Key> all = chunk_keys(ns, tokens, 256);
  const std::vector<Key> some = chunk_keys(ns, std::span(tokens).first(1000), 256);
  ASSERT_EQ(all.size(), 16u);
  ASSERT_EQ(some.size(), 3u);
  EXPECT_TRUE(std::equal(some.begin(), some.end(), all.begin()));
  // Changing one token changes that chunk's key and every later key, not the earlier ones.
  tokens[600] ^= 1;
  const std::vector<Key> changed = chunk_keys(ns, tokens, 256);
  EXPECT_EQ(changed[1], all[1]);
  for (std::size_t i = 2; i < all.size(); ++i) EXPECT_NE(changed[i], all[i]) << i;
}

TEST(ChunkKeys, FewerTokensThanAChunkGiveNoKeys) {
  const Key ns = *namespace_key(llama());
  std::vector<std::uint32_t> tokens(255, 7);
  EXPECT_TRUE(chunk_keys(ns, tokens, 256).empty());
  EXPECT_TRUE(chunk_keys(ns, {}, 256).empty());
  EXPECT_EQ(chunk_keys(ns, tokens, 1).size(), 255u);
}

TEST(KeyHash, UsesWord0) {
  Key k = *Key::from_hex("0112233445566778899aabbccddeeff0");
  EXPECT_EQ(KeyHash{}(k), static_cast<std::size_t>(k.word0()));
  EXPECT_NE(KeyHash{}(BlockId{1, k}), KeyHash{}(BlockId{2, k}));
}

}  // namespace
}  // namespace kvtier
