#include "container/id_mapping.hpp"

#include "vmm/common/error.hpp"

namespace vmm::container {

void validate_id_mappings(const std::vector<IdMapping>& maps, const std::string& what) {
  if (maps.size() > 340) throw ConfigError(what + ": more than 340 ranges");
  constexpr uint64_t kLimit = 1ULL << 32;
  for (size_t i = 0; i < maps.size(); ++i) {
    const auto& m = maps[i];
    if (m.size == 0) throw ConfigError(what + ": range " + std::to_string(i) + " has size 0");
    if (uint64_t{m.container_id} + m.size > kLimit || uint64_t{m.host_id} + m.size > kLimit) {
      throw ConfigError(what + ": range " + std::to_string(i) + " overflows 32-bit ids");
    }
    for (size_t j = 0; j < i; ++j) {
      const auto& o = maps[j];
      const auto overlaps = [](uint64_t a, uint64_t an, uint64_t b, uint64_t bn) {
        return a < b + bn && b < a + an;
      };
      if (overlaps(m.container_id, m.size, o.container_id, o.size) ||
          overlaps(m.host_id, m.size, o.host_id, o.size)) {
        throw ConfigError(what + ": ranges " + std::to_string(j) + " and " + std::to_string(i) +
                          " overlap");
      }
    }
  }
}

std::string format_id_map(const std::vector<IdMapping>& maps) {
  std::string out;
  for (const auto& m : maps) {
    out += std::to_string(m.container_id) + ' ' + std::to_string(m.host_id) + ' ' +
           std::to_string(m.size) + '\n';
  }
  return out;
}

std::optional<uint32_t> map_to_host(const std::vector<IdMapping>& maps, uint32_t id) {
  for (const auto& m : maps) {
    if (id >= m.container_id && uint64_t{id} - m.container_id < m.size) {
      return static_cast<uint32_t>(uint64_t{m.host_id} + (id - m.container_id));
    }
  }
  return std::nullopt;
}

std::vector<IdMapping> rootless_mapping(uint32_t host_id) { return {IdMapping{0, host_id, 1}}; }

}  // namespace vmm::container
