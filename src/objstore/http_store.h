// What the object stores spoken over HTTP (S3Store, AzureStore) share: how their endpoint and
// name prefix are checked, how a reply cut short is reported, and how an HTTP error answer
// becomes a Status by the ObjectStore contract's rules (object_store.h).
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "http/http_client.h"
#include "kvtier/status.h"

namespace kvtier::objstore {

// Ok when `endpoint` is an http(s) URL without a query and `prefix` is empty or made of portable
// names; else InvalidArgument naming `store` ("S3", "Azure") and what is wrong.
Status check_http_store_location(std::string_view store, const std::string& endpoint,
                                 const std::string& prefix);

// The request through `http`. A reply cut short is the connection failing (a server killed
// mid-reply), not the object's bytes: it is an IOError here, and only a whole reply of the wrong
// length is Corruption (as the callers find it).
Result<http::Response> perform_store_request(http::HttpClient& http, const http::Request& request);

// What an HTTP status other than the expected one means, by the contract's error rules (404
// NotFound, 416 Corruption, a refused request InvalidArgument, 413 TooLarge, 507 NoSpace, the
// rest IOError), `what` its message. Each store looks at its own error codes first.
Status status_of_http(long http_status, std::string what);

// The <Code> and <Message> of an S3 or Azure error body (<Error><Code>...), or empty strings.
std::pair<std::string, std::string> xml_error_of(const std::string& body);

}  // namespace kvtier::objstore
