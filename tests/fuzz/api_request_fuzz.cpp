// Fuzzes the API's request path: raw bytes through the HTTP parser (with the server's limits)
// and, when they make a request, through the JSON dispatcher against a fake VM. Nothing may
// crash, and every answer is a valid HTTP status with a JSON or empty body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/api_server.hpp"
#include "api/vm_api.hpp"
#include "tests/unit/support/fake_vm_control.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const vmm::api::ParsedRequest parsed = vmm::api::parse_http_request(bytes, {});
  if (!parsed.request) return 0;
  vmm::test::FakeVmControl vm;
  const vmm::api::ApiResponse r = vmm::api::dispatch(vm, *parsed.request);
  if (r.status < 200 || r.status > 599) std::abort();
  if (!r.body.empty() && !nlohmann::json::accept(r.body)) std::abort();
  return 0;
}
