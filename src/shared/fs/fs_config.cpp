// SharedFsConfig::validate (include/kvtier/config.h): the checks that need no filesystem access
// (opening a backend never waits on the medium, shared_backend.h).
#include <climits>
#include <string>

#include "config/config_error.h"
#include "kvtier/config.h"
#include "posix/file_mode.h"

namespace kvtier {
namespace {

// Room the tree needs below `path`: /kvtier-v1/<8>/<2>/<2>/.<32>.tmp.<host 64>.<pid>.<n 20>.
constexpr std::size_t kTreePathBytes = 200;

}  // namespace

Status SharedFsConfig::validate() const {
  if (path.empty()) {
    return Status::InvalidArgument("shared.fs.path is empty: the shared directory is required");
  }
  if (path.find('\0') != std::string::npos) {
    return invalid_config_value("shared.fs.path", "\"" + path + "\"", "contains a NUL byte");
  }
  if (path.size() + kTreePathBytes >= PATH_MAX) {
    return invalid_config_value("shared.fs.path", "\"" + path + "\"",
                                "too long: block paths add up to " +
                                    std::to_string(kTreePathBytes) +
                                    " bytes and must stay below PATH_MAX = " +
                                    std::to_string(PATH_MAX));
  }
  if (max_age.count() < 0) {
    return invalid_config_value("shared.fs.max_age_s", std::to_string(max_age.count()),
                                "must be >= 0 (0 = no age limit)");
  }
  if (sweep_interval.count() <= 0) {
    return invalid_config_value("shared.fs.sweep_interval_s",
                                std::to_string(sweep_interval.count()), "must be > 0");
  }
  // Owner access the node itself needs: read and write its files, search and fill directories.
  struct ModeRule {
    const char* key;
    std::uint32_t mode, owner;
  };
  for (const ModeRule& m : {ModeRule{"shared.fs.file_mode", file_mode, 0600},
                            ModeRule{"shared.fs.dir_mode", dir_mode, 0700}}) {
    if (m.mode > 0777 || (m.mode & 0007) != 0 || (m.mode & m.owner) != m.owner) {
      return invalid_config_value(m.key, octal_mode(m.mode),
                                  "must give its owner " + octal_mode(m.owner) +
                                      ", other users nothing, and no bits above 0777 (write it "
                                      "in octal: 0o640)");
    }
  }
  return Status::Ok();
}

}  // namespace kvtier
