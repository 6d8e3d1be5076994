// Fuzzes the JSON configuration reader: any document either gives a configuration or throws
// vmm::Error, and a configuration it gives survives the round trip through
// vm_config_to_json.
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "vmm/common/error.hpp"
#include "vmm/config/vm_config_json.hpp"

// Ignored Firecracker keys log a warning each; keep the fuzzer's output readable.
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json doc = nlohmann::json::parse(data, data + size, nullptr, false);
  try {
    const vmm::VmConfig config = vmm::vm_config_from_json(doc, {});
    if (vmm::vm_config_from_json(vmm::vm_config_to_json(config), {}) != config) std::abort();
  } catch (const vmm::Error&) {
  }
  return 0;
}
