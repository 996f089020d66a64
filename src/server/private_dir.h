// Directories kvtierd keeps its state and socket in, checked before anything is written there.
//
// The data directory holds the default tenant's token, the lock, the ready file, the NVMe file and
// (by default) the Unix socket: it is created 0700 whatever the umask, and refused when group or
// others have any access to it or another user owns it (under umask 000 a local user replaced the
// socket in a 0777 data directory and captured a client's token; issue 25, item 6).
//
// A socket others reach through a group lives outside it, in a directory only the daemon can
// change (ensure_socket_dir): a directory others may write would let them put their socket at the
// path.
//
// Thread-safety: functions of their arguments and the file system.
#pragma once

#include <sys/types.h>

#include <string>

#include "kvtier/status.h"

namespace kvtier::server {

// Creates `dir` (and missing parents) when absent, `dir` itself with mode 0700. InvalidArgument,
// naming `what` (e.g. "data directory"), the mode and the fix, when it exists and is not a
// directory, is owned by another user, or group or others have any access.
Status ensure_private_dir(const std::string& dir, const std::string& what);

// Creates the directory `dir` the socket goes in when absent (mode 0750, group `gid` when it is
// not -1). InvalidArgument when it exists and its group or others may write it (sticky or not:
// /tmp lets anyone bind the path first), or a user other than the daemon's or root owns it.
Status ensure_socket_dir(const std::string& dir, gid_t gid);

}  // namespace kvtier::server
