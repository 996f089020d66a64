// BufferView: the bytes of a Python object, borrowed without a copy for the length of one call.
//
// Accepts anything with the buffer protocol (bytes, bytearray, memoryview, numpy arrays, mmap,
// kvtier.SharedMemory) and, failing that, anything exporting DLPack (__dlpack__: torch CPU tensors,
// which have no buffer protocol, including bfloat16 ones numpy cannot represent). The memory must
// be C-contiguous and CPU-accessible; anything else is refused with a message that says how to
// fix it, never silently copied.
//
// A buffer-protocol exporter keeps the memory in place while a BufferView lives (numpy refuses to
// resize an exported array), so its bytes may be used with the GIL released (pinned()). A DLPack
// capsule keeps the tensor's storage alive but not in place: torch's resize_ reallocates it under
// a live capsule. So DLPack bytes are used with the GIL held (no other Python thread runs). For
// writes, a DLPack 1.0 export flagged read-only or copied is refused. Construction and
// destruction REQUIRE the GIL; bytes() of a pinned view may be used without it.
#pragma once

#include <cstddef>
#include <span>

#include <pybind11/pybind11.h>

namespace kvtier::python {

namespace py = pybind11;

class BufferView {
 public:
  enum class Access { kRead, kWrite };

  // Raises TypeError (not a buffer), BufferError (not C-contiguous, read-only for kWrite, not
  // CPU memory). `what` names the argument in those messages ("value", "out[3]").
  BufferView(py::handle obj, Access access, const char* what);
  ~BufferView();

  BufferView(BufferView&& other) noexcept;
  BufferView& operator=(BufferView&&) = delete;
  BufferView(const BufferView&) = delete;
  BufferView& operator=(const BufferView&) = delete;

  std::span<std::byte> bytes() const { return {data_, size_}; }
  std::span<const std::byte> const_bytes() const { return {data_, size_}; }
  // The exporter keeps the memory in place without the GIL (buffer protocol, not DLPack).
  bool pinned() const { return pinned_; }

 private:
  void from_buffer(py::handle obj, Access access, const char* what);
  void from_dlpack(py::handle obj, Access access, const char* what);

  Py_buffer view_{};       // valid when has_view_
  bool has_view_ = false;
  py::object capsule_;     // the DLPack capsule; its destructor frees the tensor
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  bool pinned_ = true;
};

}  // namespace kvtier::python
