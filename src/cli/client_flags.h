// The flags every `kvtier` subcommand that talks to kvtierd shares (put, get, lookup, ping, stat):
// where the daemon is, which tenant to act as and how long to wait, with one precedence rule:
// a flag beats the environment (KVTIER_ADDRESS, KVTIER_TOKEN), which beats the default.
//
// Exit codes of these subcommands (kExit*): 0 ok, 1 not found / miss, 2 usage, 3 connection,
// server or local I/O error.
//
// Thread-safety: plain values and functions used by main()'s thread.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "cli/commands.h"
#include "kvtier/client.h"
#include "kvtier/status.h"

namespace kvtier::cli {

struct ClientFlags {
  std::string address;     // --address; empty: $KVTIER_ADDRESS, else ClientOptions' default
  std::string token;       // --token; empty: --token-file, else $KVTIER_TOKEN, else none
  std::string token_file;  // --token-file: a file holding the token (whitespace trimmed)
  std::uint32_t timeout_ms = 30'000;  // --timeout-ms
  // A tls:HOST:PORT address: --tls-ca-file (else $KVTIER_TLS_CA_FILE, else the system's CAs),
  // --tls-cert-file and --tls-key-file for mutual TLS.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
};

// Adds --address, --token, --token-file, --timeout-ms and the --tls-* files to `cmd`, stored in
// *flags.
void add_client_flags(CLI::App* cmd, ClientFlags* flags);

// The ClientOptions the flags and the environment say. InvalidArgument when both --token and
// --token-file are given; the token file's read error otherwise.
Result<ClientOptions> client_options_from(const ClientFlags& flags, std::string client_name);

// Connects as `flags` say. On failure prints "kvtier <command>: <message>" on stderr, sets
// *exit_code (kExitUsage for a bad address or flag, kExitFailure otherwise) and returns null.
std::unique_ptr<Client> connect_or_report(const ClientFlags& flags, std::string_view command,
                                          int* exit_code);

// Parses a key given on the command line (32 hex digits, as Key::hex() prints it). On failure
// prints why on stderr and returns the error.
Result<Key> parse_key_arg(std::string_view command, std::string_view text);

}  // namespace kvtier::cli
