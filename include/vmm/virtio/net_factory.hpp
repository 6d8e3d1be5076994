#pragma once
// The factory the VM builder calls to turn a NetConfig into a device.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "vmm/config/net_config.hpp"
#include "vmm/event_loop/event_loop.hpp"
#include "vmm/virtio/net_device.hpp"

namespace vmm::virtio {

// Locally administered, unicast, and stable across runs: 02: followed by a hash of the TAP
// name (or "user") and the interface index.
[[nodiscard]] MacAddress default_mac(const NetConfig& config, size_t index);

// Opens the backend and builds the device: VirtioNet, or VhostNetDevice for a TAP with
// `vhost=on` (VirtioNet again, after one warning, when vhost-net cannot be used). Throws
// vmm::ConfigError when the user's request cannot be met (TAP cannot be opened, a forwarded
// port is taken), saying why. `vcpus` sizes the default queue pairs (net_queue_pairs()).
[[nodiscard]] std::shared_ptr<VirtioDevice> make_net_device(const NetConfig& config,
                                                            EventLoop& loop, size_t index,
                                                            uint32_t vcpus = 1);

}  // namespace vmm::virtio
