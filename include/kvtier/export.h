/* KVTIER_API marks the functions and classes libkvtier_client.so exports. The library is built
 * with hidden visibility (CMakeLists.txt), so everything not marked (the protocol codec, TLS, the
 * client's internals) stays inside it and cannot be linked against by accident.
 * tests/client/check_client_exports.py fails if an internal symbol is exported. C and C++. */
#ifndef KVTIER_EXPORT_H_
#define KVTIER_EXPORT_H_

#if defined(__cplusplus) && (defined(__GNUC__) || defined(__clang__))
/* The standard attribute form, so that it can follow [[nodiscard]] on a class. */
#define KVTIER_API [[gnu::visibility("default")]]
#elif defined(__GNUC__) || defined(__clang__)
#define KVTIER_API __attribute__((visibility("default")))
#else
#define KVTIER_API
#endif

#endif /* KVTIER_EXPORT_H_ */
