// Typed fields out of a parsed TOML document, for every kvtier config file (the engine's
// StoreConfig, the daemon's [server] and [[tenants]]): one set of rules for types, sizes, negative
// numbers and unknown keys, and one "file:line:column: " prefix on every error, so that all config
// files report mistakes the same way (docs/CONFIG.md, "Rules that apply to the whole file").
//
// Internal to src/: it exposes toml++ types, which are a private dependency of the library.
//
// Thread-safety: a TomlFieldReader is used by one thread at a time (it records where each field
// it read was, for validation messages).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <toml++/toml.h>

#include "kvtier/status.h"

namespace kvtier {

// A config file larger than this is not a config file.
inline constexpr std::size_t kMaxConfigFileBytes = 1 << 20;

// Reads fields of one document. A field is named by its dotted path ("dram.shards",
// "tenants[2].token"): `prefix` is the path of the table the key is in ("" at the top level).
// Every read_* leaves `out` unchanged when the key is absent (absent = keep the default), returns
// InvalidArgument "<source>:<line>:<col>: <field>: expected ..., got ..." on a wrong type, and
// remembers where the key was so that locate() can point a later validation error at it.
class TomlFieldReader {
 public:
  explicit TomlFieldReader(std::string source) : source_(std::move(source)) {}

  const std::string& source() const { return source_; }

  // Rejects every key of `t` that is not in `allowed`, so a typo is an error, not a default:
  // "unknown key "<prefix.key>" (allowed in [<prefix>]: a, b, c)".
  Status check_keys(const toml::table& t, std::string_view prefix,
                    std::span<const std::string_view> allowed);

  // `out` = the table under `key`, or null when absent; a type error when it is not a table.
  Status get_table(const toml::table& t, std::string_view prefix, std::string_view key,
                   const toml::table*& out);
  // The tables of an array of tables ([[prefix.key]]); `out` is left empty when the key is absent.
  // A key that is not an array, or an element that is not a table, is a type error; the element
  // error names "<prefix.key>[i]" and says it should be `element_description`.
  Status get_table_array(const toml::table& t, std::string_view prefix, std::string_view key,
                         std::string_view element_description,
                         std::vector<const toml::table*>& out);

  Status read_string(const toml::table& t, std::string_view prefix, std::string_view key,
                     std::string& out);
  Status read_bool(const toml::table& t, std::string_view prefix, std::string_view key, bool& out);
  // A number: integer or float.
  Status read_double(const toml::table& t, std::string_view prefix, std::string_view key,
                     double& out);
  // A non-negative integer no larger than `max`.
  Status read_count(const toml::table& t, std::string_view prefix, std::string_view key,
                    std::uint64_t max, std::uint64_t& out);
  Status read_u32(const toml::table& t, std::string_view prefix, std::string_view key,
                  std::uint32_t& out);
  // A byte count: a non-negative integer or a string such as "64MiB" (config/size_parse.h).
  Status read_size(const toml::table& t, std::string_view prefix, std::string_view key,
                   std::uint64_t& out);

  // Remembers `where` as the place `field` was set, for a field that is not read by a read_*
  // (a value taken from elsewhere, or a table whose missing keys a validation error may name).
  void remember(const std::string& field, const toml::source_region& where) {
    where_[field] = where;
  }

  Status type_error(const toml::node& node, std::string_view field, std::string_view expected);

  // "<source>:<line>:<col>: " for the field that a validation message starts with (its text up
  // to the first ' ' or '='), when the file set it. Otherwise the nearest enclosing table that
  // was remember()ed ("tenants[1].token" falls back to "tenants[1]"), else "<source>: ".
  std::string locate(const std::string& message) const;
  // `s` with locate()'s prefix, or OK.
  Status located(const Status& s) const;

  std::string at(const toml::node& node) const { return at(node.source()); }
  std::string at(const toml::source_region& r) const;

  static std::string join(std::string_view prefix, std::string_view key) {
    return prefix.empty() ? std::string(key) : std::string(prefix) + "." + std::string(key);
  }

 private:
  // The node under `key`, or null; remembers where it is for validation messages.
  const toml::node* find(const toml::table& t, std::string_view prefix, std::string_view key);

  std::string source_;
  std::unordered_map<std::string, toml::source_region> where_;
};

// ---- Schemas: a table's keys written once ----
//
// A config section is an array of TomlKey<C>: each key and how it is read into C. read_table
// refuses keys not in the array and reads the others in its order, so the list of allowed keys and
// the reads cannot drift apart. Readers for plain members: string_key<&C::m>, bool_key, u32_key,
// double_key, size_key (a byte size), count_key<&C::m, max>, duration_key<&C::m, max> (a
// std::chrono duration in its own unit, from an integer key), optional_key<&C::m, read function>,
// choice_key<&C::m, choices> (an enum by name); anything else is a function of the same signature.
template <typename C>
using TomlKeyReader = Status (*)(TomlFieldReader&, const toml::table&, std::string_view prefix,
                                 std::string_view key, C&);
template <typename C>
struct TomlKey {
  std::string_view key;
  TomlKeyReader<C> read;
};

// `also_allowed`: keys of `t` another reader takes (the daemon's sections beside the engine's).
template <typename C>
Status read_table(TomlFieldReader& r, const toml::table& t, std::string_view prefix,
                  std::span<const TomlKey<std::type_identity_t<C>>> keys, C& out,
                  std::span<const std::string_view> also_allowed = {}) {
  std::vector<std::string_view> names;
  for (const TomlKey<C>& k : keys) names.push_back(k.key);
  names.insert(names.end(), also_allowed.begin(), also_allowed.end());
  KVTIER_RETURN_IF_ERROR(r.check_keys(t, prefix, names));
  for (const TomlKey<C>& k : keys) KVTIER_RETURN_IF_ERROR(k.read(r, t, prefix, k.key, out));
  return Status::Ok();
}

namespace toml_keys {
template <typename M>
struct MemberOf;
template <typename C, typename V>
struct MemberOf<V C::*> {
  using Class = C;
  using Value = V;
};
template <auto M>
using ClassOf = typename MemberOf<decltype(M)>::Class;
}  // namespace toml_keys

// The member M read by the TomlFieldReader function Read.
template <auto M, auto Read>
Status member_key(TomlFieldReader& r, const toml::table& t, std::string_view prefix,
                  std::string_view key, toml_keys::ClassOf<M>& c) {
  return (r.*Read)(t, prefix, key, c.*M);
}
template <auto M>
inline constexpr auto string_key = member_key<M, &TomlFieldReader::read_string>;
template <auto M>
inline constexpr auto bool_key = member_key<M, &TomlFieldReader::read_bool>;
template <auto M>
inline constexpr auto u32_key = member_key<M, &TomlFieldReader::read_u32>;
template <auto M>
inline constexpr auto double_key = member_key<M, &TomlFieldReader::read_double>;
template <auto M>
inline constexpr auto size_key = member_key<M, &TomlFieldReader::read_size>;
template <auto M, std::uint64_t kMax>
Status count_key(TomlFieldReader& r, const toml::table& t, std::string_view prefix,
                 std::string_view key, toml_keys::ClassOf<M>& c) {
  return r.read_count(t, prefix, key, kMax, c.*M);
}
// A std::optional member whose absence means "the default", not a value: set only when the key
// is there, by Read.
template <auto M, auto Read>
Status optional_key(TomlFieldReader& r, const toml::table& t, std::string_view prefix,
                    std::string_view key, toml_keys::ClassOf<M>& c) {
  if (t.get(key) == nullptr) return Status::Ok();
  typename toml_keys::MemberOf<decltype(M)>::Value::value_type v{};
  KVTIER_RETURN_IF_ERROR((r.*Read)(t, prefix, key, v));
  c.*M = v;
  return Status::Ok();
}
// A string key naming one of a fixed set of values (an enum): `choices` pairs each name with its
// value. Any other name is "<field> = "x" is invalid: must be "a", "b" or "c"".
template <typename E>
struct TomlChoice {
  std::string_view name;
  E value;
};
template <auto M, const auto& kChoices>
Status choice_key(TomlFieldReader& r, const toml::table& t, std::string_view prefix,
                  std::string_view key, toml_keys::ClassOf<M>& c) {
  const toml::node* node = t.get(key);
  std::string name;
  KVTIER_RETURN_IF_ERROR(r.read_string(t, prefix, key, name));
  if (node == nullptr) return Status::Ok();
  std::string allowed;
  for (std::size_t i = 0; i < std::size(kChoices); ++i) {
    if (kChoices[i].name == name) {
      c.*M = kChoices[i].value;
      return Status::Ok();
    }
    allowed += (i == 0 ? "\"" : i + 1 == std::size(kChoices) ? " or \"" : ", \"");
    allowed += std::string(kChoices[i].name) + "\"";
  }
  return Status::InvalidArgument(r.at(*node) + TomlFieldReader::join(prefix, key) + " = \"" +
                                 name + "\" is invalid: must be " + allowed);
}

// A sub-table ([prefix.key]) read with its own schema.
template <auto M, const auto& kKeys>
Status table_key(TomlFieldReader& r, const toml::table& t, std::string_view prefix,
                 std::string_view key, toml_keys::ClassOf<M>& c) {
  const toml::table* sub = nullptr;
  KVTIER_RETURN_IF_ERROR(r.get_table(t, prefix, key, sub));
  if (sub == nullptr) return Status::Ok();
  return read_table(r, *sub, TomlFieldReader::join(prefix, key), kKeys, c.*M);
}
template <auto M, std::uint64_t kMax = std::numeric_limits<std::int64_t>::max()>
Status duration_key(TomlFieldReader& r, const toml::table& t, std::string_view prefix,
                  std::string_view key, toml_keys::ClassOf<M>& c) {
  using Duration = typename toml_keys::MemberOf<decltype(M)>::Value;
  auto v = static_cast<std::uint64_t>((c.*M).count());
  KVTIER_RETURN_IF_ERROR(r.read_count(t, prefix, key, kMax, v));
  c.*M = Duration(static_cast<typename Duration::rep>(v));
  return Status::Ok();
}

// Every key of the config files, section by section ("" for the top level, "nvme.devices"), so
// that docs/CONFIG.md can be checked against the schemas (tests/server/config_doc_test.cpp).
using ConfigKeyVisitor = std::function<void(std::string_view section, std::string_view key)>;
template <typename C, std::size_t N>
void visit_keys(std::string_view section, const TomlKey<C> (&keys)[N],
                const ConfigKeyVisitor& visit) {
  for (const TomlKey<C>& k : keys) visit(section, k.key);
}

// Parses `text` (named `source` in messages) as TOML and hands the document to `read`. A syntax
// error is InvalidArgument "<source>:<line>:<col>: TOML syntax error: ..."; toml++ throws, and
// nothing thrown leaves this function.
Status read_toml_document(std::string_view text, const std::string& source,
                          const std::function<Status(const toml::table& root)>& read);

// The whole text of a config file: IOError "cannot open config file <path>: <errno text>" (or
// "cannot read ..."), InvalidArgument when it is larger than kMaxConfigFileBytes.
Result<std::string> read_config_file_text(const std::string& path);

}  // namespace kvtier
