// The [shared], [shared.fs] and [shared.redis] keys of a config file (docs/CONFIG.md), read by
// read_store_config_fields. Internal to src/.
#pragma once

#include "config/toml_fields.h"
#include "kvtier/config.h"

namespace kvtier {

// Reads the [shared] table `t` into `out` (absent keys keep their defaults). Does not validate.
Status read_shared_config(TomlFieldReader& reader, const toml::table& t, SharedTierConfig& out);
// Its keys, section by section.
void visit_shared_config_keys(const ConfigKeyVisitor& visit);

}  // namespace kvtier
