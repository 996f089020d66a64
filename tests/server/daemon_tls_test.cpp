// TLS on kvtierd's TCP listener through the real process and the real client (issue 25, item 7):
// values cross intact over TLS 1.3; a client that trusts another CA, a server certificate that
// has expired, plaintext to the TLS port and TLS to a plaintext port each fail with a message
// that says so; a client certificate maps to its tenant (mutual TLS), one from another CA is
// refused. SIGHUP reads the certificates again: a renewed server certificate is served to new
// connections, and a changed client CA ends the sessions the old one let in.
#include <chrono>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "kvtier/client.h"
#include "net/host_port.h"
#include "net/tls.h"
#include "protocol/frame.h"
#include "protocol/meta.h"
#include "scrape/prometheus_parse.h"
#include "support/daemon_process.h"
#include "support/test_certs.h"
#include "support/test_support.h"

namespace kvtier::testing::daemon_tls_test {

constexpr const char* kAliceToken = "alice-token-0123456789";

std::string tls_config(const TestPki::Pair& server, const std::string& client_ca = "",
                       const std::string& more_server_keys = "") {
  std::string c = "[server]\ntls_cert_file = \"" + server.cert + "\"\ntls_key_file = \"" +
                  server.key + "\"\n" + more_server_keys;
  if (!client_ca.empty()) c += "tls_client_ca_file = \"" + client_ca + "\"\n";
  c += "[[tenants]]\nname = \"alice\"\ntoken = \"" + std::string(kAliceToken) +
       "\"\ntls_client_name = \"alice\"\n";
  return small_daemon_config(c);
}

// "tcp:127.0.0.1:PORT" -> "tls:127.0.0.1:PORT".
std::string tls_address(const DaemonProcess& d) { return "tls:" + d.tcp_address().substr(4); }

Result<std::unique_ptr<Client>> connect(const std::string& address, const std::string& token,
                                        const std::string& ca, const TestPki::Pair& cert = {}) {
  ClientOptions o;
  o.address = address;
  o.token = token;
  o.tls_ca_file = ca;
  o.tls_cert_file = cert.cert;
  o.tls_key_file = cert.key;
  o.timeout = std::chrono::milliseconds(5000);
  return Client::connect(o);
}

TEST(DaemonTls, ValuesCrossIntactOverTls) {
  TempDir dir;
  TestPki pki(dir.path());
  DaemonProcess d(dir.path(), tls_config(pki.server("kvtierd")));
  ASSERT_TRUE(d.started()) << d.log();
  auto c = connect(tls_address(d), kAliceToken, pki.ca_file());
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ((*c)->server_info().tenant, "alice");
  // Sizes around TLS's 16 KiB records and the daemon's 64 KiB direct-receive mark, and a batch.
  for (std::size_t size : {std::size_t{1}, std::size_t{16383}, std::size_t{16385},
                           std::size_t{70000}, std::size_t{3 * 1024 * 1024 + 5}}) {
    const Key k = test_key(size);
    const std::vector<std::byte> v = pattern(k, size);
    ASSERT_TRUE((*c)->put(k, v).ok()) << size;
    std::vector<std::byte> dst(size);
    GetResult g = (*c)->get(k, dst);
    ASSERT_TRUE(g.status.ok()) << size << ": " << g.status.to_string();
    EXPECT_EQ(dst, v) << size;
  }
  std::vector<Key> keys;
  std::vector<std::vector<std::byte>> values, dsts;
  std::vector<GetItem> items;
  for (int i = 0; i < 64; ++i) {
    keys.push_back(test_key(1000 + i));
    values.push_back(pattern(keys.back(), 100000));
    Status put = (*c)->put(keys.back(), values.back());
    ASSERT_TRUE(put.ok()) << i << ": " << put.to_string();
  }
  dsts.assign(64, std::vector<std::byte>(100000));
  for (int i = 0; i < 64; ++i) items.push_back(GetItem{keys[i], dsts[i]});
  std::vector<GetResult> out(64);
  ASSERT_TRUE((*c)->get_many(items, out).ok());
  for (int i = 0; i < 64; ++i) EXPECT_EQ(dsts[i], values[i]) << i;
  // Plaintext TCP and the Unix socket are not affected: the Unix socket still serves.
  ClientOptions local;
  local.address = d.unix_address();
  auto u = Client::connect(local);
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE((*u)->ping().ok());
}

TEST(DaemonTls, AClientTrustingAnotherCaFailsOnTheCertificate) {
  TempDir dir;
  TestPki pki(dir.path());
  DaemonProcess d(dir.path(), tls_config(pki.server("kvtierd")));
  ASSERT_TRUE(d.started()) << d.log();
  auto c = connect(tls_address(d), kAliceToken, pki.other_ca_file());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("certificate"), std::string::npos) << c.status().to_string();
}

TEST(DaemonTls, AnExpiredServerCertificateFailsClearly) {
  TempDir dir;
  TestPki pki(dir.path());
  DaemonProcess d(dir.path(), tls_config(pki.server("kvtierd", /*expired=*/true)));
  ASSERT_TRUE(d.started()) << d.log();
  auto c = connect(tls_address(d), kAliceToken, pki.ca_file());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("expired"), std::string::npos) << c.status().to_string();
}

TEST(DaemonTls, PlaintextToTheTlsPortFailsAndIsCounted) {
  TempDir dir;
  TestPki pki(dir.path());
  DaemonProcess d(dir.path(), tls_config(pki.server("kvtierd")));
  ASSERT_TRUE(d.started()) << d.log();
  auto c = connect(d.tcp_address(), kAliceToken, "");
  ASSERT_FALSE(c.ok()) << "a plaintext HELLO was answered on the TLS port";
  ClientOptions local;
  local.address = d.unix_address();
  auto u = Client::connect(local);
  ASSERT_TRUE(u.ok());
  auto text = (*u)->stats();
  ASSERT_TRUE(text.ok());
  auto m = parse_prometheus_text(*text);
  ASSERT_TRUE(m.ok());
  EXPECT_GE(m->sum("kvtier_tls_handshake_failures_total").value_or(0), 1.0);
}

TEST(DaemonTls, TlsToAPlaintextPortSaysSo) {
  TempDir dir;
  TestPki pki(dir.path());
  DaemonProcess d(dir.path(), small_daemon_config());
  ASSERT_TRUE(d.started()) << d.log();
  auto c = connect(tls_address(d), d.default_token(), pki.ca_file());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("TLS handshake"), std::string::npos)
      << c.status().to_string();
  EXPECT_NE(c.status().message().find("plaintext"), std::string::npos) << c.status().to_string();
}

TEST(DaemonTls, AClientCertificateMapsToItsTenant) {
  TempDir dir;
  TestPki pki(dir.path());
  DaemonProcess d(dir.path(), tls_config(pki.server("kvtierd"), pki.ca_file()));
  ASSERT_TRUE(d.started()) << d.log();
  // The certificate alone authenticates (no token).
  auto alice = connect(tls_address(d), "", pki.ca_file(), pki.client("alice"));
  ASSERT_TRUE(alice.ok()) << alice.status().to_string();
  EXPECT_EQ((*alice)->server_info().tenant, "alice");
  // A certificate of a name no tenant has, without a token: refused.
  auto nobody = connect(tls_address(d), "", pki.ca_file(), pki.client("mallory"));
  EXPECT_FALSE(nobody.ok());
  // A certificate and a token of another tenant: refused (they must agree).
  auto mixed = connect(tls_address(d), d.default_token(), pki.ca_file(), pki.client("alice"));
  EXPECT_FALSE(mixed.ok());
  // A certificate from a CA the daemon does not trust: the handshake fails.
  auto forged = connect(tls_address(d), "", pki.ca_file(), pki.client("alice", true));
  ASSERT_FALSE(forged.ok());
  // No certificate, a token: still fine.
  auto token = connect(tls_address(d), kAliceToken, pki.ca_file());
  ASSERT_TRUE(token.ok()) << token.status().to_string();
}

// The kvtier command speaks TLS too: --address tls:HOST:PORT with --tls-ca-file.
TEST(DaemonTls, TheCliPingsOverTls) {
  TempDir dir;
  TestPki pki(dir.path());
  DaemonProcess d(dir.path(), tls_config(pki.server("kvtierd")));
  ASSERT_TRUE(d.started()) << d.log();
  auto run = [&](const std::string& ca) {
    const std::string cmd = std::string(KVTIER_BINARY) + " ping --address " + tls_address(d) +
                            " --token " + kAliceToken + " --tls-ca-file " + ca + " 2>&1";
    std::string out;
    std::FILE* p = ::popen(cmd.c_str(), "r");
    char buf[512];
    while (p != nullptr && std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
    const int status = p != nullptr ? ::pclose(p) : -1;
    return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, out);
  };
  auto [ok_code, ok_out] = run(pki.ca_file());
  EXPECT_EQ(ok_code, 0) << ok_out;
  auto [bad_code, bad_out] = run(pki.other_ca_file());
  EXPECT_NE(bad_code, 0) << bad_out;
  EXPECT_NE(bad_out.find("certificate"), std::string::npos) << bad_out;
}

// A TLS client that writes raw frames and counts the responses (the protocol's framing, over
// net::TlsStream), for what the C++ client never does: pipelining past a full output.
class RawTlsWire {
 public:
  RawTlsWire(const std::string& host_port, const std::string& ca,
             const TestPki::Pair& client_cert = {}) {
    auto hp = net::parse_host_port(host_port);
    if (!hp.ok()) return;
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(hp->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    auto ctx = net::TlsContext::for_client({ca, client_cert.cert, client_cert.key});
    if (!ctx.ok()) return;
    auto s = net::TlsStream::connect(*ctx, fd_, "127.0.0.1");
    if (!s.ok()) return;
    tls_ = std::move(s).value();
    for (int i = 0; i < 1000; ++i) {
      net::TlsStream::Io io = tls_->handshake();
      if (io == net::TlsStream::Io::kDone) return;
      if (io != net::TlsStream::Io::kWantRead && io != net::TlsStream::Io::kWantWrite) break;
      wait(io);
    }
    tls_.reset();
  }
  ~RawTlsWire() {
    tls_.reset();
    if (fd_ >= 0) ::close(fd_);
  }
  bool ready() const { return tls_ != nullptr; }
  // The status of the last response received.
  StatusCode last_status() const { return last_status_; }
  // The common name of the certificate the daemon presented.
  std::string server_name() const { return tls_ ? tls_->peer_common_name() : ""; }
  // Writes all of `bytes` (one SSL_write when they fit a record).
  bool send(std::span<const std::byte> bytes) {
    while (!bytes.empty()) {
      net::TlsStream::Io io;
      std::size_t n = tls_->write(bytes.data(), bytes.size(), &io);
      if (io == net::TlsStream::Io::kDone) {
        bytes = bytes.subspan(n);
        continue;
      }
      if (io != net::TlsStream::Io::kWantRead && io != net::TlsStream::Io::kWantWrite) return false;
      wait(io);
    }
    return true;
  }
  // Reads until `count` responses arrived or `timeout` passed; returns how many arrived.
  int receive(int count, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int done = 0;
    std::vector<std::byte> chunk(65536);
    while (done < count && std::chrono::steady_clock::now() < deadline) {
      net::TlsStream::Io io;
      std::size_t n = tls_->read(chunk.data(), chunk.size(), &io);
      if (io == net::TlsStream::Io::kWantRead || io == net::TlsStream::Io::kWantWrite) {
        pollfd p{fd_, POLLIN, 0};
        ::poll(&p, 1, 100);
        continue;
      }
      if (io != net::TlsStream::Io::kDone) break;
      std::span<const std::byte> in(chunk.data(), n);
      while (!in.empty() || reader_.data_remaining() == 0) {
        protocol::ReadState st = reader_.feed(in);
        if (st == protocol::ReadState::kDataPending) {
          if (in.empty()) break;
          (void)reader_.take_data(in);
        } else if (st == protocol::ReadState::kFrameDone) {
          last_status_ = static_cast<StatusCode>(reader_.header().status);
          ++done;
        } else if (st == protocol::ReadState::kNeedMore || st == protocol::ReadState::kError) {
          break;
        }
      }
    }
    return done;
  }

 private:
  void wait(net::TlsStream::Io io) {
    pollfd p{fd_, static_cast<short>(io == net::TlsStream::Io::kWantRead ? POLLIN : POLLOUT), 0};
    ::poll(&p, 1, 100);
  }
  int fd_ = -1;
  StatusCode last_status_ = StatusCode::kOk;
  std::unique_ptr<net::TlsStream> tls_;
  protocol::FrameReader reader_ =
      std::move(protocol::FrameReader::create(protocol::FrameKind::kResponse, 1ull << 30)).value();
};

// Audit of issue 25: requests whose bytes OpenSSL had already decrypted, read while the output was
// full, were never read once it drained (the socket had nothing more to announce): a pipelining
// TLS client got 114 of 439 answers and waited for ever. Now every request is answered.
TEST(DaemonTls, RequestsDecryptedWhileTheOutputIsFullAreAnswered) {
  TempDir dir;
  TestPki pki(dir.path());
  DaemonProcess d(dir.path(), tls_config(pki.server("kvtierd"), "",
                                         "max_queued_response_bytes = \"1MiB\"\n"));
  ASSERT_TRUE(d.started()) << d.log();
  const Key big = test_key(77);
  {
    auto c = connect(tls_address(d), kAliceToken, pki.ca_file());
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    ASSERT_TRUE((*c)->put(big, pattern(big, 8 * kMiB)).ok());
  }
  RawTlsWire w(d.tcp_address().substr(4), pki.ca_file());
  ASSERT_TRUE(w.ready());
  std::vector<std::byte> hello;
  protocol::HelloRequest h;
  h.token = kAliceToken;
  ASSERT_TRUE(protocol::append_frame(hello, 1, h).ok());
  ASSERT_TRUE(w.send(hello));
  ASSERT_EQ(w.receive(1, std::chrono::seconds(10)), 1);
  // A 64 KiB PUT but its last 200 bytes; then, in one record, those bytes, a GET of 8 MiB (more
  // than max_queued_response_bytes) and 300 PINGs.
  constexpr std::size_t kValue = 64 * 1024;
  const Key k = test_key(78);
  std::vector<std::byte> first;
  ASSERT_TRUE(protocol::append_frame(first, 2, protocol::PutRequest{k, kValue}, kValue).ok());
  const std::vector<std::byte> v = pattern(k, kValue);
  first.insert(first.end(), v.begin(), v.end() - 200);
  ASSERT_TRUE(w.send(first));
  std::vector<std::byte> second(v.end() - 200, v.end());
  ASSERT_TRUE(protocol::append_frame(second, 3, protocol::GetRequest{big, 8 * kMiB}).ok());
  constexpr int kPings = 300;
  for (int i = 0; i < kPings; ++i) {
    ASSERT_TRUE(protocol::append_frame(second, 10 + i, protocol::PingRequest{}).ok());
  }
  ASSERT_LE(second.size(), 16u * 1024) << "the second write is meant to be one TLS record";
  ASSERT_TRUE(w.send(second));
  EXPECT_EQ(w.receive(2 + kPings, std::chrono::seconds(20)), 2 + kPings);
}

// Issue 25: certificates reload without a restart. A reload serves a renewed server certificate
// to new connections and keeps the sessions a client certificate let in while the client CA is
// the same; once the client CA file holds another CA, those sessions end at their next request
// (token sessions go on), and only certificates of the new CA get in.
TEST(DaemonTls, AReloadRenewsTheServerCertificateAndAChangedClientCaEndsItsSessions) {
  TempDir dir;
  TestPki pki(dir.path());
  const std::string client_ca = dir.path() + "/client-ca.pem";
  std::filesystem::copy_file(pki.ca_file(), client_ca);
  std::size_t reloads = 0;
  DaemonProcess d(dir.path(), tls_config(pki.server("kvtierd"), client_ca), {"--log-level", "info"});
  ASSERT_TRUE(d.started()) << d.log();
  auto by_certificate = connect(tls_address(d), "", pki.ca_file(), pki.client("alice"));
  ASSERT_TRUE(by_certificate.ok()) << by_certificate.status().to_string();
  auto by_token = connect(tls_address(d), kAliceToken, pki.ca_file());
  ASSERT_TRUE(by_token.ok()) << by_token.status().to_string();
  {
    RawTlsWire before(d.tcp_address().substr(4), pki.ca_file());
    ASSERT_TRUE(before.ready());
    EXPECT_EQ(before.server_name(), "kvtierd");
  }

  // Renewed server certificate, same client CA.
  ASSERT_TRUE(d.reload(tls_config(pki.server("kvtierd-renewed"), client_ca), "event=reloaded",
                       &reloads))
      << d.log();
  RawTlsWire after(d.tcp_address().substr(4), pki.ca_file());
  ASSERT_TRUE(after.ready());
  EXPECT_EQ(after.server_name(), "kvtierd-renewed");
  EXPECT_TRUE((*by_certificate)->ping().ok()) << "the same client CA ended a certificate session";
  EXPECT_TRUE((*by_token)->ping().ok());

  // Another client CA. A connection whose handshake the old CA verified but that has not said
  // HELLO yet (from the audit: it was let in after the change) is refused at its HELLO.
  RawTlsWire pending(d.tcp_address().substr(4), pki.ca_file(), pki.client("alice"));
  ASSERT_TRUE(pending.ready());
  std::filesystem::copy_file(pki.other_ca_file(), client_ca,
                             std::filesystem::copy_options::overwrite_existing);
  ASSERT_TRUE(d.reload(tls_config(pki.server("kvtierd-renewed"), client_ca), "event=reloaded",
                       &reloads))
      << d.log();
  EXPECT_FALSE((*by_certificate)->ping().ok())
      << "a session the old client CA let in outlived the change";
  EXPECT_NE(d.log().find("a reload changed the client CAs"), std::string::npos);
  EXPECT_TRUE((*by_token)->ping().ok()) << "a token session was ended";
  std::vector<std::byte> hello;
  ASSERT_TRUE(protocol::append_frame(hello, 1, protocol::HelloRequest{}).ok());
  ASSERT_TRUE(pending.send(hello));
  ASSERT_EQ(pending.receive(1, std::chrono::seconds(10)), 1);
  EXPECT_EQ(pending.last_status(), StatusCode::kInvalidArgument)
      << "a certificate the old client CA verified said HELLO after the change";
  EXPECT_FALSE(connect(tls_address(d), "", pki.ca_file(), pki.client("alice")).ok());
  auto from_new_ca = connect(tls_address(d), "", pki.ca_file(), pki.client("alice", true));
  ASSERT_TRUE(from_new_ca.ok()) << from_new_ca.status().to_string();
  EXPECT_EQ((*from_new_ca)->server_info().tenant, "alice");
}

}  // namespace kvtier::testing::daemon_tls_test
