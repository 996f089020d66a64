// Namespace bindings (see namespace_bindings.h).
#include "server/namespace_bindings.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <fstream>
#include <map>
#include <sstream>

#include "posix/unique_fd.h"

namespace kvtier::server {
namespace {

std::string bindings_path(const std::string& data_dir) {
  return data_dir + "/" + kNamespaceBindingsFile;
}

// Parses the file's text into id -> name. Every line must be "<id> <name>" with a valid name.
Result<std::map<NamespaceId, std::string>> parse_bindings(const std::string& text,
                                                          const std::string& path) {
  std::map<NamespaceId, std::string> out;
  std::istringstream in(text);
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    const std::size_t space = line.find(' ');
    NamespaceId ns = 0;
    const char* end = line.data() + (space == std::string::npos ? line.size() : space);
    auto [ptr, ec] = std::from_chars(line.data(), end, ns);
    const std::string name = space == std::string::npos ? "" : line.substr(space + 1);
    if (ec != std::errc() || ptr != end || ns == kDefaultNamespace || !valid_tenant_name(name) ||
        out.count(ns) != 0 || out.size() >= kMaxNamespaceBindings) {
      return Status::Corruption(path + ":" + std::to_string(number) +
                                ": not a namespace binding (\"<id> <tenant name>\", each id once); "
                                "the file records which tenant owns the blocks of each namespace: "
                                "repair it by hand rather than delete it");
    }
    out.emplace(ns, name);
  }
  return out;
}

Status write_bindings(const std::string& data_dir, const std::map<NamespaceId, std::string>& b) {
  const std::string path = bindings_path(data_dir);
  const std::string tmp = path + ".tmp";
  std::string text;
  for (const auto& [ns, name] : b) text += std::to_string(ns) + " " + name + "\n";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return Status::FromErrno("cannot create " + tmp, errno);
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::FromErrno("cannot write " + tmp, n < 0 ? errno : EIO);
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return Status::FromErrno("cannot sync " + tmp, errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::FromErrno("cannot rename " + tmp, errno);
  UniqueFd dir(::open(data_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid() || ::fsync(dir.get()) != 0) return Status::FromErrno("cannot sync " + data_dir, errno);
  return Status::Ok();
}

}  // namespace

Status check_and_record_namespaces(const std::string& data_dir,
                                   const std::vector<TenantConfig>& tenants,
                                   std::vector<std::string>* warnings) {
  const std::string path = bindings_path(data_dir);
  std::map<NamespaceId, std::string> bindings;
  {
    std::ifstream f(path, std::ios::binary);
    if (f) {
      std::ostringstream text;
      text << f.rdbuf();
      if (f.bad()) return Status::IOError("cannot read " + path);
      Result<std::map<NamespaceId, std::string>> parsed = parse_bindings(text.str(), path);
      if (!parsed.ok()) return parsed.status();
      bindings = std::move(parsed).value();
    } else if (::access(path.c_str(), F_OK) == 0) {
      return Status::IOError("cannot read " + path);
    }
  }
  bool changed = false;
  for (const TenantConfig& t : tenants) {
    if (t.name == kDefaultTenantName) continue;
    const NamespaceId ns = tenant_namespace(t);
    auto it = bindings.find(ns);
    if (it == bindings.end()) {
      bindings.emplace(ns, t.name);
      changed = true;
      continue;
    }
    if (it->second == t.name) continue;
    if (!t.namespace_id.has_value()) {
      return Status::InvalidArgument(
          "tenant \"" + t.name + "\" would use namespace " + std::to_string(ns) +
          " (derived from its name), which holds the blocks of tenant \"" + it->second +
          "\" in this data dir (" + path + "): it would read them. Set namespace_id for \"" +
          t.name + "\" to an unused value, or, to give it \"" + it->second +
          "\"'s blocks, set namespace_id = " + std::to_string(ns) + " explicitly");
    }
    warnings->push_back("tenant \"" + t.name + "\" takes over namespace " + std::to_string(ns) +
                        " and the blocks stored there by tenant \"" + it->second +
                        "\" (explicit namespace_id)");
    it->second = t.name;
    changed = true;
  }
  return changed ? write_bindings(data_dir, bindings) : Status::Ok();
}

}  // namespace kvtier::server
