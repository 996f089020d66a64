// fetch_metrics_url (see metrics_http_fetch.h): connect, send one GET, read to the end, check.
#include "client/metrics_http_fetch.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <optional>

#include "client/address.h"
#include "client/client_socket.h"
#include "net/host_port.h"

namespace kvtier::client {
namespace {

Status bad_url(std::string_view url, std::string_view why) {
  return Status::InvalidArgument("URL \"" + std::string(url) + "\": " + std::string(why));
}

Status bad_response(std::string_view url, std::string_view why) {
  return Status::InvalidArgument("response from " + std::string(url) + ": " + std::string(why));
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// The value of header `name` in a response head (after the status line), or nullopt.
std::optional<std::string_view> header(std::string_view head, std::string_view name) {
  std::size_t pos = head.find('\n');
  while (pos != std::string_view::npos && pos + 1 < head.size()) {
    std::size_t next = head.find('\n', pos + 1);
    std::string_view line = head.substr(pos + 1, next == std::string_view::npos ? next : next - pos - 1);
    std::size_t colon = line.find(':');
    if (colon != std::string_view::npos && iequals(trim(line.substr(0, colon)), name)) {
      return trim(line.substr(colon + 1));
    }
    pos = next;
  }
  return std::nullopt;
}

// A chunked body (RFC 9112 section 7.1) decoded; nullopt when it is malformed or incomplete.
std::optional<std::string> dechunk(std::string_view body) {
  std::string out;
  for (;;) {
    std::size_t eol = body.find("\r\n");
    if (eol == std::string_view::npos) return std::nullopt;
    std::string_view size_text = body.substr(0, eol);
    size_text = size_text.substr(0, size_text.find(';'));  // chunk extensions are ignored
    size_text = trim(size_text);
    std::size_t size = 0;
    auto r = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
    if (size_text.empty() || r.ec != std::errc() || r.ptr != size_text.data() + size_text.size()) {
      return std::nullopt;
    }
    body.remove_prefix(eol + 2);
    if (size == 0) return out;  // trailers, if any, are ignored
    if (body.size() < size + 2 || body.substr(size, 2) != "\r\n") return std::nullopt;
    out.append(body.substr(0, size));
    body.remove_prefix(size + 2);
  }
}

}  // namespace

Result<HttpUrl> parse_http_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.size() < kScheme.size() || !iequals(url.substr(0, kScheme.size()), kScheme)) {
    return bad_url(url, "only http:// URLs are supported (kvtierd serves plain HTTP on loopback)");
  }
  std::string_view rest = url.substr(kScheme.size());
  std::size_t path_at = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_at);
  std::string path = path_at == std::string_view::npos ? "/" : std::string(rest.substr(path_at));
  if (path.front() != '/') path.insert(0, "/");
  if (std::size_t hash = path.find('#'); hash != std::string::npos) path.resize(hash);
  for (char c : path) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return bad_url(url, "the path holds a space or control character");
  }
  if (authority.find('@') != std::string_view::npos) return bad_url(url, "user info is not supported");
  // The port is optional in a URL: without one (after the brackets of an IPv6 literal) it is 80.
  std::size_t bracket = authority.rfind(']');
  std::size_t colon = authority.rfind(':');
  bool has_port = colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket);
  std::string host_port = std::string(authority) + (has_port ? "" : ":80");
  Result<net::HostPort> hp = net::parse_host_port(host_port);
  if (!hp.ok()) return bad_url(url, hp.status().message());
  if (hp->port == 0) return bad_url(url, "port 0 names no listener");
  return HttpUrl{std::move(host_port), std::move(path)};
}

Result<std::string> fetch_metrics_url(std::string_view url, std::chrono::milliseconds timeout) {
  Result<HttpUrl> parsed = parse_http_url(url);
  if (!parsed.ok()) return parsed.status();
  Result<ClientAddress> address = parse_client_address("tcp:" + parsed->host_port);
  if (!address.ok()) return address.status();
  const Clock::time_point deadline = Clock::now() + timeout;
  Result<ClientSocket> socket = ClientSocket::connect(*address, deadline);
  if (!socket.ok()) return socket.status();
  const int fd = socket->fd();
  auto wait = [&](short events) -> Status {
    for (;;) {
      pollfd p{fd, events, 0};
      int n = ::poll(&p, 1, poll_timeout_ms(deadline));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::FromErrno("poll", errno);
      if (n == 0) {
        return Status::IOError("GET " + std::string(url) + ": no response within " +
                               std::to_string(timeout.count()) + " ms");
      }
      return Status::Ok();
    }
  };

  std::string request = "GET " + parsed->path + " HTTP/1.1\r\nHost: " + parsed->host_port +
                        "\r\nUser-Agent: kvtier-stat\r\nAccept: text/plain\r\n"
                        "Connection: close\r\n\r\n";
  std::string_view pending = request;
  while (!pending.empty()) {
    ssize_t n = ::send(fd, pending.data(), pending.size(), MSG_NOSIGNAL);
    if (n > 0) {
      pending.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      KVTIER_RETURN_IF_ERROR(wait(POLLOUT));
    } else {
      return Status::FromErrno("GET " + std::string(url) + ": send", errno);
    }
  }

  // Read until the server closes, or until the head and Content-Length bytes of body are in.
  std::string response;
  std::size_t body_at = std::string::npos;
  std::optional<std::size_t> content_length;
  char buf[16384];
  for (;;) {
    if (body_at != std::string::npos && content_length &&
        response.size() - body_at >= *content_length) {
      break;
    }
    KVTIER_RETURN_IF_ERROR(wait(POLLIN));
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
    if (n < 0) return Status::FromErrno("GET " + std::string(url) + ": recv", errno);
    if (n == 0) break;
    response.append(buf, static_cast<std::size_t>(n));
    if (response.size() > kMaxMetricsResponseBytes) {
      return bad_response(url, "larger than " + std::to_string(kMaxMetricsResponseBytes) + " bytes");
    }
    if (body_at == std::string::npos) {
      std::size_t end = response.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      body_at = end + 4;
      std::optional<std::string_view> cl = header(std::string_view(response).substr(0, end), "Content-Length");
      if (cl) {
        std::size_t v = 0;
        auto r = std::from_chars(cl->data(), cl->data() + cl->size(), v);
        if (r.ec != std::errc() || r.ptr != cl->data() + cl->size()) {
          return bad_response(url, "a malformed Content-Length");
        }
        content_length = v;
      }
    }
  }
  if (body_at == std::string::npos) {
    return bad_response(url, response.empty() ? "the connection closed without a response"
                                              : "the response head is incomplete");
  }
  std::string_view head = std::string_view(response).substr(0, body_at - 4);
  std::string_view status_line = trim(head.substr(0, head.find('\n')));
  // "HTTP/1.1 200 OK"
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12 || status_line[8] != ' ') {
    return bad_response(url, "not HTTP: \"" + std::string(status_line.substr(0, 80)) + "\"");
  }
  if (status_line.substr(9, 3) != "200") {
    return bad_response(url, "\"" + std::string(status_line.substr(0, 200)) + "\"");
  }
  std::string_view body = std::string_view(response).substr(body_at);
  std::optional<std::string_view> te = header(head, "Transfer-Encoding");
  if (te && iequals(*te, "chunked")) {
    std::optional<std::string> decoded = dechunk(body);
    if (!decoded) return bad_response(url, "a malformed chunked body");
    return std::move(*decoded);
  }
  if (te) return bad_response(url, "unsupported Transfer-Encoding " + std::string(*te));
  if (content_length) {
    if (body.size() < *content_length) return bad_response(url, "the body ended early");
    body = body.substr(0, *content_length);
  }
  return std::string(body);
}

}  // namespace kvtier::client
