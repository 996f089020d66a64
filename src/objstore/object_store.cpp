// is_portable_name, status_of_http and xml_error_of (see object_store.h).
#include "objstore/object_store.h"

#include <pugixml.hpp>

namespace kvtier::objstore {

bool is_portable_name(std::string_view name) {
  if (name.empty() || name.size() > 512 || name.front() == '/') return false;
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '/' || c == '-';
    if (!ok) return false;
  }
  std::size_t begin = 0;
  while (begin <= name.size()) {
    const std::size_t end = std::min(name.find('/', begin), name.size());
    const std::string_view part = name.substr(begin, end - begin);
    // An empty part is "//" (or a trailing '/', which a directory store could not hold either).
    if (part.empty() || part == "." || part == "..") return false;
    begin = end + 1;
  }
  return true;
}

std::pair<std::string, std::string> xml_error_of(const std::string& body) {
  pugi::xml_document doc;
  if (!doc.load_buffer(body.data(), body.size())) return {};
  pugi::xml_node error = doc.child("Error");
  if (!error) return {};
  return {error.child_value("Code"), error.child_value("Message")};
}

Status status_of_http(long http_status, std::string what) {
  switch (http_status) {
    case 404:
      return Status::NotFound(std::move(what));
    case 416:
      return Status::Corruption(std::move(what));  // a range the object does not have
    case 400:
    case 401:
    case 403:
    case 405:
    case 411:
      return Status::InvalidArgument(std::move(what));
    case 413:
      return Status::TooLarge(std::move(what));
    case 507:
      return Status::NoSpace(std::move(what));
    default:
      return Status::IOError(std::move(what));
  }
}

}  // namespace kvtier::objstore
