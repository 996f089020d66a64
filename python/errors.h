// kvtier statuses as Python exceptions: kvtier.Error and one subclass per StatusCode
// (include/kvtier/status.h), each carrying the daemon's message. A cache miss is not an error in
// the Python API (get returns None or -1), so NotFoundError is raised only where a miss is not
// expected. Every function here REQUIRES the GIL.
#pragma once

#include <cstddef>
#include <optional>

#include <pybind11/pybind11.h>

#include "kvtier/status.h"

namespace kvtier::python {

namespace py = pybind11;

// An exception instance (not raised) for `status`, e.g. for one item of a batch result.
// `size`: the value's size for BufferTooSmallError (its `size` attribute), when known.
// REQUIRES: !status.ok().
py::object status_exception(const Status& status, std::optional<std::size_t> size = std::nullopt);

// Raises the exception for `status` as a pending Python error and throws py::error_already_set.
// REQUIRES: !status.ok().
[[noreturn]] void throw_status(const Status& status,
                               std::optional<std::size_t> size = std::nullopt);

// Raises `type` (e.g. PyExc_TypeError) with `message`.
[[noreturn]] void throw_python(PyObject* type, const std::string& message);

}  // namespace kvtier::python
