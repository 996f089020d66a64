// Block keys in Python: kvtier.Key, kvtier.ModelLayout, namespace_key, chain_key, chunk_keys. They
// call the C++ implementation (src/keys/key.cpp), so Python computes byte for byte the keys the
// daemon and the C++ clients compute (docs/KEYS.md); python/tests/test_keys.py checks the vectors.
#include <pybind11/operators.h>
#include <pybind11/stl.h>

#include <climits>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bindings.h"
#include "buffer_view.h"
#include "errors.h"
#include "kvtier/key.h"

namespace kvtier::python {
namespace {

constexpr std::uint64_t kMaxToken = UINT32_MAX;

[[noreturn]] void throw_token_range(std::size_t index, long long value) {
  throw_python(PyExc_ValueError, "tokens[" + std::to_string(index) + "] = " +
                                     std::to_string(value) +
                                     " is not a token id: ids are u32, in [0, 4294967295]");
}

// Token ids as u32, borrowed from the caller's array when it already is a C-contiguous u32 buffer
// (numpy.uint32), else converted: from any 1-D integer buffer (numpy int64, int32, ...) or any
// iterable of integers (a list). Every id is range-checked, never truncated.
class TokenIds {
 public:
  explicit TokenIds(py::handle obj) {
    if (PyUnicode_Check(obj.ptr()) || PyBytes_Check(obj.ptr()) || PyByteArray_Check(obj.ptr())) {
      throw_python(PyExc_TypeError,
                   "tokens must be integer token ids (a list or a 1-D numpy integer array), not " +
                       std::string(Py_TYPE(obj.ptr())->tp_name));
    }
    if (PyObject_CheckBuffer(obj.ptr()) && from_buffer(obj)) return;
    from_iterable(obj);
  }
  TokenIds(const TokenIds&) = delete;
  TokenIds& operator=(const TokenIds&) = delete;

  std::span<const std::uint32_t> span() const { return span_; }

 private:
  // False when the buffer is not native-endian (read element by element instead).
  bool from_buffer(py::handle obj) {
    if (PyObject_GetBuffer(obj.ptr(), &view_, PyBUF_RECORDS_RO) != 0) throw py::error_already_set();
    held_.view = &view_;
    const char* format = view_.format != nullptr ? view_.format : "B";
    if (*format == '>' || *format == '!') return release_and_fail();
    if (*format == '@' || *format == '=' || *format == '<') ++format;
    const char code = format[0];
    if (code == '\0' || format[1] != '\0' || std::strchr("bBhHiIlLqQnN", code) == nullptr) {
      throw_python(PyExc_TypeError, std::string("tokens must be integers, got a buffer of format '") +
                                        view_.format + "'");
    }
    if (view_.ndim != 1) {
      throw_python(PyExc_TypeError,
                   "tokens must be 1-D, got " + std::to_string(view_.ndim) + " dimensions");
    }
    const bool is_signed = code >= 'a' && code <= 'z';
    const auto itemsize = static_cast<std::size_t>(view_.itemsize);
    const std::size_t n = static_cast<std::size_t>(view_.shape[0]);
    const Py_ssize_t stride = view_.strides[0];
    if (!is_signed && itemsize == 4 && stride == 4) {  // numpy.uint32, contiguous: no copy
      span_ = {static_cast<const std::uint32_t*>(view_.buf), n};
      return true;
    }
    owned_.resize(n);
    const auto* base = static_cast<const char*>(view_.buf);
    for (std::size_t i = 0; i < n; ++i) {
      const char* p = base + static_cast<Py_ssize_t>(i) * stride;
      owned_[i] = read_element(p, itemsize, is_signed, i);
    }
    span_ = owned_;
    return true;
  }

  bool release_and_fail() {
    held_.release();
    return false;
  }

  static std::uint32_t read_element(const char* p, std::size_t itemsize, bool is_signed,
                                    std::size_t index) {
    if (is_signed) {
      long long v = 0;
      switch (itemsize) {
        case 1: { std::int8_t x; std::memcpy(&x, p, 1); v = x; break; }
        case 2: { std::int16_t x; std::memcpy(&x, p, 2); v = x; break; }
        case 4: { std::int32_t x; std::memcpy(&x, p, 4); v = x; break; }
        default: { std::int64_t x; std::memcpy(&x, p, 8); v = x; break; }
      }
      if (v < 0 || static_cast<unsigned long long>(v) > kMaxToken) throw_token_range(index, v);
      return static_cast<std::uint32_t>(v);
    }
    unsigned long long v = 0;
    switch (itemsize) {
      case 1: { std::uint8_t x; std::memcpy(&x, p, 1); v = x; break; }
      case 2: { std::uint16_t x; std::memcpy(&x, p, 2); v = x; break; }
      case 4: { std::uint32_t x; std::memcpy(&x, p, 4); v = x; break; }
      default: { std::uint64_t x; std::memcpy(&x, p, 8); v = x; break; }
    }
    if (v > kMaxToken) {
      throw_python(PyExc_ValueError, "tokens[" + std::to_string(index) + "] = " +
                                         std::to_string(v) +
                                         " is not a token id: ids are u32, in [0, 4294967295]");
    }
    return static_cast<std::uint32_t>(v);
  }

  void from_iterable(py::handle obj) {
    if (PySequence_Check(obj.ptr())) {
      const Py_ssize_t n = PySequence_Size(obj.ptr());
      if (n > 0) owned_.reserve(static_cast<std::size_t>(n));
    }
    std::size_t index = 0;
    for (py::handle item : py::iter(obj)) {
      // operator.index: ints and numpy integers pass, floats and strings do not.
      py::object as_int = py::reinterpret_steal<py::object>(PyNumber_Index(item.ptr()));
      if (!as_int) {
        PyErr_Clear();
        throw_python(PyExc_TypeError, "tokens[" + std::to_string(index) +
                                          "] must be an integer, not " +
                                          std::string(Py_TYPE(item.ptr())->tp_name));
      }
      int overflow = 0;
      const long long v = PyLong_AsLongLongAndOverflow(as_int.ptr(), &overflow);
      if (overflow != 0) throw_token_range(index, overflow > 0 ? LLONG_MAX : LLONG_MIN);
      if (v < 0 || static_cast<unsigned long long>(v) > kMaxToken) throw_token_range(index, v);
      owned_.push_back(static_cast<std::uint32_t>(v));
      ++index;
    }
    span_ = owned_;
  }

  // Releases the buffer even when the constructor throws (members are destroyed then; the
  // destructor of a half-constructed TokenIds is not run).
  struct Held {
    Py_buffer* view = nullptr;
    void release() {
      if (view != nullptr) PyBuffer_Release(view);
      view = nullptr;
    }
    ~Held() { release(); }
  };

  Py_buffer view_{};
  Held held_;
  std::vector<std::uint32_t> owned_;
  std::span<const std::uint32_t> span_;
};

Key key_from_buffer(py::handle data) {
  if (PyUnicode_Check(data.ptr())) {
    throw_python(PyExc_TypeError, "Key() takes the 16 key bytes; for a hex string use Key.from_hex");
  }
  BufferView view(data, BufferView::Access::kRead, "data");
  Key key;
  if (view.bytes().size() != key.bytes.size()) {
    throw_python(PyExc_ValueError, "a Key is 16 bytes, got " +
                                       std::to_string(view.bytes().size()));
  }
  std::memcpy(key.bytes.data(), view.bytes().data(), key.bytes.size());
  return key;
}

py::bytes key_bytes(const Key& k) {
  return py::bytes(reinterpret_cast<const char*>(k.bytes.data()), k.bytes.size());
}

Key checked_namespace_key(const ModelLayout& layout) {
  Result<Key> key = namespace_key(layout);
  if (!key.ok()) throw_status(key.status());
  return *key;
}

py::list chunk_keys_list(const Key& ns_key, py::handle tokens, std::uint32_t chunk_tokens) {
  if (chunk_tokens == 0) throw_status(Status::InvalidArgument("chunk_tokens = 0: must be > 0"));
  TokenIds ids(tokens);
  std::vector<Key> keys;
  {
    // A 128k-token prompt hashes in about 0.4 ms (docs/KEYS.md): long enough to let others run.
    py::gil_scoped_release unlocked;
    keys = chunk_keys(ns_key, ids.span(), chunk_tokens);
  }
  py::list out(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) out[i] = py::cast(keys[i]);
  return out;
}

std::string layout_repr(const ModelLayout& l) {
  auto q = [](const std::string& s) { return std::string(py::repr(py::str(s))); };
  return "kvtier.ModelLayout(model_id=" + q(l.model_id) + ", kv_dtype=" + q(l.kv_dtype) +
         ", num_layers=" + std::to_string(l.num_layers) +
         ", num_kv_heads=" + std::to_string(l.num_kv_heads) +
         ", head_dim=" + std::to_string(l.head_dim) + ", tp_rank=" + std::to_string(l.tp_rank) +
         ", tp_world_size=" + std::to_string(l.tp_world_size) +
         ", chunk_tokens=" + std::to_string(l.chunk_tokens) +
         ", layout_version=" + std::to_string(l.layout_version) + ", extra=" + q(l.extra) + ")";
}

bool layouts_equal(const ModelLayout& a, const ModelLayout& b) {
  return a.model_id == b.model_id && a.kv_dtype == b.kv_dtype && a.num_layers == b.num_layers &&
         a.num_kv_heads == b.num_kv_heads && a.head_dim == b.head_dim && a.tp_rank == b.tp_rank &&
         a.tp_world_size == b.tp_world_size && a.chunk_tokens == b.chunk_tokens &&
         a.layout_version == b.layout_version && a.extra == b.extra;
}

}  // namespace

void bind_keys(py::module_& m) {
  py::class_<Key>(m, "Key",
                  "A 128-bit block key (docs/KEYS.md). Key(data) takes the 16 bytes; "
                  "Key.from_hex(s) the 32 hex digits. Hashable, comparable, picklable.")
      .def(py::init(&key_from_buffer), py::arg("data"))
      .def_static(
          "from_hex",
          [](const std::string& hex) {
            Result<Key> key = Key::from_hex(hex);
            if (!key.ok()) throw_status(key.status());
            return *key;
          },
          py::arg("hex"), "Parses 32 hex digits (either case); InvalidArgumentError otherwise.")
      .def_property_readonly("bytes", &key_bytes, "The 16 key bytes.")
      .def("__bytes__", &key_bytes)
      .def("hex", &Key::hex, "32 lower-case hex digits, byte 0 first.")
      .def("__str__", &Key::hex)
      .def("__repr__", [](const Key& k) { return "kvtier.Key.from_hex('" + k.hex() + "')"; })
      .def(py::self == py::self)
      .def(py::self != py::self)
      // word0 is what the C++ indexes hash on: uniform, so a fine Python hash too.
      .def("__hash__", [](const Key& k) { return static_cast<Py_ssize_t>(k.word0()); })
      .def(py::pickle([](const Key& k) { return key_bytes(k); },
                      [](const py::bytes& b) { return key_from_buffer(b); }));

  py::class_<ModelLayout>(
      m, "ModelLayout",
      "What a KV block depends on besides the tokens (docs/KEYS.md, 'Namespace key'). Strings "
      "are hashed as their UTF-8 bytes; integers are u32.")
      .def(py::init([](std::string model_id, std::string kv_dtype, std::uint32_t num_layers,
                       std::uint32_t num_kv_heads, std::uint32_t head_dim, std::uint32_t tp_rank,
                       std::uint32_t tp_world_size, std::uint32_t chunk_tokens,
                       std::uint32_t layout_version, std::string extra) {
             ModelLayout l;
             l.model_id = std::move(model_id);
             l.kv_dtype = std::move(kv_dtype);
             l.num_layers = num_layers;
             l.num_kv_heads = num_kv_heads;
             l.head_dim = head_dim;
             l.tp_rank = tp_rank;
             l.tp_world_size = tp_world_size;
             l.chunk_tokens = chunk_tokens;
             l.layout_version = layout_version;
             l.extra = std::move(extra);
             return l;
           }),
           py::kw_only(), py::arg("model_id") = "", py::arg("kv_dtype") = "",
           py::arg("num_layers") = 0, py::arg("num_kv_heads") = 0, py::arg("head_dim") = 0,
           py::arg("tp_rank") = 0, py::arg("tp_world_size") = 1, py::arg("chunk_tokens") = 0,
           py::arg("layout_version") = 1, py::arg("extra") = "")
      .def_readwrite("model_id", &ModelLayout::model_id)
      .def_readwrite("kv_dtype", &ModelLayout::kv_dtype)
      .def_readwrite("num_layers", &ModelLayout::num_layers)
      .def_readwrite("num_kv_heads", &ModelLayout::num_kv_heads)
      .def_readwrite("head_dim", &ModelLayout::head_dim)
      .def_readwrite("tp_rank", &ModelLayout::tp_rank)
      .def_readwrite("tp_world_size", &ModelLayout::tp_world_size)
      .def_readwrite("chunk_tokens", &ModelLayout::chunk_tokens)
      .def_readwrite("layout_version", &ModelLayout::layout_version)
      .def_readwrite("extra", &ModelLayout::extra)
      .def(
          "validate",
          [](const ModelLayout& l) {
            Status s = l.validate();
            if (!s.ok()) throw_status(s);
          },
          "Raises InvalidArgumentError naming the first field out of range.")
      .def("namespace_key", &checked_namespace_key, "Same as kvtier.namespace_key(self).")
      .def("__repr__", &layout_repr)
      .def("__eq__", [](const ModelLayout& a, const ModelLayout& b) { return layouts_equal(a, b); })
      .def("__eq__", [](const ModelLayout&, py::handle) {
        return py::reinterpret_borrow<py::object>(Py_NotImplemented);
      });  // __eq__ without __hash__: unhashable, as a mutable value should be

  m.def("namespace_key", &checked_namespace_key, py::arg("layout"),
        "key_0 of a layout. InvalidArgumentError when the layout does not validate.");
  m.def(
      "chain_key",
      [](const Key& previous, py::handle tokens) {
        TokenIds ids(tokens);
        py::gil_scoped_release unlocked;
        return chain_key(previous, ids.span());
      },
      py::arg("previous"), py::arg("tokens"),
      "first16(SHA-256(previous || tokens as u32 LE)): one link of a chain.");
  m.def("chunk_keys", &chunk_keys_list, py::arg("ns_key"), py::arg("tokens"),
        py::arg("chunk_tokens"),
        "Keys of every full chunk of `tokens` (a list or a 1-D numpy integer array of u32 ids), "
        "chained from ns_key. A trailing partial chunk has no key.");
  m.def(
      "chunk_keys",
      [](const ModelLayout& layout, py::handle tokens, std::optional<std::uint32_t> chunk_tokens) {
        return chunk_keys_list(checked_namespace_key(layout), tokens,
                               chunk_tokens.value_or(layout.chunk_tokens));
      },
      py::arg("layout"), py::arg("tokens"), py::arg("chunk_tokens") = py::none(),
      "The same from a layout: its namespace key, and its chunk_tokens unless given.");
}

}  // namespace kvtier::python
