// BufferView: buffer protocol first (numpy, bytes, memoryview, ...), then DLPack (torch).
#include "buffer_view.h"

#include <cstdint>
#include <string>
#include <utility>

#include "errors.h"

namespace kvtier::python {
namespace {

// The DLPack ABI (dlpack.h v0.8, the legacy "dltensor" capsule every producer still exports by
// default), declared here because Debian ships no dlpack header. Only the fields read are used.
struct DLDevice {
  std::int32_t device_type;  // kDLCPU = 1, kDLCUDA = 2, kDLCUDAHost = 3 (pinned), ...
  std::int32_t device_id;
};
struct DLDataType {
  std::uint8_t code;
  std::uint8_t bits;
  std::uint16_t lanes;
};
struct DLTensor {
  void* data;
  DLDevice device;
  std::int32_t ndim;
  DLDataType dtype;
  std::int64_t* shape;
  std::int64_t* strides;  // in elements; nullptr means C-contiguous
  std::uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor* self);
};
// DLPack 1.0 ("dltensor_versioned" capsules): a version and flags that say whether the memory
// may be written and whether it is a copy.
struct DLPackVersion {
  std::uint32_t major;
  std::uint32_t minor;
};
struct DLManagedTensorVersioned {
  DLPackVersion version;
  void* manager_ctx;
  void (*deleter)(DLManagedTensorVersioned* self);
  std::uint64_t flags;
  DLTensor dl_tensor;
};
constexpr std::uint64_t kDLFlagReadOnly = 1u << 0;
constexpr std::uint64_t kDLFlagIsCopied = 1u << 1;

// Device types whose memory this process can read and write with the CPU.
constexpr std::int32_t kDLCPU = 1;
constexpr std::int32_t kDLCUDAHost = 3;   // cudaMallocHost: pinned host memory
constexpr std::int32_t kDLROCMHost = 11;  // hipMallocHost

std::string type_name(py::handle obj) {
  return py::str(py::type::handle_of(obj).attr("__qualname__"));
}

}  // namespace

BufferView::BufferView(py::handle obj, Access access, const char* what) {
  if (PyObject_CheckBuffer(obj.ptr())) {
    from_buffer(obj, access, what);
  } else if (py::hasattr(obj, "__dlpack__")) {
    from_dlpack(obj, access, what);
  } else {
    throw_python(PyExc_TypeError,
                 std::string(what) + " must support the buffer protocol (bytes, bytearray, "
                 "memoryview, numpy array) or DLPack (a torch CPU tensor), not " +
                     type_name(obj));
  }
}

BufferView::~BufferView() {
  if (has_view_) PyBuffer_Release(&view_);
  // capsule_ releases itself: a capsule that was never renamed "used_dltensor" calls the
  // tensor's deleter when it dies (the DLPack Python specification).
}

BufferView::BufferView(BufferView&& other) noexcept
    : view_(other.view_),
      has_view_(std::exchange(other.has_view_, false)),
      capsule_(std::move(other.capsule_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      pinned_(other.pinned_) {}

void BufferView::from_buffer(py::handle obj, Access access, const char* what) {
  // PyBUF_STRIDES accepts any layout, and writability is checked from `readonly` rather than
  // asked for, so a strided or read-only buffer gets the messages below, not the exporter's
  // (numpy raises ValueError, bytes BufferError).
  if (PyObject_GetBuffer(obj.ptr(), &view_, PyBUF_STRIDES) != 0) throw py::error_already_set();
  if (access == Access::kWrite && view_.readonly) {
    PyBuffer_Release(&view_);  // the destructor does not run for a constructor that throws
    throw_python(PyExc_BufferError,
                 std::string(what) + " must be writable, but this " + type_name(obj) +
                     " is read-only (use a bytearray, a numpy array or kvtier.SharedMemory)");
  }
  if (!PyBuffer_IsContiguous(&view_, 'C')) {
    PyBuffer_Release(&view_);  // the destructor does not run for a constructor that throws
    throw_python(PyExc_BufferError,
                 std::string(what) + " must be C-contiguous, but this " + type_name(obj) +
                     " is strided (copy it first, e.g. numpy.ascontiguousarray(x))");
  }
  has_view_ = true;
  data_ = static_cast<std::byte*>(view_.buf);
  size_ = static_cast<std::size_t>(view_.len);
}

// Asks for a DLPack 1.0 capsule first (it can say the memory is read-only or a copy), and falls
// back to the legacy one for producers that take no max_version (numpy before 2.0, torch before
// 2.4). A legacy export is writable by the DLPack specification: a producer that cannot signal
// read-only memory must refuse to export it (numpy does).
void BufferView::from_dlpack(py::handle obj, Access access, const char* what) {
  try {
    capsule_ = obj.attr("__dlpack__")(py::arg("max_version") = py::make_tuple(1, 0));
  } catch (py::error_already_set& e) {
    if (!e.matches(PyExc_TypeError)) throw;
    capsule_ = obj.attr("__dlpack__")();
  }
  const DLTensor* tensor = nullptr;
  if (PyCapsule_IsValid(capsule_.ptr(), "dltensor_versioned")) {
    auto* managed = static_cast<DLManagedTensorVersioned*>(
        PyCapsule_GetPointer(capsule_.ptr(), "dltensor_versioned"));
    if (managed->version.major != 1) {
      throw_python(PyExc_BufferError, std::string(what) + " speaks DLPack " +
                                          std::to_string(managed->version.major) +
                                          ", this module DLPack 1");
    }
    if (access == Access::kWrite && (managed->flags & kDLFlagReadOnly) != 0) {
      throw_python(PyExc_BufferError, std::string(what) + " must be writable, but this " +
                                          type_name(obj) + " exports read-only memory");
    }
    if (access == Access::kWrite && (managed->flags & kDLFlagIsCopied) != 0) {
      throw_python(PyExc_BufferError, std::string(what) + " exported a copy of its memory: what "
                                          "is written there would not reach it");
    }
    tensor = &managed->dl_tensor;
  } else {
    auto* managed =
        static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule_.ptr(), "dltensor"));
    if (managed == nullptr) throw py::error_already_set();  // not a DLPack capsule
    tensor = &managed->dl_tensor;
  }
  const DLTensor& t = *tensor;
  const auto device = t.device.device_type;
  if (device != kDLCPU && device != kDLCUDAHost && device != kDLROCMHost) {
    throw_python(PyExc_BufferError,
                 std::string(what) + " is on device type " + std::to_string(device) +
                     ", not in CPU memory: copy it to the CPU first (tensor.cpu(), or into "
                     "pinned kvtier.SharedMemory)");
  }
  if (t.dtype.bits % 8 != 0) {
    throw_python(PyExc_BufferError, std::string(what) + " has " + std::to_string(t.dtype.bits) +
                                        "-bit elements: only whole bytes can be stored");
  }
  std::uint64_t elements = 1;
  std::int64_t expected_stride = 1;
  bool contiguous = true;
  for (std::int32_t i = t.ndim - 1; i >= 0; --i) {
    const std::int64_t extent = t.shape[i];
    // A dimension of extent 1 may carry any stride (torch gives such dims arbitrary strides).
    if (t.strides != nullptr && extent != 1 && t.strides[i] != expected_stride) contiguous = false;
    expected_stride *= extent;
    elements *= static_cast<std::uint64_t>(extent);
  }
  if (!contiguous && elements != 0) {
    throw_python(PyExc_BufferError,
                 std::string(what) + " must be C-contiguous, but this " + type_name(obj) +
                     " is strided (copy it first, e.g. tensor.contiguous())");
  }
  data_ = static_cast<std::byte*>(t.data) + t.byte_offset;
  size_ = static_cast<std::size_t>(elements * (t.dtype.bits / 8u) * t.dtype.lanes);
  pinned_ = false;
}

}  // namespace kvtier::python
