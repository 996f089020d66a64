// AWS credentials for the S3 store, found where the AWS tools look for them, in this order:
//   1. the config (access_key_id and secret_access_key both set; session_token optional),
//   2. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
//   3. the shared credentials file: `credentials_file`, else $AWS_SHARED_CREDENTIALS_FILE, else
//      $HOME/.aws/credentials; its section `profile`, else $AWS_PROFILE, else "default"
//      (aws_access_key_id, aws_secret_access_key, aws_session_token).
// A secret never appears in a Status message or a log line: errors say where it was looked for.
//
// Thread-safety: free functions; they read the environment, which nothing in kvtier writes.
#pragma once

#include <string>

#include "kvtier/status.h"

namespace kvtier::objstore {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // temporary credentials (STS) only
};

struct AwsCredentialSources {
  AwsCredentials configured;     // from the config file; used when both keys are set
  std::string credentials_file;  // empty: $AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials
  std::string profile;           // empty: $AWS_PROFILE or "default"
};

// The credentials, and in *source where they came from ("config", "environment", or the file and
// profile) for the start-up log. InvalidArgument naming every place looked at when none has
// them, or when a source has an access key without a secret (or the reverse).
Result<AwsCredentials> resolve_aws_credentials(const AwsCredentialSources& sources,
                                               std::string* source);

}  // namespace kvtier::objstore
