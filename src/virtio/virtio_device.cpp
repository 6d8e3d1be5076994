#include "vmm/virtio/virtio_device.hpp"

#include <algorithm>
#include <cstring>

namespace vmm::virtio {

void read_config_bytes(std::span<const uint8_t> config, uint64_t offset,
                       std::span<uint8_t> out) noexcept {
  std::fill(out.begin(), out.end(), uint8_t{0});
  if (offset >= config.size()) return;
  const size_t n = std::min<uint64_t>(out.size(), config.size() - offset);
  std::memcpy(out.data(), config.data() + offset, n);
}

}  // namespace vmm::virtio
