// kvtier.Client: the C++ client (include/kvtier/client.h) in Python, with zero-copy values.
//
// Values are read from and written into the caller's own buffers (BufferView: numpy arrays,
// bytearray, memoryview, torch CPU tensors), with the GIL released for every blocking call, so
// other Python threads run while a call waits on the daemon. Only get() without an `out` buffer
// allocates (the bytes it returns).
//
// A cache miss is a normal answer, not an exception: get() returns None (or -1 into a buffer), and
// remove / pin / unpin return False. Batch calls return one entry per item: a size or None for a
// success, -1 for a miss, and an *unraised* kvtier.Error instance for an item that failed, like
// asyncio.gather(return_exceptions=True). Errors of the whole call are raised.
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "bindings.h"
#include "buffer_view.h"
#include "errors.h"
#include "kvtier/client.h"

namespace kvtier::python {
namespace {

// One daemon connection and the lock that serializes its calls: a C++ Client is not safe for
// concurrent use, but Python threads sharing a kvtier.Client (with the GIL released) would use it
// concurrently. Shared by the Python Client and by every SharedMemory registered on it, because
// the Client owns those mappings: a numpy view of a region keeps the mapping (and so the
// connection) alive after Client.close().
struct Connection {
  std::mutex mu;
  std::unique_ptr<Client> client;  // never null
};

// A region registered with register_shared_memory. Exposes its memory as a writable buffer.
struct SharedMemory {
  std::shared_ptr<Connection> connection;
  SharedRegion region;
};

// get() without `out` first offers a buffer of this size, then (told the value's size by a
// BufferTooSmall answer) one of exactly that size: one round trip for most values, two for
// larger ones, and never a buffer of max_value_bytes.
constexpr std::size_t kFirstGetBytes = 4 << 20;
// A value may be replaced by a larger one between two attempts; give up after this many.
constexpr int kGetAttempts = 3;

py::object miss_or_error(const GetResult& r) {
  if (r.status.ok()) return py::int_(r.size);
  if (r.status.is_not_found()) return py::int_(-1);
  return status_exception(r.status, r.size);
}

Key key_arg(py::handle obj, const std::string& what) {
  if (!py::isinstance<Key>(obj)) {
    throw_python(PyExc_TypeError, what + " must be a kvtier.Key, not " +
                                      std::string(Py_TYPE(obj.ptr())->tp_name));
  }
  return obj.cast<Key>();
}

std::uint64_t u64_arg(py::handle obj, const std::string& what) {
  PyObject* index = PyNumber_Index(obj.ptr());
  if (index == nullptr) {
    PyErr_Clear();
    throw_python(PyExc_TypeError, what + " must be an integer");
  }
  const unsigned long long v = PyLong_AsUnsignedLongLong(index);
  Py_DECREF(index);
  if (PyErr_Occurred()) {
    PyErr_Clear();
    throw_python(PyExc_ValueError, what + " must be in [0, 2**64)");
  }
  return v;
}

std::string item_name(const char* what, std::size_t i) {
  return std::string(what) + "[" + std::to_string(i) + "]";
}

// items[i] as a tuple of exactly `n` fields; TypeError naming the item otherwise.
py::tuple item_fields(py::handle item, std::size_t n, const char* what, std::size_t i,
                      const char* shape) {
  if (!PySequence_Check(item.ptr()) || PySequence_Size(item.ptr()) != static_cast<Py_ssize_t>(n)) {
    PyErr_Clear();
    throw_python(PyExc_TypeError, item_name(what, i) + " must be a " + shape + " tuple");
  }
  return py::tuple(py::reinterpret_borrow<py::sequence>(item));
}

class PyClient {
 public:
  PyClient(std::string address, std::string token, std::string client_name,
           std::int64_t timeout_ms, std::string tls_ca_file, std::string tls_cert_file,
           std::string tls_key_file) {
    ClientOptions options;
    options.address = std::move(address);
    options.token = std::move(token);
    options.client_name = std::move(client_name);
    options.timeout = std::chrono::milliseconds(timeout_ms);
    options.tls_ca_file = std::move(tls_ca_file);
    options.tls_cert_file = std::move(tls_cert_file);
    options.tls_key_file = std::move(tls_key_file);
    Result<std::unique_ptr<Client>> connected = Status::Closed("not connected");
    {
      py::gil_scoped_release unlocked;
      connected = Client::connect(options);
    }
    if (!connected.ok()) throw_status(connected.status());
    connection_ = std::make_shared<Connection>();
    connection_->client = std::move(*connected);
    info_ = connection_->client->server_info();
    address_ = options.address;
  }

  const ServerInfo& server_info() const { return info_; }
  bool closed() const { return connection_ == nullptr; }

  // Drops this object's hold on the connection: it closes now unless a SharedMemory of it is
  // still referenced (then when the last one goes). Later calls raise ClosedError.
  void close() { connection_.reset(); }

  void ping(py::handle payload) {
    BufferView view(payload, BufferView::Access::kRead, "payload");
    const auto bytes = view.const_bytes();
    check(call(
        [&](Client& c) {
          return c.ping(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
        },
        view.pinned()));
  }

  void put(const Key& key, py::handle value, bool durable) {
    BufferView view(value, BufferView::Access::kRead, "value");
    const PutOptions options{.durable = durable};
    check(call([&](Client& c) { return c.put(key, view.const_bytes(), options); }, view.pinned()));
  }

  py::object get(const Key& key, py::handle out) {
    if (!out.is_none()) {
      BufferView view(out, BufferView::Access::kWrite, "out");
      const GetResult r = call([&](Client& c) { return c.get(key, view.bytes()); }, view.pinned());
      if (r.status.is_not_found()) return py::int_(-1);
      if (!r.status.ok()) throw_status(r.status, r.size);
      return py::int_(r.size);
    }
    return get_bytes(key);
  }

  PrefixMatch lookup(const std::vector<Key>& chain) {
    Result<PrefixMatch> r = call([&](Client& c) { return c.lookup(chain); });
    if (!r.ok()) throw_status(r.status());
    return *r;
  }

  py::list put_many(py::iterable items, bool durable) {
    std::vector<Key> keys;
    std::vector<BufferView> views;
    for (py::handle item : items) {
      py::tuple f = item_fields(item, 2, "items", keys.size(), "(key, value)");
      keys.push_back(key_arg(f[0], "key of " + item_name("items", keys.size())));
      const std::string name = item_name("value of items", views.size());
      views.emplace_back(f[1], BufferView::Access::kRead, name.c_str());
    }
    std::vector<PutItem> batch(keys.size());
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i] = {keys[i], views[i].const_bytes()};
    std::vector<Status> out(batch.size());
    const PutOptions options{.durable = durable};
    if (!batch.empty()) {
      check(call([&](Client& c) { return c.put_many(batch, out, options); }, all_pinned(views)));
    }
    return put_results(out);
  }

  py::list get_many(py::iterable items) {
    std::vector<Key> keys;
    std::vector<BufferView> views;
    for (py::handle item : items) {
      py::tuple f = item_fields(item, 2, "items", keys.size(), "(key, out)");
      keys.push_back(key_arg(f[0], "key of " + item_name("items", keys.size())));
      const std::string name = item_name("out of items", views.size());
      views.emplace_back(f[1], BufferView::Access::kWrite, name.c_str());
    }
    std::vector<GetItem> batch(keys.size());
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i] = {keys[i], views[i].bytes()};
    std::vector<GetResult> out(batch.size());
    if (!batch.empty()) check(call([&](Client& c) { return c.get_many(batch, out); }, all_pinned(views)));
    return get_results(out);
  }

  bool remove(const Key& key) {
    return found(call([&](Client& c) { return c.remove(key); }));
  }
  bool pin(const Key& key, std::int64_t lease_ms) {
    return found(call([&](Client& c) { return c.pin(key, std::chrono::milliseconds(lease_ms)); }));
  }
  bool unpin(const Key& key) {
    return found(call([&](Client& c) { return c.unpin(key); }));
  }

  std::string stats() {
    Result<std::string> r = call([&](Client& c) { return c.stats(); });
    if (!r.ok()) throw_status(r.status());
    return std::move(r).value();
  }

  std::shared_ptr<SharedMemory> register_shared_memory(std::size_t bytes) {
    std::shared_ptr<Connection> connection = live();
    Result<SharedRegion> r = call([&](Client& c) { return c.register_shared_memory(bytes); });
    if (!r.ok()) throw_status(r.status());
    return std::make_shared<SharedMemory>(SharedMemory{std::move(connection), *r});
  }

  py::list get_many_shm(const SharedMemory& region, py::iterable items) {
    check_owner(region);
    std::vector<ShmGet> batch;
    for (py::handle item : items) {
      py::tuple f = item_fields(item, 3, "items", batch.size(), "(key, offset, capacity)");
      const std::string name = item_name("items", batch.size());
      batch.push_back({key_arg(f[0], "key of " + name), u64_arg(f[1], "offset of " + name),
                       u64_arg(f[2], "capacity of " + name)});
    }
    std::vector<GetResult> out(batch.size());
    if (!batch.empty()) {
      check(call([&](Client& c) { return c.get_many_shm(region.region, batch, out); }));
    }
    return get_results(out);
  }

  py::list put_many_shm(const SharedMemory& region, py::iterable items, bool durable) {
    check_owner(region);
    std::vector<ShmPut> batch;
    for (py::handle item : items) {
      py::tuple f = item_fields(item, 3, "items", batch.size(), "(key, offset, size)");
      const std::string name = item_name("items", batch.size());
      batch.push_back({key_arg(f[0], "key of " + name), u64_arg(f[1], "offset of " + name),
                       u64_arg(f[2], "size of " + name)});
    }
    std::vector<Status> out(batch.size());
    if (!batch.empty()) {
      const PutOptions options{.durable = durable};
      check(call([&](Client& c) { return c.put_many_shm(region.region, batch, out, options); }));
    }
    return put_results(out);
  }

  std::string repr() const {
    return "kvtier.Client(address=" + std::string(py::repr(py::str(address_))) +
           (closed() ? ", closed)" : ", tenant=" + std::string(py::repr(py::str(info_.tenant))) + ")");
  }

 private:
  std::shared_ptr<Connection> live() const {
    if (!connection_) throw_status(Status::Closed("the client is closed"));
    return connection_;
  }

  // Runs fn(client) with the connection's lock, and without the GIL unless `release_gil` is false
  // (buffers that stay in place only while no Python code runs: DLPack, BufferView::pinned). The
  // connection is held by a local reference, so a close() from another thread meanwhile cannot
  // free it under us; it is released after the GIL is back (its destructor may close the socket).
  template <typename Fn>
  std::invoke_result_t<Fn&, Client&> call(Fn&& fn, bool release_gil = true) {
    std::shared_ptr<Connection> connection = live();
    std::optional<py::gil_scoped_release> unlocked;
    if (release_gil) unlocked.emplace();
    std::lock_guard<std::mutex> lock(connection->mu);
    return fn(*connection->client);
  }

  static bool all_pinned(const std::vector<BufferView>& views) {
    return std::all_of(views.begin(), views.end(), [](const BufferView& v) { return v.pinned(); });
  }

  static void check(const Status& s) {
    if (!s.ok()) throw_status(s);
  }
  // remove / pin / unpin: a miss is False, not an exception.
  static bool found(const Status& s) {
    if (s.is_not_found()) return false;
    check(s);
    return true;
  }

  void check_owner(const SharedMemory& region) const {
    if (region.connection != live()) {
      throw_status(Status::InvalidArgument(
          "this SharedMemory was registered on another client: regions belong to the "
          "connection that registered them"));
    }
  }

  static py::list put_results(const std::vector<Status>& out) {
    py::list results(out.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
      results[i] = out[i].ok() ? py::object(py::none()) : status_exception(out[i]);
    }
    return results;
  }
  static py::list get_results(const std::vector<GetResult>& out) {
    py::list results(out.size());
    for (std::size_t i = 0; i < out.size(); ++i) results[i] = miss_or_error(out[i]);
    return results;
  }

  // get() without `out`: bytes or None. Reads straight into a new bytes object (nobody else
  // can see it yet, so it may be written without the GIL), shrunk to the value's size after.
  py::object get_bytes(const Key& key) {
    std::size_t capacity = kFirstGetBytes;
    for (int attempt = 0; attempt < kGetAttempts; ++attempt) {
      PyObject* raw = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(capacity));
      if (raw == nullptr) throw py::error_already_set();
      py::object value = py::reinterpret_steal<py::object>(raw);
      std::span<std::byte> dst(reinterpret_cast<std::byte*>(PyBytes_AS_STRING(raw)), capacity);
      const GetResult r = call([&](Client& c) { return c.get(key, dst); });
      if (r.status.is_not_found()) return py::none();
      if (r.status.ok()) {
        if (r.size == capacity) return value;
        // _PyBytes_Resize is the C API's way to finish a bytes object being built; it takes
        // over the reference (and clears it on failure).
        raw = value.release().ptr();
        if (_PyBytes_Resize(&raw, static_cast<Py_ssize_t>(r.size)) != 0) {
          throw py::error_already_set();
        }
        return py::reinterpret_steal<py::object>(raw);
      }
      if (r.status.code() != StatusCode::kBufferTooSmall) throw_status(r.status, r.size);
      capacity = r.size;  // the daemon said how large it is (it may change again: a new put)
    }
    throw_status(Status::Busy("the value kept changing size while it was read; retry"));
  }

  std::shared_ptr<Connection> connection_;  // null once closed
  ServerInfo info_;
  std::string address_;
};

}  // namespace

void bind_client(py::module_& m) {
  const ClientOptions defaults;

  py::class_<ServerInfo>(m, "ServerInfo", "What the daemon announced when the client connected.")
      .def_readonly("version", &ServerInfo::version, "protocol version in use")
      .def_readonly("tenant", &ServerInfo::tenant, "the tenant this connection acts as")
      .def_readonly("max_value_bytes", &ServerInfo::max_value_bytes, "largest value a put may carry")
      .def_readonly("max_batch", &ServerInfo::max_batch, "most items in one lookup / *_many")
      .def_readonly("max_data_bytes", &ServerInfo::max_data_bytes, "most value bytes in one request")
      .def_property_readonly(
          "shared_memory", [](const ServerInfo& i) { return i.has(kCapabilitySharedMemory); },
          "whether the *_shm calls are served on this connection (the daemon's Unix socket)")
      .def_property_readonly(
          "durable_put", [](const ServerInfo& i) { return i.has(kCapabilityDurablePut); },
          "whether puts with durable=True are served (the daemon has an NVMe tier)")
      .def("__repr__", [](const ServerInfo& i) {
        return "kvtier.ServerInfo(version=" + std::to_string(i.version) + ", tenant=" +
               std::string(py::repr(py::str(i.tenant))) +
               ", max_value_bytes=" + std::to_string(i.max_value_bytes) +
               ", max_batch=" + std::to_string(i.max_batch) +
               ", max_data_bytes=" + std::to_string(i.max_data_bytes) +
               ", shared_memory=" + (i.has(kCapabilitySharedMemory) ? "True" : "False") +
               ", durable_put=" + (i.has(kCapabilityDurablePut) ? "True" : "False") + ")";
      });

  py::class_<PrefixMatch>(m, "PrefixMatch", "The answer to lookup(): the cached leading run.")
      .def_readonly("cached", &PrefixMatch::cached, "leading keys cached in some tier")
      .def_readonly("in_dram", &PrefixMatch::in_dram, "of those, found in DRAM")
      .def_readonly("in_nvme", &PrefixMatch::in_nvme, "of those, found only on NVMe")
      .def_readonly("in_shared", &PrefixMatch::in_shared, "of those, found only in the shared tier")
      .def("__repr__", [](const PrefixMatch& p) {
        return "kvtier.PrefixMatch(cached=" + std::to_string(p.cached) +
               ", in_dram=" + std::to_string(p.in_dram) + ", in_nvme=" + std::to_string(p.in_nvme) +
               ", in_shared=" + std::to_string(p.in_shared) + ")";
      });

  py::class_<SharedMemory, std::shared_ptr<SharedMemory>>(
      m, "SharedMemory", py::buffer_protocol(),
      "Memory shared with the daemon (a sealed memfd), from Client.register_shared_memory. It is "
      "a writable buffer: numpy.frombuffer(region, dtype, count, offset) views it without a "
      "copy. get_many_shm / put_many_shm move values between it and the store, and no value "
      "byte crosses the socket. Use 4 KiB-aligned offsets: NVMe reads then land in it directly. "
      "The memory stays valid while this object or any view of it is referenced, even after "
      "the client is closed.")
      .def_buffer([](SharedMemory& s) {
        return py::buffer_info(s.region.memory.data(), 1, py::format_descriptor<std::uint8_t>::format(),
                               1, {static_cast<py::ssize_t>(s.region.memory.size())}, {1},
                               /*readonly=*/false);
      })
      .def_property_readonly("id", [](const SharedMemory& s) { return s.region.id; },
                             "the daemon's id of this region on its connection")
      .def_property_readonly("size", [](const SharedMemory& s) { return s.region.memory.size(); },
                             "bytes (the size asked for, rounded up to 4 KiB)")
      .def_property_readonly("memory", [](py::object self) { return py::memoryview(self); },
                             "a writable memoryview of the whole region")
      .def("__len__", [](const SharedMemory& s) { return s.region.memory.size(); })
      .def("__repr__", [](const SharedMemory& s) {
        return "kvtier.SharedMemory(id=" + std::to_string(s.region.id) +
               ", size=" + std::to_string(s.region.memory.size()) + ")";
      });

  py::class_<PyClient>(
      m, "Client",
      "One connection to kvtierd (docs/CLIENTS.md, 'Python'). Calls on one Client are "
      "serialized; use one Client per thread for parallel requests. Usable as a context manager "
      "(closed on exit).")
      .def(py::init<std::string, std::string, std::string, std::int64_t, std::string,
                    std::string, std::string>(),
           py::arg("address") = defaults.address, py::arg("token") = defaults.token,
           py::arg("client_name") = "kvtier-python",
           py::arg("timeout_ms") = static_cast<std::int64_t>(defaults.timeout.count()),
           py::kw_only(), py::arg("tls_ca_file") = "", py::arg("tls_cert_file") = "",
           py::arg("tls_key_file") = "",
           "Connects and says HELLO. address: 'unix:PATH', 'tcp:HOST:PORT', 'HOST:PORT', "
           "'tls:HOST:PORT' (TLS 1.3) or a path. token: the tenant's token (required on TCP "
           "unless a client certificate names the tenant). timeout_ms: longest wait for one "
           "call. tls_ca_file: PEM the daemon's certificate must chain to (default: the "
           "system's CAs); tls_cert_file and tls_key_file: this client's certificate for mutual "
           "TLS. Raises IOError when nothing listens or TLS fails, InvalidArgumentError for a "
           "bad address or a refused token.")
      .def_property_readonly("server_info", &PyClient::server_info)
      .def_property_readonly("closed", &PyClient::closed)
      .def("ping", &PyClient::ping, py::arg("payload") = py::bytes(),
           "Round trip; the daemon echoes the payload (<= 1 KiB).")
      .def("put", &PyClient::put, py::arg("key"), py::arg("value"), py::arg("durable") = false,
           "Stores the bytes of `value` (any C-contiguous buffer: numpy array, bytes, memoryview, "
           "torch CPU tensor), read in place. durable=True: returns only once the value is "
           "durable on the daemon (its NVMe tier, synced; ServerInfo.durable_put), so a crash "
           "of the daemon after it does not lose it; RejectedError where that is not offered.")
      .def("get", &PyClient::get, py::arg("key"), py::arg("out") = py::none(),
           "With `out` (a writable C-contiguous buffer): writes the value into it and returns "
           "its size, or -1 on a miss; BufferTooSmallError (with .size) when it does not fit. "
           "Without: returns the value as bytes, or None on a miss.")
      .def("lookup", &PyClient::lookup, py::arg("keys"),
           "The longest cached prefix of the chain `keys`, in one round trip: a PrefixMatch.")
      .def("put_many", &PyClient::put_many, py::arg("items"), py::arg("durable") = false,
           "items: (key, value) pairs. One round trip. Returns one entry per item: None when "
           "stored (and durable, with durable=True: see put), else the kvtier.Error (not raised).")
      .def("get_many", &PyClient::get_many, py::arg("items"),
           "items: (key, out) pairs, out a writable buffer. One round trip. Returns one entry "
           "per item: the size, -1 on a miss, or the kvtier.Error (not raised).")
      .def("remove", &PyClient::remove, py::arg("key"),
           "Removes the block from every tier; False when it was not cached.")
      .def("pin", &PyClient::pin, py::arg("key"), py::arg("lease_ms"),
           "Keeps the block in DRAM for lease_ms (or until unpin); False when it is not cached.")
      .def("unpin", &PyClient::unpin, py::arg("key"), "False when it is not cached.")
      .def("stats", &PyClient::stats, "Every daemon counter, in the Prometheus text format.")
      .def("register_shared_memory", &PyClient::register_shared_memory, py::arg("size"),
           "Creates a memfd of `size` bytes (rounded up to 4 KiB), maps it and registers it with "
           "the daemon: a SharedMemory. Unix socket only.")
      .def("get_many_shm", &PyClient::get_many_shm, py::arg("region"), py::arg("items"),
           "items: (key, offset, capacity) triples; the daemon writes each value into the "
           "region at offset. Returns one entry per item: the size, -1 on a miss, or the "
           "kvtier.Error (not raised).")
      .def("put_many_shm", &PyClient::put_many_shm, py::arg("region"), py::arg("items"),
           py::arg("durable") = false,
           "items: (key, offset, size) triples; the daemon stores the region's bytes there. "
           "Returns one entry per item: None when stored (and durable, with durable=True: see "
           "put), else the kvtier.Error (not raised).")
      .def("close", &PyClient::close, "Closes the connection (idempotent).")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](PyClient& c, py::args) { c.close(); })
      .def("__repr__", &PyClient::repr);
}

}  // namespace kvtier::python
