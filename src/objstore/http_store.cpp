// What the HTTP object stores share (see http_store.h).
#include "objstore/http_store.h"

#include <pugixml.hpp>

#include "objstore/object_store.h"

namespace kvtier::objstore {

Status check_http_store_location(std::string_view store, const std::string& endpoint,
                                 const std::string& prefix) {
  KVTIER_RETURN_IF_ERROR(http::check_http_url(endpoint));
  if (endpoint.find('?') != std::string::npos) {
    return Status::InvalidArgument("the " + std::string(store) + " endpoint takes no query: " +
                                   http::HttpClient::redact(endpoint));
  }
  if (!prefix.empty() && !is_portable_name(prefix + "x")) {
    return Status::InvalidArgument("the " + std::string(store) + " name prefix '" + prefix +
                                   "' has characters other than [A-Za-z0-9._/-]");
  }
  return Status::Ok();
}

Result<http::Response> perform_store_request(http::HttpClient& http, const http::Request& request) {
  Result<http::Response> response = http.perform(request);
  if (!response.ok() && response.status().code() == StatusCode::kCorruption) {
    return Status::IOError(response.status().message());
  }
  return response;
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
