// The shared client flags of the `kvtier` subcommands that talk to kvtierd (see client_flags.h).
#include "cli/client_flags.h"

#include <cstdio>
#include <cstdlib>

#include "client/address.h"
#include "server/token_file.h"

namespace kvtier::cli {
namespace {

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

}  // namespace

void add_client_flags(CLI::App* cmd, ClientFlags* flags) {
  const std::string default_address = ClientOptions{}.address;
  cmd->add_option("--address", flags->address,
                  "kvtierd's address: unix:PATH, a path, tcp:HOST:PORT, tls:HOST:PORT (TLS), "
                  "HOST:PORT or [::1]:PORT "
                  "(default $KVTIER_ADDRESS, else " +
                      default_address + ")");
  cmd->add_option("--token", flags->token,
                  "the tenant's token; required on TCP (default $KVTIER_TOKEN; none on the Unix "
                  "socket is the default tenant)");
  cmd->add_option("--token-file", flags->token_file, "read the token from this file instead");
  cmd->add_option("--timeout-ms", flags->timeout_ms, "longest wait for each response")
      ->capture_default_str()
      ->check(CLI::Range(1u, 24u * 3600u * 1000u));
  cmd->add_option("--tls-ca-file", flags->tls_ca_file,
                  "with tls:HOST:PORT: the CAs (PEM) kvtierd's certificate must chain to "
                  "(default $KVTIER_TLS_CA_FILE, else the system's)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--tls-cert-file", flags->tls_cert_file,
                  "with tls:HOST:PORT: this client's certificate (PEM), for mutual TLS")
      ->check(CLI::ExistingFile);
  cmd->add_option("--tls-key-file", flags->tls_key_file, "its private key (PEM)")
      ->check(CLI::ExistingFile);
}

Result<ClientOptions> client_options_from(const ClientFlags& flags, std::string client_name) {
  ClientOptions o;
  if (!flags.address.empty()) {
    o.address = flags.address;
  } else if (std::string env = env_or_empty("KVTIER_ADDRESS"); !env.empty()) {
    o.address = env;
  }
  if (!flags.token.empty() && !flags.token_file.empty()) {
    return Status::InvalidArgument("give --token or --token-file, not both");
  }
  if (!flags.token.empty()) {
    o.token = flags.token;
  } else if (!flags.token_file.empty()) {
    Result<std::string> t = server::read_token_file(flags.token_file);
    if (!t.ok()) return t.status();
    o.token = std::move(t).value();
  } else {
    o.token = env_or_empty("KVTIER_TOKEN");
  }
  // The environment's CA applies to tls: addresses only; a flag is the user's ask, and
  // Client::connect refuses it on a plaintext address.
  o.tls_ca_file = !flags.tls_ca_file.empty()       ? flags.tls_ca_file
                  : o.address.rfind("tls:", 0) == 0 ? env_or_empty("KVTIER_TLS_CA_FILE")
                                                    : "";
  o.tls_cert_file = flags.tls_cert_file;
  o.tls_key_file = flags.tls_key_file;
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    return Status::InvalidArgument("give --tls-cert-file and --tls-key-file together");
  }
  o.client_name = std::move(client_name);
  o.timeout = std::chrono::milliseconds(flags.timeout_ms);
  return o;
}

std::unique_ptr<Client> connect_or_report(const ClientFlags& flags, std::string_view command,
                                          int* exit_code) {
  auto fail = [&](const Status& s, int code) {
    *exit_code = command_error(command, s.message(), code);
    return nullptr;
  };
  Result<ClientOptions> options = client_options_from(flags, "kvtier " + std::string(command));
  if (!options.ok()) {
    return fail(options.status(), options.status().code() == StatusCode::kInvalidArgument
                                      ? kExitUsage
                                      : kExitFailure);
  }
  // A malformed address is a usage error; a refused token or an absent daemon is not.
  if (Result<client::ClientAddress> a = client::parse_client_address(options->address); !a.ok()) {
    return fail(a.status(), kExitUsage);
  }
  Result<std::unique_ptr<Client>> c = Client::connect(*options);
  if (!c.ok()) return fail(c.status(), kExitFailure);
  *exit_code = kExitOk;
  return std::move(c).value();
}

Result<Key> parse_key_arg(std::string_view command, std::string_view text) {
  Result<Key> k = Key::from_hex(text);
  if (!k.ok()) {
    std::fprintf(stderr, "kvtier %.*s: \"%.*s\" is not a key: %s\n",
                 static_cast<int>(command.size()), command.data(), static_cast<int>(text.size()),
                 text.data(), k.status().message().c_str());
  }
  return k;
}

}  // namespace kvtier::cli
