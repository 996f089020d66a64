// TlsContext and TlsStream (see tls.h) over OpenSSL 3.
#include "net/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>

namespace kvtier::net {
namespace {

// OpenSSL's queued errors as one line (and the queue emptied, so they are not reported twice).
std::string openssl_errors() {
  std::string out;
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no detail from OpenSSL" : out;
}

Status load_failure(const std::string& what, const std::string& file) {
  return Status::InvalidArgument("TLS: cannot load " + what + " " + file + ": " + openssl_errors());
}

SSL_CTX* new_context(const SSL_METHOD* method) {
  SSL_CTX* ctx = SSL_CTX_new(method);
  if (ctx == nullptr) return nullptr;
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  // Writes may be retried from a buffer that moved (the output queue's pieces) and complete in
  // part (a record at a time), as a non-blocking event loop needs.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return ctx;
}

Status load_pair(SSL_CTX* ctx, const std::string& cert_file, const std::string& key_file) {
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    return load_failure("certificate", cert_file);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return load_failure("private key", key_file);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return Status::InvalidArgument("TLS: the private key " + key_file +
                                   " does not match the certificate " + cert_file);
  }
  return Status::Ok();
}

bool is_ip_literal(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

Result<std::shared_ptr<TlsContext>> TlsContext::for_server(const TlsServerFiles& files) {
  SSL_CTX* raw = new_context(TLS_server_method());
  if (raw == nullptr) return Status::NoSpace("TLS: cannot create a context: " + openssl_errors());
  std::shared_ptr<TlsContext> ctx(new TlsContext(raw));
  KVTIER_RETURN_IF_ERROR(load_pair(raw, files.cert_file, files.key_file));
  if (!files.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(raw, files.client_ca_file.c_str(), nullptr) != 1) {
      return load_failure("client CA", files.client_ca_file);
    }
    // Asked for, verified when given; a client without one may still authenticate by token.
    SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nullptr);
  }
  // No session tickets to keep keys for: connections are long-lived.
  SSL_CTX_set_num_tickets(raw, 0);
  return ctx;
}

Result<std::shared_ptr<TlsContext>> TlsContext::for_client(const TlsClientFiles& files) {
  SSL_CTX* raw = new_context(TLS_client_method());
  if (raw == nullptr) return Status::NoSpace("TLS: cannot create a context: " + openssl_errors());
  std::shared_ptr<TlsContext> ctx(new TlsContext(raw));
  const bool loaded = files.ca_file.empty()
                          ? SSL_CTX_set_default_verify_paths(raw) == 1
                          : SSL_CTX_load_verify_locations(raw, files.ca_file.c_str(), nullptr) == 1;
  if (!loaded) return load_failure("CA", files.ca_file.empty() ? "(system)" : files.ca_file);
  SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nullptr);
  if (!files.cert_file.empty()) KVTIER_RETURN_IF_ERROR(load_pair(raw, files.cert_file, files.key_file));
  return ctx;
}

Result<std::unique_ptr<TlsStream>> TlsStream::accept(std::shared_ptr<TlsContext> ctx, int fd) {
  SSL* ssl = SSL_new(ctx->get());
  if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    return Status::NoSpace("TLS: cannot create a session: " + openssl_errors());
  }
  SSL_set_accept_state(ssl);
  return std::unique_ptr<TlsStream>(new TlsStream(std::move(ctx), ssl));
}

Result<std::unique_ptr<TlsStream>> TlsStream::connect(std::shared_ptr<TlsContext> ctx, int fd,
                                                      const std::string& host) {
  SSL* ssl = SSL_new(ctx->get());
  if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    return Status::NoSpace("TLS: cannot create a session: " + openssl_errors());
  }
  std::unique_ptr<TlsStream> s(new TlsStream(std::move(ctx), ssl));
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (is_ip_literal(host)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, host.c_str());
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
  }
  SSL_set_connect_state(ssl);
  return s;
}

TlsStream::~TlsStream() { SSL_free(ssl_); }

TlsStream::Io TlsStream::classify(int ret) {
  switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ:
      return Io::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      return Io::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:
      return Io::kClosed;
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0) {  // EOF or a reset without close_notify
        error_ = "the peer closed the connection";
        return Io::kClosed;
      }
      [[fallthrough]];
    default: {
      error_ = openssl_errors();
      const long verify = SSL_get_verify_result(ssl_);
      if (verify != X509_V_OK) {
        error_ += " (certificate: " + std::string(X509_verify_cert_error_string(verify)) + ")";
      }
      return Io::kError;
    }
  }
}

TlsStream::Io TlsStream::handshake() {
  if (done_) return Io::kDone;
  ERR_clear_error();
  const int ret = SSL_do_handshake(ssl_);
  if (ret == 1) {
    done_ = true;
    return Io::kDone;
  }
  return classify(ret);
}

std::size_t TlsStream::read(void* buf, std::size_t n, Io* io) {
  ERR_clear_error();
  std::size_t got = 0;
  const int ret = SSL_read_ex(ssl_, buf, n, &got);
  *io = ret == 1 ? Io::kDone : classify(ret);
  return ret == 1 ? got : 0;
}

std::size_t TlsStream::write(const void* buf, std::size_t n, Io* io) {
  ERR_clear_error();
  const std::size_t len = retry_len_ != 0 ? retry_len_ : std::min(n, kMaxWriteBytes);
  std::size_t put = 0;
  const int ret = SSL_write_ex(ssl_, buf, len, &put);
  *io = ret == 1 ? Io::kDone : classify(ret);
  retry_len_ = *io == Io::kWantRead || *io == Io::kWantWrite ? len : 0;
  return ret == 1 ? put : 0;
}

std::size_t TlsStream::pending() const { return static_cast<std::size_t>(SSL_pending(ssl_)); }

std::string TlsStream::peer_common_name() const {
  X509* cert = SSL_get1_peer_certificate(ssl_);
  if (cert == nullptr) return "";
  std::string cn;
  if (SSL_get_verify_result(ssl_) == X509_V_OK) {
    char buf[256] = {0};
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf) > 0) {
      cn = buf;
    }
  }
  X509_free(cert);
  return cn;
}

}  // namespace kvtier::net
