// The pieces of the `kvtier` Python module, one function per file, called from kvtier_module.cpp
// in this order (the client binds types the keys binding registered, and both raise the errors).
#pragma once

#include <pybind11/pybind11.h>

namespace kvtier::python {

namespace py = pybind11;

void bind_errors(py::module_& m);  // errors.cpp: kvtier.Error and one subclass per status code
void bind_keys(py::module_& m);    // keys_binding.cpp: Key, ModelLayout, namespace_key, chunk_keys
void bind_client(py::module_& m);  // client_binding.cpp: Client, SharedMemory, ServerInfo, ...

}  // namespace kvtier::python
