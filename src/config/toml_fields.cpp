// TomlFieldReader, read_toml_document and read_config_file_text: the parts of reading a config
// file that every kvtier config shares (see toml_fields.h).
#include "config/toml_fields.h"

#include <cerrno>
#include <cstdio>
#include <exception>
#include <limits>

#include "config/size_parse.h"

namespace kvtier {
namespace {

std::string_view type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::none: return "nothing";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
  }
  return "an unknown type";
}

}  // namespace

Status TomlFieldReader::check_keys(const toml::table& t, std::string_view prefix,
                                   std::span<const std::string_view> allowed) {
  for (auto&& [key, value] : t) {
    bool known = false;
    for (std::string_view a : allowed) known = known || key.str() == a;
    if (known) continue;
    std::string list;
    for (std::string_view a : allowed) {
      if (!list.empty()) list += ", ";
      list += a;
    }
    const std::string section =
        prefix.empty() ? "at the top level" : "in [" + std::string(prefix) + "]";
    return Status::InvalidArgument(at(key.source()) + "unknown key \"" + join(prefix, key.str()) +
                                   "\" (allowed " + section + ": " + list + ")");
  }
  return Status::Ok();
}

Status TomlFieldReader::get_table(const toml::table& t, std::string_view prefix,
                                  std::string_view key, const toml::table*& out) {
  const toml::node* node = t.get(key);
  if (node == nullptr) return Status::Ok();
  out = node->as_table();
  if (out == nullptr) return type_error(*node, join(prefix, key), "a table");
  return Status::Ok();
}

Status TomlFieldReader::get_table_array(const toml::table& t, std::string_view prefix,
                                        std::string_view key, std::string_view element_description,
                                        std::vector<const toml::table*>& out) {
  out.clear();
  const toml::node* node = t.get(key);
  if (node == nullptr) return Status::Ok();
  const std::string field = join(prefix, key);
  const toml::array* array = node->as_array();
  if (array == nullptr) return type_error(*node, field, "an array of tables ([[" + field + "]])");
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    const toml::table* table = element.as_table();
    if (table == nullptr) {
      return type_error(element, field + "[" + std::to_string(i) + "]", element_description);
    }
    out.push_back(table);
  }
  return Status::Ok();
}

Status TomlFieldReader::read_string(const toml::table& t, std::string_view prefix,
                                    std::string_view key, std::string& out) {
  const toml::node* node = find(t, prefix, key);
  if (node == nullptr) return Status::Ok();
  const auto* v = node->as_string();
  if (v == nullptr) return type_error(*node, join(prefix, key), "a string");
  out = v->get();
  return Status::Ok();
}

Status TomlFieldReader::read_bool(const toml::table& t, std::string_view prefix,
                                  std::string_view key, bool& out) {
  const toml::node* node = find(t, prefix, key);
  if (node == nullptr) return Status::Ok();
  const auto* v = node->as_boolean();
  if (v == nullptr) return type_error(*node, join(prefix, key), "true or false");
  out = v->get();
  return Status::Ok();
}

Status TomlFieldReader::read_double(const toml::table& t, std::string_view prefix,
                                    std::string_view key, double& out) {
  const toml::node* node = find(t, prefix, key);
  if (node == nullptr) return Status::Ok();
  if (const auto* i = node->as_integer()) {
    out = static_cast<double>(i->get());
  } else if (const auto* f = node->as_floating_point()) {
    out = f->get();
  } else {
    return type_error(*node, join(prefix, key), "a number");
  }
  return Status::Ok();
}

Status TomlFieldReader::read_count(const toml::table& t, std::string_view prefix,
                                   std::string_view key, std::uint64_t max, std::uint64_t& out) {
  const toml::node* node = find(t, prefix, key);
  if (node == nullptr) return Status::Ok();
  const auto* v = node->as_integer();
  if (v == nullptr) return type_error(*node, join(prefix, key), "an integer");
  const std::int64_t value = v->get();
  if (value < 0) {
    return Status::InvalidArgument(at(*node) + join(prefix, key) + " = " + std::to_string(value) +
                                   " is invalid: must not be negative");
  }
  if (static_cast<std::uint64_t>(value) > max) {
    return Status::InvalidArgument(at(*node) + join(prefix, key) + " = " + std::to_string(value) +
                                   " is invalid: must be at most " + std::to_string(max));
  }
  out = static_cast<std::uint64_t>(value);
  return Status::Ok();
}

Status TomlFieldReader::read_u32(const toml::table& t, std::string_view prefix,
                                 std::string_view key, std::uint32_t& out) {
  std::uint64_t v = out;
  KVTIER_RETURN_IF_ERROR(read_count(t, prefix, key, std::numeric_limits<std::uint32_t>::max(), v));
  out = static_cast<std::uint32_t>(v);
  return Status::Ok();
}

Status TomlFieldReader::read_size(const toml::table& t, std::string_view prefix,
                                  std::string_view key, std::uint64_t& out) {
  const toml::node* node = t.get(key);
  if (node != nullptr && node->is_string()) {
    find(t, prefix, key);
    Result<std::uint64_t> size = parse_byte_size(node->as_string()->get());
    if (!size.ok()) {
      return Status::InvalidArgument(at(*node) + join(prefix, key) + ": " +
                                     size.status().message());
    }
    out = *size;
    return Status::Ok();
  }
  if (node != nullptr && !node->is_integer()) {
    return type_error(*node, join(prefix, key),
                      "a number of bytes (an integer, or a string such as \"64MiB\")");
  }
  return read_count(t, prefix, key, std::numeric_limits<std::uint64_t>::max(), out);
}

Status TomlFieldReader::type_error(const toml::node& node, std::string_view field,
                                   std::string_view expected) {
  return Status::InvalidArgument(at(node) + std::string(field) + ": expected " +
                                 std::string(expected) + ", got " +
                                 std::string(type_name(node.type())));
}

std::string TomlFieldReader::locate(const std::string& message) const {
  std::string field = message.substr(0, message.find_first_of(" ="));
  while (!field.empty()) {
    auto it = where_.find(field);
    if (it != where_.end()) return at(it->second);
    // The enclosing table: drop the last ".key" or "[i]".
    const std::size_t cut = field.find_last_of(".[");
    if (cut == std::string::npos) break;
    field.resize(cut);
  }
  return source_ + ": ";
}

Status TomlFieldReader::located(const Status& s) const {
  if (s.ok()) return s;
  return Status(s.code(), locate(s.message()) + s.message());
}

std::string TomlFieldReader::at(const toml::source_region& r) const {
  return source_ + ":" + std::to_string(r.begin.line) + ":" + std::to_string(r.begin.column) +
         ": ";
}

const toml::node* TomlFieldReader::find(const toml::table& t, std::string_view prefix,
                                        std::string_view key) {
  const toml::node* node = t.get(key);
  if (node != nullptr) where_[join(prefix, key)] = node->source();
  return node;
}

Status read_toml_document(std::string_view text, const std::string& source,
                          const std::function<Status(const toml::table& root)>& read) {
  try {
    toml::table root = toml::parse(text, source);
    return read(root);
  } catch (const toml::parse_error& e) {
    const toml::source_position& p = e.source().begin;
    return Status::InvalidArgument(source + ":" + std::to_string(p.line) + ":" +
                                   std::to_string(p.column) +
                                   ": TOML syntax error: " + std::string(e.description()));
  } catch (const std::exception& e) {
    return Status::InvalidArgument(source + ": cannot read the config: " + e.what());
  }
}

Result<std::string> read_config_file_text(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::FromErrno("cannot open config file " + path, errno);
  std::string text;
  char buf[8192];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
    text.append(buf, n);
    if (text.size() > kMaxConfigFileBytes) {
      std::fclose(f);
      return Status::InvalidArgument("config file " + path + " is larger than 1 MiB");
    }
  }
  const int err = errno;
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return Status::FromErrno("cannot read config file " + path, err);
  return text;
}

}  // namespace kvtier
