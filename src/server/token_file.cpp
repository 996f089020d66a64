// Token files: read_token_file (tenants.token_file) and load_or_create_default_token
// (<data_dir>/auth-token, declared in server_config.h). See token_file.h.
#include "server/token_file.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <optional>

#include "posix/file_mode.h"
#include "posix/unique_fd.h"
#include "server/server_config.h"

namespace kvtier::server {
namespace {

constexpr std::size_t kDefaultTokenRandomBytes = 32;
// How often load_or_create_default_token looks again after losing a race (another process
// created or removed the file between our open and our create).
constexpr int kCreateAttempts = 3;

Status fill_random(unsigned char* out, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = ::getrandom(out + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("getrandom", errno);
    }
    got += static_cast<std::size_t>(r);
  }
  return Status::Ok();
}

Status write_all(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    ssize_t w = ::write(fd, bytes.data(), bytes.size());
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("cannot write " + path, errno);
    }
    bytes.remove_prefix(static_cast<std::size_t>(w));
  }
  return Status::Ok();
}

// Creates `path` holding a new random token, published atomically: written and synced under a
// temporary name, then hard-linked into place, which fails instead of replacing when `path`
// exists. Returns the token, or nullopt when another process created `path` first.
Result<std::optional<std::string>> create_default_token(const std::string& dir,
                                                        const std::string& path) {
  unsigned char random[kDefaultTokenRandomBytes];
  KVTIER_RETURN_IF_ERROR(fill_random(random, sizeof(random)));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  for (unsigned char b : random) {
    token.push_back(kHex[b >> 4]);
    token.push_back(kHex[b & 0xf]);
  }
  const std::string tmp =
      path + ".tmp." + std::to_string(::getpid()) + "." +
      std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return Status::FromErrno("cannot create " + tmp, errno);
  auto drop_tmp = [&] { ::unlink(tmp.c_str()); };
  // The umask may have taken the owner's bits away; the mode must be exactly 0600 either way.
  Status written = ::fchmod(fd.get(), 0600) == 0 ? Status::Ok()
                                                 : Status::FromErrno("cannot chmod " + tmp, errno);
  if (written.ok()) written = write_all(fd.get(), token + "\n", tmp);
  if (written.ok() && ::fsync(fd.get()) != 0) written = Status::FromErrno("cannot sync " + tmp, errno);
  fd.reset();
  if (!written.ok()) {
    drop_tmp();
    return written;
  }
  if (::link(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    drop_tmp();
    if (err == EEXIST) return std::optional<std::string>();
    return Status::FromErrno("cannot create " + path, err);
  }
  drop_tmp();
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.valid()) (void)::fsync(dir_fd.get());  // best effort: the name survives a crash
  return std::optional<std::string>(std::move(token));
}

}  // namespace

std::string_view trim_token_whitespace(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n\v\f";
  const std::size_t first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  const std::size_t last = text.find_last_not_of(kSpace);
  return text.substr(first, last - first + 1);
}

Result<std::string> read_token_fd(int fd, const std::string& path) {
  std::string text;
  char buf[1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("cannot read token file " + path, errno);
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxTokenFileBytes) {
      return Status::InvalidArgument("token file " + path + " is larger than " +
                                     std::to_string(kMaxTokenFileBytes) +
                                     " bytes: it is not a token file");
    }
  }
  return std::string(trim_token_whitespace(text));
}

namespace {

// read_token_fd of a regular file. With `secret_of` (whose secret it holds, for the message) the
// file must also be private to its owner: whoever can read it can act as that tenant. `shown`
// names the file in that message.
Result<std::string> read_regular_token(int fd, const std::string& path, const std::string& shown,
                                       const char* secret_of) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::FromErrno("cannot stat token file " + path, errno);
  if (!S_ISREG(st.st_mode)) {
    return Status::InvalidArgument("token file " + path + " is not a regular file");
  }
  if (secret_of != nullptr && (st.st_mode & 077) != 0) {
    return Status::InvalidArgument(shown + " is accessible by group or others (mode " +
                                   octal_mode(st.st_mode) + "): it holds " + secret_of +
                                   "; run chmod 600 " + path);
  }
  return read_token_fd(fd, path);
}

// The token of an existing auth-token file, which must be private to its owner (it acts as the
// default tenant over TCP).
Result<std::string> read_default_token(int fd, const std::string& path) {
  Result<std::string> token = read_regular_token(fd, path, path, "the default tenant's secret");
  if (!token.ok()) return token.status();
  if (token->size() < kMinTokenBytes || token->size() > kMaxTokenBytes) {
    return Status::InvalidArgument(path + " holds a token of " + std::to_string(token->size()) +
                                   " bytes (after trimming whitespace); it must be " +
                                   std::to_string(kMinTokenBytes) + " to " +
                                   std::to_string(kMaxTokenBytes) +
                                   ". Fix it, or delete it to have a new one created");
  }
  return token;
}

Result<std::string> read_token_file_of_mode(const std::string& path, bool private_only) {
  // O_NONBLOCK: a FIFO in place of the file must not hang the daemon's start.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return Status::FromErrno("cannot read token file " + path, errno);
  return read_regular_token(fd.get(), path, "token file " + path,
                            private_only ? "a tenant's secret" : nullptr);
}

}  // namespace

Result<std::string> read_token_file(const std::string& path) {
  return read_token_file_of_mode(path, /*private_only=*/false);
}

Result<std::string> read_private_token_file(const std::string& path) {
  return read_token_file_of_mode(path, /*private_only=*/true);
}

Result<std::string> load_or_create_default_token(const std::string& data_dir) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return Status::IOError("cannot create data dir " + data_dir + ": " + ec.message());
  const std::string path = (std::filesystem::path(data_dir) / kAuthTokenFileName).string();
  for (int attempt = 0; attempt < kCreateAttempts; ++attempt) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    if (fd.valid()) return read_default_token(fd.get(), path);
    if (errno == ELOOP) {
      return Status::InvalidArgument(
          path + " is a symbolic link; the default tenant's token is read only from a regular "
                 "file (a link could expose another file as the secret): replace it with a file "
                 "of mode 0600, or delete it to have one created");
    }
    if (errno != ENOENT) return Status::FromErrno("cannot open " + path, errno);
    Result<std::optional<std::string>> created = create_default_token(data_dir, path);
    if (!created.ok()) return created.status();
    if (created->has_value()) return std::move(**created);
    // Another process created it first: read theirs, so both use the same token.
  }
  return Status::IOError(path + " kept appearing and disappearing while kvtierd tried to read or "
                                "create it");
}

TokenDigest token_digest(std::string_view token) {
  TokenDigest d{};
  ::SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), d.data());
  return d;
}

bool token_matches(const TokenDigest& expected, std::string_view presented) {
  const TokenDigest d = token_digest(presented);
  return CRYPTO_memcmp(expected.data(), d.data(), d.size()) == 0;
}

}  // namespace kvtier::server
