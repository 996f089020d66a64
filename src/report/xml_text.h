// Text for HTML and SVG documents: the one escaping both kinds of page use.
#pragma once

#include <string>
#include <string_view>

namespace kvtier::report {

// &, <, > and " as entities: safe in element text and in double-quoted attributes.
inline std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace kvtier::report
