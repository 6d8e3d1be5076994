#pragma once
// User-namespace uid/gid maps: validation, the text written to /proc/PID/{uid,gid}_map, and
// translating ids through a map.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "container/oci_config.hpp"

namespace vmm::container {

// Throws vmm::ConfigError when ranges are empty, overflow 32 bits, overlap on either side, or
// exceed the kernel's 340-line limit.
void validate_id_mappings(const std::vector<IdMapping>& maps, const std::string& what);

// "container_id host_id size\n" per range.
[[nodiscard]] std::string format_id_map(const std::vector<IdMapping>& maps);

// The host id that container id `id` maps to, if any.
[[nodiscard]] std::optional<uint32_t> map_to_host(const std::vector<IdMapping>& maps, uint32_t id);

// The single mapping an unprivileged user may write: container root is the caller.
[[nodiscard]] std::vector<IdMapping> rootless_mapping(uint32_t host_id);

}  // namespace vmm::container
