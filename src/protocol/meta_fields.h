// Field lists: each message of meta.h declares its meta once, as the ordered list of its fields,
// and encode, decode and the wire size of list items all follow from that list. A message (or a
// list item) declares
//
//   static auto fields(auto& m) { return std::tuple{field("key", m.key), ...}; }
//
// which yields references into `m` (const when encoding, mutable when decoding). Field kinds:
//   field(name, v)               a fixed-width value: an unsigned integer (little-endian), a Key
//                                (16 bytes) or a StatusCode (u32, refused unless it names a code)
//   bytes_field(name, max, s)    u32 length + bytes, at most `max` (TooLarge above it)
//   list_field(v)                u32 count + items back to back; an item is a Key or a struct
//                                with its own fixed-width fields(); at most max_batch items
//   since_version(n, ver, f)     field f only from protocol version n on, `ver` being a version
//                                field earlier in the same message (HELLO's response)
//
// Thread-safety: pure functions of their arguments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "kvtier/key.h"
#include "kvtier/status.h"
#include "protocol/frame.h"
#include "protocol/meta_io.h"

namespace kvtier::protocol {

template <typename T>
struct Field {
  std::string_view name;
  T& value;
};
template <typename S>
struct BytesField {
  std::string_view name;
  std::size_t max_len;
  S& value;
};
template <typename V>
struct ListField {
  V& items;
};

template <typename F>
struct SinceField {
  std::uint16_t since;
  const std::uint16_t& version;  // read before this field, when decoding
  F inner;
};

template <typename T>
constexpr Field<T> field(std::string_view name, T& value) {
  return {name, value};
}
template <typename S>
constexpr BytesField<S> bytes_field(std::string_view name, std::size_t max_len, S& value) {
  return {name, max_len, value};
}
template <typename V>
constexpr ListField<V> list_field(V& items) {
  return {items};
}
template <typename F>
constexpr SinceField<F> since_version(std::uint16_t since, const std::uint16_t& version, F inner) {
  return {since, version, inner};
}

namespace meta_fields {

// Whether the field F is a Kind<...>: a BytesField, a ListField or a SinceField.
template <typename F, template <typename> class Kind>
inline constexpr bool kIs = false;
template <typename T, template <typename> class Kind>
inline constexpr bool kIs<Kind<T>, Kind> = true;

template <typename M>
using FieldsOf = decltype(M::fields(std::declval<M&>()));

// Bytes a fixed-width value takes on the wire: what list_count checks a count against.
template <typename T>
constexpr std::size_t wire_bytes();

template <typename F>
constexpr std::size_t field_wire_bytes() {
  static_assert(!kIs<F, BytesField> && !kIs<F, ListField> && !kIs<F, SinceField>,
                "a list item has fixed-width fields only");
  using Value = std::remove_cvref_t<decltype(std::declval<F>().value)>;
  return wire_bytes<Value>();
}

template <typename T>
constexpr std::size_t wire_bytes() {
  if constexpr (std::is_same_v<T, Key>) {
    return kKeyBytes;
  } else if constexpr (std::is_same_v<T, StatusCode>) {
    return sizeof(std::uint32_t);
  } else if constexpr (std::is_unsigned_v<T>) {
    return sizeof(T);
  } else {
    return []<std::size_t... I>(std::index_sequence<I...>) {
      return (field_wire_bytes<std::tuple_element_t<I, FieldsOf<T>>>() + ... + 0);
    }(std::make_index_sequence<std::tuple_size_v<FieldsOf<T>>>{});
  }
}

// Whether a message's meta holds a list (its decoder then takes max_batch).
template <typename M>
constexpr bool has_list() {
  return []<std::size_t... I>(std::index_sequence<I...>) {
    return (kIs<std::tuple_element_t<I, FieldsOf<M>>, ListField> || ...);
  }(std::make_index_sequence<std::tuple_size_v<FieldsOf<M>>>{});
}

template <typename M>
void write_fields(MetaWriter& w, const M& m);

template <typename T>
void write_value(MetaWriter& w, const T& v) {
  if constexpr (std::is_same_v<T, Key>) {
    w.keys({&v, 1});
  } else if constexpr (std::is_same_v<T, StatusCode>) {
    w.integer(static_cast<std::uint32_t>(v));
  } else if constexpr (std::is_unsigned_v<T>) {
    w.integer(v);
  } else {
    write_fields(w, v);
  }
}

template <typename F>
void write_field(MetaWriter& w, const F& f) {
  if constexpr (kIs<F, SinceField>) {
    if (f.version >= f.since) write_field(w, f.inner);
  } else if constexpr (kIs<F, BytesField>) {
    w.bytes(f.value);
  } else if constexpr (kIs<F, ListField>) {
    w.count(f.items.size());
    using Item = typename std::remove_cvref_t<decltype(f.items)>::value_type;
    if constexpr (std::is_same_v<Item, Key>) {
      w.keys(f.items);
    } else {
      for (const Item& item : f.items) write_value(w, item);
    }
  } else {
    write_value(w, f.value);
  }
}

template <typename M>
void write_fields(MetaWriter& w, const M& m) {
  std::apply([&w](const auto&... f) { (write_field(w, f), ...); }, M::fields(m));
}

template <typename M>
Status read_fields(MetaReader& r, M& m, std::size_t index, std::uint32_t max_batch);

// `index` is the list item being read, named in the error of a status that is not a code.
template <typename T>
Status read_value(MetaReader& r, std::string_view name, std::size_t index, T* out) {
  if constexpr (std::is_same_v<T, Key>) {
    return r.keys(name, {out, 1});
  } else if constexpr (std::is_same_v<T, StatusCode>) {
    std::uint32_t raw = 0;
    KVTIER_RETURN_IF_ERROR(r.integer(name, &raw));
    std::optional<StatusCode> code = status_code_from_wire(raw);
    if (!code) {
      return r.invalid("item " + std::to_string(index) + " status " + std::to_string(raw) +
                       " is not a status code");
    }
    *out = *code;
    return Status::Ok();
  } else if constexpr (std::is_unsigned_v<T>) {
    return r.integer(name, out);
  } else {
    return read_fields(r, *out, index, 0);
  }
}

template <typename F>
Status read_field(MetaReader& r, const F& f, std::size_t index, std::uint32_t max_batch) {
  if constexpr (kIs<F, SinceField>) {
    return f.version >= f.since ? read_field(r, f.inner, index, max_batch) : Status::Ok();
  } else if constexpr (kIs<F, BytesField>) {
    return r.bytes(f.name, f.max_len, &f.value);
  } else if constexpr (kIs<F, ListField>) {
    using Item = typename std::remove_cvref_t<decltype(f.items)>::value_type;
    // The count is checked against the bytes left (and max_batch) before anything is allocated,
    // so the allocation is bounded by the meta's size.
    static_assert(wire_bytes<Item>() > 0, "the bytes-left check bounds the allocation");
    std::uint32_t n = 0;
    KVTIER_RETURN_IF_ERROR(r.list_count("list", wire_bytes<Item>(), max_batch, &n));
    f.items.assign(n, Item{});
    if constexpr (std::is_same_v<Item, Key>) {
      return r.keys("key", f.items);
    } else {
      for (std::size_t i = 0; i < n; ++i) {
        KVTIER_RETURN_IF_ERROR(read_value(r, "item", i, &f.items[i]));
      }
      return Status::Ok();
    }
  } else {
    return read_value(r, f.name, index, &f.value);
  }
}

template <typename M>
Status read_fields(MetaReader& r, M& m, std::size_t index, std::uint32_t max_batch) {
  return std::apply(
      [&](const auto&... f) {
        Status s;
        (void)((s = read_field(r, f, index, max_batch)).ok() && ...);
        return s;
      },
      M::fields(m));
}

}  // namespace meta_fields
}  // namespace kvtier::protocol
