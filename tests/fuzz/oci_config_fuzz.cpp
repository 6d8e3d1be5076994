// libFuzzer target: config.json parsing and validation (with every mount's options, and the
// LinuxResources document of `update --resources`) must reject any input with
// vmm::ConfigError (or accept it), never crash, hang or leak.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "container/cgroup.hpp"
#include "container/oci_config.hpp"
#include "container/rootfs_setup.hpp"
#include "vmm/common/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const vmm::container::Spec spec = vmm::container::parse_config(text);
    // Touch what was parsed so the optimizer keeps it.
    volatile size_t n =
        spec.process.args.size() + spec.mounts.size() + spec.linux_config.namespaces.size();
    (void)n;
    for (const auto& m : spec.mounts) (void)vmm::container::parse_mount_options(m.options);
  } catch (const vmm::ConfigError&) {
  }
  try {
    const vmm::container::Resources r = vmm::container::parse_resources_json(text);
    for (const auto v : {vmm::container::CgroupVersion::kV1, vmm::container::CgroupVersion::kV2}) {
      volatile size_t n = vmm::container::compute_cgroup_writes(r, v).size();
      (void)n;
    }
  } catch (const vmm::ConfigError&) {
  }
  try {
    (void)vmm::container::parse_process_json(text);
  } catch (const vmm::ConfigError&) {
  }
  return 0;
}
