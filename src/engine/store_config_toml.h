// The engine's keys of a TOML config file (top level, [dram], [nvme], [[nvme.devices]]), read by
// load_store_config_file and by the daemon's file reader (src/server/server_config.h), which
// holds the same keys plus its own sections. docs/CONFIG.md lists the keys.
//
// Internal to src/ (toml++ is a private dependency). Thread-safety: as TomlFieldReader.
#pragma once

#include <span>
#include <string_view>

#include "config/toml_fields.h"
#include "kvtier/config.h"
#include "kvtier/status.h"

namespace kvtier {

// Reads the engine's keys from `root` into `cfg` (absent keys keep cfg's values). Every other
// top-level key is an unknown-key error unless it is in `extra_root_keys`: the sections the
// caller reads itself (the daemon's "server" and "tenants"). Does not validate.
Status read_store_config_fields(TomlFieldReader& reader, const toml::table& root,
                                std::span<const std::string_view> extra_root_keys,
                                StoreConfig& cfg);
// The engine's keys, section by section (ConfigKeyVisitor).
void visit_store_config_keys(const ConfigKeyVisitor& visit);

}  // namespace kvtier
