// A small PKI for TLS tests, made with OpenSSL in the test itself (no openssl command, no fixed
// files that expire): a CA, a server certificate for 127.0.0.1 and localhost, one already
// expired, a client certificate per name, and a second CA nothing trusts. PEM files in `dir`.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <string>

namespace kvtier::testing {

class TestPki {
 public:
  struct Pair {
    std::string cert;  // PEM file
    std::string key;   // PEM file
  };

  explicit TestPki(std::string dir) : dir_(std::move(dir)) {
    ca_key_ = EVP_EC_gen("P-256");
    ca_ = make_cert("kvtier test CA", ca_key_, nullptr, nullptr, true, 0, 86400, "");
    ca_file_ = write_cert(ca_, "ca.pem");
    other_key_ = EVP_EC_gen("P-256");
    other_ca_ = make_cert("someone else's CA", other_key_, nullptr, nullptr, true, 0, 86400, "");
    other_ca_file_ = write_cert(other_ca_, "other-ca.pem");
  }
  ~TestPki() {
    X509_free(ca_);
    X509_free(other_ca_);
    EVP_PKEY_free(ca_key_);
    EVP_PKEY_free(other_key_);
  }
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  const std::string& ca_file() const { return ca_file_; }
  const std::string& other_ca_file() const { return other_ca_file_; }

  // A server certificate for 127.0.0.1, ::1 and localhost, valid for a day (or expired an hour
  // ago).
  Pair server(const std::string& name, bool expired = false) {
    return issue(name, "IP:127.0.0.1,IP:::1,DNS:localhost", expired ? -7200 : 0,
                 expired ? -3600 : 86400, false);
  }
  // A client certificate whose common name is `cn`, from this CA (or from the other one).
  Pair client(const std::string& cn, bool from_other_ca = false) {
    return issue(cn, "", 0, 86400, from_other_ca);
  }

 private:
  Pair issue(const std::string& cn, const std::string& san, long from, long to, bool other) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = make_cert(cn, key, other ? other_ca_ : ca_, other ? other_key_ : ca_key_, false,
                           from, to, san);
    Pair p{write_cert(cert, cn + "-" + std::to_string(++serial_) + ".pem"),
           write_key(key, cn + "-" + std::to_string(serial_) + ".key")};
    X509_free(cert);
    EVP_PKEY_free(key);
    return p;
  }

  X509* make_cert(const std::string& cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key,
                  bool is_ca, long from, long to, const std::string& san) {
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), ++serial_);
    X509_gmtime_adj(X509_getm_notBefore(x), from);
    X509_gmtime_adj(X509_getm_notAfter(x), to);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(x, issuer != nullptr ? X509_get_subject_name(issuer) : name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : x, x, nullptr, nullptr, 0);
    add_ext(x, &ctx, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "CA:FALSE");
    if (is_ca) add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
    if (!san.empty()) add_ext(x, &ctx, NID_subject_alt_name, san);
    add_ext(x, &ctx, NID_subject_key_identifier, "hash");
    X509_sign(x, issuer_key != nullptr ? issuer_key : key, EVP_sha256());
    return x;
  }
  static void add_ext(X509* x, X509V3_CTX* ctx, int nid, const std::string& value) {
    X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
    if (e != nullptr) {
      X509_add_ext(x, e, -1);
      X509_EXTENSION_free(e);
    }
  }
  std::string write_cert(X509* x, const std::string& name) {
    const std::string path = dir_ + "/" + name;
    std::FILE* f = std::fopen(path.c_str(), "w");
    PEM_write_X509(f, x);
    std::fclose(f);
    return path;
  }
  std::string write_key(EVP_PKEY* k, const std::string& name) {
    const std::string path = dir_ + "/" + name;
    std::FILE* f = std::fopen(path.c_str(), "w");
    PEM_write_PrivateKey(f, k, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    return path;
  }

  std::string dir_;
  long serial_ = 0;
  EVP_PKEY* ca_key_ = nullptr;
  X509* ca_ = nullptr;
  std::string ca_file_;
  EVP_PKEY* other_key_ = nullptr;
  X509* other_ca_ = nullptr;
  std::string other_ca_file_;
};

}  // namespace kvtier::testing
