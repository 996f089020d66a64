// TLS over a non-blocking stream socket (OpenSSL, TLS 1.3 only), shared by kvtierd's TCP listener
// and the client library. TlsContext holds what both ends are configured with (certificate, key,
// trusted CA, whether the peer must present a certificate); TlsStream is one connection's TLS
// state over a socket the caller owns and polls.
//
// Non-blocking contract: every call returns at once. A call that cannot progress says whether it
// waits for the socket to be readable (kWantRead) or writable (kWantWrite); the caller polls for
// that and calls again (a write retried with the same bytes, as OpenSSL requires).
//
// Thread-safety: a TlsContext may be shared by connections on any thread; a TlsStream is used by
// one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "kvtier/status.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace kvtier::net {

struct TlsServerFiles {
  std::string cert_file;       // PEM: the server's certificate chain
  std::string key_file;        // PEM: its private key
  std::string client_ca_file;  // PEM: CAs client certificates must chain to; empty: none asked
};

struct TlsClientFiles {
  std::string ca_file;    // PEM: CAs the server's certificate must chain to; empty: the system's
  std::string cert_file;  // PEM: this client's certificate (mutual TLS); empty: none
  std::string key_file;   // PEM: its private key
};

class TlsContext {
 public:
  // InvalidArgument naming the file and OpenSSL's reason when a file does not load, or the key
  // does not match the certificate.
  static Result<std::shared_ptr<TlsContext>> for_server(const TlsServerFiles& files);
  static Result<std::shared_ptr<TlsContext>> for_client(const TlsClientFiles& files);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* get() const { return ctx_; }

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

class TlsStream {
 public:
  enum class Io { kDone, kWantRead, kWantWrite, kClosed, kError };

  // The server end of `fd` (an accepted socket).
  static Result<std::unique_ptr<TlsStream>> accept(std::shared_ptr<TlsContext> ctx, int fd);
  // The client end of `fd` (a connected socket); `host` is the name or address the server's
  // certificate must be valid for (SNI is sent for names, not for IP literals).
  static Result<std::unique_ptr<TlsStream>> connect(std::shared_ptr<TlsContext> ctx, int fd,
                                                    const std::string& host);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // Advances the handshake: kDone once it is complete (then read/write).
  Io handshake();
  bool handshake_done() const { return done_; }
  // Up to `n` decrypted bytes into `buf`: returns the count (> 0) with kDone, or 0 with what to
  // wait for, kClosed at the peer's close_notify or EOF, kError on a failure (error()).
  std::size_t read(void* buf, std::size_t n, Io* io);
  // Encrypts and sends up to `n` bytes of `buf` (at most kMaxWriteBytes; a record at least when
  // it can): the count with kDone, or 0 with what to wait for, kError. After a wait, call again
  // with the same bytes at `buf` (n may have grown): the retry then takes exactly the length
  // OpenSSL was given before, as it requires.
  std::size_t write(const void* buf, std::size_t n, Io* io);
  static constexpr std::size_t kMaxWriteBytes = 64 * 1024;
  // Decrypted bytes buffered (readable without the socket being readable).
  std::size_t pending() const;
  // Why the last call failed: OpenSSL's reason, with the certificate check's result if any.
  const std::string& error() const { return error_; }
  // The common name of the peer's certificate, verified against the context's CA; empty when the
  // peer presented none.
  std::string peer_common_name() const;

 private:
  TlsStream(std::shared_ptr<TlsContext> ctx, SSL* ssl) : ctx_(std::move(ctx)), ssl_(ssl) {}
  Io classify(int ret);

  std::shared_ptr<TlsContext> ctx_;  // outlives ssl_
  SSL* ssl_;
  bool done_ = false;
  std::size_t retry_len_ = 0;  // the length of a write to retry; 0: none
  std::string error_;
};

}  // namespace kvtier::net
