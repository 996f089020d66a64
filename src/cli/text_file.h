// Writing a report (HTML, SVG, JSON) the CLI produced to a file the user named.
#pragma once

#include <string>
#include <string_view>

#include "kvtier/status.h"

namespace kvtier::cli {

// Creates or truncates `path` and writes `text`; IOError with errno's reason on any failure
// (including the close, where a full disk may first show).
Status write_text_file(const std::string& path, std::string_view text);

}  // namespace kvtier::cli
