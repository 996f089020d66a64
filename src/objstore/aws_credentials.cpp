// resolve_aws_credentials (see aws_credentials.h).
#include "objstore/aws_credentials.h"

#include <cstdlib>
#include <fstream>
#include <string_view>

namespace kvtier::objstore {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// One INI section of an AWS shared credentials file. NotFound when the file or the section is
// absent.
Result<AwsCredentials> read_profile(const std::string& path, const std::string& profile) {
  std::ifstream in(path);
  if (!in) return Status::NotFound(path + ": cannot be read");
  AwsCredentials found;
  bool in_section = false, seen = false;
  std::string line;
  while (std::getline(in, line)) {
    std::string_view l = trim(line);
    if (l.empty() || l.front() == '#' || l.front() == ';') continue;
    if (l.front() == '[') {
      in_section = l.back() == ']' && trim(l.substr(1, l.size() - 2)) == profile;
      seen = seen || in_section;
      continue;
    }
    if (!in_section) continue;
    const auto eq = l.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view key = trim(l.substr(0, eq));
    const std::string value(trim(l.substr(eq + 1)));
    if (key == "aws_access_key_id") found.access_key_id = value;
    if (key == "aws_secret_access_key") found.secret_access_key = value;
    if (key == "aws_session_token") found.session_token = value;
  }
  if (!seen) return Status::NotFound(path + " has no [" + profile + "] section");
  return found;
}

// Both keys, none, or an error naming the source that has only one.
Status check_pair(const AwsCredentials& c, const std::string& where) {
  if (c.access_key_id.empty() != c.secret_access_key.empty()) {
    return Status::InvalidArgument(where + " has " +
                                   (c.access_key_id.empty() ? "a secret access key but no access key id"
                                                            : "an access key id but no secret access key"));
  }
  return Status::Ok();
}

}  // namespace

Result<AwsCredentials> resolve_aws_credentials(const AwsCredentialSources& sources,
                                               std::string* source) {
  KVTIER_RETURN_IF_ERROR(check_pair(sources.configured, "the config"));
  if (!sources.configured.access_key_id.empty()) {
    *source = "config";
    return sources.configured;
  }
  AwsCredentials from_env{env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"),
                          env("AWS_SESSION_TOKEN")};
  KVTIER_RETURN_IF_ERROR(check_pair(from_env, "the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"));
  if (!from_env.access_key_id.empty()) {
    *source = "environment";
    return from_env;
  }
  std::string path = sources.credentials_file;
  if (path.empty()) path = env("AWS_SHARED_CREDENTIALS_FILE");
  if (path.empty() && !env("HOME").empty()) path = env("HOME") + "/.aws/credentials";
  std::string profile = sources.profile;
  if (profile.empty()) profile = env("AWS_PROFILE");
  if (profile.empty()) profile = "default";
  std::string file_problem = "no credentials file";
  if (!path.empty()) {
    Result<AwsCredentials> from_file = read_profile(path, profile);
    if (from_file.ok()) {
      const std::string where = path + " [" + profile + "]";
      KVTIER_RETURN_IF_ERROR(check_pair(*from_file, where));
      if (!from_file->access_key_id.empty()) {
        *source = where;
        return from_file;
      }
      file_problem = where + " has no aws_access_key_id";
    } else {
      file_problem = from_file.status().message();
    }
  }
  return Status::InvalidArgument(
      "no S3 credentials: none in the config (access_key_id, secret_access_key), none in the "
      "environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), and " + file_problem);
}

}  // namespace kvtier::objstore
