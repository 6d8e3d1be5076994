#pragma once

// What every virtio-net model shows the driver the same way, whoever moves the packets: the
// configuration space (virtio 1.2, 5.1.4) and the TAP offloads the acked features allow.

#include <cstdint>
#include <span>

#include "vmm/virtio/net_backend.hpp"
#include "vmm/virtio/net_device.hpp"

namespace vmm::virtio {

// Reads `data.size()` bytes at `offset` of the configuration space: MAC, link up, `pairs`
// queue pairs, `mtu`. Bytes past the end read as zero.
void read_net_config(const MacAddress& mac, uint16_t pairs, uint16_t mtu, uint64_t offset,
                     std::span<uint8_t> data);

// The offloads the host side may hand the guest, from the features the driver acked.
[[nodiscard]] NetOffloads offloads_for(uint64_t acked_features);

}  // namespace vmm::virtio
