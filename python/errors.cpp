// kvtier.Error and its subclasses, one per StatusCode. The classes are written in Python (below)
// so they behave like any Python exception (pickling, __str__, subclassing); C++ only maps a
// Status to its class. Where a standard exception means the same, the class derives from it too,
// so `except ValueError` or `except OSError` also catches kvtier's.
#include "errors.h"

#include <array>
#include <string>

#include <pybind11/eval.h>

#include "bindings.h"

namespace kvtier::python {
namespace {

constexpr const char* kErrorClasses = R"PY(
class Error(Exception):
    """Base of every kvtier error.

    code:    the status name, as in docs/PROTOCOL.md ("busy", "rejected", ...)
    message: the daemon's (or library's) explanation, untrusted text
    """
    code = None

    def __init__(self, message="", *args):
        super().__init__(message, *args)
        self.message = message


class NotFoundError(Error):
    """The key is not cached. get() and friends return None / -1 instead of raising this."""
    code = "not_found"


class InvalidArgumentError(Error, ValueError):
    """Something malformed was passed (a layout, an address, a refused token, a bad size)."""
    code = "invalid_argument"


class BufferTooSmallError(Error):
    """The output buffer cannot hold the value; `size` is the value's size in bytes."""
    code = "buffer_too_small"
    size = None


class NoSpaceError(Error):
    """A tier is full and nothing could be evicted to make room."""
    code = "no_space"


class BusyError(Error):
    """Temporary backpressure (write budget, pinned bytes at their limit): retry later."""
    code = "busy"


class CorruptionError(Error):
    """Stored or received bytes failed verification."""
    code = "corruption"


class IOError(Error, OSError):
    """The operating system reported an error (nothing listens at the address, a socket broke)."""
    code = "io_error"


class TooLargeError(Error, ValueError):
    """A value or batch exceeds a limit (max_value_bytes, max_batch, max_data_bytes)."""
    code = "too_large"


class ClosedError(Error, ConnectionError):
    """The connection is closed (after a timeout or a broken stream, or Client.close())."""
    code = "closed"


class RejectedError(Error):
    """A policy declined the request (NVMe admission, the tenant's quota)."""
    code = "rejected"
)PY";

// Class names by StatusCode value (include/kvtier/status.h); kOk has none.
constexpr std::array<const char*, 11> kClassNames = {
    nullptr,          "NotFoundError", "InvalidArgumentError", "BufferTooSmallError",
    "NoSpaceError",   "BusyError",     "CorruptionError",      "IOError",
    "TooLargeError",  "ClosedError",   "RejectedError"};

// The classes, owned by the module (which lives until the interpreter exits): borrowed here, so
// no py::object destructor runs after finalization.
std::array<PyObject*, kClassNames.size()> g_classes{};
PyObject* g_error = nullptr;

PyObject* class_for(StatusCode code) {
  const auto i = static_cast<std::size_t>(code);
  if (i < g_classes.size() && g_classes[i] != nullptr) return g_classes[i];
  return g_error;  // a code this module does not know (a newer daemon): still a kvtier.Error
}

}  // namespace

py::object status_exception(const Status& status, std::optional<std::size_t> size) {
  py::object cls = py::reinterpret_borrow<py::object>(class_for(status.code()));
  py::object exc = cls(status.message());
  if (status.code() == StatusCode::kBufferTooSmall && size) exc.attr("size") = *size;
  return exc;
}

void throw_status(const Status& status, std::optional<std::size_t> size) {
  py::object exc = status_exception(status, size);
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
  throw py::error_already_set();
}

void throw_python(PyObject* type, const std::string& message) {
  PyErr_SetString(type, message.c_str());
  throw py::error_already_set();
}

void bind_errors(py::module_& m) {
  py::exec(kErrorClasses, m.attr("__dict__"));
  g_error = m.attr("Error").ptr();
  for (std::size_t i = 1; i < kClassNames.size(); ++i) {
    g_classes[i] = m.attr(kClassNames[i]).ptr();
  }
}

}  // namespace kvtier::python
