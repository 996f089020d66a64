// Modes and groups of the files and directories kvtier creates, in the words its messages use.
#pragma once

#include <sys/types.h>

#include <string>

#include "kvtier/status.h"

namespace kvtier {

// The group id of `name` (a group name, or a number). InvalidArgument naming the setting `what`
// when there is no such group.
Result<gid_t> group_id(const std::string& name, const std::string& what);

// The permission bits of `mode` as four octal digits ("0750"), for messages.
std::string octal_mode(mode_t mode);

}  // namespace kvtier
