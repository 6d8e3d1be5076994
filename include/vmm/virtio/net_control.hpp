#pragma once
// virtio-net control virtqueue commands (virtio 1.2, 5.1.6.5): what a driver may ask of a
// multi-queue NIC. Every byte of a request is guest-controlled: a request of the wrong length,
// an unknown class or command, or a value out of range is answered VIRTIO_NET_ERR and changes
// nothing.
#include <cstddef>
#include <cstdint>
#include <span>

#include "vmm/config/net_config.hpp"

namespace vmm::virtio {

// 5.1.6.5 ack values.
inline constexpr uint8_t kNetCtrlOk = 0;
inline constexpr uint8_t kNetCtrlErr = 1;

// Classes and commands.
inline constexpr uint8_t kNetCtrlRx = 0;
inline constexpr uint8_t kNetCtrlRxPromisc = 0;
inline constexpr uint8_t kNetCtrlRxAllmulti = 1;
inline constexpr uint8_t kNetCtrlMac = 1;
inline constexpr uint8_t kNetCtrlMacTableSet = 0;
inline constexpr uint8_t kNetCtrlMacAddrSet = 1;
inline constexpr uint8_t kNetCtrlMq = 4;
inline constexpr uint8_t kNetCtrlMqVqPairsSet = 0;

// The longest request read from the guest (class, command and data): a MAC table of a few
// hundred entries; anything longer is refused unread.
inline constexpr size_t kNetCtrlMaxRequest = 4096;

// What the driver set through the control queue, for one activation.
struct NetControlState {
  uint16_t queue_pairs = 1;  // pairs in use (VQ_PAIRS_SET), 1 until the driver says more
  bool promisc = false;
  bool allmulti = false;
  MacAddress mac{};  // ADDR_SET; all zeros until set
  uint32_t unicast_filters = 0;
  uint32_t multicast_filters = 0;
};

// Applies one request: class, command, then the command's data. `max_pairs`: the device's
// max_virtqueue_pairs. Returns the ack to write back.
[[nodiscard]] uint8_t apply_net_control(std::span<const uint8_t> request, uint16_t max_pairs,
                                        NetControlState& state) noexcept;

}  // namespace vmm::virtio
