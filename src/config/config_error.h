// The one message for a config value that a rule refuses, the same from every component's
// validate() (the engine's tiers, the shared tier's backends, the daemon):
//   "<field> = <value> is invalid: <rule>"     e.g. "dram.bytes = 0 is invalid: must be > 0"
#pragma once

#include <string>
#include <string_view>

#include "kvtier/status.h"

namespace kvtier {

inline Status invalid_config_value(std::string_view field, const std::string& value,
                                   std::string_view rule) {
  return Status::InvalidArgument(std::string(field) + " = " + value + " is invalid: " +
                                 std::string(rule));
}

}  // namespace kvtier
