// Reading a tenant's secret from a small file: tenants.token_file in the daemon config and the
// default tenant's <data_dir>/auth-token (load_or_create_default_token, server_config.h) read
// tokens the same way: whole file, bounded size, surrounding whitespace trimmed.
//
// Thread-safety: pure functions of their arguments and the file system.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "kvtier/status.h"

namespace kvtier::server {

// A token file larger than this is not a token file (a token is at most 1024 bytes).
inline constexpr std::size_t kMaxTokenFileBytes = 4096;

// `text` without leading and trailing spaces, tabs, CR, LF, VT and FF (a file written by `echo`
// ends in a newline that is not part of the secret).
std::string_view trim_token_whitespace(std::string_view text);

// The trimmed contents of the open file `fd` (read from its current offset to the end). `path`
// names it in messages. IOError on a read error; InvalidArgument when it holds more than
// kMaxTokenFileBytes.
Result<std::string> read_token_fd(int fd, const std::string& path);

// Opens `path` (following symlinks: secrets are often mounted as links) and read_token_fd()s it.
// IOError "cannot read token file <path>: <errno text>" when it cannot be opened or read.
Result<std::string> read_token_file(const std::string& path);
// read_token_file for a secret the daemon is configured with (tenants.token_file): also
// InvalidArgument when group or others may access the file.
Result<std::string> read_private_token_file(const std::string& path);

// Secrets are kept and compared as SHA-256 digests: a comparison takes the same time whatever the
// presented token's length or contents (tenants' tokens, the /metrics bearer token).
using TokenDigest = std::array<unsigned char, 32>;
TokenDigest token_digest(std::string_view token);
// Whether `presented` is the token `expected` is the digest of, in constant time.
bool token_matches(const TokenDigest& expected, std::string_view presented);

}  // namespace kvtier::server
