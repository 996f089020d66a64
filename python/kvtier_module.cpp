// The `kvtier` Python extension module: block keys computed by the C++ library (identical to every
// other client's) and a client of kvtierd with zero-copy values. docs/CLIENTS.md ("Python")
// documents it; python/tests/ tests it against the key vectors and a real daemon.
#include "bindings.h"

#ifndef KVTIER_VERSION
#error "KVTIER_VERSION must be the project version (set in CMakeLists.txt)"
#endif

PYBIND11_MODULE(kvtier, m) {
  m.doc() =
      "kvtier: KV-cache block keys and a client of the kvtierd daemon.\n\n"
      "Keys: ModelLayout, namespace_key, chain_key, chunk_keys, Key (docs/KEYS.md).\n"
      "Client: put/get/lookup/put_many/get_many/remove/pin/unpin/stats and shared memory.\n"
      "A cache miss is not an error: get() returns None (or -1 into a buffer).\n"
      "Errors: kvtier.Error and one subclass per status code, with the daemon's message.";
  m.attr("__version__") = KVTIER_VERSION;
  kvtier::python::bind_errors(m);
  kvtier::python::bind_keys(m);
  kvtier::python::bind_client(m);
}
