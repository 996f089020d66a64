// `kvtier put`, `kvtier get`, `kvtier lookup` and `kvtier ping`: single operations against a
// running kvtierd, for scripts and for poking at a daemon by hand. Keys are raw 32-hex-digit keys
// (Key::hex(), docs/KEYS.md). Exit codes: client_flags.h.
//
//   kvtier put KEYHEX FILE|- [--durable]  store FILE's bytes (or stdin's) under the key
//   kvtier get KEYHEX [-o FILE]           write the value to stdout (or FILE); exit 1 when not cached
//   kvtier lookup KEYHEX...               how much of the chain is cached; exit 1 unless all is
//   kvtier ping                           round trip, and what the daemon announced in HELLO
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "cli/client_flags.h"
#include "cli/commands.h"
#include "kvtier/client.h"

namespace kvtier::cli {
namespace {

// The whole of `path` ("-": stdin).
Result<std::vector<std::byte>> read_input(const std::string& path) {
  const bool is_stdin = path == "-";
  int fd = is_stdin ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("cannot open " + path, errno);
  // A regular file is read into a buffer one byte larger than it, so that the read seeing EOF
  // needs no growth; a pipe grows the buffer by doubling.
  struct stat st {};
  bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  std::vector<std::byte> out(regular ? static_cast<std::size_t>(st.st_size) + 1 : 1u << 20);
  std::size_t have = 0;
  Status status;
  for (;;) {
    if (have == out.size()) out.resize(2 * out.size());
    ssize_t n = ::read(fd, out.data() + have, out.size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = Status::FromErrno("cannot read " + std::string(is_stdin ? "stdin" : path), errno);
      break;
    }
    if (n == 0) break;
    have += static_cast<std::size_t>(n);
  }
  if (!is_stdin) ::close(fd);
  if (!status.ok()) return status;
  out.resize(have);
  return out;
}

Status write_all(int fd, std::span<const std::byte> bytes, const std::string& what) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("cannot write " + what, errno);
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
  return Status::Ok();
}

// ---- put ----

struct PutCommandOptions {
  ClientFlags client;
  std::string key;
  std::string file;
  bool durable = false;
};

int run_put(const PutCommandOptions& o) {
  Result<Key> key = parse_key_arg("put", o.key);
  if (!key.ok()) return kExitUsage;
  Result<std::vector<std::byte>> value = read_input(o.file);
  if (!value.ok()) return command_error("put", value.status().message(), kExitUsage);
  if (value->empty()) {
    const std::string what = o.file == "-" ? "stdin" : o.file;
    return command_error("put", what + " is empty; kvtier stores no empty values", kExitUsage);
  }
  int code = kExitOk;
  std::unique_ptr<Client> c = connect_or_report(o.client, "put", &code);
  if (!c) return code;
  Status s = c->put(*key, *value, kvtier::PutOptions{.durable = o.durable});
  return s.ok() ? kExitOk : command_error("put", s.to_string(), kExitFailure);
}

// ---- get ----

struct GetOptions {
  ClientFlags client;
  std::string key;
  std::string output;  // empty: stdout
};

// The value of `key`, growing the buffer when the first guess was too small. The value may be
// replaced by a bigger one between tries, so try a few times.
GetResult get_value(Client& c, const Key& key, std::vector<std::byte>* buf) {
  buf->resize(1u << 20);
  GetResult r;
  for (int attempt = 0; attempt < 4; ++attempt) {
    r = c.get(key, *buf);
    if (r.status.code() != StatusCode::kBufferTooSmall) break;
    buf->resize(r.size);
  }
  if (r.status.ok()) buf->resize(r.size);
  return r;
}

int run_get(const GetOptions& o) {
  Result<Key> key = parse_key_arg("get", o.key);
  if (!key.ok()) return kExitUsage;
  int code = kExitOk;
  std::unique_ptr<Client> c = connect_or_report(o.client, "get", &code);
  if (!c) return code;
  std::vector<std::byte> value;
  GetResult r = get_value(*c, *key, &value);
  if (r.status.is_not_found()) {
    return command_error("get", "key " + key->hex() + " is not cached", kExitMiss);
  }
  if (!r.status.ok()) return command_error("get", r.status.to_string(), kExitFailure);
  if (o.output.empty()) {
    Status s = write_all(STDOUT_FILENO, value, "stdout");
    return s.ok() ? kExitOk : command_error("get", s.message(), kExitFailure);
  }
  // Only a value that arrived whole is written: a miss or an error leaves FILE untouched.
  int fd = ::open(o.output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    Status s = Status::FromErrno("cannot create " + o.output, errno);
    return command_error("get", s.message(), kExitFailure);
  }
  Status s = write_all(fd, value, o.output);
  if (::close(fd) != 0 && s.ok()) s = Status::FromErrno("cannot write " + o.output, errno);
  return s.ok() ? kExitOk : command_error("get", s.message(), kExitFailure);
}

// ---- lookup ----

struct LookupOptions {
  ClientFlags client;
  std::vector<std::string> keys;
};

int run_lookup(const LookupOptions& o) {
  std::vector<Key> chain;
  for (const std::string& text : o.keys) {
    Result<Key> k = parse_key_arg("lookup", text);
    if (!k.ok()) return kExitUsage;
    chain.push_back(*k);
  }
  int code = kExitOk;
  std::unique_ptr<Client> c = connect_or_report(o.client, "lookup", &code);
  if (!c) return code;
  Result<PrefixMatch> m = c->lookup(chain);
  if (!m.ok()) return command_error("lookup", m.status().to_string(), kExitFailure);
  std::printf("cached %zu of %zu (dram %zu, nvme %zu, shared %zu)\n", m->cached, chain.size(),
              m->in_dram, m->in_nvme, m->in_shared);
  return m->cached == chain.size() ? kExitOk : kExitMiss;
}

// ---- ping ----

int run_ping(const ClientFlags& flags) {
  int code = kExitOk;
  Result<ClientOptions> options = client_options_from(flags, "kvtier ping");
  std::unique_ptr<Client> c = connect_or_report(flags, "ping", &code);
  if (!c) return code;
  auto start = std::chrono::steady_clock::now();
  Status s = c->ping("kvtier ping");
  std::chrono::duration<double, std::milli> rtt = std::chrono::steady_clock::now() - start;
  if (!s.ok()) return command_error("ping", s.to_string(), kExitFailure);
  const ServerInfo& info = c->server_info();
  std::printf(
      "kvtierd at %s: round trip %.3f ms; protocol %u, tenant %s, max value %llu bytes, "
      "max batch %u, max frame data %llu bytes\n",
      options.ok() ? options->address.c_str() : "?", rtt.count(),
      static_cast<unsigned>(info.version), info.tenant.c_str(),
      static_cast<unsigned long long>(info.max_value_bytes), info.max_batch,
      static_cast<unsigned long long>(info.max_data_bytes));
  return kExitOk;
}

}  // namespace

void add_put_command(CLI::App& app, CommandRunner* run) {
  auto o = std::make_shared<PutCommandOptions>();
  CLI::App* cmd =
      app.add_subcommand("put", "store a file's bytes (or stdin's) under a key in kvtierd");
  cmd->add_option("KEYHEX", o->key, "the key: 32 hex digits")->required();
  cmd->add_option("FILE", o->file, "the value's bytes; - reads stdin")->required();
  cmd->add_flag("--durable", o->durable,
                "answer once the value is on the daemon's NVMe tier and synced (capability "
                "durable_put): a crash of the daemon after the answer does not lose it");
  add_client_flags(cmd, &o->client);
  cmd->callback([o, run] { *run = [o] { return run_put(*o); }; });
}

void add_get_command(CLI::App& app, CommandRunner* run) {
  auto o = std::make_shared<GetOptions>();
  CLI::App* cmd = app.add_subcommand(
      "get", "write a key's value from kvtierd to stdout or a file (exit 1: not cached)");
  cmd->add_option("KEYHEX", o->key, "the key: 32 hex digits")->required();
  cmd->add_option("-o,--output", o->output, "write the value here instead of stdout");
  add_client_flags(cmd, &o->client);
  cmd->callback([o, run] { *run = [o] { return run_get(*o); }; });
}

void add_lookup_command(CLI::App& app, CommandRunner* run) {
  auto o = std::make_shared<LookupOptions>();
  CLI::App* cmd = app.add_subcommand(
      "lookup", "how much of a key chain kvtierd has cached (exit 1 unless all of it)");
  cmd->add_option("KEYHEX", o->keys, "the chain's keys, first chunk first")->required();
  add_client_flags(cmd, &o->client);
  cmd->callback([o, run] { *run = [o] { return run_lookup(*o); }; });
}

void add_ping_command(CLI::App& app, CommandRunner* run) {
  auto o = std::make_shared<ClientFlags>();
  CLI::App* cmd = app.add_subcommand("ping", "check that kvtierd answers, and show its limits");
  add_client_flags(cmd, o.get());
  cmd->callback([o, run] { *run = [o] { return run_ping(*o); }; });
}

}  // namespace kvtier::cli
