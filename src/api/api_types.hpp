#pragma once
// The control API's requests and responses as plain values: the HTTP server parses into them,
// the dispatcher answers them, and neither needs the other to be tested.
#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace vmm::api {

struct ApiRequest {
  std::string method;  // GET, PUT, ...
  std::string target;  // /api/v1/vm.info
  std::string body;    // may be empty
  // Header fields by lower-case name (X-LXD-mode...), within the header size limit.
  std::map<std::string, std::string> headers;
};

struct ApiResponse {
  unsigned status = 200;
  std::string body;          // JSON, or empty (204)
  std::string allow;         // the Allow header of a 405
  std::string content_type;  // empty: application/json when there is a body
  std::vector<std::pair<std::string, std::string>> headers;  // further fields
};

// Bounds that keep one client from holding the server (and never the VM) for long.
struct ApiLimits {
  size_t max_header_bytes = size_t{8} * 1024;
  size_t max_body_bytes = size_t{64} * 1024;
  size_t max_connections = 64;           // more are accepted and closed at once
  unsigned request_timeout_ms = 10'000;  // a request must arrive whole within this
};

// A JSON error body: {"error": message}.
[[nodiscard]] ApiResponse error_response(unsigned status, const std::string& message);

}  // namespace vmm::api
